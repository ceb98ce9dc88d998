"""Load test of the REST gateway, on loopback only: N concurrent jobs, each followed to `done`.

It starts `aura serve` (with a temporary Prefect server of its own and a bearer
token), sends --count generate requests at once, follows every job's SSE
stream to `done`, downloads every video and checks it (H.264 + AAC, the size
the aspect asks for, the narration's duration). Meanwhile it sends one status
request a second, as a user watching a page would, while the jobs start and
render. It prints the latencies of the 202 answers, of the first event and
of those single requests (median, p95, max), each job's time to done, and the
throughput. Bounded: at most 20 jobs, and --limit-s seconds in all.
Not a test: it prints figures. Run: .venv/bin/python bench/gateway_load.py
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aura.media.probe import probe  # noqa: E402
from bench.gateway import running_gateway  # noqa: E402

BRIEFS = [
    "How volcanoes form", "Why the sea is salty", "How bees make honey", "Why leaves change colour",
    "How glaciers carve valleys", "Why the sky is blue", "How rainbows appear", "How owls hunt at night",
    "Why cats purr", "How coral reefs grow", "How bread rises", "Why we dream", "How tides work",
    "Why ice floats", "How bats see in the dark", "How lightning forms", "Why onions make us cry",
    "How compasses work", "Why the moon has phases", "How seeds know which way is up",
]  # fmt: skip
ASPECTS = {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (720, 720)}


async def one_job(client: httpx.AsyncClient, index: int, duration: int, folder: Path) -> dict:
    aspect = list(ASPECTS)[index % 3]
    body = {"brief": BRIEFS[index], "duration_seconds": duration, "aspect": aspect, "seed": index}
    started = time.perf_counter()
    answer = await client.post("/api/videos/generate", json=body, params={"preset": "quick_demo"})
    accepted_s = time.perf_counter() - started
    answer.raise_for_status()
    job_id = answer.json()["jobId"]
    first_event_s, events, done = None, 0, None
    async with client.stream("GET", f"/api/videos/{job_id}/stream") as stream:
        name = None
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events += 1
                first_event_s = first_event_s or time.perf_counter() - started
                if name == "done":
                    done = json.loads(line.split(":", 1)[1])
                    break
                if name == "error":
                    raise RuntimeError(f"job {job_id} failed: {line}")
    done_s = time.perf_counter() - started
    video = folder / f"{job_id}.mp4"
    async with client.stream("GET", done["downloadUrl"]) as download:
        with open(video, "wb") as sink:
            async for chunk in download.aiter_bytes():
                sink.write(chunk)
    downloaded_s = time.perf_counter() - started
    info = probe(video)
    metadata = (await client.get(done["metadataUrl"])).json()
    stream_info = info.of_kind("video")[0]
    valid = (
        [s.codec for s in info.of_kind("video")] == ["h264"]
        and [s.codec for s in info.of_kind("audio")] == ["aac"]
        and (stream_info.width, stream_info.height) == ASPECTS[aspect]
        and abs(info.duration - metadata["timings"]["duration"]) <= 0.1
    )
    return {"accepted_s": accepted_s, "first_event_s": first_event_s, "done_s": done_s, "downloaded_s": downloaded_s,
            "events": events, "bytes": video.stat().st_size, "valid": valid}  # fmt: skip


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


async def run_load(url: str, token: str, count: int, duration: int, folder: Path) -> tuple[list[dict], list[float]]:
    limits = httpx.Limits(max_connections=3 * count + 2)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=None, limits=limits) as client:
        done = asyncio.Event()

        async def jobs() -> list[dict]:
            try:
                return await asyncio.gather(*(one_job(client, i, duration, folder) for i in range(count)))
            finally:
                done.set()

        results, probes = await asyncio.gather(jobs(), single_requests(client, done))
        return results, probes


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10, choices=range(1, 21), metavar="1..20")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each video")
    parser.add_argument("--local-runs", type=int, default=2, help="AURA_GATEWAY_LOCAL_RUNS: jobs made at once")
    parser.add_argument("--limit-s", type=float, default=1200, help="give up after this long")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aura-bench-gateway-") as tmp:
        folder = Path(tmp)
        with running_gateway(folder, AURA_GATEWAY_LOCAL_RUNS=str(args.local_runs)) as (url, token):
            began = time.perf_counter()
            results, probes = asyncio.run(asyncio.wait_for(run_load(url, token, args.count, args.duration, folder), args.limit_s))
            wall = time.perf_counter() - began
    accepted = sorted(r["accepted_s"] for r in results)
    first = sorted(r["first_event_s"] for r in results)
    done = sorted(r["done_s"] for r in results)
    print(f"{args.count} concurrent jobs of {args.duration} s (720p, quick_demo), {args.local_runs} made at once:")
    print(f"  202 answer:     median {statistics.median(accepted) * 1000:6.0f} ms, p95 {percentile(accepted, 0.95) * 1000:6.0f} ms, max {accepted[-1] * 1000:6.0f} ms")
    print(f"  single status requests while they run ({len(probes)}): median {statistics.median(probes) * 1000:6.0f} ms, "
          f"p95 {percentile(probes, 0.95) * 1000:6.0f} ms, max {max(probes) * 1000:6.0f} ms")
    print(f"  first event:    median {statistics.median(first) * 1000:6.0f} ms, max {first[-1] * 1000:6.0f} ms")
    print(f"  done:           first {done[0]:6.1f} s, median {statistics.median(done):6.1f} s, last {done[-1]:6.1f} s")
    print(f"  wall {wall:.1f} s: {args.count / wall * 60:.1f} videos/min; {sum(r['events'] for r in results)} events")
    print(f"  downloads: {sum(r['bytes'] for r in results) / 2**20:.1f} MiB; valid videos: {sum(r['valid'] for r in results)}/{args.count}")


if __name__ == "__main__":
    main()
