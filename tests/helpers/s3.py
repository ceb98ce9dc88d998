"""A local S3 server (moto) standing in for the object storage that workers on several machines share."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from helpers.network import free_port

BUCKET = "aura-test"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextlib.contextmanager
def s3_server() -> Iterator[dict[str, str]]:
    """An S3 endpoint on loopback with one bucket; yields the environment that points s3fs (and boto) at it."""
    import s3fs
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {**CREDENTIALS, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    try:
        fs = s3fs.S3FileSystem(key="testing", secret="testing", endpoint_url=env["AWS_ENDPOINT_URL"])
        fs.mkdir(BUCKET)
        yield env
    finally:
        server.stop()


def s3_filesystem(env: dict[str, str]):
    import s3fs

    return s3fs.S3FileSystem(key="testing", secret="testing", endpoint_url=env["AWS_ENDPOINT_URL"], skip_instance_cache=True)


def download(env: dict[str, str], prefix: str, into: Path) -> Path:
    """Everything under s3://<prefix>/ in a local folder (empty when there is nothing)."""
    fs = s3_filesystem(env)
    into.mkdir(parents=True, exist_ok=True)
    if fs.exists(prefix):
        fs.get(f"{prefix.rstrip('/')}/", f"{into}/", recursive=True)
    return into
