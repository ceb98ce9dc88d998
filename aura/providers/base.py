"""What every provider can say about itself."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProviderStatus:
    """Whether a provider can be used on this machine, and why not."""

    name: str
    kind: str  # "llm", "tts", "images"
    usable: bool
    detail: str
