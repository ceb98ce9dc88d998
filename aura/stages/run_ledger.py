"""How each stage of a run ended, read from Prefect's ledger: its task runs (its subflows' included) and their states.

Prefect records task runs and their states from the events its tasks emit,
a moment after they happen: the read waits (a few seconds at most) until it
finds every task run this process saw end, and every task run it finds has
a final state. aura adds what it measured of each attempt in
this process and who served the stage (a task hook), both kept by
aura.usage; a stage run in another process (the gpu pool's)
shows the worker that ran it instead.
"""

from __future__ import annotations

import logging
import time
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import ArtifactCreate
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterParentFlowRunId

from aura import spend
from aura.errors import AuraError
from aura.models import VIDEO_KEY, StageReport
from aura.spend import Spend
from aura.run_summary import SUMMARY_KEY, stage_report, summary_markdown
from aura.stages.publish import metadata_of
from aura.stages.pipeline import STAGE_NAMES, WHEN_ASKED, stage_of
from aura.store import JobStore, file_url
from aura.usage import attempts_of, served, task_runs_of

SETTLE_S = 5.0
log = logging.getLogger("aura.runs")


def stage_reports(flow_run_id: str, stages: tuple[str, ...] = STAGE_NAMES) -> dict[str, StageReport]:
    """Each stage of the run, in order, from the last task run of that stage (a stage run only when asked, if it ran)."""
    task_runs, where = _settled_task_runs(UUID(flow_run_id))
    last = {stage_of(run.name): run for run in sorted(task_runs, key=lambda r: r.expected_start_time or r.created)}
    reports = {}
    for name in (*stages, *(name for name in WHEN_ASKED if name in last)):
        run = last.get(name)
        if run is None:
            reports[name] = stage_report(None, [])
            continue
        provider, cached_from = served(str(run.id))
        state = run.state.name if run.state else None
        reports[name] = stage_report(
            state, attempts_of(str(run.id)), runs=0 if state == "Cached" else run.run_count,
            seconds=run.total_run_time.total_seconds(), provider=provider or where.get(run.flow_run_id),
            cached_from=cached_from, message=run.state.message if run.state else None,
        )  # fmt: skip
    return reports


def _settled_task_runs(run_id: UUID) -> tuple[list, dict]:
    """The task runs of the run and its subflows once all are final (or SETTLE_S passed), and where each
    subflow that a worker ran was run."""
    deadline = time.monotonic() + SETTLE_S
    with get_client(sync_client=True) as client:
        while True:
            children = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run_id]))
            )
            ids = [run_id, *(child.id for child in children)]
            task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)))
            ended_here = task_runs_of(str(i) for i in ids)
            found = {str(run.id) for run in task_runs}
            settled = ended_here <= found and all(run.state and run.state.is_final() for run in task_runs)
            if settled or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    where = {
        child.id: f"on {child.labels.get('prefect.worker.name') or 'a worker'} (pool {child.work_pool_name})"
        for child in children if child.work_pool_name
    }  # fmt: skip
    return task_runs, where


def spent_key(run_id: str) -> str:
    """Where a run that ended without its video keeps what it spent on paid services, in its job's folder."""
    return f"spent/{run_id}.json"


def spent_by_failed_run(job: JobStore, run_id: str) -> Spend | None:
    """What a failed or cancelled run of the job spent (None: nothing paid, or not recorded yet)."""
    try:
        return Spend.model_validate_json(job.fetch(spent_key(run_id)).read_bytes())
    except (AuraError, OSError, ValueError):
        return None


def publish_summary(run_id: str, job: JobStore, stages: tuple[str, ...], status: str, error: str | None) -> None:
    """The run's summary artifact (aura.run_summary's markdown), attached to the run by its id."""
    reports = stage_reports(run_id, stages)
    for name, r in reports.items():
        log.info("%s: %s, %d attempt(s), %.2f s%s", name, r.status, r.attempts, r.seconds, " (cached)" if r.cached else "")
    done = status == "completed" and job.path(VIDEO_KEY).is_file()
    url = file_url(job.store.url, job.job_id, VIDEO_KEY) if done else None
    metadata = metadata_of(job) if done else {}
    # a video's whole run; else what its stages spent in this process, failed attempts included
    spent = Spend.model_validate(metadata["spend"]) if "spend" in metadata else spend.kept(task_runs_of([run_id]))
    markdown = summary_markdown(reports, status=status, job_id=job.job_id, flow_run_id=run_id, video_url=url,
                                error=error, published=metadata.get("published", {}), spend=spent)  # fmt: skip
    artifact = ArtifactCreate(
        key=SUMMARY_KEY, type="markdown", data=markdown, description=f"{status}: job {job.job_id}"[:200],
        flow_run_id=UUID(run_id),
    )  # fmt: skip
    with get_client(sync_client=True) as client:  # by id: a crash's hook runs outside the run's context
        client.create_artifact(artifact)
    # no metadata.json: the job's status and the command's error read this instead (a run refused before any
    # paid work leaves no folder behind)
    if status != "completed" and spent.paid_for_something:
        try:
            job.write_bytes(spent_key(run_id), spent.model_dump_json(indent=2).encode("utf-8"))
        except (AuraError, OSError) as exc:
            log.warning("run %s: what it spent could not be recorded in its job (%s)", run_id, exc)
