"""Stage 4, visuals: one still per scene from the configured image provider, slides as the fallback."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from prefect import task

from aura import progress
from aura.media.compose import overscan_size
from aura.models import Script, VideoRequest, Visuals
from aura.providers.images import ImagePrompt
from aura.providers.images.registry import FALLBACK, choose_image_provider, get_image_provider, image_output_settings
from aura.settings import Settings, get_settings
from aura.stages.checkpoints import PERSISTED, StageCachePolicy
from aura.stages.stage import Stage, backoff, open_job, supervised, worth_retrying
from aura.store import JobStore

IMAGES_DIR = "work/images"


def base_seed(request: VideoRequest) -> int:
    """The request's seed, or one derived from the brief so the same brief looks the same."""
    if request.seed is not None:
        return request.seed
    return int.from_bytes(hashlib.sha256(request.brief.encode()).digest()[:4], "big")


def prompts_for(script: Script, request: VideoRequest) -> list[ImagePrompt]:
    seed = base_seed(request)
    return [
        ImagePrompt(
            index=scene.index,
            prompt=scene.visual_prompt,
            key_phrase=scene.key_phrase,
            title=script.title,
            style=request.style,
            seed=(seed + 7919 * scene.index) % 2**32,  # distinct per scene, stable per request
            language=request.language,
        )
        for scene in script.scenes
    ]


def draw_stills(
    script: Script, request: VideoRequest, job: JobStore, provider_name: str, reason: str = "", warnings=()
) -> Visuals:
    started = time.perf_counter()
    provider = get_image_provider(provider_name)
    # stills are larger than the frame so the Ken Burns camera has room to move
    size = overscan_size(*request.size)
    progress.report("visuals", 0.05, f"{len(script.scenes)} images from {provider.name}")
    files = provider.render(prompts_for(script, request), size, job.path(IMAGES_DIR))
    if len(files) != len(script.scenes):
        raise RuntimeError(f"{provider.name} returned {len(files)} images for {len(script.scenes)} scenes")
    refs = [job.publish(f"{IMAGES_DIR}/{f.name}") for f in files]
    progress.report("visuals", 1.0, f"{len(refs)} images")
    return Visuals(
        job_id=job.job_id,
        images=refs, size=size, provider=provider.name, reason=reason, warnings=list(warnings),
        elapsed_s=time.perf_counter() - started,
    )  # fmt: skip


def _cache_inputs_of(provider: Callable[[Settings], str]):
    """What makes the stills: each scene's prompt and phrase, the look asked for, the provider and its settings."""

    def cache_inputs(inputs: dict, settings: Settings) -> dict:
        script, request = inputs["script"], inputs["request"]
        return {
            "script": {"title": script.title, "scenes": [[s.visual_prompt, s.key_phrase] for s in script.scenes]},
            "request": {**request.model_dump(mode="json", include={"style", "aspect", "resolution", "language"}),
                        "seed": base_seed(request)},
            "images": image_output_settings(provider(settings), settings),
        }  # fmt: skip

    return cache_inputs


SOURCES = ("aura.stages.visuals", "aura.providers.images")
CHECKPOINT = StageCachePolicy(
    stage="visuals", inputs=_cache_inputs_of(lambda settings: choose_image_provider(settings)[0]), sources=SOURCES
)
FALLBACK_CHECKPOINT = StageCachePolicy(
    stage="visuals-fallback", inputs=_cache_inputs_of(lambda settings: FALLBACK), sources=SOURCES
)


@task(
    name="visuals", retries=2, retry_delay_seconds=backoff(2, 2), timeout_seconds=300, retry_condition_fn=worth_retrying,
    cache_policy=CHECKPOINT, **PERSISTED,
)  # fmt: skip
def visuals_task(script: Script, request: VideoRequest, store_url: str, job_id: str) -> Visuals:
    with supervised():
        name, reason = choose_image_provider(get_settings())
        return draw_stills(script, request, open_job(store_url, job_id), name, reason)


# no retries: slides either work or the run fails (presets name the visuals task, not this one)
@task(
    name="visuals-fallback", retries=0, timeout_seconds=300,
    cache_policy=FALLBACK_CHECKPOINT, **PERSISTED,
)  # fmt: skip
def fallback_visuals_task(script: Script, request: VideoRequest, store_url: str, job_id: str, reason: str) -> Visuals:
    with supervised("visuals"):
        warning = f"visuals fell back to {FALLBACK}: {reason}"
        job = open_job(store_url, job_id)
        return draw_stills(script, request, job, FALLBACK, reason=f"fallback: {reason}", warnings=[warning])


STAGE = Stage(name="visuals", label="Visuals", weight=30, task=visuals_task, served_by=lambda visuals: visuals.provider)
FALLBACK_STAGE = Stage(name="visuals", label="Visuals", weight=30, task=fallback_visuals_task, served_by=STAGE.served_by)
