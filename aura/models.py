"""The data that moves between stages.

Every stage takes and returns these pydantic models. Media is referenced by
key inside the job's artifact store (with size and sha256), never by an
absolute path of one machine and never as bytes in memory.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aura.input_rules import InputRefused, check, is_local_caller, shown_entry
from aura.languages import detect_language
from aura.spend import Spend
from aura.words import MAX_SEARCH_TERMS, SEARCH_TERM_CHARS, search_terms_from

Style = Literal["documentary", "explainer", "promo", "tutorial", "story"]
Aspect = Literal["16:9", "9:16", "1:1"]
Resolution = Literal["720p", "1080p"]
Fps = Literal[24, 25, 30, 60]

BRIEF_MAX_CHARS = 4000
DURATION_MIN_S = 10
DURATION_MAX_S = 1200
REFERENCE_EXTENSIONS = (".txt", ".md", ".markdown", ".rst", ".pdf")
MAX_REFERENCES = 20
MUSIC_EXTENSIONS = (".mp3", ".wav", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".flac")
STILL_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")
CLIP_EXTENSIONS = (".mp4", ".mov", ".m4v", ".webm", ".mkv")
MAX_SCENE_MEDIA = 300
MAX_INPUT_CHARS = 1000  # one entry of references or music: a path, an upload ref or a store key
SECONDS_PER_SCENE = 6  # a script has about one scene this often (scene_count_for)
MAX_SCENES = 40

# Short side of the frame per resolution; the aspect decides the long side.
_SHORT_SIDE = {"720p": 720, "1080p": 1080}
# BCP-47: a 2-3 letter language, then optional script/region/variant subtags.
_BCP47 = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
# a voice is a name from an engine's list, never a path: no "/", "\\" or "..", and no leading "."
_VOICE = re.compile(r"^(?!.*\.\.)[A-Za-z0-9_-][A-Za-z0-9_.+-]{0,99}$")  # "+": mixes such as Kokoro's bf_emma+am_adam
# terminal escape sequences (colors, titles) pasted with a brief: drop them whole, not just the ESC
_ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?)")


def clean_text(value: str) -> str:
    """Drop control characters (keeping line breaks as spaces or newlines) and trim.

    Control characters have no business in a narration and would corrupt
    subtitle files, so they are removed rather than rejected.
    """
    value = _ANSI_ESCAPE.sub("", value)
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    kept = []
    for ch in value:
        if ch == "\n":
            kept.append(ch)
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") and ch not in ("\u200d", "\u200c"):
            # Cf (format) covers bidi overrides and zero-width tricks; ZWJ/ZWNJ are
            # kept because some scripts (Persian, Indic, emoji) need them.
            continue
        else:
            kept.append(ch)
    lines = [" ".join(line.split()) for line in "".join(kept).split("\n")]
    return "\n".join(line for line in lines if line).strip()


def _check_source(field: str, text: str):
    """Where an input file comes from, when this run may read it (aura.input_rules); the error names the field."""
    try:
        return check(text)
    except InputRefused as exc:
        raise ValueError(f"{field}: {exc}") from None


def scene_count_for(duration_seconds: float) -> int:
    """About one scene every six seconds: 60 s gives 10, 20 s gives 3; at most 40 (the script stage's count,
    here without Prefect so that aura.eta can size a run before its script exists)."""
    return max(2, min(MAX_SCENES, round(duration_seconds / SECONDS_PER_SCENE)))


def frame_size(aspect: str, resolution: str) -> tuple[int, int]:
    """Output (width, height) for an aspect and resolution: 9:16 at 720p is 720x1280."""
    short = _SHORT_SIDE[resolution]
    long = short * 16 // 9
    return {"16:9": (long, short), "9:16": (short, long), "1:1": (short, short)}[aspect]


class VideoRequest(BaseModel):
    """What a user asks for. Also the flow's parameter, so Prefect renders it as a form."""

    model_config = ConfigDict(extra="forbid", title="Video request")

    brief: str = Field(
        description="What the video is about, in plain words (1 to 4,000 characters).",
        examples=["A 2-minute explainer on how volcanoes form, for teenagers"],
    )
    title: str | None = Field(default=None, description="Title; written from the brief when empty (at most 120 characters).")
    audience: str | None = Field(default=None, description="Who it is for (at most 200 characters).")
    style: Style = Field(default="explainer", description="Tone and look.")
    duration_seconds: int = Field(
        default=60, ge=DURATION_MIN_S, le=DURATION_MAX_S, description="Target length in seconds (10 to 1,200)."
    )
    aspect: Aspect = Field(default="16:9", description="Frame shape: 16:9 landscape, 9:16 portrait, 1:1 square.")
    resolution: Resolution = Field(default="720p", description="720p or 1080p (the short side of the frame).")
    fps: Fps = Field(default=30, description="Frames per second.")
    language: str = Field(
        default="en",
        description="BCP-47 language tag of the narration, e.g. en, en-US, fr, pt-BR; "
        "left at en, a brief plainly written in another language sets it.",
    )
    voice: str | None = Field(default=None, description="Voice id of the TTS engine (`aura voices` lists them).")
    music: str | None = Field(
        default=None,
        description="Background music, ducked under the narration: an upload's ref (upload:...), a store key "
        "(store:<job>/<key>), or a path (the `aura` command, or inside AURA_INPUT_ROOTS).",
    )
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1, description="Seed for visuals and layout (0 to 4294967295).")
    visuals_required: bool = Field(
        default=False, description="Fail the run if the configured visuals provider fails, instead of falling back to slides."
    )
    references: list[str] = Field(
        default_factory=list,
        max_length=MAX_REFERENCES,
        description="Reference documents for the script (.txt, .md, .rst or .pdf, at most 20): upload refs "
        "(upload:...), store keys (store:<job>/<key>), or paths of files and folders (the `aura` command, or inside "
        "AURA_INPUT_ROOTS).",
    )
    media: list[str] = Field(
        default_factory=list,
        max_length=MAX_SCENE_MEDIA,
        description="Your own image or clip for each scene, in scene order (an empty entry leaves a scene to the "
        "visuals providers): upload refs (upload:...), store keys (store:<job>/<key>), or paths (the `aura` command, "
        f"or inside AURA_INPUT_ROOTS); {', '.join(STILL_EXTENSIONS + CLIP_EXTENSIONS)}.",
    )
    clip_audio: bool = Field(
        default=False,
        description="Keep the sound of your own clips (media and AURA_MEDIA_LIBRARY), mixed under the narration; "
        "stock clips are always silent.",
    )
    fresh: bool = Field(
        default=False,
        description="Run every stage again instead of reusing the checkpoints of an earlier run with the same inputs.",
    )
    review_script: bool = Field(
        default=False,
        description="Pause after the script until a person has read and edited it (in the Prefect UI's resume form, "
        "the gateway's page or API, or `aura generate --review`); the video speaks the edited scenes.",
    )
    publish: bool = Field(
        default=True,
        description="Publish the video where AURA_PUBLISH says (YouTube, the webhook); false keeps this one unpublished.",
    )
    max_cost_usd: float | None = Field(
        default=None, ge=0, le=10_000,
        description="The most this video may cost in paid services (LLM, speech, stock, GPU), in USD: a run whose "
        "estimate is higher is refused before any paid call. Unset: no limit.",
    )  # fmt: skip

    @field_validator("brief", mode="before")
    @classmethod
    def _clean_brief(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        cleaned = clean_text(value)
        if not cleaned:
            raise ValueError("brief is empty: write 1 to 4,000 characters describing the video")
        if len(cleaned) > BRIEF_MAX_CHARS:
            raise ValueError(f"brief is {len(cleaned):,} characters: the limit is {BRIEF_MAX_CHARS:,}")
        return cleaned

    @field_validator("title", "audience", mode="before")
    @classmethod
    def _clean_short_text(cls, value: object, info) -> object:
        if value is None or not isinstance(value, str):
            return value
        cleaned = " ".join(clean_text(value).split())
        limit = 120 if info.field_name == "title" else 200
        if len(cleaned) > limit:
            raise ValueError(f"{info.field_name} is {len(cleaned)} characters: the limit is {limit}")
        return cleaned or None

    @field_validator("language")
    @classmethod
    def _check_language(cls, value: str) -> str:
        value = value.strip().replace("_", "-")
        if not _BCP47.match(value):
            sent = f" {value[:40]!r}" if is_local_caller() else ""  # echoed to the local command's own user only
            raise ValueError(f"language{sent} is not a BCP-47 tag such as en, en-US, fr or pt-BR")
        primary, *rest = value.split("-")
        # canonical case: language lower, region upper, script title
        parts = [primary.lower()]
        for sub in rest:
            parts.append(sub.upper() if len(sub) == 2 else sub.title() if len(sub) == 4 else sub.lower())
        return "-".join(parts)

    @field_validator("voice")
    @classmethod
    def _check_voice(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not _VOICE.match(value):
            raise ValueError(
                "voice must be a voice name of 1 to 100 letters, digits, '-', '_', '+' or '.' (not first), never a path: "
                "pick one from GET /api/voices or `aura voices`"
            )
        return value

    @model_validator(mode="after")
    def _language_of_the_brief(self) -> VideoRequest:
        # "en" is the default: a Spanish brief with no language asked for is a Spanish video
        if self.language == "en" and (found := detect_language(self.brief)) not in (None, "en"):
            self.language = found
        return self

    @field_validator("music")
    @classmethod
    def _check_music(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if len(value) > MAX_INPUT_CHARS:
            raise ValueError(f"music is {len(value):,} characters long: the limit is {MAX_INPUT_CHARS:,}")
        if not value.lower().endswith(MUSIC_EXTENSIONS):
            raise ValueError(f"music must be an audio file ({', '.join(MUSIC_EXTENSIONS)})")
        _check_source("music", value)
        return value

    @field_validator("references")
    @classmethod
    def _check_references(cls, value: list[str]) -> list[str]:
        # where each may be read from is checked here; whether it exists and is a document, by the brief stage
        cleaned = [entry.strip() for entry in value if entry.strip()]
        for index, entry in enumerate(cleaned):
            field = f"references[{index}]"
            if len(entry) > MAX_INPUT_CHARS:
                raise ValueError(f"{field} is {len(entry):,} characters long: the limit is {MAX_INPUT_CHARS:,}")
            source = _check_source(field, entry)
            if source.kind != "path" and source.suffix not in REFERENCE_EXTENSIONS:
                raise ValueError(f"{field}: {shown_entry(entry)} is not a document: accepted are {', '.join(REFERENCE_EXTENSIONS)}")
        return cleaned

    @field_validator("media")
    @classmethod
    def _check_media(cls, value: list[str]) -> list[str]:
        # where each may be read from is checked here; whether it exists and is a picture or a clip, by the brief stage
        cleaned = [entry.strip() for entry in value]
        for index, entry in enumerate(cleaned):
            if not entry:
                continue
            field = f"media[{index}]"
            if len(entry) > MAX_INPUT_CHARS:
                raise ValueError(f"{field} is {len(entry):,} characters long: the limit is {MAX_INPUT_CHARS:,}")
            if not entry.lower().endswith(STILL_EXTENSIONS + CLIP_EXTENSIONS):
                raise ValueError(f"{field}: {shown_entry(entry)} is not an image or a clip: accepted are "
                                 f"{', '.join(STILL_EXTENSIONS + CLIP_EXTENSIONS)}")  # fmt: skip
            _check_source(field, entry)
        while cleaned and not cleaned[-1]:
            cleaned.pop()
        return cleaned

    @field_validator("fps", mode="before")
    @classmethod
    def _fps_from_text(cls, value: object) -> object:
        # CLI and form inputs arrive as text; the Literal needs the integer
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        return value

    @property
    def size(self) -> tuple[int, int]:
        return frame_size(self.aspect, self.resolution)


class MediaRef(BaseModel):
    """A file inside a job's artifact store: key relative to the job folder."""

    key: str
    size: int
    sha256: str


class SceneSource(BaseModel):
    """Where a scene's narration comes from: a reference document, and its page for a PDF."""

    document: str = Field(max_length=300)
    page: int | None = Field(default=None, ge=1)


class Scene(BaseModel):
    index: int = Field(default=0, ge=0)
    narration: str
    visual_prompt: str
    key_phrase: str
    sources: list[SceneSource] = Field(
        default_factory=list, description="The reference documents the narration is taken from (the offline writer credits them)."
    )
    search_terms: list[str] = Field(
        default_factory=list,
        description=f"Stock-library queries for the scene's visuals, best first (at most {MAX_SEARCH_TERMS}); "
        "from the key phrase when the writer gives none.",
    )

    @field_validator("narration", "visual_prompt", "key_phrase")
    @classmethod
    def _not_empty(cls, value: str, info) -> str:
        value = " ".join(clean_text(value).split())
        if not value:
            raise ValueError(f"scene {info.field_name} is empty")
        return value

    @field_validator("sources", mode="before")
    @classmethod
    def _usable_sources(cls, value: object) -> object:
        # credits are optional: a model's malformed ones are left out rather than failing the script
        if not isinstance(value, list):
            return []
        return [s for s in value if isinstance(s, dict) and isinstance(s.get("document"), str) and s["document"].strip()
                and (s.get("page") is None or isinstance(s.get("page"), int) and s["page"] >= 1)]

    @field_validator("search_terms", mode="before")
    @classmethod
    def _clean_terms(cls, value: object) -> object:
        if isinstance(value, str):  # a model may answer "coral reef, fish"
            value = value.split(",")
        if not isinstance(value, list):
            return value
        terms = (" ".join(clean_text(str(term)).split())[:SEARCH_TERM_CHARS] for term in value)
        return list(dict.fromkeys(term for term in terms if term))[:MAX_SEARCH_TERMS]

    @model_validator(mode="after")
    def _terms_from_phrase(self) -> Scene:
        if not self.search_terms:
            self.search_terms = search_terms_from(self.key_phrase, self.visual_prompt)
        return self

    @property
    def word_count(self) -> int:
        return len(self.narration.split())


class ReferenceSource(BaseModel):
    """A passage of a reference document that was put into the script prompt."""

    source: str = Field(description="The document's name: its file name, an upload's name, or a store key.")
    chunk: int = Field(ge=0, description="Passage number inside the document.")
    score: float = Field(description="Similarity to the brief (cosine for embeddings).")
    excerpt: str = Field(description="The passage's first words.")
    origin: Literal["request", "operator"] = Field(
        default="request", description="request: a document the request named; operator: one of AURA_REFERENCE_DIR."
    )
    page: int | None = Field(default=None, ge=1, description="The PDF page the passage starts on.")


class Script(BaseModel):
    title: str
    scenes: list[Scene] = Field(min_length=1)
    language: str = "en"
    writer: str = Field(default="", description="The model that wrote it.")
    sources: list[ReferenceSource] = Field(default_factory=list, description="Reference passages given to the writer.")
    warnings: list[str] = Field(default_factory=list, description="Models that failed before the writer served, and why.")
    spend: Spend = Field(default_factory=Spend, description="What writing it cost: LLM tokens and their price.")

    @model_validator(mode="after")
    def _renumber(self) -> Script:
        for i, scene in enumerate(self.scenes):
            scene.index = i
        return self

    @property
    def word_count(self) -> int:
        return sum(s.word_count for s in self.scenes)


class WordTiming(BaseModel):
    text: str
    start: float
    end: float


class SceneTiming(BaseModel):
    index: int
    start: float = Field(description="Scene start on the video timeline, seconds.")
    end: float
    speech_end: float = Field(description="When the narration of this scene stops (before the pause).")
    words: list[WordTiming] = Field(default_factory=list, description="Absolute word times.")

    @property
    def duration(self) -> float:
        return self.end - self.start


class Narration(BaseModel):
    job_id: str = Field(default="", description="The job whose folder holds the audio.")
    audio: MediaRef
    duration: float
    sample_rate: int
    scenes: list[SceneTiming]
    provider: str
    voice: str
    warnings: list[str] = Field(default_factory=list)
    elapsed_s: float = 0.0
    spend: Spend = Field(default_factory=Spend, description="What speaking it cost: paid engines' characters.")

    def media(self) -> list[MediaRef]:
        return [self.audio]


class MediaCredit(BaseModel):
    """Who made a scene's found media and where it lives (metadata.json's `credits`)."""

    provider: str
    media_id: str
    page_url: str = ""
    author: str = ""
    author_url: str = ""
    license: str = ""


class SceneVisual(BaseModel):
    """One scene's still or clip, with who served it."""

    index: int
    media: MediaRef
    kind: Literal["still", "clip"] = "still"
    seconds: float = Field(default=0.0, description="A clip's own length (0 for a still).")
    has_audio: bool = Field(default=False, description="The clip has a sound track.")
    keep_audio: bool = Field(default=False, description="Its sound goes under the narration (else it is dropped).")
    provider: str = ""
    credit: MediaCredit | None = None


class Visuals(BaseModel):
    job_id: str = Field(default="", description="The job whose folder holds the images and clips.")
    scenes: list[SceneVisual]
    size: tuple[int, int] = Field(description="The size stills are drawn at (larger than the frame, for camera moves).")
    provider: str = Field(description="Who served the scenes: one provider, or several joined by '+', in chain order.")
    reason: str = Field(default="", description="Why these providers served (configured, or a fallback and why).")
    warnings: list[str] = Field(default_factory=list)
    elapsed_s: float = 0.0
    spend: Spend = Field(default_factory=Spend, description="What drawing them cost: stock API calls, GPU seconds.")

    @property
    def images(self) -> list[MediaRef]:
        """Each scene's file, still or clip, in scene order."""
        return [scene.media for scene in self.scenes]

    def media(self) -> list[MediaRef]:
        return self.images


class Composition(BaseModel):
    """What the compose stage rendered: the files a user watches, before metadata.json describes them."""

    job_id: str = Field(default="", description="The job whose folder holds the files.")
    video: MediaRef
    subtitles: MediaRef
    thumbnail: MediaRef
    timeline: MediaRef | None = Field(default=None, description="timeline.otio: the edit, for any editor.")
    ffmpeg: str = Field(default="", description="The ffmpeg version line.")
    elapsed_s: float = 0.0

    def media(self) -> list[MediaRef]:
        return [self.video, self.subtitles, self.thumbnail, *([self.timeline] if self.timeline else [])]


class Publication(BaseModel):
    """Where the publish stage put the video (metadata.json's `published`)."""

    urls: dict[str, str] = Field(default_factory=dict, description="Each target's address of the video: youtube.")
    warnings: list[str] = Field(default_factory=list)
    elapsed_s: float = 0.0


class BriefReport(BaseModel):
    """What the brief stage checked: the machine can render this request."""

    ffmpeg: str
    ffmpeg_version: str
    estimated_output_bytes: int
    free_disk_bytes: int
    available_memory_bytes: int
    estimated_cost_usd: float | None = Field(default=None, description="The run's cost estimate, when max_cost_usd asked.")
    warnings: list[str] = Field(default_factory=list)
    elapsed_s: float = 0.0


class StageReport(BaseModel):
    """One stage of one run, as the run summary and metadata.json show it."""

    status: str = Field(description="completed, cached, failed, timed out, cancelled or not run.")
    state: str | None = Field(
        default=None, description="The Prefect state its task run ended in: Completed, Cached, Failed, TimedOut, Crashed..."
    )
    attempts: int = Field(default=0, description="Times the stage ran in this run (0 when its checkpoint was reused).")
    seconds: float = Field(default=0.0, description="Wall time of the stage in this run, all attempts.")
    cpu_seconds: float | None = Field(default=None, description="CPU time of the process and its children during the stage.")
    peak_memory_bytes: int | None = Field(default=None, description="Peak memory of the process and the stage's children.")
    provider: str | None = Field(default=None, description="Who served the stage (model, engine, ffmpeg).")
    cached: bool = False
    cached_from: str | None = Field(default=None, description="The job whose checkpoint was reused.")
    error: str | None = None


# the files a user gets, by their keys in the job's folder (metadata.json is written last: the job is complete)
VIDEO_KEY, SRT_KEY, THUMB_KEY, META_KEY = "video.mp4", "subtitles.srt", "thumbnail.jpg", "metadata.json"
TIMELINE_KEY = "timeline.otio"


class RenderedVideo(BaseModel):
    """The finished job: every file a user gets, by key and by local path."""

    job_id: str
    folder: str
    video: MediaRef
    subtitles: MediaRef
    thumbnail: MediaRef
    metadata: MediaRef
    duration: float
    width: int
    height: int
    flow_run_id: str | None = None
    stage_seconds: dict[str, float] = Field(default_factory=dict)
    stages: dict[str, StageReport] = Field(default_factory=dict, description="The run summary, stage by stage.")
    providers: dict[str, str] = Field(default_factory=dict, description="Who served each stage: llm, tts, images, ...")
    published: dict[str, str] = Field(default_factory=dict, description="Where the video was published: youtube.")
    warnings: list[str] = Field(default_factory=list)
    spend: Spend = Field(default_factory=Spend, description="What this run spent on paid services (reused stages: nothing).")

    def paths(self) -> dict[str, str]:
        from pathlib import Path

        base = Path(self.folder)
        return {
            "video": str(base / self.video.key),
            "subtitles": str(base / self.subtitles.key),
            "thumbnail": str(base / self.thumbnail.key),
            "metadata": str(base / self.metadata.key),
        }
