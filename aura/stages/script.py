"""Stage 2, script: a title and scenes sized to the duration, written by an LLM through litellm."""

from __future__ import annotations

import json
import math
import re
import time

from prefect import task
from pydantic import ValidationError

from aura import progress, spend
from aura.errors import ProviderError, ScriptError
from aura.models import Script, VideoRequest, scene_count_for
from aura.providers.llm.client import OFFLINE_MODEL, ModelConfig, complete
from aura.providers.llm.prompts import ScriptBrief, build_messages, repair_messages
from aura.providers.llm.writing.packs import pack_for
from aura.providers.rag import Retrieval, prompt_references, reference_sources, retrieve
from aura.providers.rag.retrieve import PROMPT_CHARS
from aura.settings import Settings, get_settings
from aura.stages.checkpoints import PERSISTED, StageCachePolicy, documents_digest
from aura.stages.stage import Stage, backoff, supervised, worth_retrying
from aura.stages.inputs import reference_files
from aura.store import ArtifactStore
from aura.supervision import call_interruptibly

# narration timeline: a breath before the first scene, a pause between scenes, a beat at the end
LEAD_IN_S = 0.3
SCENE_PAUSE_S = 0.5
TAIL_S = 0.7
WORD_TOLERANCE = 0.20
SUMMARY_CHARS = 60_000  # the most document text the offline writer summarizes (a 20-minute script's worth)
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def speech_seconds_for(duration_seconds: float, scene_count: int) -> float:
    return max(1.0, duration_seconds - LEAD_IN_S - TAIL_S - SCENE_PAUSE_S * (scene_count - 1))


def word_budget_for(duration_seconds: float, scene_count: int, words_per_minute: int) -> int:
    return max(scene_count * 3, round(speech_seconds_for(duration_seconds, scene_count) * words_per_minute / 60))


def spec_for(request: VideoRequest, words_per_minute: int, references: list[dict[str, str]] = ()) -> ScriptBrief:
    scenes = scene_count_for(request.duration_seconds)
    return ScriptBrief(
        brief=request.brief,
        title=request.title,
        audience=request.audience,
        style=request.style,
        language=request.language,
        duration_seconds=request.duration_seconds,
        scene_count=scenes,
        word_budget=word_budget_for(request.duration_seconds, scenes, words_per_minute),
        references=tuple(references),
    )


def parse_script(text: str, spec: ScriptBrief, writer: str) -> Script:
    """An LLM answer as a validated Script; ScriptError says exactly what is wrong."""
    cleaned = text.strip()
    if cleaned.startswith("```"):  # many models wrap JSON in a code fence despite instructions
        cleaned = cleaned.strip("`").removeprefix("json").strip()
    try:
        data = json.loads(cleaned)
    except json.JSONDecodeError:
        match = _JSON_OBJECT.search(cleaned)
        try:
            data = json.loads(match.group(0)) if match else None
        except json.JSONDecodeError:
            data = None
        if data is None:
            raise ScriptError("the answer is not valid JSON") from None
    if not isinstance(data, dict):
        raise ScriptError("the answer is not a JSON object")
    data.setdefault("title", spec.title or "")
    if spec.title:
        data["title"] = spec.title  # the user's title wins over the model's
    try:
        script = Script(title=data["title"] or "Untitled", scenes=data.get("scenes") or [], language=spec.language, writer=writer)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ScriptError(f"scene data is invalid at {where}: {first['msg']}") from None
    validate_script(script, spec)
    return script


def validate_script(script: Script, spec: ScriptBrief) -> None:
    low = max(1, math.floor(spec.scene_count * 0.6))
    high = math.ceil(spec.scene_count * 1.5) + 1
    # in a language without a pack the offline writer narrates the brief as written,
    # so a short brief makes fewer scenes and fewer words than asked
    offline_other_language = script.writer == OFFLINE_MODEL and pack_for(spec.language) is None
    if not low <= len(script.scenes) <= high and not (offline_other_language and len(script.scenes) <= high):
        raise ScriptError(f"{len(script.scenes)} scenes where {spec.scene_count} were asked (accepted {low} to {high})")
    words = script.word_count
    lower, upper = spec.word_budget * (1 - WORD_TOLERANCE), spec.word_budget * (1 + WORD_TOLERANCE)
    if not lower <= words <= upper and not (offline_other_language and words <= upper):
        raise ScriptError(
            f"{words} words where about {spec.word_budget} fit {spec.duration_seconds} s "
            f"(accepted {lower:.0f} to {upper:.0f})"
        )


def model_chain(settings: Settings) -> list[ModelConfig]:
    """The configured models in order; AURA_LLM_API_BASE/KEY belong to the main model."""
    return [
        ModelConfig(name, settings.llm_api_base, settings.llm_api_key) if name == settings.llm_model else ModelConfig(name)
        for name in settings.llm_chain
    ]


