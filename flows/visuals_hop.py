"""The GPU hop: the visuals of a run drawn by the render-visuals deployment, on the `gpu` pool.

The parent starts the child run with `run_deployment` (as its subflow, with an
idempotency key from the parent run, so a restarted attempt finds the child it
already started), watches it, and reads its persisted result from the shared
result storage. Cancelling the parent, or a deadline, cancels the child.
Media never travels through here: the child writes the images into the job's
folder of the shared artifact store and hands back their keys.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from uuid import UUID

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.runtime import flow_run
from pydantic import ValidationError

from aura import progress
from aura.errors import AuraError
from aura.models import Script, VideoRequest, VisualsRun
from aura.options import StagePolicy
from aura.settings import get_settings
from aura.supervision import RunControl, Scope, StageTimeout
from flows.child_runs import cancel_run

POLL_S = 1.0
WAITING = ("SCHEDULED", "PENDING", "PAUSED")


class VisualsDeploymentError(AuraError):
    """The run of the visuals deployment did not hand back images."""


@dataclass
class RemoteVisuals:
    run: VisualsRun
    flow_run_id: str
    worker: str | None
    work_pool: str | None


def run_budget_s(policy: StagePolicy) -> float:
    """How long the child may run once started: every attempt to its timeout, and the delays between them."""
    delays = sum(policy.retry_delay_s * 2**i for i in range(policy.retries))
    return policy.timeout_s * (policy.retries + 1) + delays + 60  # a minute for the child's own start-up


def draw_on_deployment(
    deployment: str,
    script: Script,
    request: VideoRequest,
    job_id: str,
    policy: StagePolicy,
    output: str | None,
    control: RunControl,
) -> RemoteVisuals:
    """Run the visuals stage as a run of `deployment` and wait for its result."""
    logger = get_run_logger()
    parameters = {
        "script": script.model_dump(mode="json"),
        # the images need neither the music nor the documents: a path the `aura` command's user named stays on
        # their machine, and the gpu worker (which reads no path) does not refuse the request for it
        "request": request.model_dump(mode="json", exclude={"references", "music"}),
        "job_id": job_id,
        "policy": policy.model_dump(mode="json"),
        "output": output,
    }
    # one child per attempt of the parent: a restarted process finds it, a retry from the UI starts a new one
    key = f"{control.run_id}-visuals-{flow_run.run_count or 1}"
    queue_s = get_settings().visuals_queue_timeout_s
    with Scope("visuals", run=control) as scope:
        child = run_deployment(
            deployment, parameters=parameters, timeout=0, idempotency_key=key, as_subflow=True, tags=["aura"]
        )
        logger.info("visuals: run %s of %s (work pool %s)", child.id, deployment, child.work_pool_name)
        progress.report("visuals", 0.02, f"waiting for a worker of pool {child.work_pool_name}")
        try:
            finished = _wait(child.id, scope, queue_s, run_budget_s(policy))
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
    return RemoteVisuals(run=result, flow_run_id=str(child.id), worker=worker, work_pool=finished.work_pool_name)


def _wait(run_id: UUID, scope: Scope, queue_s: float, run_s: float):
    """Poll the child until it ends; a cancelled parent or a passed deadline stops the wait."""
    start_by = time.monotonic() + queue_s
    finish_by: float | None = None
    with get_client(sync_client=True) as client:
        while True:
            scope.check()  # the parent was cancelled or failed elsewhere
            run = client.read_flow_run(run_id)
            state = run.state
            if state is not None and state.is_final():
                return run
            now = time.monotonic()
            if state is not None and state.type.value not in WAITING and finish_by is None:
                finish_by = now + run_s
                progress.report("visuals", 0.05, f"drawing on {run.labels.get('prefect.worker.name') or 'a worker'}")
            if finish_by is None and now > start_by:
                raise StageTimeout(
                    f"no worker of pool {run.work_pool_name} started the visuals run within {queue_s:.0f} s "
                    "(AURA_VISUALS_QUEUE_TIMEOUT_S): start one with `prefect worker start --pool "
                    f"{run.work_pool_name}` (deployments/README.md)", "visuals",
                )  # fmt: skip
            if finish_by is not None and now > finish_by:
                raise StageTimeout(f"the visuals run took longer than {run_s:.0f} s", "visuals")
            time.sleep(POLL_S)
