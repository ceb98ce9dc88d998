"""Benchmark: composition wall time and peak memory, against a hand-written ffmpeg command.

For a 60 s, 10-scene video at 720p and 1080p it prepares the inputs once
(offline script, espeak-ng narration, slides), then times:

- aura: the compose stage's work (subtitles, the ffmpeg render, the output
  check, the thumbnail), as the pipeline runs it;
- reference: one hand-written ffmpeg command for the same output, written the
  way most scripts do it (`-loop 1 -t D -i still` per scene, the same camera
  moves, concat, the same subtitles and encoder settings).

It also times one whole run through the Prefect flow (server already up).
Not a test: it prints figures. Run: .venv/bin/python bench/compose.py
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

from aura.media.compose import Clip, _motion_filter, overscan_size  # noqa: E402
from aura.media.ffmpeg import run_ffmpeg  # noqa: E402
from aura.models import VideoRequest  # noqa: E402
from aura.options import PipelineOptions  # noqa: E402
from aura.settings import get_settings  # noqa: E402
import aura.stages.compose as compose_stage  # noqa: E402
from aura.stages.compose import ASS_KEY, compose_video, motions_for  # noqa: E402
from aura.stages.script import write_script  # noqa: E402
from aura.stages.visuals import draw_stills  # noqa: E402
from aura.stages.voice import narrate  # noqa: E402
from aura.store import ArtifactStore  # noqa: E402
from bench.memory import PeakMemory  # noqa: E402

BRIEF = "How volcanoes form: magma, pressure, and the eruptions that build mountains"


def prepare(request: VideoRequest, root: Path):
    """Script, narration and stills for the request, made once (not timed)."""
    settings = get_settings()
    job = ArtifactStore(str(root)).job(f"bench-{request.resolution}")
    script = write_script(request, settings)
    narration = narrate(script, request, job, settings)
    visuals = draw_stills(script, request, job, "slides")
    return job, script, narration, visuals


def reference_command(request, job, narration, visuals, output: Path) -> list[str]:
    """The hand-written way: loop each still as a timed input, move it, concat, burn subtitles."""
    width, height = request.size
    ow, oh = overscan_size(width, height)
    moves = motions_for(request, len(visuals.images))
    args, chains = [], []
    starts = [s.start for s in narration.scenes] + [narration.duration]
    for i, ref in enumerate(visuals.images):
        seconds = starts[i + 1] - starts[i]
        args += ["-loop", "1", "-framerate", str(request.fps), "-t", f"{seconds:.6f}", "-i", str(job.path(ref.key))]
        frames = round(starts[i + 1] * request.fps) - round(starts[i] * request.fps)
        # the same camera move as the pipeline, for the same output
        clip = Clip(image=job.path(ref.key), first_frame=0, frames=frames, motion=moves[i])
        chains.append(f"[{i}:v]scale={ow}:{oh},setsar=1,{_motion_filter(clip, width, height)},setsar=1,format=yuv420p[v{i}]")
    n = len(visuals.images)
    graph = ";".join(chains) + ";" + "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0,ass={Path(ASS_KEY).name}[v]"
    args += ["-i", str(job.path(narration.audio.key)), "-filter_complex", graph, "-map", "[v]", "-map", f"{n}:a"]
    args += ["-c:v", "libx264", "-preset", get_settings().x264_preset, "-crf", str(get_settings().crf), "-pix_fmt", "yuv420p"]
    args += ["-c:a", "aac", "-b:a", "160k", "-ar", "48000", "-shortest", "-movflags", "+faststart", str(output)]
    return args


def timed(fn) -> tuple[float, int]:
    with PeakMemory() as memory:
        started = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - started
    return elapsed, memory.peak


def bench_resolution(resolution: str, root: Path, repeats: int) -> dict:
    request = VideoRequest(brief=BRIEF, duration_seconds=60, resolution=resolution, seed=1)
    job, script, narration, visuals = prepare(request, root)
    assert len(visuals.images) == 10, f"expected 10 scenes, got {len(visuals.images)}"
    options = PipelineOptions()
    ours, theirs, ffmpeg_only = [], [], []
    real_render = compose_stage.render

    def render_timed(*args, **kwargs):  # how much of the stage is the ffmpeg run itself
        started = time.perf_counter()
        real_render(*args, **kwargs)
        ffmpeg_only.append(time.perf_counter() - started)

    compose_stage.render = render_timed
    for _ in range(repeats):
        ours.append(timed(lambda: compose_video(request, script, narration, visuals, job, options)))
        out = job.path("work/reference.mp4")
        cmd = reference_command(request, job, narration, visuals, out)
        theirs.append(timed(lambda: run_ffmpeg(cmd, cwd=job.path(ASS_KEY).parent)))
    compose_stage.render = real_render
    best = min(ours), min(theirs)
    return {
        "render_s": min(ffmpeg_only),
        "resolution": resolution,
        "video_seconds": narration.duration,
        "aura_s": best[0][0],
        "aura_peak_mib": max(m for _, m in ours) / 2**20,
        "reference_s": best[1][0],
        "reference_peak_mib": max(m for _, m in theirs) / 2**20,
    }


def bench_end_to_end(root: Path) -> float:
    """One 60 s 720p run through the Prefect flow, timed after the server is up."""
    from prefect.testing.utilities import prefect_test_harness

    from flows.generate_video import generate_video

    with prefect_test_harness(server_startup_timeout=120):
        request = VideoRequest(brief=BRIEF, duration_seconds=60)
        started = time.perf_counter()
        generate_video(request, output=str(root / "e2e"))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs per measurement; the best is reported")
    parser.add_argument("--resolutions", nargs="+", default=["720p", "1080p"])
    parser.add_argument("--no-e2e", action="store_true", help="skip the whole-flow timing")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB")
    with tempfile.TemporaryDirectory(prefix="aura-bench-") as tmp:
        root = Path(tmp)
        print(
            f"{'res':6} {'video':>6} {'aura s':>7} {'s/s':>6} {'ffmpeg s':>8} {'peak MiB':>9} "
            f"{'ref s':>7} {'ref MiB':>8} {'ratio':>6}"
        )
        for resolution in args.resolutions:
            r = bench_resolution(resolution, root, args.repeats)
            print(
                f"{r['resolution']:6} {r['video_seconds']:6.1f} {r['aura_s']:7.2f} {r['aura_s'] / r['video_seconds']:6.3f} "
                f"{r['render_s']:8.2f} {r['aura_peak_mib']:9.0f} {r['reference_s']:7.2f} {r['reference_peak_mib']:8.0f} "
                f"{r['aura_s'] / r['reference_s']:6.2f}"
            )
        if not args.no_e2e:
            print(f"end to end, 60 s 720p through the Prefect flow (server up): {bench_end_to_end(root):.1f} s")


if __name__ == "__main__":
    main()
