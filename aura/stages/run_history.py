"""This server's history of video runs, read from Prefect as aura.eta's samples: how long each stage took.

The most recent completed runs of generate-video (HISTORY_RUNS at most), their
task runs and their subflows' (render-visuals), each finished stage one
sample: its request's features (the run's parameters), who served it (the
run's summary artifact), its seconds (Prefect's total_run_time of the task
run). A stage reused from a checkpoint ("Cached") took no time and is left
out; so is the run when its stages are not all there. What a run spent
beside its stages is the "run" sample. Reading is best effort: a server that
cannot answer gives no history, and the built-in rates serve.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterParentFlowRunId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.sorting import FlowRunSort

from aura import eta
from aura.run_summary import SUMMARY_KEY
from aura.stages.pipeline import JOB_FLOW, STAGE_NAMES, stage_of

HISTORY_RUNS = 200
PAGE = 200  # the server's most per answer (PREFECT_API_DEFAULT_LIMIT)
log = logging.getLogger("aura.eta")


def read_samples(limit: int = HISTORY_RUNS) -> list[eta.Sample]:
    """The samples of the last `limit` completed video runs; [] when the server cannot tell (logged at debug)."""
    try:
        with get_client(sync_client=True) as client:
            return _samples(client, limit)
    except Exception:  # noqa: BLE001 - no history is a forecast from the built-in rates, never a failed run
        log.debug("the run history could not be read", exc_info=True)
        return []


def _pages(read: Callable[..., list], **filters: Any) -> list:
    found: list = []
    while True:
        page = read(**filters, limit=PAGE, offset=len(found))
        found += page
        if len(page) < PAGE:
            return found


def _samples(client, limit: int) -> list[eta.Sample]:
    runs = client.read_flow_runs(
        flow_filter=FlowFilter(name=FlowFilterName(any_=[JOB_FLOW])),
        flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=["COMPLETED"]))),
        sort=FlowRunSort.START_TIME_DESC, limit=limit,
    )  # fmt: skip
    if not runs:
        return []
    ids = [run.id for run in runs]
    children = _pages(client.read_flow_runs, flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=ids)))
    task_runs = _pages(client.read_task_runs, flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids + [c.id for c in children])))
    # a subflow's stages belong to the run whose task started it
    owner = {run.id: run.id for run in runs}
    started_by = {task_run.id: task_run.flow_run_id for task_run in task_runs}
    for child in children:
        owner[child.id] = started_by.get(child.parent_task_run_id)
    stages: dict[UUID, dict[str, Any]] = {}
    for task_run in sorted(task_runs, key=lambda r: r.expected_start_time or r.created):
        stage, run_id = stage_of(task_run.name), owner.get(task_run.flow_run_id)
        if stage is not None and run_id is not None and task_run.state is not None and task_run.state.is_final():
            stages.setdefault(run_id, {})[stage] = task_run  # a retried stage: its last task run
    served = _served(client, ids)
    samples = []
    for run in runs:
        mine = stages.get(run.id, {})
        if not set(STAGE_NAMES) <= set(mine):
            continue
        x = eta.features((run.parameters or {}).get("request") or {})
        seconds = {stage: task_run.total_run_time.total_seconds() for stage, task_run in mine.items()}
        for stage, task_run in mine.items():
            if task_run.state.name == "Completed":
                samples.append(eta.Sample(stage, served.get(run.id, {}).get(stage, ""), x, seconds[stage], str(run.id)))
        path = eta.remaining_seconds(seconds, {}, {})  # the stages' critical path
        samples.append(eta.Sample("run", "", x, max(0.0, run.total_run_time.total_seconds() - path), str(run.id)))
    return samples


def _served(client, ids: list[UUID]) -> dict[UUID, dict[str, str]]:
    """Who served each stage of each run, from its summary artifact's table (its provider column)."""
    summaries = _pages(
        client.read_artifacts,
        artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[SUMMARY_KEY])),
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)),
    )  # fmt: skip
    served: dict[UUID, dict[str, str]] = {}
    for artifact in summaries:
        column = None
        for line in str(artifact.data or "").splitlines():
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            if cells[0] == "stage" and "provider" in cells:  # the table's head: | stage | status | ... | provider |
                column = cells.index("provider")
            elif column is not None and len(cells) > column and cells[0] in STAGE_NAMES:
                served.setdefault(artifact.flow_run_id, {})[cells[0]] = eta.provider_key(cells[column].replace("–", ""))
    return served
