"""The visuals of a run, in one place: drawn in this process, on the gpu deployment, or slides instead.

Without AURA_VISUALS_DEPLOYMENT the render-visuals flow runs in the parent's
process, under its control (cancelled with it, counted in its summary).
With it, the parent starts a run of that deployment on the `gpu` pool with
`run_deployment` (as its subflow, keyed by the parent's run and attempt, so
a restarted attempt finds the child it already started), watches it, and
reads its persisted result from the shared result storage; cancelling the
parent, or a deadline, cancels the child. Media never travels through here:
the child writes the stills and clips into the job's folder of the shared
artifact store and hands back their keys. A stage that fails gives slides,
unless the request requires its visuals.
"""

from __future__ import annotations

import time
from uuid import UUID

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.runtime import flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from pydantic import ValidationError

from aura import progress
from aura.errors import AuraError
from aura.models import Script, VideoRequest, Visuals, VisualsRun
from aura.options import PipelineOptions, StagePolicy
from aura.settings import get_settings
from aura.stages import visuals as stage
from aura.stages.checkpoints import flow_result_storage
from aura.supervision import RunCancelled, Scope, StageTimeout
from flows.child_runs import cancel_run, require_deployment
from flows.run import Ended, VideoRun

POLL_S = 1.0
WAITING = ("SCHEDULED", "PENDING", "PAUSED")


class VisualsDeploymentError(AuraError):
    """The run of the visuals deployment did not hand back images."""


# a deployed run persists its result where the parent can read it: the same storage the stages use
_RESULTS = flow_result_storage(get_settings().result_storage_location(get_settings().store_url()))


@flow(name="render-visuals", log_prints=True, persist_result=True, result_serializer="json", result_storage=_RESULTS)
def render_visuals(
    script: Script, request: VideoRequest, job_id: str, policy: StagePolicy | None = None, output: str | None = None
) -> VisualsRun:
    """A still or a clip per scene of `script`, into job `job_id` of the artifact store.

    `output` is the artifact store (default AURA_OUTPUT of this worker): the
    images are written there under the job's keys, so the composing worker
    finds them by key, wherever it runs. `policy` changes the visuals task's own.
    """
    with VideoRun(request, PipelineOptions(visuals=policy), output, (stage.STAGE,), job_id) as run:
        visuals = _stills_or_slides(run, script, request)
        ended = run.ended[stage.STAGE.name]
        run.done(VisualsRun(visuals=visuals, cached=ended.state == "Cached", cached_from=ended.cached_from))
    return run.outcome


def check_visuals_deployment() -> None:
    """A deployment name that points nowhere fails before the script is written."""
    if get_settings().visuals_deployment:
        require_deployment(get_settings().visuals_deployment, "AURA_VISUALS_DEPLOYMENT")


def draw_visuals(run: VideoRun, script: Script, request: VideoRequest) -> Visuals:
    """The visuals stage of a generate-video run: on its deployment when AURA_VISUALS_DEPLOYMENT names one."""
    deployment = get_settings().visuals_deployment
    if not deployment:
        # no persisted result: this process reads the return value, and the stage keeps its own checkpoint;
        # no heartbeats of its own: the parent's say this process is alive, and their thread would hold the
        # subflow's end by up to a second (it sleeps in whole seconds)
        in_process = render_visuals.with_options(persist_result=False, result_storage=run.storage)
        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            drawn = in_process(script, request, run.job_id, run.options.visuals, run.output)
        run.record("visuals", Ended("Cached" if drawn.cached else "Completed", drawn.visuals, drawn.cached_from))
        return drawn.visuals
    try:
        drawn, where = _on_deployment(deployment, run, script, request)
    except Exception as exc:
        return _slides_instead(run, exc, "the visuals deployment", script, request)
    ended = Ended("Cached" if drawn.cached else "Completed", drawn.visuals, drawn.cached_from, drawn.visuals.provider + where)
    run.record("visuals", ended)
    return drawn.visuals


def _stills_or_slides(run: VideoRun, script: Script, request: VideoRequest) -> Visuals:
    try:
        return run.stage(stage.STAGE, script, request, run.store_url, run.job_id)
    except Exception as exc:
        return _slides_instead(run, exc, "visuals", script, request)


