"""What the online TTS engines share: a hard deadline around network work, and MP3 decoding."""

from __future__ import annotations

from typing import Callable, TypeVar

from aura import processes
from aura.errors import AuraError
from aura.providers.tts.base import TTSError
from aura.supervision import call_interruptibly

SAMPLE_RATE = 24000  # both gTTS and edge-tts speak 24 kHz MP3
T = TypeVar("T")


def run_with_deadline(work: Callable[[], T], timeout_s: float) -> T:
    """Wait at most timeout_s for a network call, and not at all once the stage is interrupted."""
    return call_interruptibly(work, timeout_s)


def decode_mp3(mp3: bytes, timeout_s: float, source: str = "the TTS service") -> bytes:
    """MP3 bytes -> 16-bit mono PCM at SAMPLE_RATE, through ffmpeg pipes (no temporary files)."""
    from aura.media.ffmpeg import ffmpeg_path

    try:
        ffmpeg = ffmpeg_path()
    except AuraError as exc:
        raise TTSError(f"{source} audio is MP3 and ffmpeg is needed to decode it: {exc}") from exc
    cmd = [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
        "-f", "mp3", "-i", "pipe:0",
        "-f", "s16le", "-acodec", "pcm_s16le", "-ac", "1", "-ar", str(SAMPLE_RATE), "pipe:1",
    ]  # fmt: skip
    try:
        proc = processes.run(cmd, input=mp3, timeout=max(timeout_s, 0.1))
    except processes.ChildTimeout as exc:
        raise TTSError(f"ffmpeg took longer than {timeout_s:.1f} s to decode {source} audio: raise the timeout") from exc
    pcm, err = proc.stdout, proc.stderr
    if proc.returncode != 0 or not pcm:
        tail = " | ".join(err.decode("utf-8", "replace").strip().splitlines()[-4:])
        raise TTSError(f"ffmpeg could not decode the MP3 from {source} (exit {proc.returncode}): {tail or 'no audio'}")
    return pcm
