"""The litellm side of the script writer: a Router over a chain of models, imported only for online models.

litellm costs seconds to import, so nothing imports this module until a run
asks a configured model (aura.providers.llm.client decides). The Router owns
retries (with backoff), the per-call timeout and the fallback order; a failure
callback records why each model failed, so the metadata can say which model
served and what it cost to get there. The offline writer is registered as the
litellm model `aura/offline`, so it can close a chain of online models.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid

import litellm
from litellm import CustomLLM, Router
from litellm.integrations.custom_logger import CustomLogger
from litellm.types.utils import ModelResponse

from aura.providers.base import ProviderStatus
from aura.providers.llm import offline
from aura.providers.llm.config import Completion, ModelConfig
from aura.settings import OFFLINE_MODEL

# litellm's Router logs every failed fallback at ERROR with a debug dump; Aura reports
# failures itself (the run's warnings, the final error), once and in plain words
for _name in ("LiteLLM Router", "LiteLLM"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


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
                self._by_call[call_id].append((model, reason(kwargs.get("exception"))))


class OfflineWriter(CustomLLM):
    """litellm custom provider: `litellm.completion(model="aura/offline", messages=...)`."""

    def completion(self, *args, **kwargs) -> ModelResponse:
        messages = kwargs.get("messages") or (args[1] if len(args) > 1 else [])
        return litellm.ModelResponse(
            model=OFFLINE_MODEL,
            created=int(time.time()),
            choices=[{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": offline.answer(messages)}}],
        )


_failures = _FailureLog()
_routers: dict[tuple, Router] = {}
_routers_lock = threading.Lock()
_PROVIDER = OFFLINE_MODEL.split("/")[0]


def register_offline_writer() -> None:
    """Make `aura/offline` a litellm model (idempotent)."""
    if not any(item.get("provider") == _PROVIDER for item in litellm.custom_provider_map):
        litellm.custom_provider_map.append({"provider": _PROVIDER, "custom_handler": OfflineWriter()})
    from litellm.utils import custom_llm_setup

    custom_llm_setup()


def reason(exc: BaseException | None) -> str:
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


class ChainFailed(Exception):
    """Every model of the chain failed: (model, reason) for each, last attempt per model."""

    def __init__(self, failures: list[tuple[str, str]]):
        super().__init__("; ".join(f"{m} ({r})" for m, r in failures))
        self.failures = failures


def route(messages: list[dict[str, str]], chain: tuple[ModelConfig, ...], *, timeout: float, retries: int, temperature: float) -> Completion:
    """The first answer the chain gives through the Router; ChainFailed when none answers."""
    register_offline_writer()
    if litellm.callbacks is None or _failures not in litellm.callbacks:
        litellm.callbacks = [*(litellm.callbacks or []), _failures]
    router = router_for(chain, timeout=timeout, retries=retries, temperature=temperature)
    call_id = _failures.open()
    try:
        response = router.completion(model=chain[0].model, messages=messages, metadata={"aura_call": call_id})
    except Exception as exc:  # litellm raises many types; all mean "the whole chain failed"
        raise ChainFailed(last_per_model(_failures.close(call_id) or [(chain[-1].model, reason(exc))])) from exc
    failures = _failures.close(call_id)
    served = ((response._hidden_params or {}).get("additional_headers") or {}).get("x-litellm-model-group") or chain[0].model
    text = response.choices[0].message.content or ""
    # attempts of the serving model that a retry recovered are not failures of the chain
    failed = [(m, r) for m, r in last_per_model(failures) if m != served]
    return Completion(text=text, model=served, failures=[f"{m}: {r}" for m, r in failed])


def last_per_model(failures: list[tuple[str, str]]) -> list[tuple[str, str]]:
    latest: dict[str, str] = {}
    for model, why in failures:
        latest[model] = why
    return list(latest.items())


def _supports_json_mode(model: str) -> bool:
    try:
        return "response_format" in (litellm.get_supported_openai_params(model=model) or [])
    except Exception:  # unknown models: ask plainly, the parser copes
        return False


def model_status(model: str) -> ProviderStatus:
    """Whether an online model looks usable (no network call: keys and provider only)."""
    try:
        _, provider, _, _ = litellm.get_llm_provider(model)
    except Exception as exc:
        return ProviderStatus(model, "llm", False, f"litellm does not know this model: {exc}"[:200])
    keys = litellm.validate_environment(model=model)
    if keys.get("missing_keys"):
        missing = ", ".join(keys["missing_keys"])
        return ProviderStatus(model, "llm", False, f"set {missing} (or AURA_LLM_API_KEY) to use {provider}")
    return ProviderStatus(model, "llm", True, f"{provider} via litellm (not contacted by this check)")
