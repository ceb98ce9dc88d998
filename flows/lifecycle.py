"""A run's start (the flow body's first call) and its end (Prefect's flow hooks).

`begin` opens the run's job folder (its id is the flow run's), removes what
killed runs left half-written, starts the progress artifact and listens for
the run's cancellation (aura.stages.run_cancellation). A subflow in its
parent's process (render-visuals) is part of the parent's run.

`run_hooks` are the flow's hooks: on failure, cancellation or a crash they
stop the run's other stages (their children die) and remove half-written
files; in every case they write the summary artifact from Prefect's task-run
states. A run cancelled in its own process ends Cancelled once its stages
stopped (a worker's runner marks the runs it started itself).
"""

from __future__ import annotations

import contextvars
import logging
import os
from dataclasses import dataclass
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import ArtifactCreate
from prefect.runtime import flow_run as current_flow_run
from prefect.states import Cancelled

from aura.models import VIDEO_KEY
from aura.run_summary import SUMMARY_KEY, summary_markdown
from aura.settings import get_settings
from aura.stages.run_cancellation import CancellationWatch
from aura.stages.run_ledger import forget_measures, stage_reports
from aura.stages.run_logs import attach_aura_logs
from aura.stages.run_progress import ProgressArtifact
from aura.store import ArtifactStore, JobStore, file_url
from aura.supervision import bind_run, end_run, stop_run
from flows.child_runs import cancel_children

STOP_GRACE_S = 15  # how long a failed or cancelled run waits for its other stages to stop
log = logging.getLogger("aura.runs")


@dataclass
class _Own:
    """What this process keeps of a run of its own, from `begin` to its end hook."""

    progress: ProgressArtifact
    watch: CancellationWatch | None
    bound: contextvars.Token


_own: dict[str, _Own] = {}
_parts: set[str] = set()  # subflows running as part of a parent's run in this process


def begin(weights: dict[str, float], job_id: str | None = None, output: str | None = None) -> JobStore:
    """The run's job (see the module docstring); the flow body's first call."""
    run_id = str(current_flow_run.id)
    job = ArtifactStore(get_settings().store_url(output)).job(job_id or run_id)
    parent = current_flow_run.parent_flow_run_id
    if parent is not None and str(parent) in _own:
        _parts.add(run_id)
        return job
    bound = bind_run(run_id)
    attach_aura_logs()
    log.info("job %s (correlation id %s)", job.job_id, run_id)
    job.remove_temporaries()  # left by an earlier attempt of this run that was killed
    swept = job.store.sweep_stale_temporaries()  # and by other runs that were killed (kill -9, a lost machine)
    if swept:
        log.info("removed %d half-written file(s) that killed runs left behind", swept)
    # a worker's runner cancels the runs it started itself (it signals their process, and runs their hooks)
    runner = os.environ.get("PREFECT__ENABLE_CANCELLATION_AND_CRASHED_HOOKS") == "false"
    _own[run_id] = _Own(ProgressArtifact(run_id, weights), None if runner else CancellationWatch(run_id), bound)
    return job


def run_hooks(stages: tuple[str, ...]) -> dict[str, list]:
    """The flow decorator's hooks, for a flow of these stages."""

    def ending(status: str):
        return lambda flow, flow_run, state: _end(flow_run, state, status, stages)

    return {
        "on_completion": [ending("completed")], "on_failure": [ending("failed")],
        "on_cancellation": [ending("cancelled")], "on_crashed": [ending("crashed")],
    }  # fmt: skip


def _end(flow_run, state, status: str, stages: tuple[str, ...]) -> None:
    run_id = str(flow_run.id)
    if run_id in _parts:  # the parent stops, cleans up and summarises
        _parts.discard(run_id)
        return
    own = _own.pop(run_id, None)
    error = None if status == "completed" else _reason(state)
    try:
        params = flow_run.parameters
        job = ArtifactStore(get_settings().store_url(params.get("output"))).job(params.get("job_id") or run_id)
        if error is not None:
            why = f"the run {'was cancelled' if status == 'cancelled' else 'failed'}: {error}"
            if not stop_run(run_id, why, STOP_GRACE_S):
                log.warning("run %s: some stages did not stop within %d s", run_id, STOP_GRACE_S)
            cancel_children(flow_run.id, why)  # a visuals run on the gpu pool stops with its parent
            job.remove_temporaries()
        _summarise(run_id, job, stages, status, error)
        if own is not None:
            own.progress.finish(None if error is None else f"{status}: {error[:150]}")
    except Exception:  # noqa: BLE001 - the end of a run is logged, never raised over its outcome
        log.exception("run %s: its summary could not be written", run_id)
    finally:
        if own is not None:
            if own.watch is not None:
                own.watch.stop()
            try:
                own.bound.var.reset(own.bound)
            except ValueError:  # a hook outside the body's context: the binding ends with that context
                pass
        end_run(run_id)
        forget_measures(run_id)
    if status == "cancelled":
        with get_client(sync_client=True) as client:
            if (client.read_flow_run(flow_run.id).state or state).is_cancelling():
                client.set_flow_run_state(flow_run.id, Cancelled(message=f"Cancelled: {error}"))


def _reason(state) -> str:
    """The failure in words: the exception the flow raised, else the state's message."""
    try:
        failure = state.result(raise_on_failure=False) if state.is_failed() or state.is_crashed() else None
    except Exception:  # noqa: BLE001 - a crash may have no result to read
        failure = None
    text = str(failure) if isinstance(failure, BaseException) else state.message or ""
    return " ".join(text.split()) or state.name


def _summarise(run_id: str, job: JobStore, stages: tuple[str, ...], status: str, error: str | None) -> None:
    reports = stage_reports(run_id, stages)
    for name, r in reports.items():
        log.info("%s: %s, %d attempt(s), %.2f s%s", name, r.status, r.attempts, r.seconds, " (cached)" if r.cached else "")
    done = status == "completed" and job.path(VIDEO_KEY).is_file()
    url = file_url(job.store.url, job.job_id, VIDEO_KEY) if done else None
    markdown = summary_markdown(reports, status=status, job_id=job.job_id, flow_run_id=run_id, video_url=url, error=error)
    artifact = ArtifactCreate(
        key=SUMMARY_KEY, type="markdown", data=markdown, description=f"{status}: job {job.job_id}"[:200],
        flow_run_id=UUID(run_id),
    )  # fmt: skip
    with get_client(sync_client=True) as client:  # by id: a crash's hook runs outside the run's context
        client.create_artifact(artifact)
