"""The litellm side of the script writer: a Router over a chain of models, imported only for online models.

litellm costs seconds to import, so nothing imports this module until a run
asks a configured model (aura.providers.llm.client decides). The Router owns
retries (with backoff), the per-call timeout and the fallback order; a failure
callback records why each model failed, so the metadata can say which model
served and what it cost to get there. The offline writer is registered as the
litellm model `aura/offline`, so it can close a chain of online models.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
import uuid

import litellm
from litellm import CustomLLM, Router
from litellm.integrations.custom_logger import CustomLogger
from litellm.types.utils import ModelResponse

from aura import spend
from aura.pricing import llm_call_usd, llm_price
from aura.providers.base import ProviderStatus
from aura.providers.event_loop import process_loop
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
                if model == CHEAPEST:  # cost routing: the group's model that failed, by its id
                    model = ((kwargs.get("litellm_params") or {}).get("model_info") or {}).get("id") or kwargs.get("model") or "?"
                self._by_call[call_id].append((model, reason(kwargs.get("exception"))))

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time) -> None:
        self.log_failure_event(kwargs, response_obj, start_time, end_time)  # cost routing's calls are async


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
CHEAPEST = "aura-cheapest"  # the model group of cost-based routing


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


def router_for(
    chain: tuple[ModelConfig, ...], *, timeout: float, retries: int, temperature: float = 0.7, routing: str = "order"
) -> Router:
    """One Router per configuration and process, so its cool-down memory outlives a single run.

    `order`: each model falls back to the ones after it. `cost`: the online models are one group that
    litellm's cost-based routing serves from, cheapest first; a model that fails is cooled down, so the
    retry goes to the next cheapest; the offline writer, when in the chain, is the group's fallback.
    """
    key = (chain, timeout, retries, temperature, routing)
    with _routers_lock:
        router = _routers.get(key)
        if router is None:
            router = _cost_router(chain, timeout, retries, temperature) if routing == "cost" else _ordered_router(
                chain, timeout, retries, temperature
            )
            _routers[key] = router
        return router


def _ordered_router(chain: tuple[ModelConfig, ...], timeout: float, retries: int, temperature: float) -> Router:
    names = [c.model for c in chain]
    return Router(
        model_list=[_deployment(c, temperature) for c in chain],
        # each model falls back to the ones after it, in order
        fallbacks=[{name: names[i + 1 :]} for i, name in enumerate(names[:-1])],
        num_retries=retries,
        timeout=timeout,
        retry_after=0,  # backoff comes from litellm's exponential schedule
    )


def _cost_router(chain: tuple[ModelConfig, ...], timeout: float, retries: int, temperature: float) -> Router:
    online = [c for c in chain if c.model != OFFLINE_MODEL]
    deployments = []
    for config in online:
        deployment = _deployment(config, temperature)
        deployment["model_name"] = CHEAPEST
        deployment["model_info"] = {"id": config.model}  # the response names the model that served by this id
        price = llm_price(config.model)
        if price is not None:  # the price table's, or litellm's own: the router compares these
            deployment["litellm_params"].update(input_cost_per_token=price[0], output_cost_per_token=price[1])
        deployments.append(deployment)
    offline = [_deployment(c, temperature) for c in chain if c.model == OFFLINE_MODEL]
    return Router(
        model_list=deployments + offline,
        fallbacks=[{CHEAPEST: [OFFLINE_MODEL]}] if offline else [],
        routing_strategy="cost-based-routing",
        num_retries=max(retries, len(online) - 1),  # room to try every online model once
        allowed_fails=0,  # one failure cools a model down: the retry asks the next cheapest
        timeout=timeout,
        retry_after=0,
    )


class ChainFailed(Exception):
    """Every model of the chain failed: (model, reason) for each, last attempt per model."""

    def __init__(self, failures: list[tuple[str, str]]):
        super().__init__("; ".join(f"{m} ({r})" for m, r in failures))
        self.failures = failures


def route(
    messages: list[dict[str, str]], chain: tuple[ModelConfig, ...], *, timeout: float, retries: int, temperature: float,
    routing: str = "order",
) -> Completion:
    """The first answer the chain gives through the Router (its tokens and price charged to the stage's tally,
    aura.spend); ChainFailed when none answers."""
    register_offline_writer()
    if litellm.callbacks is None or _failures not in litellm.callbacks:
        litellm.callbacks = [*(litellm.callbacks or []), _failures]
    online = [c for c in chain if c.model != OFFLINE_MODEL]
    routing = routing if len(online) > 1 else "order"  # one model: nothing to choose between
    router = router_for(chain, timeout=timeout, retries=retries, temperature=temperature, routing=routing)
    call_id = _failures.open()
    try:
        if routing == "cost":  # litellm chooses by cost only on its async path: run it on the process's loop
            call = router.acompletion(model=CHEAPEST, messages=messages, metadata={"aura_call": call_id})
            response = asyncio.run_coroutine_threadsafe(call, process_loop()).result()
        else:
            response = router.completion(model=chain[0].model, messages=messages, metadata={"aura_call": call_id})
    except Exception as exc:  # litellm raises many types; all mean "the whole chain failed"
        raise ChainFailed(last_per_model(_failures.close(call_id) or [(chain[-1].model, reason(exc))])) from exc
    failures = _failures.close(call_id)
    hidden = response._hidden_params or {}
    served = (hidden.get("additional_headers") or {}).get("x-litellm-model-group") or chain[0].model
    if served == CHEAPEST:
        served = hidden.get("model_id") or online[0].model
    _charge(served, response, hidden)
    text = response.choices[0].message.content or ""
    # attempts of the serving model that a retry recovered are not failures of the chain
    failed = [(m, r) for m, r in last_per_model(failures) if m != served]
    return Completion(text=text, model=served, failures=[f"{m}: {r}" for m, r in failed])


def _charge(model: str, response: ModelResponse, hidden: dict) -> None:
    """The call's tokens and price, as litellm reports them (the price table's price where it names the model)."""
    if model == OFFLINE_MODEL:
        return  # no tokens, no price: the writer runs here
    usage = getattr(response, "usage", None)
    tokens_in, tokens_out = getattr(usage, "prompt_tokens", 0) or 0, getattr(usage, "completion_tokens", 0) or 0
    reported = hidden.get("response_cost")
    spend.charge_llm(model, tokens_in, tokens_out, llm_call_usd(model, tokens_in, tokens_out, reported))


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
