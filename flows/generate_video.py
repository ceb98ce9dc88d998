"""The generate-video flow: brief -> script -> (voice || visuals) -> compose, checkpointed and supervised."""

from __future__ import annotations

import tempfile
import time

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.states import Cancelled

from aura import progress
from aura.models import BriefReport, RenderedVideo, Script, VideoRequest, Visuals, VisualsRun
from aura.options import PipelineOptions, PresetName, StagePolicy
from aura.media.ffmpeg import short_version
from aura.settings import get_settings
from aura.stages.brief import brief_task
from aura.stages.common import open_job
from aura.stages.compose import VIDEO_KEY, compose_task, remove_work_files, write_metadata
from aura.stages.script import script_task
from aura.stages.voice import voice_task
from aura.store import JobStore
from aura.supervision import RunCancelled, RunControl, bind_run, close_run, open_run, unbind_run
from flows.calls import StageCalls, StageOutcome, stop_everything
from flows.child_runs import require_deployment
from flows.monitor import RunMonitor, attach_aura_logs
from flows.render_visuals import render_visuals, slides_instead
from flows.storage import file_url, store_url_for
from flows.summary import publish_summary, stage_reports, summary_markdown
from flows.visuals_hop import draw_on_deployment


@flow(name="generate-video", log_prints=True, persist_result=False)
def generate_video(
    request: VideoRequest,
    preset: PresetName = "default",
    options: PipelineOptions | None = None,
    output: str | None = None,
) -> RenderedVideo:
    """Turn a brief into a narrated MP4 with subtitles, a thumbnail and metadata.json.

    Finished stages are reused from their checkpoints by later runs with the
    same inputs (unless `request.fresh`); a failure, a timeout or a
    cancellation stops every stage of the run and kills their child
    processes, and a summary artifact says how each stage ended.
    """
    logger = get_run_logger()
    opts = options or PipelineOptions.preset(preset)
    store_url = store_url_for(output)
    job_id = str(flow_run.id) if flow_run.id else f"local-{int(time.time() * 1000)}"
    job = open_job(store_url, job_id)
    control = open_run(job_id)
    token = bind_run(job_id)
    attach_aura_logs()
    calls = StageCalls(job, store_url, fresh=request.fresh)
    logger.info("job %s (correlation id %s): %s", job_id, job_id, request.brief[:80])
    deployment = get_settings().visuals_deployment
    if deployment:  # a name that points nowhere fails now, not after the script is written
        require_deployment(deployment, "AURA_VISUALS_DEPLOYMENT")
    job.remove_temporaries()  # left by an earlier attempt of this run that was killed
    swept = job.store.sweep_stale_temporaries()  # and by other runs that were killed (kill -9, a lost machine)
    if swept:
        logger.info("removed %d half-written file(s) that killed runs left behind", swept)
    monitor = RunMonitor(job_id, control)
    status, error, result = "failed", None, None
    try:
        with monitor:
            result = _pipeline(request, preset, opts, output, store_url, job, calls, control)
            status = "completed"
            monitor.finish(f"done: {result.duration:.1f} s video")
        return result
    except BaseException as exc:
        cancelled = control.cancelled or isinstance(exc, RunCancelled) or not isinstance(exc, Exception)
        status = "cancelled" if cancelled else "failed"
        error = " ".join(str(exc).split()) or type(exc).__name__
        stop_everything(control, job, f"the run {'was cancelled' if cancelled else 'failed'}: {error}")
        monitor.finish(f"{status}: {error[:150]}")
        if cancelled and isinstance(exc, Exception):
            return Cancelled(message=f"Cancelled: {error}")  # the run ends Cancelled, not Failed
        raise
    finally:
        _summarise(control, calls, job, store_url, status, error, logger)
        close_run(job_id)
        unbind_run(token)


