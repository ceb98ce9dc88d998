"""Stage 4, visuals: a still or a clip per scene from the chain of visuals providers, slides as the last.

The request's own media serve their scenes first; then each provider of the
chain (aura.providers.images.registry.image_chain) serves the scenes it can.
Each file is published to the job's folder with what the composition needs
to fit it (a clip's length, whether its sound is kept) and its credit.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable

from prefect import task

from aura import progress, spend
from aura.errors import MediaError
from aura.media.pictures import check_frame, check_picture
from aura.media.plan import overscan_size
from aura.media.probe import probe
from aura.models import CLIP_EXTENSIONS, SceneVisual, Script, VideoRequest, Visuals
from aura.providers.images import ImagePrompt, SceneMedia
from aura.providers.images.chain import serve_scenes
from aura.providers.images.motion import NAME as MOTION
from aura.providers.images.motion import MotionSettings, animate
from aura.providers.images.registry import FALLBACK, LIBRARY, chain_output_settings, get_image_provider, image_chain
from aura.settings import Settings, get_settings
from aura.stages.checkpoints import PERSISTED, StageCachePolicy, file_digest
from aura.stages.inputs import media_files
from aura.stages.stage import Stage, backoff, open_job, supervised, worth_retrying
from aura.store import ArtifactStore, JobStore

IMAGES_DIR = "work/images"
OWN_MEDIA = "request"  # who served a scene the request brought its own file for
PAUSE_S = 0.6  # the pause the voice leaves after a scene, for the expected time on screen


def base_seed(request: VideoRequest) -> int:
    """The request's seed, or one derived from the brief so the same brief looks the same."""
    if request.seed is not None:
        return request.seed
    return int.from_bytes(hashlib.sha256(request.brief.encode()).digest()[:4], "big")


def prompts_for(script: Script, request: VideoRequest, words_per_minute: int = 150) -> list[ImagePrompt]:
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
            search_terms=tuple(scene.search_terms),
            narration=scene.narration,
            # the voice runs alongside, so the scene's length is what its words take at the narration's pace
            seconds=round(scene.word_count * 60 / words_per_minute + PAUSE_S, 2),
        )
        for scene in script.scenes
    ]


def draw_stills(
    script: Script, request: VideoRequest, job: JobStore, provider_name: str, reason: str = "", warnings=()
) -> Visuals:
    """Every scene from one provider (with slides for what it leaves), never animated: the fallback, tests, benches."""
    chain = list(dict.fromkeys([provider_name, FALLBACK]))
    return draw_visuals(script, request, job, chain, reason, warnings, motion=False)


def draw_visuals(
    script: Script, request: VideoRequest, job: JobStore, chain: list[str], reason: str = "", warnings=(),
    motion: bool = True,
) -> Visuals:  # fmt: skip
    started = time.perf_counter()
    settings = get_settings()
    # stills are larger than the frame so the Ken Burns camera has room to move
    size = overscan_size(*request.size)
    prompts = prompts_for(script, request, settings.words_per_minute)
    providers = [get_image_provider(name) for name in chain]  # an unknown name fails before any file is written
    own = _own_media(request, job, prompts)
    progress.report("visuals", 0.05, f"{len(script.scenes)} scenes from {', '.join(chain)}")
    served = serve_scenes(
        providers, [p for p in prompts if p.index not in own], size, job.path(IMAGES_DIR), required=request.visuals_required
    )
    found = {media.index: (media, name) for media, name in zip(served.media, served.providers)}
    found.update({index: (media, OWN_MEDIA) for index, media in own.items()})
    if motion:  # stills made to move, or clips made from the prompts, where AURA_MOTION_MODEL says
        moving = animate({i: media for i, (media, _) in found.items()}, prompts, request.size, job.path(IMAGES_DIR),
                         MotionSettings(), required=request.visuals_required)  # fmt: skip
        found.update({index: (media, MOTION) for index, media in moving.media.items()})
        warnings = [*warnings, *moving.warnings]
    scenes = [_published(job, *found[prompt.index], request) for prompt in prompts]
    if len(request.media) > len(prompts):
        warnings = [*warnings, f"media[{len(prompts)}] and after were not used: the script has {len(prompts)} scenes"]
    used = list(dict.fromkeys(scene.provider for scene in scenes))
    progress.report("visuals", 1.0, f"{len(scenes)} scenes: {_tally(scenes)}")
    return Visuals(
        job_id=job.job_id, scenes=scenes, size=size, provider="+".join(used),
        reason="; ".join(filter(None, [reason, *served.notes])), warnings=[*warnings, *served.warnings],
        elapsed_s=time.perf_counter() - started,
    )  # fmt: skip


