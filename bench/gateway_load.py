"""Load test of the REST gateway, on loopback only: bursts of concurrent jobs, each followed to `done`.

Two shapes:
- default: `aura serve` with a temporary Prefect server of its own (SQLite),
  making its jobs itself (AURA_GATEWAY_LOCAL_RUNS at a time);
- `--database sqlite|postgres`: Aura deployed with `deployments/local.py up
  --database ...` (server, pools, workers) and `aura serve` in deployment mode
  (AURA_GATEWAY_DEPLOYMENT): the jobs queue on the work pool, so the answers
  measure the gateway and the server's database, not the rendering.

For each --count (repeatable: `--count 10 --count 50`) it sends that many
generate requests at once, follows every job's SSE stream to `done`,
downloads every video and checks it (H.264 + AAC, the aspect's size, the
narration's duration). Meanwhile it sends one status request a second, as a
user watching a page would. It prints the 202 latencies (median, p95, max),
the non-202 answers and failed jobs (errors), the first event, each job's
time to done, and videos per minute. Bounded: at most 50 jobs a burst, and
--limit-s seconds per burst. Not a test: it prints figures.
Run: .venv/bin/python bench/gateway_load.py --database postgres --count 10 --count 50
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aura.media.probe import probe  # noqa: E402
from bench.gateway import free_port, running_gateway  # noqa: E402

LOCAL = ROOT / "deployments" / "local.py"

BRIEFS = [
    "How volcanoes form", "Why the sea is salty", "How bees make honey", "Why leaves change colour",
    "How glaciers carve valleys", "Why the sky is blue", "How rainbows appear", "How owls hunt at night",
    "Why cats purr", "How coral reefs grow", "How bread rises", "Why we dream", "How tides work",
    "Why ice floats", "How bats see in the dark", "How lightning forms", "Why onions make us cry",
    "How compasses work", "Why the moon has phases", "How seeds know which way is up",
]  # fmt: skip
ASPECTS = {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (720, 720)}


async def one_job(
    client: httpx.AsyncClient, index: int, duration: int, folder: Path, follow: bool = True, answered=None
) -> dict:
    """One job: its 202, then (with `follow`) its stream to `done`, its download and its check. Errors are counted,
    not raised: a load test reports them. `answered` (awaited after the 202): when the stream may be followed."""
    aspect = list(ASPECTS)[index % 3]
    body = {"brief": BRIEFS[index % len(BRIEFS)], "duration_seconds": duration, "aspect": aspect, "seed": index}
    started = time.perf_counter()
    answer = await client.post("/api/videos/generate", json=body, params={"preset": "quick_demo"})
    accepted_s = time.perf_counter() - started
    result = {"accepted_s": accepted_s, "status": answer.status_code, "error": None, "valid": False, "events": 0, "bytes": 0,
              "first_event_s": None, "done_s": None}  # fmt: skip
    if answer.status_code != 202:
        result["error"] = f"{answer.status_code} {answer.text[:200]}"
        return result
    if not follow:
        return result
    if answered is not None:
        await answered()
    job_id = answer.json()["jobId"]
    done = None
    async with client.stream("GET", f"/api/videos/{job_id}/stream") as stream:
        name = None
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                result["events"] += 1
                result["first_event_s"] = result["first_event_s"] or time.perf_counter() - started
                if name == "done":
                    done = json.loads(line.split(":", 1)[1])
                    break
                if name == "error":
                    result["error"] = f"job {job_id} failed: {line[:300]}"
                    return result
    result["done_s"] = time.perf_counter() - started
    video = folder / f"{job_id}.mp4"
    async with client.stream("GET", done["downloadUrl"]) as download:
        with open(video, "wb") as sink:
            async for chunk in download.aiter_bytes():
                sink.write(chunk)
    info = probe(video)
    metadata = (await client.get(done["metadataUrl"])).json()
    stream_info = info.of_kind("video")[0]
    result["valid"] = (
        [s.codec for s in info.of_kind("video")] == ["h264"]
        and [s.codec for s in info.of_kind("audio")] == ["aac"]
        and (stream_info.width, stream_info.height) == ASPECTS[aspect]
        and abs(info.duration - metadata["timings"]["duration"]) <= 0.1
    )
    result["bytes"] = video.stat().st_size
    video.unlink()
    return result


async def single_requests(client: httpx.AsyncClient, done: asyncio.Event, every_s: float = 1.0) -> list[float]:
    """One status request a second until the jobs are done: how long each took to answer."""
    latencies = []
    job_id = (await client.post("/api/videos/generate", json={"brief": "Why owls hoot", "duration_seconds": 10})).json()["jobId"]
    while not done.is_set():
        started = time.perf_counter()
        (await client.get(f"/api/videos/{job_id}/status")).raise_for_status()
        latencies.append(time.perf_counter() - started)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(done.wait(), every_s)
    return latencies


async def run_load(
    url: str, token: str, count: int, duration: int, folder: Path, first: int, pool: tuple[str, str] | None = None
) -> tuple[list[dict], list[float]]:
    """`pool` (Prefect's API URL, a pool's name): the pool is paused until every request of the burst is answered,
    as when the workers render on machines of their own, so the answers share the cores with no render."""
    limits = httpx.Limits(max_connections=3 * count + 2)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=None, limits=limits) as client:
        done, all_answered, answers = asyncio.Event(), asyncio.Event(), [0]
        if pool is not None:
            await pause(pool, True)

        async def answered() -> None:
            answers[0] += 1
            if answers[0] == count:
                await pause(pool, False)
                all_answered.set()
            await all_answered.wait()

        async def jobs() -> list[dict]:
            try:
                gate = answered if pool is not None else None
                return await asyncio.gather(*(one_job(client, first + i, duration, folder, answered=gate) for i in range(count)))
            finally:
                done.set()

        results, probes = await asyncio.gather(jobs(), single_requests(client, done))
        return results, probes


async def pause(pool: tuple[str, str], paused: bool) -> None:
    api_url, name = pool
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as prefect:
        (await prefect.patch(f"/work_pools/{name}", json={"is_paused": paused})).raise_for_status()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.contextmanager
def deployed(folder: Path, database: str, cpu_workers: int, worker_limit: int) -> Iterator[str]:
    """Aura deployed on this machine (deployments/local.py up --database ...): the API URL; `down` afterwards."""
    home = folder / "cluster"
    for path in (folder, home):  # PostgreSQL runs as the postgres user, who must pass through these
        path.mkdir(exist_ok=True)
        path.chmod(0o711)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "AURA_"))}
    env.update(AURA_OUTPUT=str(folder / "out"), PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="5",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", LITELLM_LOCAL_MODEL_COST_MAP="True")  # fmt: skip
    command = [sys.executable, str(LOCAL), "up", "--home", str(home), "--port", str(free_port()), "--database", database,
               "--cpu-workers", str(cpu_workers), "--gpu-workers", "1", "--worker-limit", str(worker_limit)]  # fmt: skip
    began = time.perf_counter()
    up = subprocess.run(command, env=env, capture_output=True, text=True)
    try:
        if up.returncode != 0:
            raise SystemExit(f"local.py up failed:\n{up.stdout[-2000:]}\n{up.stderr[-2000:]}")
        print(f"deployed on {database} in {time.perf_counter() - began:.1f} s")
        yield json.loads((home / "state.json").read_text())["api_url"]
    finally:
        subprocess.run([sys.executable, str(LOCAL), "down", "--home", str(home)], env=env, capture_output=True)


def report(count: int, results: list[dict], probes: list[float], wall: float) -> None:
    accepted = sorted(r["accepted_s"] for r in results)
    errors = [r["error"] for r in results if r["error"]]
    server_errors = sum(r["status"] >= 500 for r in results)
    finished = [r for r in results if r["done_s"] is not None]
    print(f"{count} requests at once:")
    print(f"  202 answer:     median {statistics.median(accepted) * 1000:6.0f} ms, p95 {percentile(accepted, 0.95) * 1000:6.0f} ms, "
          f"max {accepted[-1] * 1000:6.0f} ms")  # fmt: skip
    print(f"  errors: {len(errors)} ({server_errors} answers 5xx){': ' + errors[0] if errors else ''}")
    if probes:
        print(f"  single status requests while they run ({len(probes)}): median {statistics.median(probes) * 1000:6.0f} ms, "
              f"p95 {percentile(probes, 0.95) * 1000:6.0f} ms, max {max(probes) * 1000:6.0f} ms")  # fmt: skip
    if finished:
        first = sorted(r["first_event_s"] for r in finished)
        done = sorted(r["done_s"] for r in finished)
        print(f"  first event:    median {statistics.median(first) * 1000:6.0f} ms, max {first[-1] * 1000:6.0f} ms")
        print(f"  done:           first {done[0]:6.1f} s, median {statistics.median(done):6.1f} s, last {done[-1]:6.1f} s")
    print(f"  wall {wall:.1f} s: {len(finished) / wall * 60:.1f} videos/min; valid videos {sum(r['valid'] for r in results)}/{count}; "
          f"downloads {sum(r['bytes'] for r in results) / 2**20:.1f} MiB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, action="append", choices=range(1, 51), metavar="1..50",
                        help="requests sent at once (repeat it for several bursts, one after another; default 10)")  # fmt: skip
    parser.add_argument("--duration", type=int, default=10, help="seconds of each video")
    parser.add_argument("--database", choices=("sqlite", "postgres"),
                        help="deploy (local.py up --database ...) and start jobs as runs of the deployment")  # fmt: skip
    parser.add_argument("--cpu-workers", type=int, default=1, help="with --database: cpu workers")
    parser.add_argument("--worker-limit", type=int, default=2, help="with --database: runs at once per cpu worker")
    parser.add_argument("--local-runs", type=int, default=2, help="without --database: AURA_GATEWAY_LOCAL_RUNS")
    parser.add_argument("--limit-s", type=float, default=1800, help="give up on a burst after this long")
    parser.add_argument("--renders-after", action="store_true",
                        help="with --database: pool cpu paused until a burst is answered (workers on other machines)")  # fmt: skip
    args = parser.parse_args()
    counts = args.count or [10]
    # a benchmark stopped with kill still takes its cluster down (the `finally` of deployed())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="aura-bench-gateway-") as tmp:
        folder = Path(tmp)
        with contextlib.ExitStack() as stack:
            if args.database:
                api_url = stack.enter_context(deployed(folder, args.database, args.cpu_workers, args.worker_limit))
                settings = {"PREFECT_API_URL": api_url, "AURA_GATEWAY_DEPLOYMENT": "generate-video/generate-video"}
                shape = f"deployed on {args.database}, {args.cpu_workers} cpu worker(s) x {args.worker_limit} runs"
                shape += ", renders after the burst is answered" if args.renders_after else ""
            else:
                settings = {"AURA_GATEWAY_LOCAL_RUNS": str(args.local_runs)}
                shape = f"the gateway making {args.local_runs} at a time (temporary SQLite server)"
            # every request comes from one address here (the benchmark's): its connections are not one client's
            settings["AURA_GATEWAY_CLIENT_CONNECTIONS"] = str(3 * max(counts) + 10)
            url, token = stack.enter_context(running_gateway(folder, **settings))
            print(f"jobs of {args.duration} s (720p, quick_demo), {shape}:")
            # the gateway's first request looks its deployment up and loads the voices: timed apart from the bursts
            started = time.perf_counter()
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
                first_answer = client.post("/api/videos/generate", json={"brief": "Why owls hoot", "duration_seconds": 10})
            print(f"first request alone: {first_answer.status_code} in {(time.perf_counter() - started) * 1000:.0f} ms")
            first = 0
            for count in counts:
                began = time.perf_counter()
                pool = (api_url, "cpu") if args.database and args.renders_after else None
                load = run_load(url, token, count, args.duration, folder, first, pool)
                results, probes = asyncio.run(asyncio.wait_for(load, args.limit_s))
                report(count, results, probes, time.perf_counter() - began)
                first += count


if __name__ == "__main__":
    main()
