"""The generate-video flow: brief -> script -> (voice || visuals) -> compose -> metadata, checkpointed and supervised."""

from __future__ import annotations

from prefect import flow

from aura.models import RenderedVideo, VideoRequest
from aura.options import PipelineOptions, PresetName
from aura.stages import brief, compose, script, voice
from aura.stages.pipeline import STAGES
from flows.run import VideoRun
from flows.visuals import check_visuals_deployment, draw_visuals


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
    with VideoRun(request, options or PipelineOptions.preset(preset), output, STAGES) as run:
        check_visuals_deployment()
        report = run.stage(brief.STAGE, request, run.store_url, run.task(script.STAGE).timeout_seconds)
        written = run.stage(script.STAGE, request, run.store_url)
        speaking = run.submit(voice.STAGE, written, request, run.store_url, run.job_id)  # beside the visuals
        stills = draw_visuals(run, written, request)
        narration = run.wait(speaking)
        made = run.stage(compose.STAGE, request, written, narration, stills, run.store_url, run.job_id, run.options)
        video = compose.write_metadata(
            run.job, request, written, narration, stills, made, report, run.reports(), run.flow_run_id, preset
        )
        if not run.options.keep_work_files:
            compose.remove_work_files(run.job)
        run.done(video, f"done: {video.duration:.1f} s video")
    return run.outcome
