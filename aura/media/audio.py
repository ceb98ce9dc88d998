"""Narration audio: PCM helpers, silence checks and loudness normalisation (ffmpeg loudnorm)."""

from __future__ import annotations

import json
import math
import re
import wave
from pathlib import Path

from aura import processes
from aura.errors import MediaError
from aura.media.ffmpeg import ffmpeg_path, run_ffmpeg

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


def _loudnorm_filter(measured: dict[str, float] | None = None, report: bool = False) -> str:
    t = LOUDNESS_TARGET
    text = f"loudnorm=I={t['I']}:TP={t['TP']}:LRA={t['LRA']}"
    if report:
        text += ":print_format=json"
    if measured:
        # second pass: one linear gain from the first pass's measurement, so speech
        # keeps its natural dynamics (no pumping)
        text += (
            f":measured_I={measured['input_i']}:measured_TP={measured['input_tp']}"
            f":measured_LRA={measured['input_lra']}:measured_thresh={measured['input_thresh']}"
            f":offset={measured['target_offset']}:linear=true"
        )
    return text


def normalize_loudness(source: Path, target: Path, sample_rate: int, timeout: float = 120) -> dict[str, float]:
    """Two-pass loudnorm of `source` into `target` (16-bit WAV); returns the first pass's figures.

    Where one linear gain to the target would push the peaks over the true-peak limit (neural
    voices peak at full scale: Piper's speech sits some 21 dB under its peaks), loudnorm would fall
    back to its dynamic mode, which misses the target on short narrations. Then the gain is applied
    with a fast limiter holding down the peaks above the limit; the limiter takes some loudness,
    so the gain is raised by what the result still lacks (twice at most).
    """
    measured = measure_loudness(source, timeout=timeout)
    if not math.isfinite(measured["input_i"]) or measured["input_i"] < -70:
        raise MediaError("the narration is silent: there is nothing to normalise")
    gain = LOUDNESS_TARGET["I"] - measured["input_i"]
    if measured["input_tp"] + gain <= LOUDNESS_TARGET["TP"]:
        _render(source, target, _loudnorm_filter(measured), sample_rate, timeout)
        return measured
    ceiling = 10 ** ((LOUDNESS_TARGET["TP"] - 0.5) / 20)  # sample peaks, with room for inter-sample ones
    for _ in range(3):
        limited = f"volume={gain:.2f}dB,alimiter=limit={ceiling:.4f}:attack=1:release=5:level=disabled"
        _render(source, target, limited, sample_rate, timeout)
        short = LOUDNESS_TARGET["I"] - measure_loudness(target, timeout=timeout)["input_i"]
        if abs(short) <= 0.5:
            break
        gain += short
    return measured


def _render(source: Path, target: Path, audio_filter: str, sample_rate: int, timeout: float) -> None:
    run_ffmpeg(
        ["-i", str(source), "-af", f"{audio_filter},aresample={sample_rate}",
         "-ac", "1", "-c:a", "pcm_s16le", "-f", "wav", str(target)],
        timeout=timeout,
    )  # fmt: skip


def measure_loudness(path: Path, timeout: float = 120) -> dict[str, float]:
    """Integrated loudness and friends of a file, from loudnorm's analysis pass."""
    cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-i", str(path), "-af", _loudnorm_filter(report=True), "-f", "null", "-"]
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
