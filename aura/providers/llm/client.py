"""Chat completions for the script writer: the offline writer directly, or a chain of models through litellm.

A chain of only the offline writer never imports litellm (seconds of start-up
that an offline run does not need); any configured model goes through the
litellm Router in aura.providers.llm.router, with the offline writer closing
the chain when allowed.
"""

from __future__ import annotations

from aura.errors import ProviderError
from aura.providers.base import ProviderStatus
from aura.providers.llm import offline
from aura.providers.llm.config import Completion, ModelConfig
from aura.settings import OFFLINE_MODEL

__all__ = ["OFFLINE_MODEL", "Completion", "ModelConfig", "complete", "status"]


def complete(
    messages: list[dict[str, str]],
    chain: str | ModelConfig | list[ModelConfig | str] | tuple[ModelConfig | str, ...],
    *,
    timeout: float = 60.0,
    retries: int = 2,
    temperature: float = 0.7,
    routing: str = "order",
) -> Completion:
    """The first answer the chain gives (`routing` cost: the cheapest online model that answers). Raises
    ProviderError listing every model's failure when none answers."""
    chain = _as_chain(chain)
    if not chain:
        raise ProviderError("no LLM configured: set AURA_LLM_MODEL or allow the offline writer")
    if chain[0].model == OFFLINE_MODEL:  # it cannot fail: nothing after it is ever asked
        completion = Completion(text=offline.answer(messages), model=OFFLINE_MODEL)
    else:
        from aura.providers.llm.router import ChainFailed, route

        try:
            completion = route(messages, chain, timeout=timeout, retries=retries, temperature=temperature, routing=routing)
        except ChainFailed as exc:
            raise ProviderError(f"every LLM failed: {exc}. {_advice(chain)}") from exc
    if not completion.text.strip():
        raise ProviderError(f"LLM {completion.model} returned an empty answer")
    return completion


def _as_chain(chain) -> tuple[ModelConfig, ...]:
    items = [chain] if isinstance(chain, (str, ModelConfig)) else list(chain)
    return tuple(ModelConfig(item) if isinstance(item, str) else item for item in items)


def _advice(chain: tuple[ModelConfig, ...]) -> str:
    advice = "Check the endpoints and API keys (AURA_LLM_API_BASE, AURA_LLM_API_KEY or the provider's own variable)"
    if all(c.model != OFFLINE_MODEL for c in chain):
        advice += ", or set AURA_LLM_OFFLINE_FALLBACK=true so the offline writer can finish the script"
    return advice


def status(model: str) -> ProviderStatus:
    """Whether a model looks usable (no network call: keys and provider only)."""
    if model == OFFLINE_MODEL:
        return ProviderStatus(model, "llm", True, "built-in offline writer (rule-based, deterministic)")
    from aura.providers.llm.router import model_status

    return model_status(model)
