"""What every visuals provider takes and promises: a still or a clip per scene it can serve.

Still-drawing providers (slides, Stable Diffusion) write one image per prompt
with `render`; the defaults turn those into scene media. Providers that find
media (stock libraries, the user's own folder) answer `scene_media` directly
and may leave a scene to the next provider in the chain (None).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from aura.errors import ProviderError
from aura.models import MediaCredit as Credit  # who made found media: the model metadata.json's credits carry
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
    search_terms: tuple[str, ...] = ()  # what to look for in a media library, best first
    narration: str = ""  # what is said over the scene (for matching media by meaning)
    seconds: float = 0.0  # the scene's expected time on screen (from its word count: the voice runs alongside)


@dataclass(frozen=True)
class SceneMedia:
    """One scene's visual as a local file: a still (any size: composition fits it) or a video clip."""

    index: int  # the scene it is for
    path: Path
    kind: Literal["still", "clip"] = "still"
    credit: Credit | None = None
    keep_audio: bool = False  # a clip's own sound is dropped unless its provider asks to keep it


@runtime_checkable
class ImageProvider(Provider, Protocol):
    """Serves scenes with stills or clips (and has Provider's shape).

    `scene_media` answers one entry per prompt, in order: the scene's media
    written under `out_dir`, or None where it has nothing fitting (the next
    provider in the chain serves that scene). It raises ProviderError when it
    cannot work at all (an API error, a dead network): the chain names why.
    """

    def scene_media(self, prompts: Sequence[ImagePrompt], size: tuple[int, int], out_dir: Path) -> list[SceneMedia | None]:
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


class DrawsStills:
    """For a provider that draws: its `render` (one image of exactly `size` per prompt, in order) as scene media."""

    def scene_media(self, prompts: Sequence[ImagePrompt], size: tuple[int, int], out_dir: Path) -> list[SceneMedia | None]:
        files = self.render(prompts, size, out_dir)  # type: ignore[attr-defined]
        if len(files) != len(prompts):
            raise ProviderError(f"{self.name} returned {len(files)} images for {len(prompts)} scenes")  # type: ignore[attr-defined]
        return [SceneMedia(index=prompt.index, path=Path(file)) for prompt, file in zip(prompts, files)]
