"""The visuals of a run: drawn by the render-visuals flow in this process or on the gpu deployment, or slides.

Without AURA_VISUALS_DEPLOYMENT, render-visuals runs as a subflow in the
parent's process, part of its run (stopped with it, in its summary). With
it, the parent starts a run of that deployment on the `gpu` pool with
`run_deployment` (as its subflow, keyed by the parent's run and attempt, so
a restarted attempt finds the child it started) and waits for it with
Prefect's `wait_for_flow_run`: first for a worker to take it, then for it to
end. The wait runs in a stage scope (aura.supervision), the one thing of
ours here, so that a cancelled parent stops waiting and cancels the child.
Media never travels through here: the child writes the stills and clips
into the job's folder of the shared artifact store and hands back their
keys. A stage that fails gives slides, unless the request requires its visuals.
"""

from __future__ import annotations

import math

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.exceptions import FlowRunWaitTimeout
from prefect.flow_runs import wait_for_flow_run
from prefect.runtime import flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.utilities.asyncutils import run_coro_as_sync
from pydantic import ValidationError

from aura import progress
from aura.errors import AuraError
from aura.models import Script, VideoRequest, Visuals
from aura.options import PipelineOptions, StagePolicy
from aura.settings import get_settings
from aura.stages.checkpoints import flow_result_storage, result_storage_for
from aura.stages.pipeline import StageTasks, stage_tasks
from aura.store import JobStore
from aura.supervision import RunCancelled, Scope, StageTimeout, call_interruptibly
from flows.child_runs import cancel_run, require_deployment
from flows.lifecycle import begin, run_hooks

WAITING = ("SCHEDULED", "PENDING", "PAUSED")


class VisualsDeploymentError(AuraError):
    """The run of the visuals deployment did not hand back images."""


# a deployed run persists its result where the parent can read it: the same storage the stages use
_RESULTS = flow_result_storage(get_settings().result_storage_location(get_settings().store_url()))


@flow(
    name="render-visuals", log_prints=True, persist_result=True, result_serializer="json", result_storage=_RESULTS,
    **run_hooks(("visuals",)),
)  # fmt: skip
def render_visuals(
    script: Script, request: VideoRequest, job_id: str, policy: StagePolicy | None = None, output: str | None = None
) -> Visuals:
    """A still or a clip per scene of `script`, into job `job_id` of the artifact store.

    `output` is the artifact store (default AURA_OUTPUT of this worker): the
    images are written there under the job's keys, so the composing worker
    finds them by key, wherever it runs. `policy` changes the visuals task's own.
    """
    job = begin({"visuals": 1.0}, job_id, output)
    storage = result_storage_for(get_settings().result_storage_location(job.store.url))
    tasks = stage_tasks(PipelineOptions(visuals=policy), storage, fresh=request.fresh)
    try:
        return tasks.visuals(script, request, job.store.url, job.job_id)
    except Exception as exc:
        return slides_instead(tasks, exc, "visuals", script, request, job)


def check_visuals_deployment() -> None:
    """A deployment name that points nowhere fails before the script is written."""
    if get_settings().visuals_deployment:
        require_deployment(get_settings().visuals_deployment, "AURA_VISUALS_DEPLOYMENT")


def draw_visuals(
    tasks: StageTasks, script: Script, request: VideoRequest, job: JobStore, options: PipelineOptions, output: str | None
) -> Visuals:
    """The visuals stage of a generate-video run: on its deployment when AURA_VISUALS_DEPLOYMENT names one."""
    deployment = get_settings().visuals_deployment
    if not deployment:
        # no persisted result: this process reads the return value, and the stage keeps its own checkpoint;
        # no heartbeats of its own: the parent's say this process is alive, and their thread would hold the
        # subflow's end by up to a second (it sleeps in whole seconds)
        in_process = render_visuals.with_options(persist_result=False)
        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            return in_process(script, request, job.job_id, options.visuals, output)
    try:
        return _on_deployment(deployment, tasks.visuals, script, request, job, options, output)
    except Exception as exc:
        return slides_instead(tasks, exc, "the visuals deployment", script, request, job)


