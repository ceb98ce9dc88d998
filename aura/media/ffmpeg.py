"""Locate ffmpeg/ffprobe, check their capabilities and run them as owned child processes."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

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
    out = subprocess.run(
        [path, "-hide_banner", f"-{what}"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    names = set()
    for line in out.splitlines():
        # rows look like " V....D libx264  description" or " ..C crop  V->V  description"
        match = _ROW.match(line)
        if match:
            names.add(match.group(1))
    return frozenset(names)


@functools.lru_cache(maxsize=4)
def capabilities(path: str | None = None) -> FfmpegCapabilities:
    path = path or ffmpeg_path()
    try:
        version_line = subprocess.run(
            [path, "-hide_banner", "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError) as exc:
        raise SystemCheckError(f"ffmpeg at {path} does not run ({exc}): {INSTALL_HINT}") from exc
    return FfmpegCapabilities(
        path=path,
        version=version_line,
        encoders=_list_names(path, "encoders"),
        filters=_list_names(path, "filters"),
    )


def run_ffmpeg(args: list[str], *, cwd: str | os.PathLike | None = None, timeout: float | None = None) -> None:
    """Run ffmpeg with an argument list (never a shell string); kill it on timeout or interrupt."""
    cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise MediaError(f"ffmpeg ran past its {timeout:.0f} s limit and was stopped") from None
    except BaseException:
        # a cancellation or Ctrl-C must not leave ffmpeg running either
        proc.kill()
        proc.wait()
        raise
    if proc.returncode != 0:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-8:]
        raise MediaError(f"ffmpeg failed (exit {proc.returncode}): " + " | ".join(tail))
