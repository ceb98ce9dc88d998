"""How good the time-to-finish estimate is on runs it was not fitted on.

It makes --runs real videos (varied length, 10 to 90 s, aspect, resolution
and fps; offline providers; fresh, so every stage really runs) through the
generate-video flow on a temporary Prefect server, reads the server's
history as a run does (aura.stages.run_history), fits aura.eta's model on
the first --fit runs only, and for each of the others compares the total it
predicts at the start of a run (the critical path of its stages, and what a
run spends beside them) with the run's real time (Prefect's total_run_time).
It prints the median and p90 absolute error, in seconds and percent, for the
fitted model and for the built-in rates, and how long reading the history
takes (--pad adds short runs first, so that the read sees 50 or more runs).
Not a test: it prints figures. Run: .venv/bin/python bench/eta.py [--runs 18 --fit 8 --pad 34]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aura import eta  # noqa: E402
from aura.models import VideoRequest  # noqa: E402
from aura.settings import get_settings  # noqa: E402

TOPICS = ["volcanoes form", "tides turn", "bees dance", "glaciers carve valleys", "owls hunt", "rainbows appear",
          "coral reefs grow", "lightning forms", "bread rises", "compasses work", "rivers meander", "frogs sing"]  # fmt: skip
DURATIONS = [10, 45, 20, 90, 30, 60, 15, 75, 40]
SHAPES = [("16:9", "720p", 30), ("9:16", "720p", 30), ("1:1", "1080p", 30), ("16:9", "1080p", 24), ("9:16", "720p", 60)]


def request(index: int, duration: int | None = None) -> VideoRequest:
    aspect, resolution, fps = SHAPES[index % len(SHAPES)]
    return VideoRequest(
        brief=f"How {TOPICS[index % len(TOPICS)]}", duration_seconds=duration or DURATIONS[index % len(DURATIONS)],
        aspect=aspect, resolution=resolution, fps=fps, fresh=True,
    )  # fmt: skip


def run(req: VideoRequest, store: Path) -> str:
    from flows.generate_video import generate_video

    state = generate_video(req, output=str(store), return_state=True)
    assert state.is_completed(), state
    return str(state.state_details.flow_run_id)


def predicted_total(model: eta.Model, req: VideoRequest) -> float:
    return eta.remaining_seconds(model.predict(eta.features(req), eta.provider_keys(get_settings())), {}, {})


def errors(pairs: list[tuple[float, float]]) -> str:
    absolute = sorted(abs(p - r) for p, r in pairs)
    percent = sorted(100 * abs(p - r) / r for p, r in pairs)
    p90 = lambda xs: xs[min(len(xs) - 1, round(0.9 * (len(xs) - 1)))]  # noqa: E731
    return (f"median {statistics.median(absolute):5.1f} s ({statistics.median(percent):4.0f} %), "
            f"p90 {p90(absolute):5.1f} s ({p90(percent):4.0f} %)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=18)
    parser.add_argument("--fit", type=int, default=8, help="the first FIT runs are the history; the others are judged")
    parser.add_argument("--pad", type=int, default=0, help="short runs added afterwards, to time the history's read")
    args = parser.parse_args()

    from prefect.client.orchestration import get_client
    from prefect.testing.utilities import prefect_test_harness

    from aura.stages.run_history import read_samples

    with tempfile.TemporaryDirectory(prefix="aura-bench-eta-") as tmp, prefect_test_harness(server_startup_timeout=120):
        store = Path(tmp) / "store"
        made = []
        for i in range(args.runs):
            req = request(i)
            started = time.perf_counter()
            made.append((req, run(req, store)))
            print(f"run {i + 1:2}/{args.runs}: {req.duration_seconds:3} s {req.aspect:4} {req.resolution:5} {req.fps} fps "
                  f"in {time.perf_counter() - started:5.1f} s", flush=True)  # fmt: skip
        samples = read_samples()
        with get_client(sync_client=True) as client:
            real = {run_id: client.read_flow_run(run_id).total_run_time.total_seconds() for _, run_id in made}
        history = {run_id for _, run_id in made[: args.fit]}
        model = eta.fit(s for s in samples if s.run in history)
        judged = made[args.fit :]
        fitted = [(predicted_total(model, req), real[run_id]) for req, run_id in judged]
        built_in = [(predicted_total(eta.BUILT_IN_MODEL, req), real[run_id]) for req, run_id in judged]
        print(f"\nfitted on {args.fit} runs ({model.samples} samples), judged on {len(judged)}:")
        print(f"{'request':28} {'real':>7} {'fitted':>7} {'built-in':>8}")
        for (req, _), (f, r), (b, _) in zip(judged, fitted, built_in):
            print(f"{req.duration_seconds:3} s {req.aspect:4} {req.resolution:5} {req.fps:2} fps{'':7} {r:6.1f}s {f:6.1f}s {b:7.1f}s")
        print(f"  fitted model:   {errors(fitted)}")
        print(f"  built-in rates: {errors(built_in)}")
        print("  stage by stage, mean seconds of the judged runs (real / fitted):")
        for stage in ("brief", "script", "voice", "visuals", "compose", "run"):
            own = [s for s in samples if s.stage == stage and s.run not in history]
            if own:
                mean = statistics.mean(s.seconds for s in own)
                guess = statistics.mean(model.predict(s.x)[stage] for s in own)
                print(f"    {stage:8} {mean:6.2f} / {guess:6.2f}")

        for i in range(args.pad):
            run(request(i, duration=10), store)
        if args.pad:
            started = time.perf_counter()
            samples = read_samples()
            took = time.perf_counter() - started
            runs = len({s.run for s in samples})
            print(f"\nreading the history: {took:.2f} s for {runs} runs ({len(samples)} samples)")


if __name__ == "__main__":
    main()
