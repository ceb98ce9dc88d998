"""A run's start (the flow body's first call) and its end (Prefect's flow hooks).

`begin` opens the run's job folder (its id is the flow run's), removes what killed runs left half-written, starts
the progress artifact and listens for the run's cancellation. On failure, cancellation or a crash the hooks stop the
run's other stages (their children die), cancel the runs it started and remove half-written files; always, they
write the summary artifact from Prefect's task-run states and announce a video's ending to the webhook. A run
cancelled in its own process ends Cancelled once its stages stopped (a worker's runner marks its runs itself).
"""

from __future__ import annotations

import logging
import os

from prefect.client.orchestration import get_client
from prefect.runtime import flow_run as current_flow_run
from prefect.states import Cancelled

from aura import spend, usage
from aura.settings import get_settings
from aura.stages.run_cancellation import CancellationWatch
from aura.stages.run_ledger import publish_summary
from aura.stages.run_logs import attach_aura_logs
from aura.stages.publish import announce_ending
from aura.stages.run_progress import ProgressArtifact
from aura.stages.stage import open_job
from aura.store import JobStore
from aura.supervision import end_run, stop_run
from flows.child_runs import cancel_children

STOP_GRACE_S = 15  # how long a failed or cancelled run waits for its other stages to stop
log = logging.getLogger("aura.runs")


_own: dict[str, tuple[ProgressArtifact, CancellationWatch | None]] = {}  # this process's runs, begun and not ended


def begin(weights: dict[str, float], job_id: str | None = None, output: str | None = None) -> JobStore:
    """The run's job (see the module docstring); the flow body's first call."""
    run_id = str(current_flow_run.id)
    job = open_job(get_settings().store_url(output), job_id or run_id)
    attach_aura_logs()
    log.info("job %s (correlation id %s)", job.job_id, run_id)
    job.remove_temporaries()  # left by an earlier attempt of this run that was killed
    swept = job.store.sweep_stale_temporaries()  # and by other runs that were killed (kill -9, a lost machine)
    if swept:
        log.info("removed %d half-written file(s) that killed runs left behind", swept)
    # a worker's runner cancels the runs it started itself (it signals their process, and runs their hooks)
    runner = os.environ.get("PREFECT__ENABLE_CANCELLATION_AND_CRASHED_HOOKS") == "false"
    _own[run_id] = (ProgressArtifact(run_id, weights), None if runner else CancellationWatch(run_id))
    return job


def run_hooks(stages: tuple[str, ...]) -> dict[str, list]:
    """The flow decorator's hooks, for a flow of these stages."""

    def ending(status: str):
        return [lambda flow, flow_run, state: _end(flow_run, state, status, stages)]

    statuses = {"on_completion": "completed", "on_failure": "failed", "on_cancellation": "cancelled", "on_crashed": "crashed"}
    return {hook: ending(status) for hook, status in statuses.items()}


def _end(flow_run, state, status: str, stages: tuple[str, ...]) -> None:
    run_id = str(flow_run.id)
    progress, watch = _own.pop(run_id, (None, None))
    error = None if status == "completed" else _reason(state)
    try:
        params = flow_run.parameters
        job = open_job(get_settings().store_url(params.get("output")), params.get("job_id") or run_id)
        if error is not None:
            why = f"the run {'was cancelled' if status == 'cancelled' else 'failed'}: {error}"
            if not stop_run(run_id, why, STOP_GRACE_S):
                log.warning("run %s: some stages did not stop within %d s", run_id, STOP_GRACE_S)
            cancel_children(flow_run.id, why)  # a visuals run on the gpu pool stops with its parent
            job.remove_temporaries()
        publish_summary(run_id, job, stages, status, error)
        announce_ending(params.get("request"), job, run_id, status, error, stages)  # the webhook, in the background
        if progress is not None:
            progress.finish(None if error is None else f"{status}: {error[:150]}")
    except Exception:  # noqa: BLE001 - the end of a run is logged, never raised over its outcome
        log.exception("run %s: its summary could not be written", run_id)
    finally:
        if watch is not None:
            watch.stop()
        end_run(run_id)
        spend.forget(usage.forget_run(run_id))
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
