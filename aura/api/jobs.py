"""A job as the gateway shows it, read from Prefect: the only store of job state.

A job is a flow run of `generate-video` (its id is the job id). Its status is
the run's state, its progress artifact (the weighted total and what the
current stage is doing), and the states of its stage task runs, those of its
subflows included (render-visuals runs the visuals stage in one). Its
messages carry no server path (aura.api.public).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Literal
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterType,
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterParentFlowRunId,
    FlowRunFilterState,
    FlowRunFilterTags,
    FlowRunFilterStateType,
)
from prefect.client.schemas.sorting import ArtifactSort, FlowRunSort
from prefect.exceptions import ObjectNotFound
from pydantic import BaseModel, Field

from aura.api.links import Links
from aura.api.public import without_paths
from aura.api.tenants import Tenant
from aura.stages.pipeline import STAGE_NAMES as STAGES
from aura.stages.pipeline import WEIGHTS
from aura.stages.pipeline import JOB_FLOW, stage_of
from aura.progress import parse_description, parse_eta
from aura.spend import Spend

JobState = Literal["scheduled", "running", "awaiting_review", "completed", "failed", "cancelled"]
StageState = Literal["waiting", "running", "completed", "cached", "failed"]

_JOB_STATES: dict[str, JobState] = {
    "SCHEDULED": "scheduled", "PENDING": "scheduled", "PAUSED": "awaiting_review",  # runs pause only for a review
    "RUNNING": "running", "CANCELLING": "running",
    "COMPLETED": "completed", "FAILED": "failed", "CRASHED": "failed", "CANCELLED": "cancelled",
}  # fmt: skip
_STAGE_STATES: dict[str, StageState] = {
    "Cached": "cached", "Completed": "completed", "Running": "running", "Retrying": "running",
    "AwaitingRetry": "running", "Pending": "running", "Scheduled": "waiting",
    "Failed": "failed", "Crashed": "failed", "TimedOut": "failed", "Cancelled": "failed",
}  # fmt: skip


_FILES = {"downloadUrl": "download", "metadataUrl": "metadata", "thumbnailUrl": "thumbnail", "subtitlesUrl": "subtitles"}
# the Prefect state types of each job status, for lists filtered by status
STATE_TYPES: dict[str, list[str]] = {}
for _type, _status in _JOB_STATES.items():
    STATE_TYPES.setdefault(_status, []).append(_type)


class JobNotFound(LookupError):
    """No generate-video run has this id."""


class JobError(BaseModel):
    stage: str | None = Field(description="The stage that failed, when one did.")
    message: str


class JobStatus(BaseModel):
    """Where a video job stands."""

    jobId: str
    status: JobState
    brief: str = Field(default="", description="The brief it was asked with.")
    state: str = Field(description="The Prefect state name of the run (Scheduled, Running, Completed, ...).")
    createdAt: datetime
    updatedAt: datetime | None = None
    progress: float = Field(ge=0, le=100, description="Weighted progress of the whole run, in percent.")
    stage: str | None = Field(default=None, description="The stage the run is in (or ended in).")
    message: str = ""
    stages: dict[str, StageState]
    stageProgress: dict[str, float] = Field(default_factory=dict, description="Each stage's own progress, in percent.")
    etaSeconds: float | None = Field(
        default=None, ge=0, description="About how many seconds are left while it runs (from this server's past runs); "
        "None before it starts, while it awaits review and once it ended.",
    )  # fmt: skip
    streamUrl: str | None = Field(default=None, description="Its events (signed when a token is set: an EventSource opens it).")
    downloadUrl: str | None = None
    metadataUrl: str | None = None
    thumbnailUrl: str | None = None
    subtitlesUrl: str | None = Field(default=None, description="The SRT; add ?format=vtt for WebVTT (a <track>).")
    scriptUrl: str | None = Field(default=None, description="While the job awaits review: GET the scenes, POST them edited.")
    error: JobError | None = None
    spend: Spend | None = Field(default=None, description="What the video's run spent (tokens, characters, calls, "
                                "GPU seconds, USD), failed attempts included: from its metadata.json once "
                                "completed, or what a failed or cancelled run that paid for something recorded at its end.")  # fmt: skip

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")

    def completed_stages(self) -> list[str]:
        return [stage for stage in STAGES if self.stages[stage] in ("completed", "cached")]


_UNREAD = object()


async def read_job(
    client: PrefectClient, job_id: UUID, links: Links | None = None, tenant: Tenant | None = None, run: Any = _UNREAD
) -> JobStatus:
    """The job's status from its flow run, its progress artifact and its stages' task runs; its links from
    `links` (relative and unsigned without). With a tenant, another tenant's job is not found. `run`: the flow
    run as read already (None: not found), so that it is not read again."""
    if run is _UNREAD:
        try:
            run = await client.read_flow_run(job_id)
        except ObjectNotFound:
            run = None
    if run is None:
        raise JobNotFound(str(job_id))
    if tenant is not None and tenant.tag not in (run.tags or []):
        raise JobNotFound(str(job_id))
    if await _flow_name(client, run.flow_id) != JOB_FLOW:  # another flow's run is not a video job
        raise JobNotFound(str(job_id))
    if run.start_time is None:  # not started yet: no stage and no progress to ask the server for
        stages, (percent, stage, message, left) = dict.fromkeys(STAGES, "waiting"), (0.0, None, "", None)
    else:
        stages = await _stage_states(client, job_id)
        percent, stage, message, left = await _progress(client, job_id)
    state = run.state
    status = _JOB_STATES.get(state.type.value if state else "SCHEDULED", "scheduled")
    if status == "completed":
        percent, message = 100.0, message or "done"
    if stage is None:
        running = [name for name in STAGES if stages[name] == "running"]
        stage = running[0] if running else None
    job = JobStatus(
        jobId=str(job_id), status=status, brief=str(_asked(run).get("brief", "")), state=state.name if state else "Scheduled",
        createdAt=run.created, updatedAt=state.timestamp if state else None,
        progress=round(percent, 1), stage=stage, message=without_paths(message), stages=stages,
        stageProgress=_stage_progress(stages, percent, stage), etaSeconds=left if status == "running" else None,
    )  # fmt: skip
    links = links or Links(None, None, 0)
    job.streamUrl = links.job(str(job_id), "stream", signed=True)
    if status == "completed":
        for field, endpoint in _FILES.items():
            setattr(job, field, links.job(str(job_id), endpoint, signed=True))
    elif status == "awaiting_review":
        job.scriptUrl = links.job(str(job_id), "script")
    elif status in ("failed", "cancelled"):
        failed = [name for name in STAGES if stages[name] == "failed"]
        job.error = JobError(
            stage=failed[0] if failed else stage,
            message=without_paths(" ".join((state.message if state else "").split())) or status,
        )
    return job


def _asked(run) -> dict:
    """The request a run was given (its parameters), as far as it is a mapping."""
    request = (run.parameters or {}).get("request")
    return request if isinstance(request, dict) else {}


def _stage_progress(stages: dict[str, StageState], percent: float, current: str | None) -> dict[str, float]:
    """Each stage's percent: finished ones 100, the one reporting what the weighted total leaves to it."""
    total = sum(WEIGHTS.values())
    shares = {name: 100 * WEIGHTS[name] / total for name in STAGES}
    finished = [name for name in STAGES if stages[name] in ("completed", "cached")]
    progress = {name: 100.0 if name in finished else 0.0 for name in STAGES}
    if current in progress and current not in finished and shares[current] > 0:
        left = percent - sum(shares[name] for name in finished)
        progress[current] = round(min(max(100 * left / shares[current], 0.0), 99.0), 1)
    return progress


