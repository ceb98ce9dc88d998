"""Serve every scene from a chain of visuals providers: each takes the scenes the ones before it left.

A provider that finds nothing for a scene leaves it to the next; one that
cannot work at all (an API error, a 429 after its retries, a dead network)
passes all its scenes on, and a warning names why, unless the request
requires its visuals. The last provider (slides) serves whatever is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aura.errors import ProviderError
from aura.providers.images.base import ImagePrompt, ImageProvider, SceneMedia


@dataclass
class Served:
    media: list[SceneMedia]  # one per prompt, in prompt order
    providers: list[str]  # who served each
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # scenes passed on because nothing fitted (not a fault)


def serve_scenes(
    chain: Sequence[ImageProvider],
    prompts: Sequence[ImagePrompt],
    size: tuple[int, int],
    out_dir: Path,
    required: bool = False,
) -> Served:
    got: dict[int, tuple[SceneMedia, str]] = {}
    warnings, notes = [], []
    left = list(prompts)
    for position, provider in enumerate(chain):
        if not left:
            break
        after = chain[position + 1].name if position + 1 < len(chain) else None
        try:
            answers = provider.scene_media(left, size, out_dir)
        except ProviderError as exc:
            if required or after is None:
                raise
            warnings.append(f"visuals: {provider.name} failed ({exc}): {_scenes(left)} fell back to {after}")
            continue
        if len(answers) != len(left):
            raise ProviderError(f"{provider.name} answered {len(answers)} scenes for {len(left)}")
        for prompt, media in zip(left, answers):
            if media is not None:
                got[prompt.index] = (media, provider.name)
        unserved = [prompt for prompt in left if prompt.index not in got]
        if unserved and after is not None:
            notes.append(f"{provider.name} had nothing fitting for {_scenes(unserved)}: {after} serves them")
        left = unserved
    if left:
        raise ProviderError(f"no visuals provider served {_scenes(left)}")
    ordered = [got[prompt.index] for prompt in prompts]
    return Served([media for media, _ in ordered], [name for _, name in ordered], warnings, notes)


def _scenes(prompts: Sequence[ImagePrompt]) -> str:
    numbers = ", ".join(str(prompt.index + 1) for prompt in prompts)
    return f"scene {numbers}" if len(prompts) == 1 else f"scenes {numbers}"
