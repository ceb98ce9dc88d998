"""What a call to the script writer is given and gives back (no litellm here: it is costly to import)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
