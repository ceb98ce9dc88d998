"""Checkpoints: each stage's output is a Prefect result, found again by a key over what made it.

A stage's cache key hashes three things and nothing else:

- the inputs that change its output: the fields of the request it reads (the
  voice stage reads `voice` and `language`, not `style`), the upstream outputs
  (files by sha256), the documents and music it reads (by content);
- the settings that change its output (the LLM chain, the TTS chain, the
  Stable Diffusion model and steps, the encoder), never secrets or timeouts;
- the source of the modules that hold its logic, so new code recomputes.

The run id, the job id and the store are not in it: a new run with the same
request, or a retry of a failed run, finds the finished stages. Changing only
the voice re-runs voice and composition, not script or visuals.

A cached output points at files of the job that made it. Before it is used
those files are checked (present, same size, same sha256) and linked into the
current job; a missing or changed file makes the checkpoint a miss, and the
stage runs again.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from prefect.cache_policies import CachePolicy

from aura import __version__
from aura.errors import AuraError
from aura.models import Composition, Narration, Script, VideoRequest, Visuals
from aura.options import PipelineOptions
from aura.providers.images.registry import FALLBACK, choose_image_provider
from aura.settings import Settings, get_settings
from aura.stages.inputs import music_file, reference_files
from aura.store import ArtifactStore, JobStore, sha256_of

# how every checkpointed stage task persists its output: JSON, readable, and never unpickled from shared storage
PERSISTED = {"persist_result": True, "result_serializer": "json"}

# the modules (or packages) whose source makes each stage's output
_SOURCES: dict[str, tuple[str, ...]] = {
    "script": ("aura.stages.script", "aura.providers.llm", "aura.providers.rag"),
    "voice": ("aura.stages.voice", "aura.providers.tts", "aura.media.audio"),
    "visuals": ("aura.stages.visuals", "aura.providers.images"),
    "visuals-fallback": ("aura.stages.visuals", "aura.providers.images"),
    "compose": ("aura.stages.compose", "aura.media"),
}
_COMMON_SOURCES = ("aura.models",)


@functools.lru_cache(maxsize=None)
def source_digest(stage: str) -> str:
    """sha256 over the source files of the stage's modules (read once per process)."""
    digest = hashlib.sha256(__version__.encode())
    for name in (*_SOURCES[stage], *_COMMON_SOURCES):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        files = sorted(origin.parent.rglob("*.py")) if spec.submodule_search_locations else [origin]
        for file in files:
            digest.update(file.as_posix().rsplit("/aura/", 1)[-1].encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def _file_digest(path: str | Path) -> str:
    path = Path(path).expanduser()
    try:
        return sha256_of(path)
    except OSError:
        return f"unreadable:{path}"  # the brief stage has already refused a missing file


def _documents_digest(request: VideoRequest, settings: Settings, store_url: str | None) -> list[list[str]]:
    """Each reference document by its name and content: editing a note re-writes the script."""
    try:
        files = reference_files(request, settings, ArtifactStore(settings.store_url(store_url)))
    except AuraError as exc:  # the brief stage has refused it already; a key all the same
        return [["unreadable", str(exc)]]
    return [[file.source, file.origin, _file_digest(file.path)] for file in files]


def _music_digest(request: VideoRequest, store_url: str | None, settings: Settings) -> str | None:
    try:
        music = music_file(request, ArtifactStore(settings.store_url(store_url)))
    except AuraError as exc:
        return f"unreadable: {exc}"
    return _file_digest(music) if music else None


def _script_inputs(request: VideoRequest, store_url: str | None, settings: Settings) -> dict:
    return {
        "request": request.model_dump(
            mode="json", include={"brief", "title", "audience", "style", "duration_seconds", "language"}
        ),
        "references": _documents_digest(request, settings, store_url),
        "settings": {
            "llm_chain": settings.llm_chain,
            "llm_api_base": settings.llm_api_base,
            "words_per_minute": settings.words_per_minute,
            "reference_top_k": settings.reference_top_k,
        },
    }


def _narration_text(script: Script) -> dict:
    return {"language": script.language, "scenes": [scene.narration for scene in script.scenes]}


def _voice_inputs(script: Script, request: VideoRequest, settings: Settings) -> dict:
    return {
        "script": _narration_text(script),
        "request": request.model_dump(mode="json", include={"language", "voice", "duration_seconds"}),
        "settings": {"tts_provider": settings.tts_provider, "gtts_tld": settings.gtts_tld},
    }


def _visuals_inputs(script: Script, request: VideoRequest, settings: Settings, provider: str) -> dict:
    from aura.stages.visuals import base_seed

    images: dict[str, Any] = {"provider": provider}
    if provider == "stable-diffusion":
        images.update(
            model=settings.sd_model, steps=settings.sd_steps, guidance=settings.sd_guidance, base_size=settings.sd_base_size
        )
    return {
        "script": {
            "title": script.title,
            "scenes": [[s.visual_prompt, s.key_phrase] for s in script.scenes],
        },
        "request": {**request.model_dump(mode="json", include={"style", "aspect", "resolution", "language"}),
                    "seed": base_seed(request)},
        "images": images,
    }  # fmt: skip


def _compose_inputs(
    request: VideoRequest, script: Script, narration: Narration, visuals: Visuals, options: PipelineOptions,
    store_url: str | None, settings: Settings,
) -> dict:  # fmt: skip
    return {
        "request": request.model_dump(mode="json", exclude={"fresh", "references"}),
        "music": _music_digest(request, store_url, settings),
        "script": _narration_text(script),
        "narration": narration.model_dump(mode="json", exclude={"job_id", "elapsed_s", "warnings", "provider", "voice"}),
        "visuals": [visuals.size, [ref.sha256 for ref in visuals.images]],
        "render": {
            "x264_preset": options.x264_preset or settings.x264_preset,
            "crf": options.crf if options.crf is not None else settings.crf,
            "ken_burns": options.ken_burns,
            "karaoke": options.karaoke,
        },
    }


def cache_inputs(stage: str, inputs: dict[str, Any], settings: Settings) -> dict:
    """What of a stage's inputs and settings makes its output (see the module docstring)."""
    if stage == "script":
        return _script_inputs(inputs["request"], inputs.get("store_url"), settings)
    if stage == "voice":
        return _voice_inputs(inputs["script"], inputs["request"], settings)
    if stage == "visuals":
        return _visuals_inputs(inputs["script"], inputs["request"], settings, choose_image_provider(settings)[0])
    if stage == "visuals-fallback":
        return _visuals_inputs(inputs["script"], inputs["request"], settings, FALLBACK)
    if stage == "compose":
        keys = ("request", "script", "narration", "visuals", "options")
        return _compose_inputs(*(inputs[k] for k in keys), inputs.get("store_url"), settings)
    raise ValueError(f"no checkpoint rule for stage {stage!r}")


def cache_key(stage: str, inputs: dict[str, Any], settings: Settings | None = None) -> str:
    """The stage's key: readable prefix, then sha256 of its inputs, settings and source."""
    settings = settings or get_settings()
    material = {"inputs": cache_inputs(stage, inputs, settings), "source": source_digest(stage)}
    blob = json.dumps(material, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return f"{stage}-{hashlib.sha256(blob).hexdigest()}"


@dataclass
class StageCachePolicy(CachePolicy):
    """Prefect cache policy that keys a stage's result with `cache_key`."""

    stage: str = ""

    def compute_key(self, task_ctx, inputs, flow_parameters, **kwargs) -> str | None:
        return cache_key(self.stage, inputs or {})


Output = TypeVar("Output", Narration, Visuals, Composition)


def reuse(output: Output, job: JobStore) -> Output | None:
    """A cached output made usable in `job`: its files checked and linked in; None when they are gone or changed."""
    source = job.store.job(output.job_id) if output.job_id and output.job_id != job.job_id else job
    try:
        for ref in output.media():
            if not job.adopt(ref, source):
                return None
    except (AuraError, OSError):
        return None
    return output.model_copy(update={"job_id": job.job_id})
