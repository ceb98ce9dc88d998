"""What a media file holds: streams, codecs, size, duration (ffprobe, or ffmpeg -i when it is absent)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from aura import processes
from aura.errors import MediaError
from aura.media.ffmpeg import ffmpeg_path, ffprobe_path


@dataclass(frozen=True)
class StreamInfo:
    kind: str  # video | audio | subtitle
    codec: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None


@dataclass(frozen=True)
class MediaInfo:
    duration: float
    streams: tuple[StreamInfo, ...]
    container: str = ""  # ffmpeg's name of the format: "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "mp3", "png_pipe"

    def of_kind(self, kind: str) -> list[StreamInfo]:
        return [s for s in self.streams if s.kind == kind]


def probe(path: Path, timeout: float = 30) -> MediaInfo:
    if not Path(path).is_file():
        raise MediaError(f"{path} does not exist")
    tool = ffprobe_path()
    return _with_ffprobe(tool, path, timeout) if tool else _with_ffmpeg(path, timeout)


def _with_ffprobe(tool: str, path: Path, timeout: float) -> MediaInfo:
    cmd = [tool, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    proc = _run(cmd, path, timeout)
    if proc.returncode != 0:
        raise MediaError(f"ffprobe cannot read {Path(path).name}: {proc.stderr.decode('utf-8', 'replace').strip()[-300:]}")
    data = json.loads(proc.stdout)
    streams = tuple(
        StreamInfo(
            kind=s.get("codec_type", ""),
            codec=s.get("codec_name", ""),
            width=s.get("width"),
            height=s.get("height"),
            duration=float(s["duration"]) if "duration" in s else None,
        )
        for s in data.get("streams", [])
    )
    found = data.get("format", {})
    return MediaInfo(duration=float(found.get("duration", 0.0)), streams=streams, container=found.get("format_name", ""))


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_STREAM = re.compile(r"Stream #\d+:\d+.*?: (Video|Audio|Subtitle): (\w+)([^\n]*)")
_SIZE = re.compile(r", (\d{2,5})x(\d{2,5})")
_INPUT = re.compile(r"Input #0, ([^\s]+?),? from")


def _with_ffmpeg(path: Path, timeout: float) -> MediaInfo:
    # imageio-ffmpeg ships no ffprobe: `ffmpeg -i` prints the same facts to stderr
    stderr = _run([ffmpeg_path(), "-hide_banner", "-nostdin", "-i", str(path)], path, timeout).stderr.decode("utf-8", "replace")
    match = _DURATION.search(stderr)
    if not match:
        raise MediaError(f"ffmpeg cannot read {Path(path).name}")
    hours, minutes, seconds = match.groups()
    streams = []
    for kind, codec, rest in _STREAM.findall(stderr):
        size = _SIZE.search(rest) if kind == "Video" else None
        streams.append(
            StreamInfo(
                kind=kind.lower(),
                codec=codec,
                width=int(size.group(1)) if size else None,
                height=int(size.group(2)) if size else None,
            )
        )
    container = _INPUT.search(stderr)
    return MediaInfo(
        duration=int(hours) * 3600 + int(minutes) * 60 + float(seconds), streams=tuple(streams),
        container=container.group(1) if container else "",
    )  # fmt: skip


def _run(cmd: list[str], path: Path, timeout: float) -> processes.Completed:
    try:
        return processes.run(cmd, timeout=timeout)
    except processes.ChildTimeout:
        raise MediaError(f"probing {Path(path).name} took longer than {timeout:.0f} s") from None
