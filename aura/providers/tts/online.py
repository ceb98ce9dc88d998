"""What the online TTS engines share: a hard deadline around network work, and MP3 decoding."""

from __future__ import annotations

import subprocess
import threading
from typing import Callable, TypeVar

from aura.errors import AuraError
from aura.providers.tts.base import TTSError

SAMPLE_RATE = 24000  # both gTTS and edge-tts speak 24 kHz MP3
T = TypeVar("T")


def run_with_deadline(work: Callable[[], T], timeout_s: float) -> T:
    """Run `work` in a daemon thread and wait at most timeout_s for it.

    Socket timeouts alone do not bound a call: DNS lookups ignore them and a server that drips
    bytes resets them. The abandoned thread still ends soon, as its sockets have timeouts too.
    """
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="aura-online-tts", daemon=True)
    thread.start()
    thread.join(max(timeout_s, 0.0))
    if thread.is_alive():
        raise TimeoutError(f"no answer within {timeout_s:.1f} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


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
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        pcm, err = proc.communicate(mp3, timeout=max(timeout_s, 0.1))
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.wait()
        raise TTSError(f"ffmpeg took longer than {timeout_s:.1f} s to decode {source} audio: raise the timeout") from exc
    except BaseException:
        proc.kill()  # a cancellation must not leave ffmpeg running
        proc.wait()
        raise
    if proc.returncode != 0 or not pcm:
        tail = " | ".join(err.decode("utf-8", "replace").strip().splitlines()[-4:])
        raise TTSError(f"ffmpeg could not decode the MP3 from {source} (exit {proc.returncode}): {tail or 'no audio'}")
    return pcm
