"""The gateway's endpoints for a creator's work on jobs: the list, cancel, retry, thumbnail, subtitles, review.

Every one acts through Prefect, as the UI would: a cancel is the run's
Cancelling state (its process stops its stages, their ffmpeg killed), a
retry schedules the same run again (its stages reuse their checkpoints),
and a review resumes the paused run with the edited script as its input
(aura.stages.review).
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from prefect.client.schemas.responses import SetStateStatus
from prefect.states import Cancelled, Cancelling

from aura import processes
from aura.api.auth import tenant_of
from aura.api.tenancy import check_tenant_inputs
from aura.api.jobs import JobList, JobState, JobStatus, list_jobs
from aura.api.links import Links
from aura.api.public import Problem
from aura.errors import AuraError, SystemCheckError
from aura.media.ffmpeg import ffmpeg_path
from aura.models import META_KEY, SRT_KEY, THUMB_KEY, TIMELINE_KEY, VideoRequest
from aura.stages.inputs import check_stored_inputs
from aura.stages.review import ScriptReview, as_scene_field, pending
from aura.store import ArtifactStore

def add_studio_routes(
    api: APIRouter, store: ArtifactStore, links: Links,
    job_or_404: Callable[[Request, UUID], Awaitable[JobStatus]],
    finished_file: Callable[[Request, UUID, str], Awaitable[Path]],
    unprocessable: Callable[[str], JSONResponse],
) -> None:  # fmt: skip
    """The studio's endpoints on the /api/videos router."""
    conflict = {409: {"model": Problem, "description": "Not in a state that allows it"}}

    @api.get("", response_model=JobList, operation_id="list_videos")
    async def videos(
        request: Request,
        limit: int = Query(20, ge=1, le=100, description="Jobs per page."),
        offset: int = Query(0, ge=0, le=1_000_000, description="Jobs to skip (newest first)."),
        status: JobState | None = Query(None, description="Only jobs in this status."),
    ) -> JobList:
        """Every video job, newest first (jobs of an earlier gateway too: Prefect keeps them); a tenant's own only."""
        return await list_jobs(request.app.state.client, limit, offset, status, links, lambda job: _length(store, job),
                               tenant_of(request))  # fmt: skip

    @api.post("/{job_id}/cancel", status_code=202, response_model=JobStatus, operation_id="cancel_video", responses=conflict)
    async def cancel(request: Request, job_id: UUID) -> JobStatus:
        """Stop the job: a run not started yet is Cancelled at once, a running one is Cancelling (its stages and
        their ffmpeg are stopped, then it is Cancelled). 409 on a finished job."""
        job = await job_or_404(request, job_id)
        if job.finished:
            raise HTTPException(409, f"job {job_id} is {job.status}: only a job that has not ended can be cancelled")
        client = request.app.state.client
        ending = Cancelled if job.status == "scheduled" else Cancelling
        await client.set_flow_run_state(job_id, ending(message="cancelled from the gateway"), force=True)
        return await job_or_404(request, job_id)

    @api.post("/{job_id}/retry", status_code=202, response_model=JobStatus, operation_id="retry_video", responses=conflict)
    async def retry(request: Request, job_id: UUID) -> JobStatus:
        """Run a failed or cancelled job again, as the same job: its finished stages are reused from their
        checkpoints. 409 on a job that has not failed or been cancelled."""
        job = await job_or_404(request, job_id)
        if job.status not in ("failed", "cancelled"):
            raise HTTPException(409, f"job {job_id} is {job.status}: only a failed or cancelled job can be retried")
        await request.app.state.launcher.retry(request.app.state.client, job_id)
        return await job_or_404(request, job_id)

    @api.get("/{job_id}/thumbnail", operation_id="get_video_thumbnail", response_class=FileResponse,
             responses={200: {"content": {"image/jpeg": {}}}, **conflict})  # fmt: skip
    async def thumbnail(request: Request, job_id: UUID) -> FileResponse:
        """The video's opening frame, without subtitles (JPEG)."""
        return FileResponse(await finished_file(request, job_id, THUMB_KEY), media_type="image/jpeg")

    @api.get("/{job_id}/subtitles", operation_id="get_video_subtitles",
             responses={200: {"content": {"application/x-subrip": {}, "text/vtt": {}}}, **conflict})  # fmt: skip
    async def subtitles(
        request: Request, job_id: UUID, format: Literal["srt", "vtt"] = Query("srt", description="srt, or vtt for a <track>.")
    ) -> Response:
        """The subtitles the video shows: SRT, or WebVTT (converted by ffmpeg)."""
        path = await finished_file(request, job_id, SRT_KEY)
        if format == "srt":
            return FileResponse(path, media_type="application/x-subrip", filename=f"aura-{job_id}.srt")
        return Response(await asyncio.to_thread(_as_vtt, path), media_type="text/vtt; charset=utf-8")

    @api.get("/{job_id}/timeline", operation_id="get_video_timeline",
             responses={200: {"content": {"application/json": {}, "application/xml": {}, "text/plain": {}, "application/zip": {}}},
                        **conflict})  # fmt: skip
    async def timeline(
        request: Request, job_id: UUID,
        format: Literal["otio", "fcp7", "fcpxml", "edl", "mlt"] = Query("otio", description="The editor's format."),
        bundle: bool = Query(False, description="A zip of the timeline and every media file it names."),
    ) -> Response:  # fmt: skip
        """The job's edit as a timeline (OpenTimelineIO and its adapters): media named relative to the job."""
        path = await finished_file(request, job_id, TIMELINE_KEY)
        job = store.job(str(job_id))
        try:
            return await asyncio.to_thread(_timeline_answer, path, format, bundle, job.fetch)
        except ValueError as exc:  # an adapter not installed here: the formats that work
            raise HTTPException(409, str(exc)) from None

    @api.get("/{job_id}/script", response_model=ScriptReview, operation_id="get_video_script", responses=conflict)
    async def script(request: Request, job_id: UUID) -> ScriptReview:
        """The scenes a job awaiting review waits on (status `awaiting_review`)."""
        await _awaiting_review(request, job_id)
        waiting = await asyncio.to_thread(pending, store.job(str(job_id)))
        if waiting is None:
            raise HTTPException(409, f"job {job_id} is paused, but not for a script review")
        return waiting

    @api.post("/{job_id}/script", status_code=202, response_model=JobStatus, operation_id="review_video_script",
              responses={**conflict, 422: {"model": Problem, "description": "A scene breaks a limit: the field is named"}})  # fmt: skip
    async def reviewed(request: Request, job_id: UUID, body: ScriptReview) -> JobStatus:
        """Resume a job awaiting review with its edited scenes (validated like a request: each error names its
        field); the video then speaks and shows them."""
        await _awaiting_review(request, job_id)
        media = [scene.media or "" for scene in body.scenes]
        try:
            asked = VideoRequest(brief="review", media=media)
            await asyncio.to_thread(check_stored_inputs, asked, store)
            if tenant_of(request) is not None:
                await check_tenant_inputs(request.app.state.client, store, tenant_of(request), asked)
        except SystemCheckError as exc:  # "media[2]: ..." as the form names it
            return unprocessable(as_scene_field(str(exc)))
        answer = await request.app.state.client.resume_flow_run(job_id, run_input=body.model_dump(mode="json"))
        if answer.status == SetStateStatus.REJECT:
            raise HTTPException(409, f"job {job_id} could not be resumed: {answer.details.reason or 'its review ended'}")
        return await job_or_404(request, job_id)

    async def _awaiting_review(request: Request, job_id: UUID) -> None:
        job = await job_or_404(request, job_id)
        if job.status != "awaiting_review":
            raise HTTPException(409, f"job {job_id} is {job.status}: a script is reviewed while its job is awaiting_review "
                                "(a request with review_script)")  # fmt: skip