def _pipeline(
    request: VideoRequest, preset: str, opts: PipelineOptions, output: str | None, store_url: str, job: JobStore,
    calls: StageCalls, control: RunControl,
) -> RenderedVideo:  # fmt: skip
    job_id = job.job_id
    # a remote store stages files in the temp folder: that is where the disk must have room
    local_folder = store_url if "://" not in store_url else tempfile.gettempdir()
    report: BriefReport = calls.run("brief", brief_task, opts.brief, request, local_folder, opts.script.timeout_s, store_url)
    script: Script = calls.run("script", script_task, opts.script, request, store_url)
    calls.outcomes["script"].provider = script.writer

    # voice and visuals need only the script: voice in the task runner, visuals here (or on the gpu pool)
    voice_pending = calls.submit("voice", voice_task, opts.voice, script, request, store_url, job_id)
    visuals = _visuals(request, opts.visuals, output, store_url, script, calls, control)
    narration = calls.collect(voice_pending)
    calls.outcomes["voice"].provider = f"{narration.provider} ({narration.voice})"

    composition = calls.run("compose", compose_task, opts.compose, request, script, narration, visuals, store_url, job_id, opts)
    calls.outcomes["compose"].provider = short_version(composition.ffmpeg)
    reports = stage_reports(control, calls.outcomes)
    result = write_metadata(
        job, request, script, narration, visuals, composition, report, reports, job_id if flow_run.id else None, preset
    )
    if not opts.keep_work_files:
        remove_work_files(job)
    return result


def _visuals(
    request: VideoRequest, policy: StagePolicy, output: str | None, store_url: str, script: Script, calls: StageCalls,
    control: RunControl,
) -> Visuals:  # fmt: skip
    """The render-visuals flow: on its deployment when AURA_VISUALS_DEPLOYMENT names one, else in this process."""
    deployment = get_settings().visuals_deployment
    outcome = calls.outcomes.setdefault("visuals", StageOutcome())
    if not deployment:
        # no persisted result: this process reads the return value, and the stages keep their own checkpoints;
        # no heartbeats of its own: the parent's say this process is alive, and their thread would hold the
        # subflow's end by up to a second (it sleeps in whole seconds)
        in_process = render_visuals.with_options(persist_result=False, result_storage=calls.storage)
        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            drawn = in_process(script, request, calls.job.job_id, policy, output)
        return _record(outcome, drawn, drawn.visuals.provider)
    try:
        remote = draw_on_deployment(deployment, script, request, calls.job.job_id, policy, output, control)
    except Exception as exc:
        slides = slides_instead(exc, "the visuals deployment", calls, policy, script, request, store_url, control)
        return _record(outcome, VisualsRun(visuals=slides), slides.provider)
    where = f" on {remote.worker or 'a worker'} (pool {remote.work_pool})"
    return _record(outcome, remote.run, remote.run.visuals.provider + where)


def _record(outcome: StageOutcome, drawn: VisualsRun, provider: str) -> Visuals:
    outcome.cached, outcome.cached_from, outcome.provider = drawn.cached, drawn.cached_from, provider
    if drawn.cached:
        progress.report("visuals", 1.0, "reused from a checkpoint")
    return drawn.visuals


def _summarise(control: RunControl, calls: StageCalls, job: JobStore, store_url: str, status, error, logger) -> None:
    """The markdown run summary, whatever happened; it never hides the run's own outcome."""
    try:
        reports = stage_reports(control, calls.outcomes)
        for stage, r in reports.items():
            logger.info("%s: %s, %d attempt(s), %.2f s%s", stage, r.status, r.attempts, r.seconds, " (cached)" if r.cached else "")
        video = job.path(VIDEO_KEY)
        if status != "completed" or not video.is_file():
            url = None
        else:
            url = file_url(store_url, job.job_id, VIDEO_KEY)
        markdown = summary_markdown(reports, status=status, job_id=job.job_id, flow_run_id=control.run_id, video_url=url, error=error)
        publish_summary(markdown, f"{status}: job {job.job_id}")
    except Exception:  # noqa: BLE001 - a summary that cannot be written is logged, never raised over the result
        logger.exception("the run summary could not be written")
