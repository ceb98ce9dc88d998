"""What paid services cost: the price table in settings (AURA_PRICES) over litellm's own price list for LLMs.

litellm is imported only to price an online model (a run that calls one has
imported it already); its price list is the copy the package ships
(LITELLM_LOCAL_MODEL_COST_MAP), never downloaded.
"""

from __future__ import annotations

import os

from aura.settings import OFFLINE_MODEL, Settings, get_settings


def llm_price(model: str, settings: Settings | None = None) -> tuple[float, float] | None:
    """USD per prompt token and per completion token; None when neither the table nor litellm knows the model."""
    if model == OFFLINE_MODEL:
        return 0.0, 0.0
    own = (settings or get_settings()).prices.llm.get(model)
    if own is not None:
        return own.input_per_million / 1e6, own.output_per_million / 1e6
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # the package's price list, not the network's
    import litellm

    try:
        info = litellm.get_model_info(model)
    except Exception:  # noqa: BLE001 - litellm raises for any model it has no entry for
        return None
    price_in, price_out = info.get("input_cost_per_token"), info.get("output_cost_per_token")
    if price_in is None and price_out is None:
        return None
    return float(price_in or 0.0), float(price_out or 0.0)


def llm_call_usd(model: str, tokens_in: int, tokens_out: int, reported: float | None, settings: Settings | None = None) -> float | None:
    """One call's price: the table's when it names the model, else what litellm reported, else litellm's list."""
    settings = settings or get_settings()
    if model not in settings.prices.llm and reported is not None:
        return float(reported)
    price = llm_price(model, settings)
    return None if price is None else tokens_in * price[0] + tokens_out * price[1]


def speech_price(model: str, settings: Settings | None = None) -> float | None:
    """USD per million characters of a speech model ('openai/tts-1', or its name alone); None: not in the table."""
    table = (settings or get_settings()).prices.speech
    for name in (model, model.split("/", 1)[-1]):
        if name in table:
            return table[name]
    return None


def stock_price(library: str, settings: Settings | None = None) -> float:
    """USD per search call of a stock library (Pexels and Pixabay are free)."""
    return (settings or get_settings()).prices.stock_per_call.get(library, 0.0)


def gpu_price(settings: Settings | None = None) -> float:
    """USD per GPU hour."""
    return (settings or get_settings()).prices.gpu_per_hour
