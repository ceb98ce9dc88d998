"""Server-Sent Events of a job: progress (with the seconds left), stage-complete, review, done, error.

The events are derived from the job's status as Prefect holds it (aura.api.jobs),
read once a second (every stream's run in one shared read: aura.api.watch): a client that connects late gets the current state first
(the progress so far, then every stage already complete), and the stream ends
after `done` or `error`. Keep-alive comments and the client's leaving are
handled by sse-starlette.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from aura.api.jobs import JobStatus

POLL_S = 1.0


def _event(name: str, data: dict) -> dict:
    return {"event": name, "data": json.dumps(data)}


def stream_error(job_id, status: str, message: str) -> dict:
    """An `error` event for a stream that ends without the job's own end (the job is gone, the server is)."""
    return _event("error", {"jobId": str(job_id), "status": status, "stage": None, "message": message})


async def job_events(read: Callable[[], Awaitable[JobStatus]], poll_s: float = POLL_S) -> AsyncIterator[dict]:
    """The events of one job, until it ends."""
    last_progress: tuple | None = None
    announced: set[str] = set()
    while True:
        job = await read()
        progress = (job.progress, job.stage, job.message, tuple(job.stageProgress.values()), job.etaSeconds)
        if progress != last_progress:
            last_progress = progress
            yield _event("progress", {"jobId": job.jobId, "percentage": job.progress, "stage": job.stage,
                                      "message": job.message, "stages": job.stageProgress,
                                      "etaSeconds": job.etaSeconds})  # fmt: skip
        for stage in job.completed_stages():
            if stage not in announced:
                announced.add(stage)
                yield _event("stage-complete", {"jobId": job.jobId, "stage": stage, "cached": job.stages[stage] == "cached"})
        if job.status == "awaiting_review" and "review" not in announced:  # once per pause: the page shows the editor
            announced.add("review")
            yield _event("review", {"jobId": job.jobId, "scriptUrl": job.scriptUrl})
        elif job.status != "awaiting_review":
            announced.discard("review")
        if job.status == "completed":
            yield _event("done", {"jobId": job.jobId, "downloadUrl": job.downloadUrl, "metadataUrl": job.metadataUrl,
                                  "thumbnailUrl": job.thumbnailUrl, "subtitlesUrl": job.subtitlesUrl})
            return
        if job.status in ("failed", "cancelled"):
            error = job.error
            yield _event("error", {
                "jobId": job.jobId, "status": job.status,
                "stage": error.stage if error else None, "message": error.message if error else job.status,
            })  # fmt: skip
            return
        await asyncio.sleep(poll_s)
