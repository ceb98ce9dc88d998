"""What a user checks in a job folder: a valid video with its files, or nothing half-written."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from aura.media.probe import probe
from aura.models import VideoRequest


def job_folders(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")) if out.exists() else []


def wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


FINAL_OUTPUTS = ("video.mp4", "subtitles.srt", "thumbnail.jpg", "timeline.otio", "metadata.json")


def no_half_job(job: Path) -> None:
    """A job that did not finish shows none of the files a user takes for a result, and no temporaries."""
    assert not [name for name in FINAL_OUTPUTS if (job / name).exists()]
    assert not list(job.rglob("*.mp4")) and not list(job.rglob(".tmp-*"))


def check_video(folder: Path, request: VideoRequest) -> dict:
    metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    info = probe(folder / "video.mp4")
    assert [s.codec for s in info.of_kind("video")] == ["h264"]
    assert [s.codec for s in info.of_kind("audio")] == ["aac"]
    video = info.of_kind("video")[0]
    assert (video.width, video.height) == request.size
    assert abs(info.duration - metadata["timings"]["duration"]) <= 0.1
    assert metadata["job_id"] == folder.name
    assert not list(folder.rglob(".tmp-*"))
    return metadata
