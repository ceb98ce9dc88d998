"""The visuals of a run: drawn in its own process, or by the render-visuals deployment on the gpu pool; slides else.

With AURA_VISUALS_DEPLOYMENT the parent starts a run of that deployment (its
subflow, keyed by the parent's run and attempt) and waits with Prefect's
`wait_for_flow_run`, in a stage scope so that a stopped parent stops waiting.
The child writes into the job's folder of the shared store and hands back keys.
"""

from __future__ import annotations

import math

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.exceptions import FlowRunWaitTimeout
from prefect.flow_runs import wait_for_flow_run
from prefect.runtime import flow_run
from prefect.utilities.asyncutils import run_coro_as_sync

from aura import progress
from aura.errors import AuraError
from aura.models import Script, VideoRequest, Visuals
from aura.options import PipelineOptions, StagePolicy
from aura.settings import get_settings
from aura.stages.checkpoints import flow_result_storage
from aura.stages.pipeline import StageTasks, stage_tasks
from aura.store import JobStore
from aura.supervision import RunCancelled, Scope, StageTimeout, call_interruptibly
from flows.child_runs import cancel_children, require_deployment
from flows.lifecycle import begin, run_hooks

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
    """A still or a clip per scene of `script`, into job `job_id` of the artifact store `output` (default
    AURA_OUTPUT of this worker), so the composing worker finds them by key. `policy` changes the task's own."""
    job = begin({"visuals": 1.0}, job_id, output)
    return stills_or_slides(stage_tasks(PipelineOptions(visuals=policy), job.store.url, request.fresh), script, request, job)


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
        return stills_or_slides(tasks, script, request, job)
    try:
        return _on_deployment(deployment, tasks.visuals, script, request, job, options, output)
    except Exception as exc:
        return _slides_instead(tasks, exc, "the visuals deployment", script, request, job)


def stills_or_slides(tasks: StageTasks, script: Script, request: VideoRequest, job: JobStore) -> Visuals:
    try:
        return tasks.visuals(script, request, job.store.url, job.job_id)
    except Exception as exc:
        return _slides_instead(tasks, exc, "visuals", script, request, job)


def _slides_instead(tasks: StageTasks, failure: Exception, what: str, script, request: VideoRequest, job) -> Visuals:
    """Slides for images that could not be drawn; the failure stands when images are required or the run stops."""
    if request.visuals_required or isinstance(failure, RunCancelled):
        raise failure
    get_run_logger().warning("%s failed (%s): falling back to slides", what, failure)
    return tasks.fallback(script, request, job.store.url, job.job_id, reason=str(failure)[:300])


def run_budget_s(task) -> float:
    """How long the child may run once started: every attempt to its timeout, and the delays between them."""
    delays = task.retry_delay_seconds if isinstance(task.retry_delay_seconds, list) else [task.retry_delay_seconds or 0]
    return (task.timeout_seconds or 0) * (task.retries + 1) + sum(delays[: task.retries]) + 60  # + start-up


def _on_deployment(deployment: str, task, script: Script, request: VideoRequest, job: JobStore, options, output) -> Visuals:
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
    with Scope("visuals", run_id=str(flow_run.id)):  # the wait stops with the run
        child = run_deployment(deployment, parameters=parameters, timeout=0, idempotency_key=key, as_subflow=True, tags=["aura"])
        get_run_logger().info("visuals: run %s of %s (work pool %s)", child.id, deployment, child.work_pool_name)
        progress.report("visuals", 0.02, f"waiting for a worker of pool {child.work_pool_name}")
        try:
            finished = _wait(child, get_settings().visuals_queue_timeout_s, run_budget_s(task))
        except Exception:
            cancel_children(flow_run.id, "the parent stopped waiting for it")
            raise
    state = finished.state
    if state is None or not state.is_completed():
        raise VisualsDeploymentError(f"render-visuals run {child.id} ended {state.name if state else 'unknown'}: "
                                     f"{state.message if state else ''}")  # fmt: skip
    visuals = Visuals.model_validate(state.result(raise_on_failure=True))  # JSON: the model's fields, validated
    progress.report("visuals", 1.0, f"{len(visuals.scenes)} scenes from {finished.labels.get('prefect.worker.name')}")
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
    if now.state is None or now.state.type.value in ("SCHEDULED", "PENDING", "PAUSED"):
        raise StageTimeout(
            f"no worker of pool {child.work_pool_name} started the visuals run within {queue_s:.0f} s "
            f"(AURA_VISUALS_QUEUE_TIMEOUT_S): start one with `prefect worker start --pool {child.work_pool_name}` "
            "(deployments/README.md)", "visuals",
        )  # fmt: skip
    progress.report("visuals", 0.05, f"drawing on {now.labels.get('prefect.worker.name') or 'a worker'}")
    try:
        return wait(run_s)
    except FlowRunWaitTimeout:
        raise StageTimeout(f"the visuals run took longer than {run_s:.0f} s", "visuals") from None
