"""Real media made by ffmpeg for the tests, and what a user sees in a frame of the result.

Clips are a solid colour (so a frame of the video says which clip a scene
shows) or ffmpeg's test pattern, of any size, length and frame rate, with or
without a tone as their sound.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy
from PIL import Image, ImageStat

from aura.media.ffmpeg import ffmpeg_path

RGB = tuple[int, int, int]


def _ffmpeg(*args: str, timeout: float = 120) -> None:
    subprocess.run([ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=timeout)


def make_clip(
    path: Path,
    size: tuple[int, int],
    seconds: float,
    fps: int = 30,
    colour: RGB | None = None,
    tone_hz: int | None = None,
) -> Path:
    """An H.264 MP4 of `size`: a solid colour (or the test pattern), with a sine tone as its sound if asked."""
    width, height = size
    if colour is None:
        picture = f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}"
    else:
        picture = f"color=c=0x{_hex(colour)}:size={width}x{height}:rate={fps}:duration={seconds}"
    args = ["-f", "lavfi", "-i", picture]
    if tone_hz:
        args += ["-f", "lavfi", "-i", f"sine=frequency={tone_hz}:sample_rate=44100:duration={seconds}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    args += ["-c:a", "aac", "-b:a", "64k", "-shortest"] if tone_hz else ["-an"]
    path.parent.mkdir(parents=True, exist_ok=True)
    _ffmpeg(*args, str(path))
    return path


def make_picture(path: Path, size: tuple[int, int], colour: RGB) -> Path:
    """A solid-colour image (PNG or JPEG by the name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def frame_at(video: Path, seconds: float, out: Path) -> Image.Image:
    """The video's frame at `seconds`, as RGB."""
    _ffmpeg("-ss", f"{seconds:.3f}", "-i", str(video), "-frames:v", "1", "-update", "1", str(out), timeout=60)
    with Image.open(out) as frame:
        return frame.convert("RGB")


def centre_colour(frame: Image.Image) -> RGB:
    """The mean colour of the frame's middle (well above the subtitles at the bottom)."""
    w, h = frame.size
    box = frame.crop((w * 3 // 10, h // 5, w * 7 // 10, h * 11 // 20))
    r, g, b = (round(v) for v in ImageStat.Stat(box).mean)
    return r, g, b


def close(a: RGB, b: RGB, tolerance: int = 40) -> bool:
    """Within `tolerance` per channel: H.264's colour conversion and chroma subsampling move a colour a little."""
    return all(abs(x - y) <= tolerance for x, y in zip(a, b))


def tone_level(media: Path, start: float, end: float, hz: float) -> float:
    """How strong a tone of `hz` is in the media's sound between `start` and `end`, against that sound's own level.

    Divide the video's by the narration's over the same span: about 1 where the video
    carries the narration alone, well above 1 where a clip's tone is mixed in.
    """
    raw = subprocess.run(
        [ffmpeg_path(), "-v", "error", "-ss", f"{start:.3f}", "-t", f"{end - start:.3f}", "-i", str(media),
         "-vn", "-ac", "1", "-ar", "16000", "-f", "f32le", "-"],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    samples = numpy.frombuffer(raw, dtype=numpy.float32).astype(float)
    spectrum = numpy.abs(numpy.fft.rfft(samples * numpy.hanning(len(samples))))
    freqs = numpy.fft.rfftfreq(len(samples), 1 / 16000)
    peak = spectrum[(freqs > hz - 10) & (freqs < hz + 10)].max()
    return float(peak / (numpy.sqrt(numpy.mean(samples**2)) * len(samples)))


def _hex(colour: RGB) -> str:
    return "".join(f"{c:02X}" for c in colour)
