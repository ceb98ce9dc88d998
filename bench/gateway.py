"""`aura serve` for a benchmark: its own temporary Prefect server, a token, a store in a temporary folder."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return probe_socket.getsockname()[1]


@contextlib.contextmanager
def running_gateway(folder: Path, **settings: str) -> Iterator[tuple[str, str]]:
    """(url, token) of a gateway answering on loopback, stopped with SIGTERM afterwards; `settings` are AURA_* values."""
    token = secrets.token_urlsafe(16)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "AURA_"))}
    env.update(AURA_OUTPUT=str(folder / "out"), AURA_API_TOKEN=token, LITELLM_LOCAL_MODEL_COST_MAP="True",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", **settings)  # fmt: skip
    log = open(folder / "gateway.log", "wb")
    gateway = subprocess.Popen([sys.executable, "-m", "aura.cli", "serve", "--port", str(port)], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        while True:
            try:
                if httpx.get(f"{url}/api/health", headers={"Authorization": f"Bearer {token}"}, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if gateway.poll() is not None or time.perf_counter() - started > 180:
                raise SystemExit(f"aura serve did not start: {(folder / 'gateway.log').read_text()[-2000:]}")
            time.sleep(0.3)
        print(f"gateway up in {time.perf_counter() - started:.1f} s")
        yield url, token
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(60)
        log.close()
