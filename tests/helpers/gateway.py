"""`aura serve` as a user starts it: a real process on a loopback port, stopped with SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from helpers.network import free_port

TOKEN = "test-token-5b1e"


@dataclass
class Gateway:
    url: str
    token: str | None
    out: Path
    proc: subprocess.Popen
    log: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=60, **kwargs)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


@contextlib.contextmanager
def serving(tmp: Path, api_url: str, **env: str) -> Iterator[Gateway]:
    """A gateway for a test module; it must stop cleanly (exit 0 on SIGTERM) when the module is done."""
    gateway = start_gateway(tmp, api_url, **env)
    try:
        yield gateway
    finally:
        assert gateway.stop() == 0, gateway.log.read_text()[-3000:]


def start_gateway(tmp: Path, api_url: str, token: str | None = TOKEN, health_token: str | None = None, **env: str) -> Gateway:
    """`health_token`: the token its health is asked with, when it has no plain token (tenants only)."""
    port = free_port()
    out = tmp / "out"
    log = tmp / "gateway.log"
    full_env = {key: value for key, value in os.environ.items() if not key.startswith(("AURA_FFMPEG", "AURA_API"))}
    full_env.update({"PREFECT_API_URL": api_url, "AURA_OUTPUT": str(out), "AURA_GATEWAY_KEEPALIVE_S": "1", **env})
    if token:
        full_env["AURA_API_TOKEN"] = token
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aura.cli", "serve", "--port", str(port)], env=full_env, stdout=sink, stderr=subprocess.STDOUT
        )
    gateway = Gateway(url=f"http://127.0.0.1:{port}", token=token, out=out, proc=proc, log=log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"aura serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            probe = {"Authorization": f"Bearer {health_token}"} if health_token else gateway.headers
            if httpx.get(f"{gateway.url}/api/health", headers=probe, timeout=2).status_code == 200:
                return gateway
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    gateway.stop()
    raise RuntimeError(f"aura serve did not answer:\n{log.read_text()[-3000:]}")


def video_job_count() -> int:
    """generate-video runs the Prefect server knows (of every test so far)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    with get_client(sync_client=True) as client:
        return client.count_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["generate-video"])))


def sse_events(client: httpx.Client, path: str, limit_s: float = 300) -> Iterator[tuple[str, dict | None]]:
    """(event, data) of a stream as it arrives; comments (keep-alives) come as (':', None)."""
    deadline = time.monotonic() + limit_s
    with client.stream("GET", path, timeout=httpx.Timeout(limit_s, connect=10)) as response:
        response.raise_for_status()
        assert response.headers["content-type"].startswith("text/event-stream")
        event, data = "message", []
        for line in response.iter_lines():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} ran past {limit_s} s")
            if line.startswith(":"):
                yield ":", None
            elif line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data.append(line.split(":", 1)[1].strip())
            elif line == "" and data:
                yield event, json.loads("\n".join(data))
                event, data = "message", []


def unserved_deployment(name: str):
    """generate-video deployed as `name` on a pool that no worker polls: its jobs stay Scheduled (the id)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.workers.process import ProcessWorker

    from flows.generate_video import generate_video

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name="unserved", type="process", base_job_template=ProcessWorker.get_default_base_job_template()))
        except ObjectAlreadyExists:
            pass
        return client.create_deployment(
            flow_id=client.create_flow(generate_video), name=name, work_pool_name="unserved",
            entrypoint="flows/generate_video.py:generate_video",
        )  # fmt: skip
