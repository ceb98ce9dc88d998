"""What every image provider takes and promises: one still per scene."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from aura.providers.base import Provider

if TYPE_CHECKING:
    from aura.models import VideoRequest
    from aura.settings import Settings

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
class ImageProvider(Provider, Protocol):
    """Renders one image file per prompt, in order, exactly `size` (w, h) pixels (and has Provider's shape)."""

    def render(self, prompts: Sequence[ImagePrompt], size: tuple[int, int], out_dir: Path) -> list[Path]:
        ...


class ImageProviderDefaults:
    """The provider shape's classmethods for a provider with no settings of its own.

    Made without arguments, no setting changes its images, and it serves every
    request; a provider overrides only what differs.
    """

    @classmethod
    def from_settings(cls, settings: Settings):
        return cls()

    @classmethod
    def output_settings(cls, settings: Settings) -> dict[str, object]:
        return {}

    @classmethod
    def check_request(cls, request: VideoRequest, settings: Settings) -> list[str]:
        return []