def _slides_instead(run: VideoRun, failure: Exception, what: str, script: Script, request: VideoRequest) -> Visuals:
    """Slides in place of images that could not be drawn; the failure stands when images are required
    or the run is stopping."""
    if request.visuals_required or run.control.cancelled or isinstance(failure, RunCancelled):
        raise failure
    run.logger.warning("%s failed (%s): falling back to slides", what, failure)
    reason = str(failure)[:300]
    return run.stage(stage.FALLBACK_STAGE, script, request, run.store_url, run.job_id, reason=reason)


def run_budget_s(task) -> float:
    """How long the child may run once started: every attempt to its timeout, and the delays between them."""
    delays = task.retry_delay_seconds if isinstance(task.retry_delay_seconds, list) else [task.retry_delay_seconds or 0]
    attempts = task.retries + 1
    return (task.timeout_seconds or 0) * attempts + sum(delays[: task.retries]) + 60  # a minute for the child's start-up


def _on_deployment(deployment: str, run: VideoRun, script: Script, request: VideoRequest) -> tuple[VisualsRun, str]:
    """The visuals stage as a run of `deployment`, waited for; its result and where it ran, in words."""
    parameters = {
        "script": script.model_dump(mode="json"),
        # the images need neither the music nor the documents: a path the `aura` command's user named stays on
        # their machine, and the gpu worker (which reads no path) does not refuse the request for it
        "request": request.model_dump(mode="json", exclude={"references", "music"}),
        "job_id": run.job_id,
        "policy": run.options.visuals.model_dump(mode="json") if run.options.visuals else None,
        "output": run.output,
    }
    # one child per attempt of the parent: a restarted process finds it, a retry from the UI starts a new one
    key = f"{run.run_id}-visuals-{flow_run.run_count or 1}"
    with Scope("visuals", run=run.control) as scope:
        child = run_deployment(deployment, parameters=parameters, timeout=0, idempotency_key=key, as_subflow=True, tags=["aura"])
        run.logger.info("visuals: run %s of %s (work pool %s)", child.id, deployment, child.work_pool_name)
        progress.report("visuals", 0.02, f"waiting for a worker of pool {child.work_pool_name}")
        try:
            finished = _wait(child.id, scope, get_settings().visuals_queue_timeout_s, run_budget_s(run.task(stage.STAGE)))
        except BaseException:
            cancel_run(child.id, "the parent run stopped")
            raise
    state = finished.state
    if state is None or not state.is_completed():
        name = state.name if state else "unknown"
        raise VisualsDeploymentError(f"render-visuals run {child.id} ended {name}: {state.message if state else ''}")
    try:
        # the JSON result comes back as the model's fields: validate them into the model again
        result = VisualsRun.model_validate(state.result(raise_on_failure=True))
    except ValidationError as exc:
        raise VisualsDeploymentError(f"render-visuals run {child.id} handed back no VisualsRun: {exc}") from None
    worker = finished.labels.get("prefect.worker.name")
    progress.report("visuals", 1.0, f"{len(result.visuals.images)} images from {worker}")
    return result, f" on {worker or 'a worker'} (pool {finished.work_pool_name})"


def _wait(run_id: UUID, scope: Scope, queue_s: float, run_s: float):
    """Poll the child until it ends; a cancelled parent or a passed deadline stops the wait."""
    start_by, finish_by = time.monotonic() + queue_s, None
    with get_client(sync_client=True) as client:
        while True:
            scope.check()  # the parent was cancelled or failed elsewhere
            child = client.read_flow_run(run_id)
            state = child.state
            if state is not None and state.is_final():
                return child
            now = time.monotonic()
            if state is not None and state.type.value not in WAITING and finish_by is None:
                finish_by = now + run_s
                progress.report("visuals", 0.05, f"drawing on {child.labels.get('prefect.worker.name') or 'a worker'}")
            if finish_by is None and now > start_by:
                raise StageTimeout(
                    f"no worker of pool {child.work_pool_name} started the visuals run within {queue_s:.0f} s "
                    "(AURA_VISUALS_QUEUE_TIMEOUT_S): start one with `prefect worker start --pool "
                    f"{child.work_pool_name}` (deployments/README.md)", "visuals",
                )  # fmt: skip
            if finish_by is not None and now > finish_by:
                raise StageTimeout(f"the visuals run took longer than {run_s:.0f} s", "visuals")
            time.sleep(POLL_S)
