"""What a run spent on paid services: LLM tokens, speech characters, stock API calls and GPU seconds, in USD.

A stage opens a tally for its task run (`tally(key)`, a context variable, so
the threads a stage starts with a copied context charge it too); providers
charge it where they call a paid service, priced with the table in settings
(aura.pricing). A retry goes on with the tally its failed attempts charged,
which is kept in this process by task run until the run ends (`kept`,
`forget`): so a stage's result carries every attempt's spending, and a stage
that failed for good, or a failed run, still shows what was spent. The tally
travels with the stage's result (Script, Narration, Visuals): a stage run on
another machine's worker brings its spending back, and a checkpoint reused
costs nothing in the run that reuses it. No Prefect and no litellm in here.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from contextvars import ContextVar

from pydantic import BaseModel, Field, computed_field


class LlmUse(BaseModel):
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    usd: float = 0.0


class SpeechUse(BaseModel):
    characters: int = 0
    usd: float = 0.0


class Spend(BaseModel):
    """Spending by service; `unpriced` names what was used without a known price (counted at 0 USD)."""

    llm: dict[str, LlmUse] = Field(default_factory=dict, description="By model: calls, tokens in and out, USD.")
    speech: dict[str, SpeechUse] = Field(default_factory=dict, description="By paid speech engine: characters, USD.")
    stock_calls: dict[str, int] = Field(default_factory=dict, description="API calls by stock library.")
    stock_usd: float = 0.0
    gpu_seconds: float = Field(default=0.0, description="Seconds a GPU (local, or a ComfyUI server's) drew for the run.")
    gpu_usd: float = 0.0
    unpriced: list[str] = Field(default_factory=list, description="Used without a known price: set it in AURA_PRICES.")

    @computed_field  # in every dump: metadata.json, --json, the job's status
    @property
    def total_usd(self) -> float:
        llm = sum(use.usd for use in self.llm.values())
        speech = sum(use.usd for use in self.speech.values())
        return round(llm + speech + self.stock_usd + self.gpu_usd, 9)

    @property
    def tokens(self) -> tuple[int, int]:
        return sum(u.tokens_in for u in self.llm.values()), sum(u.tokens_out for u in self.llm.values())

    @property
    def paid_for_something(self) -> bool:
        """Whether a paid service was used (free providers only: there is nothing to say)."""
        return bool(self.llm or self.speech or self.stock_calls or self.gpu_seconds)

    def plus(self, other: Spend | None) -> Spend:
        """The two added up (a run's stages)."""
        total = self.model_copy(deep=True)
        if other is None:
            return total
        for model, use in other.llm.items():
            mine = total.llm.setdefault(model, LlmUse())
            mine.calls, mine.tokens_in = mine.calls + use.calls, mine.tokens_in + use.tokens_in
            mine.tokens_out, mine.usd = mine.tokens_out + use.tokens_out, mine.usd + use.usd
        for engine, use in other.speech.items():
            mine = total.speech.setdefault(engine, SpeechUse())
            mine.characters, mine.usd = mine.characters + use.characters, mine.usd + use.usd
        for library, calls in other.stock_calls.items():
            total.stock_calls[library] = total.stock_calls.get(library, 0) + calls
        total.stock_usd += other.stock_usd
        total.gpu_seconds += other.gpu_seconds
        total.gpu_usd += other.gpu_usd
        total.unpriced = list(dict.fromkeys([*total.unpriced, *other.unpriced]))
        return total

    def describe(self) -> str:
        """One line: '$0.0123 (LLM 1,234 in / 456 out tokens, speech 3,000 characters, ...)'."""
        parts = []
        tokens_in, tokens_out = self.tokens
        if self.llm:
            parts.append(f"LLM {tokens_in:,} in / {tokens_out:,} out tokens")
        if self.speech:
            parts.append(f"speech {sum(u.characters for u in self.speech.values()):,} characters")
        if self.stock_calls:
            parts.append(f"stock {sum(self.stock_calls.values())} API calls")
        if self.gpu_seconds:
            parts.append(f"GPU {self.gpu_seconds:.1f} s")
        detail = f" ({', '.join(parts)})" if parts else " (nothing paid)"
        unpriced = f"; no price for {', '.join(self.unpriced)}" if self.unpriced else ""
        return f"{usd(self.total_usd)}{detail}{unpriced}"


def usd(amount: float) -> str:
    """$2.50, $0.0123, $0.0000075: cents, and below a dollar the digits a cent would round away."""
    whole, _, cents = f"{amount:.{2 if amount >= 1 else 8}f}".partition(".")
    return f"${whole}.{cents.rstrip('0').ljust(2, '0')}"


_open: ContextVar[Spend | None] = ContextVar("aura_spend", default=None)
_lock = threading.Lock()  # a stage's threads charge one tally
_kept: dict[str, tuple[Spend, bool]] = {}  # task run id -> its attempts' spending, and whether the last one delivered


@contextlib.contextmanager
def tally(key: str | None = None) -> Iterator[Spend]:
    """The spending of what runs inside (an attempt of a stage). With `key` (its task run's id) it goes on from
    that key's earlier attempts and stays kept after it, delivered or failed, until `forget`."""
    with _lock:
        spend = _kept[key][0] if key in _kept else Spend()
    token = _open.set(spend)
    delivered = False
    try:
        yield spend
        delivered = True
    finally:
        _open.reset(token)
        if key is not None:
            with _lock:
                _kept[key] = (spend, delivered)


def kept(keys: Iterable[str], delivered: bool | None = None) -> Spend:
    """What the tallies of these keys spent: all of them, or only those whose last attempt delivered (or failed)."""
    total = Spend()
    with _lock:  # a late charge from an abandoned call must not change a tally while it is added
        for key in keys:
            spend, done = _kept.get(key, (None, None))
            if spend is not None and delivered in (None, done):
                total = total.plus(spend)
    return total


def forget(keys: Iterable[str]) -> None:
    """Their run is over: drop their tallies."""
    with _lock:
        for key in keys:
            _kept.pop(key, None)


def charge_llm(model: str, tokens_in: int, tokens_out: int, usd: float | None) -> None:
    """One answered LLM call; `usd` None: no price is known for the model."""
    spend = _open.get()
    if spend is None:
        return
    with _lock:
        use = spend.llm.setdefault(model, LlmUse())
        use.calls += 1
        use.tokens_in += max(0, int(tokens_in or 0))
        use.tokens_out += max(0, int(tokens_out or 0))
        use.usd += usd or 0.0
        _note_unpriced(spend, model, usd)


def charge_speech(engine: str, characters: int, usd_per_million: float | None) -> None:
    """Characters sent to a paid speech engine."""
    spend = _open.get()
    if spend is None or characters <= 0:
        return
    with _lock:
        use = spend.speech.setdefault(engine, SpeechUse())
        use.characters += characters
        use.usd += characters * (usd_per_million or 0.0) / 1e6
        _note_unpriced(spend, engine, usd_per_million)


def charge_stock(library: str, usd_per_call: float) -> None:
    """One call to a stock library's search API."""
    spend = _open.get()
    if spend is None:
        return
    with _lock:
        spend.stock_calls[library] = spend.stock_calls.get(library, 0) + 1
        spend.stock_usd += usd_per_call


def charge_gpu(seconds: float, usd_per_hour: float) -> None:
    """Seconds a GPU worked for the stage."""
    spend = _open.get()
    if spend is None or seconds <= 0:
        return
    with _lock:
        spend.gpu_seconds += seconds
        spend.gpu_usd += seconds * usd_per_hour / 3600


def _note_unpriced(spend: Spend, what: str, price: float | None) -> None:
    if price is None and what not in spend.unpriced:
        spend.unpriced.append(what)
