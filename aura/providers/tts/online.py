"""What the online TTS engines share: a hard deadline around network work, and audio decoding."""

from __future__ import annotations

from typing import Callable, TypeVar

from aura import processes
from aura.errors import AuraError
from aura.providers.tts.base import TTSError
from aura.supervision import call_interruptibly

SAMPLE_RATE = 24000  # gTTS and edge-tts speak 24 kHz MP3, OpenAI's speech 24 kHz too
T = TypeVar("T")


def run_with_deadline(work: Callable[[], T], timeout_s: float) -> T:
    """Wait at most timeout_s for a network call, and not at all once the stage is interrupted."""
    return call_interruptibly(work, timeout_s)


# response formats -> ffmpeg's demuxer for them (OpenAI's "opus" is Ogg Opus, its "aac" ADTS)
DEMUXERS = {"mp3": "mp3", "wav": "wav", "opus": "ogg", "ogg": "ogg", "aac": "aac", "flac": "flac"}


def decode_audio(data: bytes, timeout_s: float, source: str = "the TTS service", fmt: str | None = None) -> bytes:
    """Encoded audio -> 16-bit mono PCM at SAMPLE_RATE, through ffmpeg pipes (no temporary files).

    `fmt` (mp3, wav, opus, aac, flac) names the container; None lets ffmpeg probe it, for
    services that may answer another format than the one asked for.
    """
    from aura.media.ffmpeg import ffmpeg_path

    label = fmt.upper() if fmt else "audio"
    if not data:
        raise TTSError(f"{source} answered no audio (0 bytes of {label})")
    try:
        ffmpeg = ffmpeg_path()
    except AuraError as exc:
        raise TTSError(f"{source} audio is {label} and ffmpeg is needed to decode it: {exc}") from exc
    if fmt is not None and fmt not in DEMUXERS:
        raise TTSError(f"cannot decode {fmt!r} audio from {source}: use one of {', '.join(sorted(DEMUXERS))}")
    demuxer = ["-f", DEMUXERS[fmt]] if fmt else []
    cmd = [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
        *demuxer, "-i", "pipe:0",
        "-f", "s16le", "-acodec", "pcm_s16le", "-ac", "1", "-ar", str(SAMPLE_RATE), "pipe:1",
    ]  # fmt: skip
    try:
        proc = processes.run(cmd, input=data, timeout=max(timeout_s, 0.1))
    except processes.ChildTimeout as exc:
        raise TTSError(f"ffmpeg took longer than {timeout_s:.1f} s to decode {source} audio: raise the timeout") from exc
    pcm, err = proc.stdout, proc.stderr
    if proc.returncode != 0 or not pcm:
        tail = " | ".join(err.decode("utf-8", "replace").strip().splitlines()[-4:])
        what = f"the {label}" if fmt else "the audio"
        raise TTSError(f"ffmpeg could not decode {what} from {source} (exit {proc.returncode}): {tail or 'no audio'}")
    return pcm


def decode_mp3(mp3: bytes, timeout_s: float, source: str = "the TTS service") -> bytes:
    """MP3 bytes -> 16-bit mono PCM at SAMPLE_RATE, through ffmpeg pipes (no temporary files)."""
    return decode_audio(mp3, timeout_s, source=source, fmt="mp3")