def _length(store: ArtifactStore, job_id: str) -> float | None:
    """A finished video's length, from its metadata.json (None when it cannot be read)."""
    try:
        return float(json.loads(store.job(job_id).fetch(META_KEY).read_text(encoding="utf-8"))["timings"]["duration"])
    except (AuraError, OSError, ValueError, KeyError, TypeError):
        return None


def _as_vtt(srt: Path) -> bytes:
    done = processes.run([ffmpeg_path(), "-v", "error", "-nostdin", "-i", str(srt), "-f", "webvtt", "-"], timeout=30)
    if done.returncode != 0:
        raise HTTPException(500, "the subtitles could not be converted to WebVTT")
    return done.stdout


_TIMELINE_TYPES = {"otio": "application/json", "fcp7": "application/xml", "fcpxml": "application/xml", "edl": "text/plain",
                   "mlt": "application/xml"}  # fmt: skip


def _timeline_answer(path: Path, fmt: str, bundle: bool, fetch) -> Response:
    from aura.media import timeline as timelines  # OpenTimelineIO is loaded when a timeline is asked for

    edit = timelines.read_timeline(path)
    if bundle:
        buffer = io.BytesIO()
        timelines.bundle(edit, fmt, fetch, buffer)
        return Response(buffer.getvalue(), media_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{path.parent.name}-timeline.zip"'})  # fmt: skip
    name = f"timeline{timelines.SUFFIXES[fmt]}"
    return Response(timelines.write_as(edit, fmt), media_type=_TIMELINE_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