_flow_names: dict[UUID, str] = {}  # a flow's name never changes: asked once per flow, not once per poll


async def _flow_name(client: PrefectClient, flow_id: UUID) -> str:
    if flow_id not in _flow_names:
        _flow_names[flow_id] = (await client.read_flow(flow_id)).name
    return _flow_names[flow_id]


async def _stage_states(client: PrefectClient, job_id: UUID) -> dict[str, StageState]:
    # the run's own task runs and its subflows' (render-visuals), in one query
    runs = FlowRunFilter(
        operator="or_", id=FlowRunFilterId(any_=[job_id]), parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[job_id])
    )
    task_runs = await client.read_task_runs(flow_run_filter=runs)
    states: dict[str, StageState] = dict.fromkeys(STAGES, "waiting")
    for task_run in sorted(task_runs, key=lambda r: r.expected_start_time or r.created):
        name = stage_of(task_run.name)
        if name is not None and task_run.state is not None:
            states[name] = _STAGE_STATES.get(task_run.state.name, "running")
    return states


async def _progress(client: PrefectClient, job_id: UUID) -> tuple[float, str | None, str, float | None]:
    """The run's progress artifact: its percentage, the stage and message of its description, and the seconds it
    said were left, less the time since it said so (a stage between two reports still counts down)."""
    artifacts = await client.read_artifacts(
        artifact_filter=ArtifactFilter(type=ArtifactFilterType(any_=["progress"])),
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[job_id])),
        sort=ArtifactSort.CREATED_DESC,
        limit=1,
    )
    if not artifacts:
        return 0.0, None, "", None
    artifact = artifacts[0]
    stage, message = parse_description(artifact.description or "", STAGES)
    left = parse_eta(artifact.description or "")
    if left is not None and artifact.updated is not None:
        left = round(max(0.0, left - (datetime.now(timezone.utc) - artifact.updated).total_seconds()), 1)
    return float(artifact.data or 0.0), stage, message, left


class JobSummary(BaseModel):
    """A job as the list shows it."""

    jobId: str
    status: JobState
    brief: str
    createdAt: datetime
    durationSeconds: float | None = Field(description="The video's length once made; the length asked for before.")
    thumbnailUrl: str | None = None


class JobList(BaseModel):
    items: list[JobSummary]
    total: int = Field(description="Jobs that match, on every page.")


async def list_jobs(
    client: PrefectClient, limit: int, offset: int, status: JobState | None, links: Links,
    length_of: Callable[[str], float | None], tenant: Tenant | None = None,
) -> JobList:
    """Video jobs newest first, from Prefect (every run of generate-video, whoever started it; a tenant's own only);
    a finished video's length from `length_of` (its metadata in the store)."""
    flows = FlowFilter(name=FlowFilterName(any_=[JOB_FLOW]))
    runs = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=STATE_TYPES[status])) if status else None,
        tags=FlowRunFilterTags(all_=[tenant.tag]) if tenant is not None else None,
    )  # fmt: skip
    found = await client.read_flow_runs(
        flow_filter=flows, flow_run_filter=runs, sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=limit, offset=offset
    )
    total = await client.count_flow_runs(flow_filter=flows, flow_run_filter=runs)
    items = []
    for run in found:
        state = _JOB_STATES.get(run.state.type.value if run.state else "SCHEDULED", "scheduled")
        asked = _asked(run)
        finished = state == "completed"
        length = await asyncio.to_thread(length_of, str(run.id)) if finished else None
        items.append(JobSummary(
            jobId=str(run.id), status=state, brief=str(asked.get("brief", "")), createdAt=run.created,
            durationSeconds=length if length is not None else asked.get("duration_seconds"),
            thumbnailUrl=links.job(str(run.id), "thumbnail", signed=True) if finished else None,
        ))  # fmt: skip
    return JobList(items=items, total=total)
