"""What every image provider takes and promises: one still per scene."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from aura.providers.base import ProviderStatus

STYLES = ("documentary", "explainer", "promo", "tutorial", "story")


@dataclass(frozen=True)
class ImagePrompt:
    """Everything a provider may use to draw one scene's still."""

    index: int  # scene number, 0-based
    prompt: str  # visual description of the scene (for generative models)
    key_phrase: str  # the few words to show on a slide
    title: str  # the video's title
    style: str  # documentary | explainer | promo | tutorial | story
    seed: int  # deterministic per scene
    language: str = "en"


@runtime_checkable
class ImageProvider(Protocol):
    """Renders one image file per prompt, in order, exactly `size` (w, h) pixels."""

    name: str

    def status(self) -> ProviderStatus:  # kind="images"
        ...

    def render(self, prompts: Sequence[ImagePrompt], size: tuple[int, int], out_dir: Path) -> list[Path]:
        ...
