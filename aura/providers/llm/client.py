"""One chat completion through litellm, with a timeout and JSON mode where the model has it."""

from __future__ import annotations

import litellm

from aura.errors import ProviderError
from aura.providers.base import ProviderStatus
from aura.providers.llm import offline
from aura.settings import OFFLINE_MODEL



def complete(
    messages: list[dict[str, str]],
    model: str,
    *,
    timeout: float = 60.0,
    api_base: str | None = None,
    api_key: str | None = None,
    temperature: float = 0.7,
) -> str:
    """The model's answer as text. Raises ProviderError with the model named on any failure."""
    offline.register()
    kwargs: dict = {"model": model, "messages": messages, "timeout": timeout, "num_retries": 0}
    if model != OFFLINE_MODEL:
        kwargs["temperature"] = temperature
        if api_base:
            kwargs["api_base"] = api_base
        if api_key:
            kwargs["api_key"] = api_key
        if _supports_json_mode(model):
            kwargs["response_format"] = {"type": "json_object"}
    try:
        response = litellm.completion(**kwargs)
    except Exception as exc:  # litellm raises many types; all mean "this model failed"
        raise ProviderError(f"LLM {model} failed: {type(exc).__name__}: {str(exc)[:300]}") from exc
    text = response.choices[0].message.content or ""
    if not text.strip():
        raise ProviderError(f"LLM {model} returned an empty answer")
    return text


def _supports_json_mode(model: str) -> bool:
    try:
        return "response_format" in (litellm.get_supported_openai_params(model=model) or [])
    except Exception:  # unknown models: ask plainly, the parser copes
        return False


def status(model: str) -> ProviderStatus:
    """Whether the configured model looks usable (no network call: keys and provider only)."""
    if model == OFFLINE_MODEL:
        return ProviderStatus(model, "llm", True, "built-in offline writer (rule-based, deterministic)")
    try:
        _, provider, _, _ = litellm.get_llm_provider(model)
    except Exception as exc:
        return ProviderStatus(model, "llm", False, f"litellm does not know this model: {exc}"[:200])
    keys = litellm.validate_environment(model=model)
    if keys.get("missing_keys"):
        missing = ", ".join(keys["missing_keys"])
        return ProviderStatus(model, "llm", False, f"set {missing} (or AURA_LLM_API_KEY) to use {provider}")
    return ProviderStatus(model, "llm", True, f"{provider} via litellm (not contacted by this check)")
