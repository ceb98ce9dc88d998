"""Script review: a run asked to (`review_script`) pauses after its script until a person has read it.

Prefect's own human-in-the-loop: `pause_flow_run(wait_for_input=ScriptReview)`
with the script as the form's initial data, so the Prefect UI shows the
scenes as a form to edit and resume, and the gateway (GET/POST
/api/videos/{id}/script) and `aura generate --review` resume it the same way,
through the server. The edited scenes are what the voice, the visuals and
the subtitles use. The scenes awaiting review are also kept in the job
(review/script.json), and the edits given (review/reviewed.json): a retried
run of the same script is not asked again. A review left alone for
AURA_REVIEW_TIMEOUT_S ends the run, with that said.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from aura import progress
from aura.errors import AuraError
from aura.models import Script, VideoRequest
from aura.settings import get_settings
from aura.stages.stage import current_run_id
from aura.store import JobStore
from aura.supervision import Scope, call_interruptibly
from aura.words import MAX_SEARCH_TERMS, SEARCH_TERM_CHARS

PENDING_KEY, REVIEWED_KEY = "review/script.json", "review/reviewed.json"
MAX_SCENES = 40  # as many as a script has at most (aura.stages.script)
POLL_S = 2  # how often the paused run asks the server whether it was resumed
PAUSE_MARGIN_S = 120

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class ReviewedScene(BaseModel):
    """One scene as a reviewer sees and edits it."""

    model_config = ConfigDict(extra="forbid")

    narration: Annotated[Text, StringConstraints(max_length=1000)] = Field(description="What the voice says.")
    key_phrase: Annotated[Text, StringConstraints(max_length=120)] = Field(description="The words shown on a title card.")
    visual_prompt: Annotated[Text, StringConstraints(max_length=600)] = Field(description="What the picture shows.")
    search_terms: Annotated[
        list[Annotated[Text, StringConstraints(max_length=SEARCH_TERM_CHARS)]], Field(max_length=MAX_SEARCH_TERMS)
    ] = Field(default_factory=list, description=f"Stock-library queries, best first (at most {MAX_SEARCH_TERMS}).")
    media: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = Field(
        default=None, description="Your own image or clip for this scene (an upload ref or store key), or none."
    )


class ScriptReview(RunInput):
    """The script a paused run waits for: edit the scenes, then resume to render them."""

    title: Annotated[Text, StringConstraints(max_length=120)]
    scenes: Annotated[list[ReviewedScene], Field(min_length=1, max_length=MAX_SCENES)]

    @field_validator("scenes")
    @classmethod
    def _media_as_a_request_takes_it(cls, scenes: list[ReviewedScene]) -> list[ReviewedScene]:
        media = [scene.media or "" for scene in scenes]
        if any(media):
            try:
                VideoRequest(brief="review", media=media)
            except ValueError as exc:  # a ValidationError: its first message, named by scene
                raise ValueError(_scene_field(exc)) from None
        return scenes


class ReviewTimedOut(AuraError):
    """Nobody resumed the paused run in time."""


def draft(script: Script, request: VideoRequest) -> ScriptReview:
    """The script as the review form shows it."""
    scenes = [
        ReviewedScene(narration=s.narration, key_phrase=s.key_phrase, visual_prompt=s.visual_prompt,
                      search_terms=s.search_terms, media=(request.media[s.index] or None) if s.index < len(request.media) else None)
        for s in script.scenes
    ]  # fmt: skip
    return ScriptReview(title=script.title, scenes=scenes)


def applied(script: Script, request: VideoRequest, review: ScriptReview) -> tuple[Script, VideoRequest]:
    """The script and request with the reviewer's scenes (their count may differ), and their media."""
    scenes = [
        {"index": i, "narration": s.narration, "key_phrase": s.key_phrase, "visual_prompt": s.visual_prompt,
         "search_terms": s.search_terms}
        for i, s in enumerate(review.scenes)
    ]  # fmt: skip
    edited = Script.model_validate({**script.model_dump(), "title": review.title, "scenes": scenes})
    media = [scene.media or "" for scene in review.scenes]
    return edited, request.model_copy(update={"media": media if any(media) else []})


def review(script: Script, request: VideoRequest, job: JobStore) -> tuple[Script, VideoRequest]:
    """The script as reviewed, when the request asks for a review; as written otherwise."""
    if not request.review_script:
        return script, request
    timeout_s = get_settings().review_timeout_s
    proposed = draft(script, request)
    digest = hashlib.sha256(proposed.model_dump_json().encode()).hexdigest()
    earlier = _earlier_review(job, digest)
    if earlier is not None:  # a retry of a run whose script was reviewed already
        return applied(script, request, earlier)
    job.write_bytes(PENDING_KEY, json.dumps({"digest": digest, **proposed.model_dump(mode="json")}).encode())
    progress.report("script", 1.0, "awaiting review: edit the scenes and resume")
    form = ScriptReview.with_initial_data(
        description=f"**{script.title}**: edit the scenes (what the voice says, the title cards, the pictures), "
        "then resume to render the video.",
        **proposed.model_dump(),
    )  # fmt: skip
    # the wait ends here at timeout_s, before Prefect's pause expires: the run then fails with our reason, not
    # with the server's "never resumed"
    def wait():
        return pause_flow_run(wait_for_input=form, timeout=int(timeout_s) + PAUSE_MARGIN_S, poll_interval=POLL_S)

    try:
        with Scope("script", run_id=current_run_id()):  # a cancellation ends the wait at once
            given = call_interruptibly(wait, timeout_s=timeout_s)
    except (TimeoutError, FlowPauseTimeout):
        raise ReviewTimedOut(
            f"the script review was left for {_duration(timeout_s)} (AURA_REVIEW_TIMEOUT_S): the run ends without a "
            "video; retry it to review the script again"
        ) from None
    reviewed = ScriptReview.model_validate(given.model_dump(include={"title", "scenes"}))
    job.write_bytes(REVIEWED_KEY, json.dumps({"digest": digest, **reviewed.model_dump(mode="json")}).encode())
    progress.report("script", 1.0, "reviewed: rendering the edited script")
    return applied(script, request, reviewed)


def pending(job: JobStore) -> ScriptReview | None:
    """The scenes a paused run waits on (None when it asks for no review)."""
    try:
        data = json.loads(job.fetch(PENDING_KEY).read_text(encoding="utf-8"))
    except (AuraError, OSError, ValueError):
        return None
    data.pop("digest", None)
    return ScriptReview.model_validate(data)


def _earlier_review(job: JobStore, digest: str) -> ScriptReview | None:
    try:
        data = json.loads(job.fetch(REVIEWED_KEY).read_text(encoding="utf-8"))
    except (AuraError, OSError, ValueError):
        return None
    return ScriptReview.model_validate(data) if data.pop("digest", None) == digest else None


def _scene_field(exc: ValueError) -> str:
    errors = getattr(exc, "errors", lambda: [])()
    return as_scene_field(str(errors[0]["msg"]).removeprefix("Value error, ") if errors else str(exc))


def as_scene_field(message: str) -> str:
    """'media[2]: ...' of a request's error, as the review form names it: 'scenes[2].media: ...'."""
    if message.startswith("media["):
        index, _, rest = message[len("media[") :].partition("]")
        return f"scenes[{index}].media{rest}"
    return message


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds:g} s"
