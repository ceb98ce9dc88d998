"""Narration audio: PCM helpers and loudness normalisation (ffmpeg's ebur128 and alimiter); loudnorm's measurement."""

from __future__ import annotations

import json
import math
import re
import wave
from pathlib import Path

from aura import processes
from aura.errors import MediaError
from aura.media.ffmpeg import ffmpeg_path

LOUDNESS_TARGET = {"I": -16.0, "TP": -1.5, "LRA": 11.0}


def silence(seconds: float, sample_rate: int) -> bytes:
    return b"\x00\x00" * max(0, round(seconds * sample_rate))


def write_wav(path: Path, pcm: bytes, sample_rate: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def resample(pcm: bytes, source_rate: int, target_rate: int, timeout: float = 60) -> bytes:
    """Mono 16-bit PCM from one rate to another (when providers of a run differ)."""
    if source_rate == target_rate:
        return pcm
    cmd = [
        ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error",
        "-f", "s16le", "-ar", str(source_rate), "-ac", "1", "-i", "pipe:0",
        "-f", "s16le", "-ar", str(target_rate), "-ac", "1", "pipe:1",
    ]  # fmt: skip
    try:
        proc = processes.run(cmd, input=pcm, timeout=timeout)
    except processes.ChildTimeout as exc:
        raise MediaError(f"resampling {exc}") from None
    if proc.returncode != 0:
        raise MediaError("resampling failed: " + proc.stderr.decode("utf-8", "replace")[-300:])
    return proc.stdout


def normalize_loudness(pcm: bytes, sample_rate: int, target: Path, timeout: float = 120) -> float:
    """Mono 16-bit PCM at the target loudness, into `target` (a WAV); returns the loudness it had (LUFS).

    ebur128 measures at the narration's own rate (a tenth of loudnorm's time: loudnorm works at
    192 kHz). One gain brings the speech to the target, and a fast limiter holds down the peaks
    above the true-peak limit (neural voices peak at full scale: Piper's speech sits some 21 dB
    under its peaks); the limiter takes a little loudness, so the gain is raised by what the
    result still lacks (twice at most). Each render measures its own output in the same ffmpeg run.
    """
    measured = _render_measured(pcm, sample_rate, None, timeout)
    if not math.isfinite(measured) or measured < -70:
        raise MediaError("the narration is silent: there is nothing to normalise")
    gain = LOUDNESS_TARGET["I"] - measured
    ceiling = 10 ** ((LOUDNESS_TARGET["TP"] - 1.5) / 20)  # sample peaks, with room for inter-sample ones (~1.2 dB)
    for _ in range(3):
        limited = f"volume={gain:.2f}dB,alimiter=limit={ceiling:.4f}:attack=1:release=5:level=disabled,aresample={sample_rate}"
        short = LOUDNESS_TARGET["I"] - _render_measured(pcm, sample_rate, (limited, target), timeout)
        if abs(short) <= 0.5:
            break
        gain += short
    return measured


def _render_measured(pcm: bytes, sample_rate: int, render: tuple[str, Path] | None, timeout: float) -> float:
    """Integrated loudness (LUFS) of the PCM, or of what `render` (a filter, a WAV file) makes of it."""
    measure = "ebur128=framelog=verbose[measured]"
    graph = f"[0:a]{render[0]},asplit=2[kept][out];[out]{measure}" if render else f"[0:a]{measure}"
    cmd = [
        ffmpeg_path(), "-hide_banner", "-nostdin", "-nostats", "-y", "-f", "s16le", "-ar", str(sample_rate), "-ac", "1",
        "-i", "pipe:0", "-filter_complex", graph,
        *(["-map", "[kept]", "-c:a", "pcm_s16le", "-f", "wav", str(render[1])] if render else []),
        "-map", "[measured]", "-f", "null", "-",
    ]  # fmt: skip
    try:
        proc = processes.run(cmd, input=pcm, timeout=timeout, capture_stdout=False)
    except processes.ChildTimeout as exc:
        raise MediaError(f"the narration's loudness pass {exc}") from None
    stderr = proc.stderr.decode("utf-8", "replace")
    # the last summary: ffmpeg may set its graph up twice, and the first one's summary measured nothing
    found = re.findall(r"Integrated loudness:\s+I:\s+(-?[\d.]+|-inf) LUFS", stderr)
    if proc.returncode != 0 or not found:
        raise MediaError("the narration's loudness pass failed: " + stderr.strip()[-300:])
    return float(found[-1])


def measure_loudness(path: Path, timeout: float = 120) -> dict[str, float]:
    """Integrated loudness and friends of a file, from loudnorm's analysis pass."""
    t = LOUDNESS_TARGET
    loudnorm = f"loudnorm=I={t['I']}:TP={t['TP']}:LRA={t['LRA']}:print_format=json"
    cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-i", str(path), "-af", loudnorm, "-f", "null", "-"]
    try:
        proc = processes.run(cmd, timeout=timeout, capture_stdout=False)
    except processes.ChildTimeout as exc:
        raise MediaError(f"loudness measurement of {path.name} timed out") from exc
    stderr = proc.stderr.decode("utf-8", "replace")
    match = re.search(r"\{[^{}]*\"input_i\"[^{}]*\}", stderr)
    if proc.returncode != 0 or not match:
        raise MediaError(f"loudness measurement of {path.name} failed: " + stderr.strip()[-300:])
    values = json.loads(match.group(0))
    keys = ("input_i", "input_tp", "input_lra", "input_thresh", "output_i", "target_offset")
    return {k: float(values[k]) for k in keys}
