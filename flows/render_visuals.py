"""The render-visuals flow: one still per scene, with slides when the configured provider fails.

Deployed on the `gpu` pool it is the GPU half of a run: generate-video starts
it with `run_deployment` (flows/visuals_hop.py) and reads its persisted
result back from the shared result storage. Without a deployment the parent
calls it in its own process, where it works under the parent's control: its
stages are cancelled with the parent and counted in the parent's summary.
"""

from __future__ import annotations

import contextlib

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from aura.models import Script, VideoRequest, Visuals, VisualsRun
from aura.options import PipelineOptions, StagePolicy
from aura.settings import get_settings
from aura.stages.common import open_job
from aura.stages.visuals import fallback_visuals_task, visuals_task
from aura.supervision import RunCancelled, RunControl, bind_run, close_run, find_run, open_run, share_run, unbind_run
from flows.calls import StageCalls, flow_result_storage, stop_everything
from flows.monitor import RunMonitor, attach_aura_logs
from flows.storage import store_url_for


def draw_visuals(
    calls: StageCalls, policy: StagePolicy, script: Script, request: VideoRequest, store_url: str, control: RunControl
) -> VisualsRun:
    """The visuals stage with its fallback: the configured provider, else slides (unless images are required)."""
    job_id = calls.job.job_id
    try:
        visuals: Visuals = calls.run("visuals", visuals_task, policy, script, request, store_url, job_id)
    except Exception as exc:
        visuals = slides_instead(exc, "visuals", calls, policy, script, request, store_url, control)
    outcome = calls.outcomes.get("visuals")
    return VisualsRun(
        visuals=visuals,
        cached=bool(outcome and outcome.cached),
        cached_from=outcome.cached_from if outcome else None,
    )


def slides_instead(
    failure: Exception, what: str, calls: StageCalls, policy: StagePolicy, script: Script, request: VideoRequest,
    store_url: str, control: RunControl,
) -> Visuals:  # fmt: skip
    """Slides in place of images that could not be drawn; the failure stands when images are required
    or the run is stopping. No retries: slides either work or the run fails."""
    if request.visuals_required or control.cancelled or isinstance(failure, RunCancelled):
        raise failure
    get_run_logger().warning("%s failed (%s): falling back to slides", what, failure)
    once = policy.model_copy(update={"retries": 0})
    return calls.run(
        "visuals", fallback_visuals_task, once, script, request, store_url, calls.job.job_id, reason=str(failure)[:300]
    )  # fmt: skip


# a deployed run persists its result where the parent can read it: the same storage the stages use
_RESULTS = flow_result_storage(get_settings().result_storage_location(store_url_for(None)))


@flow(name="render-visuals", log_prints=True, persist_result=True, result_serializer="json", result_storage=_RESULTS)
def render_visuals(
    script: Script,
    request: VideoRequest,
    job_id: str,
    policy: StagePolicy | None = None,
    output: str | None = None,
) -> VisualsRun:
    """Draw one still per scene of `script` into job `job_id` of the artifact store.

    `output` is the artifact store (default AURA_OUTPUT of this worker): the
    images are written there under the job's keys, so the composing worker
    finds them by key, wherever it runs.
    """
    store_url = store_url_for(output)
    run_id = str(flow_run.id) if flow_run.id else f"{job_id}-visuals"
    parent = find_run(str(flow_run.parent_flow_run_id)) if flow_run.parent_flow_run_id else None
    if parent is not None:  # called in the parent's process: act under its control
        share_run(run_id, parent)
    control = parent or open_run(run_id)
    token = bind_run(control.run_id)
    attach_aura_logs()
    job = open_job(store_url, job_id)
    calls = StageCalls(job, store_url, fresh=request.fresh)
    # a run of its own (a gpu worker's) watches for its cancellation and shows its progress
    watch = RunMonitor(run_id, control) if parent is None else contextlib.nullcontext()
    try:
        with watch:
            return draw_visuals(calls, policy or PipelineOptions().visuals, script, request, store_url, control)
    except BaseException as exc:
        if parent is None:
            stop_everything(control, job, f"render-visuals stopped: {exc}")
        raise
    finally:
        close_run(run_id)
        unbind_run(token)
