"""Chat completions through a litellm Router: a chain of models with retries, timeouts and fallbacks.

The Router owns retries (with backoff), the per-call timeout and the fallback
order; a failure callback records why each model failed, so the metadata can
say which model served and what it cost to get there.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from dataclasses import dataclass, field

import litellm
from litellm import Router
from litellm.integrations.custom_logger import CustomLogger

from aura.errors import ProviderError
from aura.providers.base import ProviderStatus
from aura.providers.llm import offline
from aura.settings import OFFLINE_MODEL

# litellm's Router logs every failed fallback at ERROR with a debug dump; Aura reports
# failures itself (the run's warnings, the final error), once and in plain words
for _name in ("LiteLLM Router", "LiteLLM"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class ModelConfig:
    """How to reach one model of the chain."""

    model: str
    api_base: str | None = None
    api_key: str | None = None
    # further litellm parameters as (name, value) pairs, hashable so Routers can be reused
    # (e.g. ("mock_response", "...") for tests, ("api_version", "...") for Azure)
    extra: tuple[tuple[str, object], ...] = ()


@dataclass
class Completion:
    text: str
    model: str  # the model that answered
    failures: list[str] = field(default_factory=list)  # "model: reason" for each model that failed first


class _FailureLog(CustomLogger):
    """Collects failed attempts per call (litellm callbacks are process-wide, calls are not)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._by_call: dict[str, list[tuple[str, str]]] = {}

    def open(self) -> str:
        call_id = uuid.uuid4().hex
        with self._lock:
            self._by_call[call_id] = []
        return call_id

    def close(self, call_id: str) -> list[tuple[str, str]]:
        with self._lock:
            return self._by_call.pop(call_id, [])

    def log_failure_event(self, kwargs, response_obj, start_time, end_time) -> None:
        metadata = (kwargs.get("litellm_params") or {}).get("metadata") or {}
        call_id = metadata.get("aura_call")
        with self._lock:
            if call_id in self._by_call:
                model = metadata.get("model_group") or kwargs.get("model") or "?"
                self._by_call[call_id].append((model, _reason(kwargs.get("exception"))))


_failures = _FailureLog()
_routers: dict[tuple, Router] = {}
_routers_lock = threading.Lock()


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return "failed"
    text = " ".join(str(exc).split()).split("Received Model Group")[0].strip()
    name = type(exc).__name__
    # litellm repeats the class name ("litellm.X: X: OpenAIException - ..."): say it once
    text = re.sub(rf"^(litellm\.)?{name}:\s*({name}:\s*)?", "", text)
    return f"{name}: {text[:240]}"


def _deployment(config: ModelConfig, temperature: float) -> dict:
    params: dict = {"model": config.model, **dict(config.extra)}
    if config.model != OFFLINE_MODEL:
        params["temperature"] = temperature
        if config.api_base:
            params["api_base"] = config.api_base
        if config.api_key:
            params["api_key"] = config.api_key
        if _supports_json_mode(config.model):
            params["response_format"] = {"type": "json_object"}
        params["max_retries"] = 0  # the Router retries; the SDK's own retries would multiply the wait
    return {"model_name": config.model, "litellm_params": params}


def router_for(chain: tuple[ModelConfig, ...], *, timeout: float, retries: int, temperature: float = 0.7) -> Router:
    """One Router per configuration and process, so its cool-down memory outlives a single run."""
    key = (chain, timeout, retries, temperature)
    with _routers_lock:
        router = _routers.get(key)
        if router is None:
            names = [c.model for c in chain]
            router = Router(
                model_list=[_deployment(c, temperature) for c in chain],
                # each model falls back to the ones after it, in order
                fallbacks=[{name: names[i + 1 :]} for i, name in enumerate(names[:-1])],
                num_retries=retries,
                timeout=timeout,
                retry_after=0,  # backoff comes from litellm's exponential schedule
            )
            _routers[key] = router
        return router


def complete(
    messages: list[dict[str, str]],
    chain: str | ModelConfig | list[ModelConfig | str] | tuple[ModelConfig | str, ...],
    *,
    timeout: float = 60.0,
    retries: int = 2,
    temperature: float = 0.7,
) -> Completion:
    """The first answer the chain gives. Raises ProviderError listing every model's failure when none answers."""
    chain = _as_chain(chain)
    if not chain:
        raise ProviderError("no LLM configured: set AURA_LLM_MODEL or allow the offline writer")
    offline.register()
    if litellm.callbacks is None or _failures not in litellm.callbacks:
        litellm.callbacks = [*(litellm.callbacks or []), _failures]
    router = router_for(chain, timeout=timeout, retries=retries, temperature=temperature)
    call_id = _failures.open()
    try:
        response = router.completion(model=chain[0].model, messages=messages, metadata={"aura_call": call_id})
    except Exception as exc:  # litellm raises many types; all mean "the whole chain failed"
        failures = _failures.close(call_id) or [(chain[-1].model, _reason(exc))]
        raise ProviderError(f"every LLM failed: {_summarize(failures)}. {_advice(chain)}") from exc
    failures = _failures.close(call_id)
    served = ((response._hidden_params or {}).get("additional_headers") or {}).get("x-litellm-model-group") or chain[0].model
    text = response.choices[0].message.content or ""
    if not text.strip():
        raise ProviderError(f"LLM {served} returned an empty answer")
    # attempts of the serving model that a retry recovered are not failures of the chain
    failed = [(m, r) for m, r in _last_per_model(failures) if m != served]
    return Completion(text=text, model=served, failures=[f"{m}: {r}" for m, r in failed])


def _as_chain(chain) -> tuple[ModelConfig, ...]:
    items = [chain] if isinstance(chain, (str, ModelConfig)) else list(chain)
    return tuple(ModelConfig(item) if isinstance(item, str) else item for item in items)


def _last_per_model(failures: list[tuple[str, str]]) -> list[tuple[str, str]]:
    latest: dict[str, str] = {}
    for model, reason in failures:
        latest[model] = reason
    return list(latest.items())


def _summarize(failures: list[tuple[str, str]]) -> str:
    return "; ".join(f"{model} ({reason})" for model, reason in _last_per_model(failures))


def _advice(chain: tuple[ModelConfig, ...]) -> str:
    advice = "Check the endpoints and API keys (AURA_LLM_API_BASE, AURA_LLM_API_KEY or the provider's own variable)"
    if all(c.model != OFFLINE_MODEL for c in chain):
        advice += ", or set AURA_LLM_OFFLINE_FALLBACK=true so the offline writer can finish the script"
    return advice


def _supports_json_mode(model: str) -> bool:
    try:
        return "response_format" in (litellm.get_supported_openai_params(model=model) or [])
    except Exception:  # unknown models: ask plainly, the parser copes
        return False


def status(model: str) -> ProviderStatus:
    """Whether a model looks usable (no network call: keys and provider only)."""
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
