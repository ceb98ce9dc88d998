"""A job as the gateway shows it, read from Prefect: the only store of job state.

A job is a flow run of `generate-video` (its id is the job id). Its status is
the run's state, its progress artifact (the weighted total and what the
current stage is doing), and the states of its stage task runs, those of its
subflows included (render-visuals runs the visuals stage in one). Its
messages carry no server path (aura.api.public).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterType,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterParentFlowRunId,
)
from prefect.client.schemas.sorting import ArtifactSort
from prefect.exceptions import ObjectNotFound
from pydantic import BaseModel, Field

from aura.api.links import Links
from aura.api.public import without_paths
from aura.stages.pipeline import STAGE_NAMES as STAGES
from aura.stages.pipeline import stage_of
from aura.progress import parse_description

JOB_FLOW = "generate-video"
JobState = Literal["scheduled", "running", "completed", "failed", "cancelled"]
StageState = Literal["waiting", "running", "completed", "cached", "failed"]

_JOB_STATES: dict[str, JobState] = {
    "SCHEDULED": "scheduled", "PENDING": "scheduled", "PAUSED": "scheduled",
    "RUNNING": "running", "CANCELLING": "running",
    "COMPLETED": "completed", "FAILED": "failed", "CRASHED": "failed", "CANCELLED": "cancelled",
}  # fmt: skip
_STAGE_STATES: dict[str, StageState] = {
    "Cached": "cached", "Completed": "completed", "Running": "running", "Retrying": "running",
    "AwaitingRetry": "running", "Pending": "running", "Scheduled": "waiting",
    "Failed": "failed", "Crashed": "failed", "TimedOut": "failed", "Cancelled": "failed",
}  # fmt: skip


class JobNotFound(LookupError):
    """No generate-video run has this id."""


class JobError(BaseModel):
    stage: str | None = Field(description="The stage that failed, when one did.")
    message: str


class JobStatus(BaseModel):
    """Where a video job stands."""

    jobId: str
    status: JobState
    state: str = Field(description="The Prefect state name of the run (Scheduled, Running, Completed, ...).")
    createdAt: datetime
    updatedAt: datetime | None = None
    progress: float = Field(ge=0, le=100, description="Weighted progress of the whole run, in percent.")
    stage: str | None = Field(default=None, description="The stage the run is in (or ended in).")
    message: str = ""
    stages: dict[str, StageState]
    downloadUrl: str | None = None
    metadataUrl: str | None = None
    error: JobError | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")

    def completed_stages(self) -> list[str]:
        return [stage for stage in STAGES if self.stages[stage] in ("completed", "cached")]


async def read_job(client: PrefectClient, job_id: UUID, links: Links | None = None) -> JobStatus:
    """The job's status from its flow run, its progress artifact and its stages' task runs; its links from
    `links` (relative and unsigned without)."""
    try:
        run = await client.read_flow_run(job_id)
    except ObjectNotFound:
        raise JobNotFound(str(job_id)) from None
    if await _flow_name(client, run.flow_id) != JOB_FLOW:  # another flow's run is not a video job
        raise JobNotFound(str(job_id))
    if run.start_time is None:  # not started yet: no stage and no progress to ask the server for
        stages, (percent, stage, message) = dict.fromkeys(STAGES, "waiting"), (0.0, None, "")
    else:
        stages = await _stage_states(client, job_id)
        percent, stage, message = await _progress(client, job_id)
    state = run.state
    status = _JOB_STATES.get(state.type.value if state else "SCHEDULED", "scheduled")
    if status == "completed":
        percent, message = 100.0, message or "done"
    if stage is None:
        running = [name for name in STAGES if stages[name] == "running"]
        stage = running[0] if running else None
    job = JobStatus(
        jobId=str(job_id), status=status, state=state.name if state else "Scheduled",
        createdAt=run.created, updatedAt=state.timestamp if state else None,
        progress=round(percent, 1), stage=stage, message=without_paths(message), stages=stages,
    )  # fmt: skip
    links = links or Links(None, None, 0)
    if status == "completed":
        job.downloadUrl = links.job(str(job_id), "download", signed=True)
        job.metadataUrl = links.job(str(job_id), "metadata", signed=True)
    elif status in ("failed", "cancelled"):
        failed = [name for name in STAGES if stages[name] == "failed"]
        job.error = JobError(
            stage=failed[0] if failed else stage,
            message=without_paths(" ".join((state.message if state else "").split())) or status,
        )
    return job


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


async def _progress(client: PrefectClient, job_id: UUID) -> tuple[float, str | None, str]:
    """The run's progress artifact: its percentage, and the stage and message of its description."""
    artifacts = await client.read_artifacts(
        artifact_filter=ArtifactFilter(type=ArtifactFilterType(any_=["progress"])),
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[job_id])),
        sort=ArtifactSort.CREATED_DESC,
        limit=1,
    )
    if not artifacts:
        return 0.0, None, ""
    artifact = artifacts[0]
    stage, message = parse_description(artifact.description or "", STAGES)
    return float(artifact.data or 0.0), stage, message