def find_references(request: VideoRequest, settings: Settings, store: ArtifactStore | None = None) -> Retrieval | None:
    """The reference passages nearest the brief, from the request's documents and AURA_REFERENCE_DIR.

    A prompt holds about 600 tokens of them. When the offline writer writes first, it summarizes
    the documents instead, so it is given enough of them to fill the duration (three times the
    words it will read, to choose from).
    """
    if not request.references and not settings.reference_dir:
        return None
    files = reference_files(request, settings, store or ArtifactStore(settings.store_url()))
    progress.report("script", 0.05, f"reading {len(files)} reference document(s)")
    query = " ".join(part for part in (request.title, request.brief, request.audience) if part)
    if settings.llm_chain[:1] == [OFFLINE_MODEL]:
        wanted = word_budget_for(request.duration_seconds, scene_count_for(request.duration_seconds), settings.words_per_minute)
        chars = min(SUMMARY_CHARS, max(PROMPT_CHARS, wanted * 6 * 3))
        return retrieve(query, files, top_k=max(settings.reference_top_k, chars // 300), max_chars=chars)
    return retrieve(query, files, top_k=settings.reference_top_k)


def write_script(
    request: VideoRequest, settings: Settings, chain: list[ModelConfig] | None = None, store: ArtifactStore | None = None
) -> Script:
    """Ask the chain of models; an unusable answer gets one repair round, then the next model takes over.

    `store` holds the request's uploaded references (default: AURA_OUTPUT's).
    """
    found = find_references(request, settings, store)
    passages = found.passages if found else []
    spec = spec_for(request, settings.words_per_minute, prompt_references(passages))
    chain = list(chain or model_chain(settings))
    messages = build_messages(spec)
    call = dict(timeout=settings.llm_timeout_s, retries=settings.llm_retries, routing=settings.llm_routing)
    failures: list[str] = []
    notes = list(found.warnings) if found else []
    while chain:
        progress.report("script", 0.1, f"asking {chain[0].model}")
        try:
            # the wait can be interrupted: a cancelled run does not sit out an LLM call's timeout
            answer = call_interruptibly(lambda: complete(messages, chain, **call))
        except ProviderError as exc:
            raise ProviderError(f"{exc}{_earlier(failures)}") from exc
        failures += answer.failures
        names = [c.model for c in chain]
        served = names.index(answer.model) if answer.model in names else 0
        try:
            script = _usable_script(answer.text, messages, spec, chain[served], call)
            warnings = [*notes, *(f"{f}; the script came from {script.writer}" for f in failures)]
            return script.model_copy(update={"warnings": warnings, "sources": reference_sources(passages)})
        except (ScriptError, ProviderError) as problem:
            failures.append(f"{answer.model}: {problem}")
            # in order, the models before it failed already; by cost, the others are still untried
            chain = chain[served + 1 :] if settings.llm_routing == "order" else [c for c in chain if c.model != answer.model]
    raise ScriptError(
        f"no model gave a usable script: {'; '.join(failures)}. "
        "Try again, choose another AURA_LLM_MODEL, or allow the offline writer (AURA_LLM_OFFLINE_FALLBACK=true)"
    )


def _usable_script(answer: str, messages: list[dict], spec: ScriptBrief, model: ModelConfig, call: dict) -> Script:
    """The model's answer as a Script, after one repair request that names the problem if needed."""
    try:
        return parse_script(answer, spec, writer=model.model)
    except ScriptError as first_problem:
        progress.report("script", 0.6, f"repairing: {first_problem}")
        repair = repair_messages(messages, answer, str(first_problem))
        repaired = call_interruptibly(lambda: complete(repair, [model], **call))
        try:
            return parse_script(repaired.text, spec, writer=model.model)
        except ScriptError as second_problem:
            raise ScriptError(f"no usable script after one repair attempt: {second_problem}") from None


def _earlier(failures: list[str]) -> str:
    return f" (before that: {'; '.join(failures)})" if failures else ""


def _cache_inputs(inputs: dict, settings: Settings) -> dict:
    """What makes a script: the request's words, its documents by content, and the writers."""
    request: VideoRequest = inputs["request"]
    return {
        "request": request.model_dump(
            mode="json", include={"brief", "title", "audience", "style", "duration_seconds", "language"}
        ),
        "references": documents_digest(request, settings, inputs.get("store_url")),
        "settings": {
            "llm_chain": settings.llm_chain,
            "llm_api_base": settings.llm_api_base,
            "words_per_minute": settings.words_per_minute,
            "reference_top_k": settings.reference_top_k,
        },
    }


CHECKPOINT = StageCachePolicy(
    stage="script", inputs=_cache_inputs, sources=("aura.stages.script", "aura.providers.llm", "aura.providers.rag")
)


# room for one model that hangs (AURA_LLM_TIMEOUT_S 50 s, 1 retry), then the offline writer
@task(
    name="script", retries=2, retry_delay_seconds=backoff(2, 2), timeout_seconds=120, retry_condition_fn=worth_retrying,
    cache_policy=CHECKPOINT, **PERSISTED,
)  # fmt: skip
def script_task(request: VideoRequest, store_url: str | None = None) -> Script:
    started = time.perf_counter()
    with supervised() as scope, spend.tally(scope.task_run_id) as bill:
        settings = get_settings()
        script = write_script(request, settings, store=ArtifactStore(settings.store_url(store_url)))
    script = script.model_copy(update={"spend": bill})
    progress.report("script", 1.0, f"{len(script.scenes)} scenes, {script.word_count} words ({time.perf_counter() - started:.1f} s)")
    return script


STAGE = Stage(name="script", label="Script", weight=20, task=script_task, served_by=lambda script: script.writer)
