"""What uploads and the body limits cost, on loopback: POST /api/uploads of documents and audio, and refusals.

It starts `aura serve` (a temporary Prefect server of its own, a token, a store
in a temporary folder) and times, three times each (the median is printed):
uploads of text documents and WAV audio of growing sizes (received, hashed,
checked by content, committed under their sha256), the same bytes sent again,
a 20 MB JSON body refused with 413, and an upload over AURA_UPLOAD_MAX_MB.
Not a test: it prints figures. Run: .venv/bin/python bench/uploads.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aura.media.ffmpeg import ffmpeg_path  # noqa: E402
from bench.gateway import running_gateway  # noqa: E402

REPEATS = 3


def text_of(size: int) -> bytes:
    line = b"Lighthouses warn ships of rocks; the Quellmoor light has 312 brass steps.\n"
    return (line * (size // len(line) + 1))[:size]


def wav_of(seconds: int, folder: Path) -> bytes:
    path = folder / f"tone-{seconds}.wav"
    subprocess.run([ffmpeg_path(), "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=f=220:d={seconds}", "-ac", "2", str(path)], check=True)
    return path.read_bytes()


def timed(send) -> tuple[float, httpx.Response]:
    times, response = [], None
    for _ in range(REPEATS):
        started = time.perf_counter()
        response = send()
        times.append(time.perf_counter() - started)
    return statistics.median(times), response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-mb", type=int, default=50, help="AURA_UPLOAD_MAX_MB of the gateway")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aura-bench-uploads-") as tmp:
        folder = Path(tmp)
        files = [(f"notes-{mb}mib.md", text_of(mb * 2**20)) for mb in (1, 10, 19)]  # documents: 20 MiB at most
        files += [(f"bed-{s}s.wav", wav_of(s, folder)) for s in (10, 60, 240)]  # 1.7, 10 and 40 MiB
        with running_gateway(folder, AURA_UPLOAD_MAX_MB=str(args.max_mb)) as (url, token):
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=300) as api:
                print(f"uploads (median of {REPEATS}; the first of each is new, the others are the same bytes again):")
                for name, data in files:
                    first = time.perf_counter()
                    response = api.post("/api/uploads", files={"file": (name, data)})
                    first = time.perf_counter() - first
                    response.raise_for_status()
                    again, _ = timed(lambda: api.post("/api/uploads", files={"file": (name, data)}))
                    size = len(data) / 2**20
                    print(f"  {name:18} {size:6.1f} MiB: new {first * 1000:6.0f} ms ({size / first:5.0f} MiB/s), "
                          f"again {again * 1000:6.0f} ms")  # fmt: skip
                body = json.dumps({"brief": "x", "audience": "x" * 20_000_000}).encode()
                refused, response = timed(
                    lambda: api.post("/api/videos/generate", content=body, headers={"content-type": "application/json"})
                )
                print(f"  20 MB JSON body:  {response.status_code} after {refused * 1000:.0f} ms, {len(response.content)} bytes")
                big = text_of((args.max_mb + 5) * 2**20)
                refused, response = timed(lambda: api.post("/api/uploads", files={"file": ("big.md", big)}))
                print(f"  {args.max_mb + 5} MiB upload:    {response.status_code} after {refused * 1000:.0f} ms, {len(response.content)} bytes")


if __name__ == "__main__":
    main()
