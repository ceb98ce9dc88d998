"""The generate-video flow: brief -> script -> (voice || visuals) -> compose."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from aura.models import RenderedVideo, VideoRequest
from aura.options import PipelineOptions, PresetName
from aura.settings import get_settings
from aura.stages.brief import brief_task
from aura.stages.common import with_policy
from aura.stages.compose import compose_task
from aura.stages.script import script_task
from aura.stages.visuals import fallback_visuals_task, visuals_task
from aura.stages.voice import voice_task


def _store_url(output: str | None) -> str:
    url = output or get_settings().output
    if "://" in url:
        return url
    # a plain folder: absolute, so every task resolves it the same way
    return str(Path(url).expanduser().resolve())


@flow(name="generate-video", log_prints=True, persist_result=False)
def generate_video(
    request: VideoRequest,
    preset: PresetName = "default",
    options: PipelineOptions | None = None,
    output: str | None = None,
) -> RenderedVideo:
    """Turn a brief into a narrated MP4 with subtitles, a thumbnail and metadata.json."""
    logger = get_run_logger()
    opts = options or PipelineOptions.preset(preset)
    store_url = _store_url(output)
    job_id = str(flow_run.id) if flow_run.id else f"local-{int(time.time() * 1000)}"
    logger.info("job %s: %s", job_id, request.brief[:80])

    # a remote store stages files in the temp folder: that is where the disk must have room
    local_folder = store_url if "://" not in store_url else tempfile.gettempdir()
    report = with_policy(brief_task, opts.brief)(request, local_folder, opts.script.timeout_s)
    started = time.perf_counter()
    script = with_policy(script_task, opts.script)(request)
    script_seconds = time.perf_counter() - started

    # voice and visuals need only the script: they run side by side
    voice_future = with_policy(voice_task, opts.voice).submit(script, request, store_url, job_id)
    visuals_future = with_policy(visuals_task, opts.visuals).submit(script, request, store_url, job_id)
    narration = voice_future.result()
    try:
        visuals = visuals_future.result()
    except Exception as exc:
        if request.visuals_required:
            raise
        logger.warning("visuals failed (%s): falling back to slides", exc)
        visuals = fallback_visuals_task(script, request, store_url, job_id, reason=str(exc)[:300])

    stage_seconds = {
        "brief": round(report.elapsed_s, 3),
        "script": round(script_seconds, 3),
        "voice": round(narration.elapsed_s, 3),
        "visuals": round(visuals.elapsed_s, 3),
    }
    return with_policy(compose_task, opts.compose)(
        request, script, narration, visuals, report, store_url, job_id, opts, stage_seconds,
        flow_run_id=str(flow_run.id) if flow_run.id else None, preset=preset,
    )  # fmt: skip


