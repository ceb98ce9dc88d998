"""Benchmark: Aura deployed on this machine (deployments/local.py up), loopback only.

It reports:

- one run: wall time of one generate-video run created through the REST API
  (worker pick-up, flow process start, the visuals hop to the gpu worker,
  composition) against the same request run in-process with its visuals in
  the same process, and the visuals stage's own time both ways: the GPU hop's
  cost;
- throughput: a batch of ten short videos (batch-generate, ten at a time)
  with one and with two cpu workers (one run at a time each).

Each configuration gets a fresh cluster (server, pools, workers) and a fresh
artifact store. Not a test: it prints figures.
Run: .venv/bin/python bench/deployed.py [--videos 10] [--duration 10]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ROOT / "deployments" / "local.py"
BRIEFS = [
    "How volcanoes form", "Why the sea is salty", "How bees make honey", "Why leaves change colour",
    "How glaciers carve valleys", "Why the sky is blue", "How rainbows appear", "How owls hunt at night",
    "Why cats purr", "How coral reefs grow", "How bread rises", "Why we dream",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    def __init__(self, home: Path, cpu_workers: int):
        self.home, self.out = home, home / "out"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
        self.env.update(
            AURA_OUTPUT=str(self.out), PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="5",
            LITELLM_LOCAL_MODEL_COST_MAP="True", PREFECT_SERVER_ANALYTICS_ENABLED="false",
        )  # fmt: skip
        command = [sys.executable, str(LOCAL), "up", "--home", str(home), "--port", str(free_port())]
        command += ["--cpu-workers", str(cpu_workers), "--gpu-workers", "1", "--worker-limit", "1"]
        started = time.perf_counter()
        subprocess.run(command, env=self.env, check=True, capture_output=True, text=True)
        self.up_s = time.perf_counter() - started
        self.api_url = json.loads((home / "state.json").read_text())["api_url"]
        self.api = httpx.Client(base_url=self.api_url, timeout=30)

    def call(self, method: str, path: str, **kwargs) -> httpx.Response:
        for _ in range(10):
            response = self.api.request(method, path, **kwargs)
            if response.status_code != 503:  # SQLite busy: ask again, as Prefect's client does
                response.raise_for_status()
                return response
            time.sleep(0.5)
        response.raise_for_status()
        return response

    def create_run(self, deployment: str, parameters: dict) -> str:
        deployment_id = self.call("GET", f"/deployments/name/{deployment}").json()["id"]
        return self.call("POST", f"/deployments/{deployment_id}/create_flow_run", json={"parameters": parameters}).json()["id"]

    def wait(self, run_id: str, timeout_s: float = 1800) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            run = self.call("GET", f"/flow_runs/{run_id}").json()
            if run["state"]["type"] in ("COMPLETED", "FAILED", "CANCELLED", "CRASHED"):
                return run
            time.sleep(0.25)
        raise TimeoutError(run_id)

    def down(self) -> None:
        self.api.close()
        subprocess.run([sys.executable, str(LOCAL), "down", "--home", str(self.home)], env=self.env, check=True, capture_output=True)


def request(brief: str, duration: int) -> dict:
    return {"brief": brief, "duration_seconds": duration, "aspect": "16:9", "resolution": "720p", "seed": 7}


def visuals_seconds(metadata_file: Path) -> float:
    return json.loads(metadata_file.read_text())["stages"]["visuals"]["seconds"]


def one_run(root: Path, duration: int) -> dict:
    cluster = Cluster(root / "one", cpu_workers=1)
    try:
        # a first run warms the workers' file cache, as any long-lived cluster has it; the second is timed
        figures = {}
        for label, brief in (("warm-up", BRIEFS[-1]), ("deployed", BRIEFS[0])):
            started = time.perf_counter()
            run_id = cluster.create_run("generate-video/generate-video", {"request": request(brief, duration), "preset": "quick_demo"})
            run = cluster.wait(run_id)
            figures[label] = time.perf_counter() - started
            assert run["state"]["type"] == "COMPLETED", run["state"]
        figures["deployed_visuals"] = visuals_seconds(cluster.out / run_id / "metadata.json")
        # the same request in this process (visuals in-process too), against the same server
        env = {**cluster.env, "PREFECT_API_URL": cluster.api_url, "AURA_OUTPUT": str(root / "in-process")}
        env.pop("AURA_VISUALS_DEPLOYMENT", None)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "aura.cli", "generate", BRIEFS[0], "--duration", str(duration), "--aspect", "16:9",
             "--preset", "quick_demo", "--seed", "7", "--json"],
            env=env, capture_output=True, text=True, check=True, cwd=ROOT,
        )  # fmt: skip
        figures["in-process"] = time.perf_counter() - started
        report = json.loads(done.stdout)
        figures["in_process_visuals"] = report["stages"]["visuals"]["seconds"]
        figures["up"] = cluster.up_s
        return figures
    finally:
        cluster.down()


def batch(root: Path, cpu_workers: int, videos: int, duration: int) -> tuple[float, list[str]]:
    cluster = Cluster(root / f"batch-{cpu_workers}", cpu_workers=cpu_workers)
    try:
        requests = [request(BRIEFS[i % len(BRIEFS)] + ("" if i < len(BRIEFS) else f" (part {i})"), duration) for i in range(videos)]
        started = time.perf_counter()
        run_id = cluster.create_run(
            "batch-generate/batch-generate",
            {"requests": requests, "requests_file": None, "preset": "quick_demo", "max_concurrent": videos},
        )
        run = cluster.wait(run_id)
        elapsed = time.perf_counter() - started
        assert run["state"]["type"] == "COMPLETED", run["state"]
        workers = []
        for child in cluster.call("POST", "/flow_runs/filter", json={"flow_runs": {"parent_flow_run_id": {"any_": [run_id]}}}).json():
            workers.append(child["labels"].get("prefect.worker.name"))
        return elapsed, workers
    finally:
        cluster.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=10)
    parser.add_argument("--duration", type=int, default=10, help="seconds of each video")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aura-bench-deployed-") as tmp:
        root = Path(tmp)
        one = one_run(root, args.duration)
        print(f"cluster up (server, pools, deploy, workers): {one['up']:.1f} s")
        print(f"one {args.duration} s video, 720p, quick_demo:")
        print(f"  deployed (REST create -> Completed): {one['deployed']:6.1f} s   visuals stage {one['deployed_visuals']:5.2f} s (hop to gpu-worker-0)")
        print(f"  in-process (aura generate):          {one['in-process']:6.1f} s   visuals stage {one['in_process_visuals']:5.2f} s")
        print(f"  GPU hop cost: {one['deployed_visuals'] - one['in_process_visuals']:+.2f} s on the visuals stage")
        for workers in (1, 2):
            elapsed, ran_on = batch(root, workers, args.videos, args.duration)
            spread = {name: ran_on.count(name) for name in sorted(set(ran_on), key=str)}
            print(
                f"batch of {args.videos} with {workers} cpu worker(s): {elapsed:6.1f} s, "
                f"{args.videos / elapsed * 60:5.1f} videos/min   ({spread})"
            )


if __name__ == "__main__":
    main()
