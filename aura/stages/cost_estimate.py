"""A run's cost, estimated before it starts from the request and the configured providers (`max_cost_usd`).

The script's size is known from the duration (scenes and word budget, as the
script stage asks for them), so each paid service's share follows: the LLM's
prompt and answer in tokens, the narration in characters, a search per
scene's query, a GPU's seconds per image or clip. The estimate prices the
model that would serve: the first online one, or under AURA_LLM_ROUTING=cost
the cheapest. A retry or a fallback can cost more: the limit is checked
against this estimate, before the first paid call, never half-way.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from aura.errors import SystemCheckError
from aura.models import VideoRequest
from aura.pricing import gpu_price, llm_price, speech_price, stock_price
from aura.providers.rag.retrieve import PROMPT_CHARS
from aura.settings import OFFLINE_MODEL, Settings
from aura.spend import usd
from aura.providers.images.registry import image_chain
from aura.stages.script import spec_for

CHARS_PER_TOKEN = 4  # English prose in OpenAI's tokenizers, as their docs round it
ANSWER_TOKENS_PER_WORD = 1.4  # narration words, plus ...
ANSWER_TOKENS_PER_SCENE = 60  # ... each scene's title card, search terms and JSON keys
NARRATION_CHARS_PER_WORD = 6  # a word with its space and punctuation
SEARCHES_PER_SCENE = 3  # a scene's search terms and key phrase, each asked until one fits
GPU_SECONDS_PER_IMAGE = 4.0  # SD 1.5, 25 steps at 512 px on a datacenter GPU, batch of one
GPU_SECONDS_PER_CLIP = 60.0  # a generated motion clip


class CostEstimate(BaseModel):
    usd: float = Field(description="The estimated total, USD.")
    parts: dict[str, float] = Field(default_factory=dict, description="By service: llm, speech, stock, gpu.")
    unpriced: list[str] = Field(default_factory=list, description="Services used whose price is unknown (counted 0).")

    def describe(self) -> str:
        parts = ", ".join(f"{name} {usd(amount)}" for name, amount in self.parts.items() if amount) or "nothing paid"
        return f"{usd(self.usd)} ({parts})"


def estimate_cost(request: VideoRequest, settings: Settings) -> CostEstimate:
    spec = spec_for(request, settings.words_per_minute)
    scenes, words = spec.scene_count, spec.word_budget
    parts: dict[str, float] = {}
    unpriced: list[str] = []

    online = [model for model in settings.llm_chain if model != OFFLINE_MODEL]
    if online and settings.llm_chain[0] != OFFLINE_MODEL:
        from aura.providers.llm.prompts import build_messages

        prompt_chars = sum(len(m["content"]) for m in build_messages(spec))
        if request.references or settings.reference_dir:
            prompt_chars += PROMPT_CHARS
        tokens_in, tokens_out = prompt_chars / CHARS_PER_TOKEN, words * ANSWER_TOKENS_PER_WORD + scenes * ANSWER_TOKENS_PER_SCENE
        priced = {model: llm_price(model, settings) for model in online}
        known = {model: p[0] * tokens_in + p[1] * tokens_out for model, p in priced.items() if p is not None}
        model = min(known, key=known.get) if settings.llm_routing == "cost" and known else online[0]
        if model in known:
            parts["llm"] = known[model]
        else:
            unpriced.append(model)

    speech = _speech_model(settings)
    if speech is not None:
        price = speech_price(speech, settings)
        if price is None:
            unpriced.append(speech)
        parts["speech"] = words * NARRATION_CHARS_PER_WORD * (price or 0.0) / 1e6

    chain, _ = image_chain(settings)  # as the visuals stage makes it ("auto" resolved)
    drawn = max(0, scenes - len([entry for entry in request.media if entry]))
    parts["stock"] = sum(drawn * SEARCHES_PER_SCENE * stock_price(name, settings) for name in ("pexels", "pixabay") if name in chain)
    if ("stable-diffusion" in chain or "comfyui" in chain) and settings.sd_device != "cpu":
        from aura.providers.images.motion import MotionSettings, chosen

        motion = MotionSettings()
        clips = len(chosen(motion.scenes, drawn)) if motion.model else 0
        seconds = (drawn - clips) * GPU_SECONDS_PER_IMAGE + clips * GPU_SECONDS_PER_CLIP
        parts["gpu"] = seconds * gpu_price(settings) / 3600
    parts = {name: round(amount, 9) for name, amount in parts.items()}
    return CostEstimate(usd=round(sum(parts.values()), 9), parts=parts, unpriced=unpriced)


def check_budget(request: VideoRequest, settings: Settings) -> CostEstimate | None:
    """Refuse (SystemCheckError naming max_cost_usd) a request whose estimate is above its limit."""
    if request.max_cost_usd is None:
        return None
    estimate = estimate_cost(request, settings)
    if estimate.usd > request.max_cost_usd:
        raise SystemCheckError(
            f"max_cost_usd: this video is estimated at {estimate.describe()}, above the {usd(request.max_cost_usd)} "
            "allowed: raise max_cost_usd, shorten the video, or choose cheaper models (AURA_LLM_ROUTING=cost, "
            "AURA_LLM_MODEL, AURA_TTS_PROVIDER)"
        )
    return estimate


def _speech_model(settings: Settings) -> str | None:
    """The paid speech model that would speak first, if the chain starts with one."""
    if settings.tts_provider[0] != "speech":
        return None
    from aura.providers.tts.base import TTSError
    from aura.providers.tts.speech_provider import load_settings

    try:
        return load_settings().model
    except TTSError:  # a bad AURA_SPEECH_* is the voice stage's to report
        return None
