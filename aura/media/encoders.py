"""The H.264 encoder of the final render: libx264 on the CPU, or NVIDIA's NVENC where a GPU answers.

AURA_VIDEO_ENCODER is `auto` (NVENC when this ffmpeg has h264_nvenc and a
test encode opens it, else libx264 with one log line saying why),
`libx264` or `h264_nvenc`. NVENC has no crf: its constant-quality level
(`-cq`) that matches a crf is measured, not guessed. A two-second moving
test picture is encoded with libx264 at the crf, its PSNR against the source
noted, and the largest cq whose NVENC encode is at least as close to the
source is found by bisection; the answer is kept per ffmpeg, GPU and crf in
AURA_STATE_DIR's folder, so it is measured once per machine.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aura import processes
from aura.errors import MediaError, SystemCheckError
from aura.media.ffmpeg import capabilities, ffmpeg_path

NVENC = "h264_nvenc"
X264 = "libx264"
CALIBRATION_CLIP = "testsrc2=size=1280x720:rate=30,noise=alls=12:allf=t"  # motion and grain, as real footage has
CALIBRATION_SECONDS = 2
CQ_RANGE = (0, 51)
# x264's presets and NVENC's (p1 fastest .. p7 slowest), by the time they spend
NVENC_PRESETS = {"ultrafast": "p1", "superfast": "p1", "veryfast": "p2", "faster": "p3", "fast": "p3",
                 "medium": "p4", "slow": "p5", "slower": "p6", "veryslow": "p7", "placebo": "p7"}  # fmt: skip
log = logging.getLogger("aura.media")
_lock = threading.Lock()


@dataclass(frozen=True)
class Encoder:
    """The encoder a render uses, the ffmpeg output options it takes, and why it was chosen."""

    name: str
    options: dict[str, object]
    reason: str


def choose_encoder(setting: str, preset: str, crf: int, state_dir: Path) -> Encoder:
    """AURA_VIDEO_ENCODER resolved for this machine (module docstring)."""
    x264 = Encoder(X264, x264_options(preset, crf), "")
    if setting == X264:
        return x264
    problem = nvenc_problem()
    if problem is not None:
        if setting == NVENC:
            raise SystemCheckError(f"AURA_VIDEO_ENCODER=h264_nvenc: {problem}: use auto or libx264")
        _say_once(f"the video is encoded with libx264: {problem}")
        return Encoder(X264, x264.options, problem)
    cq = matched_cq(crf, preset, state_dir)
    return Encoder(NVENC, nvenc_options(cq, preset), f"NVENC at cq {cq}, measured to match crf {crf}")


@functools.lru_cache(maxsize=1)
def nvenc_problem() -> str | None:
    """Why NVENC cannot encode here (None: it can): this ffmpeg lacks it, or it does not open (no GPU or driver)."""
    if NVENC not in capabilities().encoders:
        return "this ffmpeg has no h264_nvenc"
    try:
        run = processes.run([ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                             "color=black:size=256x256:rate=30:duration=0.2", "-c:v", NVENC, "-f", "null", "-"],
                            timeout=60)  # fmt: skip
    except (OSError, processes.ChildTimeout) as exc:
        return f"h264_nvenc did not open ({exc})"
    if run.returncode != 0:
        said = " ".join(run.stderr.decode("utf-8", "replace").split())[:200]
        return f"h264_nvenc did not open (no NVIDIA GPU or driver here: {said or 'exit ' + str(run.returncode)})"
    return None


def matched_cq(crf: int, preset: str, state_dir: Path) -> int:
    """NVENC's cq for this crf on this machine: measured once, then read from the state folder."""
    key = f"{_gpu_name()}|{capabilities().version}|{preset}|{crf}"
    store = Path(state_dir) / "nvenc-cq.json"
    with _lock:
        known = _read(store)
        if key not in known:
            known[key] = calibrate(lambda q: as_arguments(nvenc_options(q, preset)), crf, preset)
            log.info("NVENC cq %d matches libx264 crf %d here (measured by PSNR)", known[key], crf)
            _write(store, known)
        return int(known[key])


def x264_options(preset: str, crf: int) -> dict[str, object]:
    return {"vcodec": X264, "preset": preset, "crf": crf}


def nvenc_options(cq: int, preset: str) -> dict[str, object]:
    """NVENC at constant quality `cq` (ffmpeg-python's output options): what the render and the measurement run."""
    return {"vcodec": NVENC, "preset": NVENC_PRESETS.get(preset, "p4"), "rc": "vbr", "cq": cq, "b:v": 0}


def as_arguments(options: dict[str, object]) -> list[str]:
    """Output options as ffmpeg's command-line arguments (vcodec is -c:v)."""
    return [arg for name, value in options.items() for arg in ("-c:v" if name == "vcodec" else f"-{name}", str(value))]


def calibrate(candidate: Callable[[int], list[str]], crf: int, preset: str) -> int:
    """The largest quality level q whose `candidate(q)` encode is at least as close to the source (PSNR) as
    libx264's at `crf`: the cheapest setting of the other encoder that loses nothing against the crf."""
    with tempfile.TemporaryDirectory(prefix="aura-calibrate-") as folder:
        source = Path(folder) / "source.mkv"
        _ffmpeg(["-f", "lavfi", "-i", CALIBRATION_CLIP, "-t", str(CALIBRATION_SECONDS), "-c:v", "ffv1", str(source)])
        target = psnr(source, as_arguments(x264_options(preset, crf)), Path(folder) / "x264.mp4")
        low, high = CQ_RANGE  # psnr falls as q rises: the last q still at or above the target
        if psnr(source, candidate(low), Path(folder) / "low.mp4") < target:
            return low
        while low < high:
            middle = (low + high + 1) // 2
            if psnr(source, candidate(middle), Path(folder) / f"q{middle}.mp4") >= target:
                low = middle
            else:
                high = middle - 1
        return low


def psnr(source: Path, encode: list[str], target: Path) -> float:
    """Encode the source with these options, then the average PSNR of the result against it (dB)."""
    _ffmpeg(["-i", str(source), *encode, "-pix_fmt", "yuv420p", str(target)])
    run = processes.run([ffmpeg_path(), "-hide_banner", "-nostdin", "-i", str(target), "-i", str(source),
                         "-lavfi", "[0:v][1:v]psnr", "-f", "null", "-"], timeout=300)  # fmt: skip
    found = re.search(r"average:([0-9.]+|inf)", run.stderr.decode("utf-8", "replace"))
    if not found:
        raise MediaError(f"ffmpeg measured no PSNR for {target.name}")
    return float("inf") if found.group(1) == "inf" else float(found.group(1))


def _ffmpeg(args: list[str]) -> None:
    run = processes.run([ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], timeout=300)
    if run.returncode != 0:
        raise MediaError("ffmpeg failed while measuring the encoder: " + " ".join(run.stderr.decode("utf-8", "replace").split())[:300])


def _gpu_name() -> str:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)  # fmt: skip
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else "unknown GPU"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown GPU"


def _read(store: Path) -> dict:
    try:
        return json.loads(store.read_text())
    except (OSError, ValueError):
        return {}


def _write(store: Path, known: dict) -> None:
    store.parent.mkdir(parents=True, exist_ok=True)
    partial = store.with_name(f".{store.name}.part")
    partial.write_text(json.dumps(known, indent=1))
    partial.replace(store)


_said: set[str] = set()


def _say_once(message: str) -> None:
    if message not in _said:
        _said.add(message)
        log.info("%s", message)
