"""What `aura generate` costs beside its stages: cold, on a prepared machine, and with a server running.

For a 60 s 720p video (by default) it times the whole command, as a user
waits for it, in three situations:

- cold: a fresh PREFECT_HOME and no server: the command starts a temporary
  server and Prefect makes its database (a new user's very first run);
- prepared: a PREFECT_HOME whose database scripts/setup.sh made, no server;
- server: `aura server start` first, then every run uses that server.

Beside each wall time it prints the stages' own seconds (their sum, and the
critical path: brief + script + the longer of voice and visuals + compose)
and the overhead (wall minus the critical path). It also times `aura --help`,
an input error and `aura doctor`. With --busy every core runs a spinner at
normal priority during the runs (the "busy machine" case). Every run has a
brief of its own and --fresh, so no checkpoint is reused. Not a test: it
prints figures. Run: .venv/bin/python bench/cli.py [--runs 3] [--busy]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AURA = [sys.executable, "-m", "aura.cli"]
PREFECT = [sys.executable, "-m", "prefect"]
TOPICS = ["volcanoes form", "tides turn", "bees dance", "glaciers carve valleys", "owls hunt", "rainbows appear",
          "coral reefs grow", "lightning forms", "bread rises", "compasses work"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(home: Path, port: int, out: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "PREFECT_SERVER_API", "AURA_"))}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_API_PORT=str(port), AURA_OUTPUT=str(out))
    return env


def timed(command: list[str], env: dict[str, str], timeout: float = 900) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    return time.perf_counter() - started, done


def generate(env: dict[str, str], index: int, duration: int, resolution: str) -> dict:
    brief = f"How {TOPICS[index % len(TOPICS)]}"  # --fresh: no checkpoint is reused (a number in it would be spoken)
    wall, done = timed([*AURA, "generate", brief, "--duration", str(duration), "--resolution", resolution, "--fresh", "--json"], env)
    if done.returncode != 0:
        return {"ok": False, "wall": wall, "error": (done.stdout.strip() or done.stderr.strip())[-300:]}
    report = json.loads(done.stdout)
    seconds = report["stage_seconds"]
    critical = seconds["brief"] + seconds["script"] + max(seconds["voice"], seconds["visuals"]) + seconds["compose"]
    return {"ok": True, "wall": wall, "sum": sum(seconds.values()), "critical": critical, "stages": seconds,
            "narration": report["duration"], "server_start": report["prefect_server"]["start_seconds"],
            "source": report["prefect_server"]["source"]}  # fmt: skip


def spin() -> None:
    while True:
        pass


@contextlib.contextmanager
def busy(enabled: bool):
    spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(os.cpu_count() or 1)] if enabled else []
    for spinner in spinners:
        spinner.start()
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.terminate()


def report(name: str, runs: list[dict], duration: int) -> None:
    good = [r for r in runs if r["ok"]]
    print(f"{name}: {len(good)} of {len(runs)} runs made their video")
    for run in runs:
        if not run["ok"]:
            print(f"  failed after {run['wall']:.1f} s: {run['error']}")
    if not good:
        return
    wall = statistics.median(r["wall"] for r in good)
    critical = statistics.median(r["critical"] for r in good)
    total = statistics.median(r["sum"] for r in good)
    starts = [r["server_start"] for r in good if r["server_start"] is not None]
    line = (f"  wall median {wall:5.1f} s ({wall / duration:.2f}x real time), stages {total:5.1f} s in all, "
            f"critical path {critical:5.1f} s, overhead {wall - critical:4.1f} s")  # fmt: skip
    if starts:
        line += f", temporary server up in {statistics.median(starts):.1f} s"
    print(line)
    print("  walls: " + ", ".join(f"{r['wall']:.1f}" for r in good))
    for name in good[0]["stages"]:
        print(f"  {name}: median {statistics.median(r['stages'][name] for r in good):5.2f} s")
    voice = statistics.median(r["stages"]["voice"] / r["narration"] for r in good)
    print(f"  voice: {voice:.3f}x the narration's length (median of {len(good)})")


def quick(name: str, command: list[str], env: dict[str, str], runs: int) -> None:
    walls = [timed(command, env, timeout=120)[0] for _ in range(runs)]
    print(f"{name}: median {statistics.median(walls):.2f} s (of {runs}: {', '.join(f'{w:.2f}' for w in walls)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, choices=range(1, 11), metavar="1..10", help="runs per situation")
    parser.add_argument("--duration", type=int, default=60, help="seconds of each video")
    parser.add_argument("--resolution", default="720p", choices=("720p", "1080p"))
    parser.add_argument("--busy", action="store_true", help="keep every core busy during the runs")
    parser.add_argument("--only", choices=("cold", "prepared", "server"), help="one situation only")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, {args.runs} run(s) each, {args.duration} s {args.resolution} videos"
          f"{', every core busy' if args.busy else ''}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="aura-bench-cli-") as tmp:
        folder = Path(tmp)
        idle_env = environment(folder / "home-quick", free_port(), folder / "out")
        quick("aura --help", [*AURA, "--help"], idle_env, args.runs)
        quick("input error", [*AURA, "generate", "Tides", "--duration", "5"], idle_env, args.runs)
        quick("aura doctor", [*AURA, "doctor"], idle_env, args.runs)
        with busy(args.busy):
            if args.only in (None, "cold"):
                runs = [generate(environment(folder / f"home-cold-{i}", free_port(), folder / "out"), i, args.duration, args.resolution)
                        for i in range(args.runs)]  # fmt: skip
                report("cold (fresh PREFECT_HOME, no server)", runs, args.duration)
            if args.only in (None, "prepared"):
                env = environment(folder / "home-prepared", free_port(), folder / "out")
                subprocess.run([*PREFECT, "server", "database", "upgrade", "-y"], env=env, capture_output=True, check=True)
                runs = [generate(env, 100 + i, args.duration, args.resolution) for i in range(args.runs)]
                report("prepared (database made by setup.sh, no server)", runs, args.duration)
            if args.only in (None, "server"):
                env = environment(folder / "home-server", free_port(), folder / "out")
                up_s, up = timed([*AURA, "server", "start"], env)
                if up.returncode != 0:
                    raise SystemExit(f"aura server start failed: {up.stderr}")
                try:
                    runs = [generate(env, 200 + i, args.duration, args.resolution) for i in range(args.runs)]
                finally:
                    subprocess.run([*AURA, "server", "stop"], env=env, capture_output=True)
                print(f"aura server start: {up_s:.1f} s (once)")
                report("with a server running (aura server start)", runs, args.duration)


if __name__ == "__main__":
    main()