def _own_media(request: VideoRequest, job: JobStore, prompts: list[ImagePrompt]) -> dict[int, SceneMedia]:
    """The request's own file for each scene that has one, copied into the job."""
    files = media_files(request, job.store)
    own = {}
    folder = job.path(IMAGES_DIR)
    for prompt in prompts:
        source = files.get(prompt.index)
        if source is None:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"scene_{prompt.index:03d}{source.suffix.lower()}"
        shutil.copyfile(source, target)
        kind = "clip" if source.suffix.lower() in CLIP_EXTENSIONS else "still"
        own[prompt.index] = SceneMedia(prompt.index, target, kind, keep_audio=request.clip_audio)
    return own


def _published(job: JobStore, media: SceneMedia, provider: str, request: VideoRequest) -> SceneVisual:
    """A scene's file in the job's store, probed: a clip's length and sound, checked to hold a picture."""
    key = f"{IMAGES_DIR}/{media.path.name}"
    seconds, has_audio = 0.0, False
    max_pixels = get_settings().max_image_pixels
    if media.kind == "clip":
        try:
            info = probe(media.path)
        except MediaError as exc:
            raise MediaError(f"{provider}'s clip for scene {media.index + 1} cannot be read: {exc}") from None
        if not info.of_kind("video") or info.duration <= 0:
            raise MediaError(f"{provider}'s clip for scene {media.index + 1} has no picture")
        frame = info.of_kind("video")[0]
        check_frame(frame.width, frame.height, f"{provider}'s clip for scene {media.index + 1}", max_pixels)
        seconds, has_audio = info.duration, bool(info.of_kind("audio"))
    else:  # read from its header: a picture too large to decode is refused before the composition opens it
        check_picture(media.path, f"{provider}'s picture for scene {media.index + 1}", max_pixels)
    keep = has_audio and (media.keep_audio or (provider == LIBRARY and request.clip_audio))
    return SceneVisual(
        index=media.index, media=job.publish(key), kind=media.kind, seconds=seconds, has_audio=has_audio,
        keep_audio=keep, provider=provider, credit=media.credit,
    )  # fmt: skip


def _tally(scenes: list[SceneVisual]) -> str:
    counts: dict[str, int] = {}
    for scene in scenes:
        label = f"{scene.kind}s from {scene.provider}"
        counts[label] = counts.get(label, 0) + 1
    return ", ".join(f"{count} {label}" for label, count in counts.items())


def _media_digests(request: VideoRequest, settings: Settings, store_url: str | None) -> dict[int, str] | str:
    """The request's own files by content: a file changed under the same name is new media."""
    try:
        return {i: file_digest(p) for i, p in media_files(request, ArtifactStore(settings.store_url(store_url))).items()}
    except Exception as exc:  # noqa: BLE001 - unreadable now: the stage itself will say why
        return f"unreadable: {exc}"


def _cache_inputs_of(chain: Callable[[Settings], list[str]]):
    """What makes the visuals: each scene's prompt, phrase, search terms and words, the look asked for,
    the request's own media by content, and every provider of the chain with its settings."""

    def cache_inputs(inputs: dict, settings: Settings) -> dict:
        script, request = inputs["script"], inputs["request"]
        return {
            "script": {"title": script.title, "scenes": [
                [s.visual_prompt, s.key_phrase, s.search_terms, s.narration] for s in script.scenes
            ]},
            "request": {**request.model_dump(mode="json", include={"style", "aspect", "resolution", "language",
                                                                     "visuals_required", "clip_audio"}),
                        "seed": base_seed(request), "media": _media_digests(request, settings, inputs.get("store_url"))},
            "images": chain_output_settings(chain(settings), settings),
            "motion": motion.output_settings() if (motion := MotionSettings()).model else None,
        }  # fmt: skip

    return cache_inputs


SOURCES = ("aura.stages.visuals", "aura.providers.images")
CHECKPOINT = StageCachePolicy(
    stage="visuals", inputs=_cache_inputs_of(lambda settings: image_chain(settings)[0]), sources=SOURCES
)
FALLBACK_CHECKPOINT = StageCachePolicy(
    stage="visuals-fallback", inputs=_cache_inputs_of(lambda settings: [FALLBACK]), sources=SOURCES
)


@task(
    name="visuals", retries=2, retry_delay_seconds=backoff(2, 2), timeout_seconds=300, retry_condition_fn=worth_retrying,
    cache_policy=CHECKPOINT, **PERSISTED,
)  # fmt: skip
def visuals_task(script: Script, request: VideoRequest, store_url: str, job_id: str) -> Visuals:
    with supervised() as scope, spend.tally(scope.task_run_id) as bill:
        chain, reason = image_chain(get_settings())
        visuals = draw_visuals(script, request, open_job(store_url, job_id), chain, reason)
    return visuals.model_copy(update={"spend": bill})


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
