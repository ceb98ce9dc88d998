"""Locate ffmpeg/ffprobe, check their capabilities and run them as owned child processes."""

from __future__ import annotations

import functools
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aura import processes
from aura.errors import MediaError, SystemCheckError

INSTALL_HINT = "install it with `apt-get install ffmpeg` or `pip install imageio-ffmpeg`"


@functools.lru_cache(maxsize=1)
def ffmpeg_path() -> str:
    """The ffmpeg binary: $AURA_FFMPEG, then PATH, then the one imageio-ffmpeg ships."""
    configured = os.environ.get("AURA_FFMPEG")
    if configured:
        if Path(configured).is_file() and os.access(configured, os.X_OK):
            return configured
        raise SystemCheckError(f"AURA_FFMPEG={configured} is not an executable file: fix the path or unset it")
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001 - any failure means "not available"
        pass
    raise SystemCheckError(f"ffmpeg not found: {INSTALL_HINT}")


@functools.lru_cache(maxsize=1)
def ffprobe_path() -> str | None:
    """ffprobe next to ffmpeg or on PATH; imageio-ffmpeg ships none, so it may be missing."""
    configured = os.environ.get("AURA_FFPROBE")
    if configured and Path(configured).is_file():
        return configured
    sibling = Path(ffmpeg_path()).with_name("ffprobe")
    if sibling.is_file():
        return str(sibling)
    return shutil.which("ffprobe")


@dataclass(frozen=True)
class FfmpegCapabilities:
    path: str
    version: str
    encoders: frozenset[str]
    filters: frozenset[str]

    def missing(self) -> list[str]:
        """What a render needs but this ffmpeg lacks, each with what to do."""
        problems = []
        if "libx264" not in self.encoders:
            problems.append("encoder libx264 (H.264)")
        if "aac" not in self.encoders:
            problems.append("encoder aac")
        if "ass" not in self.filters:
            problems.append("filter ass (libass, burned-in subtitles)")
        for name in ("loudnorm", "concat", "crop", "scale"):
            if name not in self.filters:
                problems.append(f"filter {name}")
        return problems


_ROW = re.compile(r"^\s*[A-Z.|]{2,6}\s+([A-Za-z0-9_]+)\s+\S")


def _list_names(path: str, what: str) -> frozenset[str]:
    out = processes.run([path, "-hide_banner", f"-{what}"], timeout=30).stdout.decode("utf-8", "replace")
    names = set()
    for line in out.splitlines():
        # rows look like " V....D libx264  description" or " ..C crop  V->V  description"
        match = _ROW.match(line)
        if match:
            names.add(match.group(1))
    return frozenset(names)


def short_version(version_line: str) -> str:
    """'ffmpeg version 5.1.9-0+deb12u1' from ffmpeg's first -version line (without the copyright)."""
    return version_line.split(" Copyright")[0]


@functools.lru_cache(maxsize=4)
def capabilities(path: str | None = None) -> FfmpegCapabilities:
    path = path or ffmpeg_path()
    try:
        version_line = processes.run([path, "-hide_banner", "-version"], timeout=30).stdout.decode().splitlines()[0]
    except (OSError, IndexError, UnicodeDecodeError, processes.ChildTimeout) as exc:
        raise SystemCheckError(f"ffmpeg at {path} does not run ({exc}): {INSTALL_HINT}") from exc
    return FfmpegCapabilities(
        path=path,
        version=version_line,
        encoders=_list_names(path, "encoders"),
        filters=_list_names(path, "filters"),
    )


def run_ffmpeg(
    args: list[str],
    *,
    cwd: str | os.PathLike | None = None,
    timeout: float | None = None,
    on_progress: Callable[[float], None] | None = None,
    total_seconds: float | None = None,
) -> None:
    """Run ffmpeg with an argument list (never a shell string) as an owned child process.

    It is killed on timeout, on an exception in this thread, when its stage's
    scope is interrupted, and when this process dies (aura.processes).
    With `on_progress` and the output's `total_seconds`, ffmpeg's own
    `-progress` reports are passed on as a fraction from 0 to 1.
    """
    cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    reader = None
    if on_progress is not None and total_seconds:
        cmd += ["-progress", "pipe:1", "-nostats"]
        reader = _progress_reader(on_progress, total_seconds)
    try:
        proc = processes.run([*cmd, *args], cwd=cwd, timeout=timeout, capture_stdout=False, on_stdout_line=reader)
    except processes.ChildTimeout:
        raise MediaError(f"ffmpeg ran past its {timeout:.0f} s limit and was stopped") from None
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-8:]
        raise MediaError(f"ffmpeg failed (exit {proc.returncode}): " + " | ".join(tail))


def _progress_reader(on_progress: Callable[[float], None], total_seconds: float) -> Callable[[bytes], None]:
    def read(line: bytes) -> None:
        # -progress writes key=value lines; out_time_us is the output position in microseconds
        if line.startswith(b"out_time_us="):
            value = line.split(b"=", 1)[1].strip()
            if value.isdigit():
                on_progress(min(1.0, int(value) / 1e6 / total_seconds))
        elif line.strip() == b"progress=end":
            on_progress(1.0)

    return read
