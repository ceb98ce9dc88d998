"""The generate-video flow: brief -> script -> (voice || visuals) -> compose -> metadata.json."""

from __future__ import annotations

from prefect import flow
from prefect.runtime import flow_run

from aura import progress
from aura.models import RenderedVideo, VideoRequest
from aura.options import PipelineOptions, PresetName
from aura.stages import compose
from aura.stages.pipeline import STAGE_NAMES, WEIGHTS, stage_tasks
from aura.stages.publish import publish
from aura.stages.review import review
from aura.stages.run_ledger import stage_reports
from flows.lifecycle import begin, run_hooks
from flows.visuals import check_visuals_deployment, draw_visuals


@flow(name="generate-video", log_prints=True, persist_result=False, **run_hooks(STAGE_NAMES))
def generate_video(
    request: VideoRequest,
    preset: PresetName = "default",
    options: PipelineOptions | None = None,
    output: str | None = None,
) -> RenderedVideo:
    """Turn a brief into a narrated MP4 with subtitles, a thumbnail and metadata.json. Finished stages are
    reused from their checkpoints (unless `request.fresh`); a script waits for a person's review when asked; the
    hooks (flows/lifecycle.py) stop every stage on a failure, a timeout or a cancellation, and summarise each."""
    options = options or PipelineOptions.preset(preset)
    job = begin(WEIGHTS, output=output)
    store = job.store.url
    tasks = stage_tasks(options, store, fresh=request.fresh)  # the preset, applied once
    check_visuals_deployment()

    report = tasks.brief(request, store, tasks.script.timeout_seconds)
    written, request = review(tasks.script(request, store), request, job)  # paused for a person, when asked
    speaking = tasks.voice.submit(written, request, store, job.job_id)  # beside the visuals
    visuals = draw_visuals(tasks, written, request, job, options, output)  # here, or on the gpu pool
    narration = speaking.result()
    made = tasks.compose(request, written, narration, visuals, store, job.job_id, options)
    published = publish(tasks.publish, request, written, made, visuals, store)  # where AURA_PUBLISH says, once per video

    stages = stage_reports(str(flow_run.id))
    video = compose.write_metadata(job, request, written, narration, visuals, made, report, stages, str(flow_run.id), preset, published)
    if not options.keep_work_files:
        compose.remove_work_files(job)
    progress.report("compose", 1.0, f"done: {video.duration:.1f} s video")
    return video
