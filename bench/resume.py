"""Benchmark: a full run against a resumed run that only recomposes.

For a 60 s, 10-scene video (720p by default) it times, after the Prefect
server is up:

- full: a run with nothing cached (brief, script, voice || visuals, compose);
- resumed: first a run whose composition fails (its timeout is set to 1 s, so
  ffmpeg is killed mid-encode), then the same request again: script, voice and
  visuals come from their checkpoints and only the composition runs.

Each is repeated (best of --repeats, each in a fresh store) and the ratio
resumed / full is printed with the resumed run's stage table. Not a test: it
prints figures. Run: .venv/bin/python bench/resume.py [--resolution 1080p]
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

from aura.models import VideoRequest  # noqa: E402
from aura.options import PipelineOptions, StagePolicy  # noqa: E402

BRIEF = "How volcanoes form: magma, pressure, and the eruptions that build mountains"


def timed_run(request: VideoRequest, store: Path, options: PipelineOptions | None = None):
    from flows.generate_video import generate_video

    started = time.perf_counter()
    state = generate_video(request, options=options, output=str(store), return_state=True)
    return time.perf_counter() - started, state


def one_round(request: VideoRequest, root: Path, index: int) -> tuple[float, float, dict]:
    full_s, state = timed_run(request, root / f"full-{index}")
    assert state.is_completed(), state
    store = root / f"resume-{index}"
    doomed = PipelineOptions(compose=StagePolicy(retries=0, timeout_s=1))  # the encode is killed after 1 s
    _, failed = timed_run(request, store, doomed)
    assert failed.is_failed(), "the composition was expected to time out"
    resumed_s, state = timed_run(request, store)
    assert state.is_completed(), state
    return full_s, resumed_s, state.result().stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", default="720p", choices=["720p", "1080p"])
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    request = VideoRequest(brief=BRIEF, duration_seconds=args.duration, resolution=args.resolution)

    from prefect.testing.utilities import prefect_test_harness

    with tempfile.TemporaryDirectory(prefix="aura-bench-resume-") as tmp, prefect_test_harness(server_startup_timeout=120):
        rounds = [one_round(request, Path(tmp), i) for i in range(args.repeats)]
    full = min(r[0] for r in rounds)
    resumed = min(r[1] for r in rounds)
    stages = min(rounds, key=lambda r: r[1])[2]
    print(f"{args.duration} s video at {args.resolution}, best of {args.repeats} (server up):")
    print(f"  full run:    {full:6.1f} s")
    print(f"  resumed run: {resumed:6.1f} s (only the composition runs)")
    print(f"  ratio resumed / full: {resumed / full:.2f}")
    print("  resumed run, stage by stage:")
    for name, report in stages.items():
        print(f"    {name:8} {report.status:10} attempts {report.attempts}  {report.seconds:6.2f} s")


if __name__ == "__main__":
    main()
