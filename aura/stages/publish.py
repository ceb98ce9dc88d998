"""Stage 6, publish: the finished video uploaded where AURA_PUBLISH says, once per video.

The upload is a Prefect task after the composition, checkpointed like the
other stages: its key is the video's content, what YouTube will show (title,
description, tags, privacy) and the account, so a re-run of a published job,
or a new run that makes the same video, finds the upload instead of making a
second one (`fresh` uploads again). A failed upload leaves the video made:
its reason becomes a warning, the summary shows the stage failed, and the
next run of the job tries again. The webhook is no task: the flow's hooks
announce every ending, failures included (flows/lifecycle.py).
"""

from __future__ import annotations

import json
import time

from prefect import Task, task

from aura import progress
from aura.errors import AuraError
from aura.models import META_KEY, VIDEO_KEY, Composition, Publication, Script, VideoRequest, Visuals
from aura.publishing.webhook import announce, event_payload
from aura.publishing.youtube import VideoListing, YouTubeAccount, upload
from aura.settings import Settings, get_settings
from aura.stages.checkpoints import PERSISTED, StageCachePolicy
from aura.stages.compose import scene_credits
from aura.stages.stage import Stage, open_job, supervised
from aura.store import JobStore, file_url
from aura.supervision import call_interruptibly, checkpoint

NAME = "publish"
UPLOADS = ("youtube",)  # the targets the task serves; the webhook is announced by the hooks
CREDIT_LINES = 20


def targets(request: VideoRequest | dict | None, settings: Settings | None = None) -> list[str]:
    """AURA_PUBLISH, unless the request says `publish: false`."""
    wanted = request.publish if isinstance(request, VideoRequest) else (request or {}).get("publish", True)
    return list((settings or get_settings()).publish) if wanted else []


def listing_for(request: VideoRequest, script: Script, visuals: Visuals, settings: Settings) -> VideoListing:
    """Title, description and tags from the script; the stock media's authors credited, as Pexels and Pixabay ask."""
    opening = " ".join(scene.narration for scene in script.scenes[:2])
    credits = []
    for row in scene_credits(visuals):
        if row.get("author") or row.get("page_url"):
            by = f" by {row['author']}" if row.get("author") else ""
            credits.append(f"Scene {row['scene'] + 1}: {row['kind']}{by} on {row['provider'].title()}"
                           f"{' ' + row['page_url'] if row.get('page_url') else ''}")  # fmt: skip
    extra = len(credits) - CREDIT_LINES
    credits = credits[:CREDIT_LINES] + ([f"...and {extra} more in metadata.json"] if extra > 0 else [])
    description = "\n\n".join(part for part in (opening, "Media credits:\n" + "\n".join(credits) if credits else "",
                                                 "Made with Aura.") if part)  # fmt: skip
    tags = [phrase for scene in script.scenes for phrase in (scene.key_phrase, *scene.search_terms) if phrase]
    return VideoListing(
        title=script.title, description=description, tags=[request.style, *tags], privacy=settings.youtube_privacy,
        category_id=settings.youtube_category_id, language=script.language,
    )  # fmt: skip


def account_for(settings: Settings) -> YouTubeAccount:
    secret = settings.youtube_client_secret.get_secret_value() if settings.youtube_client_secret else ""
    token = settings.youtube_refresh_token.get_secret_value() if settings.youtube_refresh_token else ""
    return YouTubeAccount(client_id=settings.youtube_client_id or "", client_secret=secret, refresh_token=token,
                          api_url=settings.youtube_api_url, token_url=settings.youtube_token_url)  # fmt: skip


def _cache_inputs(inputs: dict, settings: Settings) -> dict:
    """The video by content, what YouTube shows, and the account it goes to (never a secret)."""
    listing = listing_for(inputs["request"], inputs["script"], inputs["visuals"], settings)
    return {"video": inputs["composition"].video.sha256, "listing": listing.resource(),
            "account": [settings.youtube_client_id, settings.youtube_api_url]}  # fmt: skip


CHECKPOINT = StageCachePolicy(stage=NAME, inputs=_cache_inputs, sources=("aura.stages.publish", "aura.publishing"))


@task(name=NAME, retries=0, timeout_seconds=3600, cache_policy=CHECKPOINT, **PERSISTED)
def publish_task(
    request: VideoRequest, script: Script, composition: Composition, visuals: Visuals, store_url: str
) -> Publication:
    """Upload to YouTube with the thumbnail and captions; the client resumes a cut upload and retries 5xx/429 itself
    (a second attempt of the task would open a second upload, so the task has no retries of its own)."""
    settings, started = get_settings(), time.perf_counter()
    job = open_job(store_url, composition.job_id)
    shown = [-1]

    def uploading(fraction: float) -> None:
        checkpoint()  # a cancelled run stops sending between chunks
        if int(fraction * 20) != shown[0]:
            shown[0] = int(fraction * 20)
            progress.report("compose", 1.0, f"uploading to YouTube: {fraction:.0%}")

    with supervised(NAME) as scope:
        done = call_interruptibly(lambda: upload(
            account_for(settings), job.local(composition.video), listing_for(request, script, visuals, settings),
            thumbnail=job.local(composition.thumbnail), captions=job.local(composition.subtitles),
            on_progress=uploading,
        ), timeout_s=scope.remaining_s(), what="the YouTube upload did not finish")  # fmt: skip
    progress.report("compose", 1.0, f"on YouTube: {done.url}")
    return Publication(urls={"youtube": done.url}, warnings=done.warnings, elapsed_s=time.perf_counter() - started)


STAGE = Stage(name=NAME, label="Publish", weight=0, task=publish_task, served_by=lambda p: ", ".join(p.urls) or None)


def publish(
    step: Task, request: VideoRequest, script: Script, composition: Composition, visuals: Visuals, store_url: str
) -> Publication:
    """In the flow, after the composition: the upload (`step`, the run's publish task) when AURA_PUBLISH asks for
    one; its failure is only a warning."""
    if not set(targets(request)) & set(UPLOADS):
        return Publication()
    state = step(request, script, composition, visuals, store_url, return_state=True)
    if state.is_completed():
        return state.result()
    why = " ".join((state.message or state.name).split())[:300]
    return Publication(warnings=[f"the video was not published: {why}"])


def announce_ending(
    request: dict | None, job: JobStore, flow_run_id: str, status: str, error: str | None, stages: tuple[str, ...]
) -> None:  # fmt: skip
    """From the flow's hooks: the webhook's event for how a video's run ended (one with the compose stage: not a
    visuals run on the gpu pool), delivered in the background."""
    settings = get_settings()
    wanted = "compose" in stages and "webhook" in targets(request, settings)
    if not wanted or not settings.webhook_url or not settings.webhook_secret:
        return
    metadata = metadata_of(job) if status == "completed" else {}
    made = status == "completed" and bool(metadata)
    payload = event_payload(
        status if made or status != "completed" else "failed", job_id=job.job_id, flow_run_id=flow_run_id,
        video_url=file_url(job.store.url, job.job_id, VIDEO_KEY) if made else None,
        duration_s=metadata.get("video", {}).get("duration"), published=metadata.get("published"),
        error=error if made or status != "completed" else "the run completed without its metadata.json",
    )  # fmt: skip
    announce(settings.webhook_url, settings.webhook_secret.get_secret_value(), payload)


def metadata_of(job: JobStore) -> dict:
    """The job's metadata.json ({} while there is none)."""
    try:
        return json.loads(job.fetch(META_KEY).read_bytes())
    except (AuraError, OSError, ValueError):
        return {}