def slides_instead(tasks: StageTasks, failure: Exception, what: str, script: Script, request: VideoRequest, job) -> Visuals:
    """Slides in place of images that could not be drawn; the failure stands when images are required
    or the run is stopping."""
    if request.visuals_required or isinstance(failure, RunCancelled):
        raise failure
    get_run_logger().warning("%s failed (%s): falling back to slides", what, failure)
    return tasks.fallback(script, request, job.store.url, job.job_id, reason=str(failure)[:300])


def run_budget_s(task) -> float:
    """How long the child may run once started: every attempt to its timeout, and the delays between them."""
    delays = task.retry_delay_seconds if isinstance(task.retry_delay_seconds, list) else [task.retry_delay_seconds or 0]
    attempts = task.retries + 1
    return (task.timeout_seconds or 0) * attempts + sum(delays[: task.retries]) + 60  # a minute for the child's start-up


def _on_deployment(deployment: str, task, script: Script, request: VideoRequest, job: JobStore, options, output) -> Visuals:
    """The visuals stage as a run of `deployment`, waited for; its result."""
    parameters = {
        "script": script.model_dump(mode="json"),
        # the images need neither the music nor the documents: a path the `aura` command's user named stays on
        # their machine, and the gpu worker (which reads no path) does not refuse the request for it
        "request": request.model_dump(mode="json", exclude={"references", "music"}),
        "job_id": job.job_id,
        "policy": options.visuals.model_dump(mode="json") if options.visuals else None,
        "output": output,
    }
    # one child per attempt of the parent: a restarted process finds it, a retry from the UI starts a new one
    key = f"{flow_run.id}-visuals-{flow_run.run_count or 1}"
    with Scope("visuals"):  # the wait stops with the run
        child = run_deployment(deployment, parameters=parameters, timeout=0, idempotency_key=key, as_subflow=True, tags=["aura"])
        get_run_logger().info("visuals: run %s of %s (work pool %s)", child.id, deployment, child.work_pool_name)
        progress.report("visuals", 0.02, f"waiting for a worker of pool {child.work_pool_name}")
        try:
            finished = _wait(child, get_settings().visuals_queue_timeout_s, run_budget_s(task))
        except BaseException:
            cancel_run(child.id, "the parent run stopped")
            raise
    state = finished.state
    if state is None or not state.is_completed():
        name = state.name if state else "unknown"
        raise VisualsDeploymentError(f"render-visuals run {child.id} ended {name}: {state.message if state else ''}")
    try:
        # the JSON result comes back as the model's fields: validate them into the model again
        visuals = Visuals.model_validate(state.result(raise_on_failure=True))
    except ValidationError as exc:
        raise VisualsDeploymentError(f"render-visuals run {child.id} handed back no Visuals: {exc}") from None
    worker = finished.labels.get("prefect.worker.name")
    progress.report("visuals", 1.0, f"{len(visuals.scenes)} scenes from {worker}")
    return visuals


def _wait(child, queue_s: float, run_s: float):
    """The child once it ended: a worker must take it within `queue_s`, and it must end within `run_s` more."""

    def wait(seconds: float):
        return call_interruptibly(lambda: run_coro_as_sync(wait_for_flow_run(child.id, timeout=math.ceil(seconds))))

    try:
        return wait(queue_s)
    except FlowRunWaitTimeout:
        with get_client(sync_client=True) as client:
            now = client.read_flow_run(child.id)
    if now.state is None or now.state.type.value in WAITING:
        raise StageTimeout(
            f"no worker of pool {child.work_pool_name} started the visuals run within {queue_s:.0f} s "
            "(AURA_VISUALS_QUEUE_TIMEOUT_S): start one with `prefect worker start --pool "
            f"{child.work_pool_name}` (deployments/README.md)", "visuals",
        )  # fmt: skip
    progress.report("visuals", 0.05, f"drawing on {now.labels.get('prefect.worker.name') or 'a worker'}")
    try:
        return wait(run_s)
    except FlowRunWaitTimeout:
        raise StageTimeout(f"the visuals run took longer than {run_s:.0f} s", "visuals") from None
