"""The offline image provider: designed title-card slides drawn with Pillow.

A slide is a soft gradient from a palette chosen per video and style, a few
decorative shapes, and the scene's key phrase set large inside the area that
survives the Ken Burns crop and stays clear of the burned-in subtitles.
Everything random comes from random.Random(prompt.seed), so a slide is
byte-identical for the same prompt, seed and size.

Speed: smooth parts (gradient, glows, vignette) are painted at a quarter of
the resolution and upscaled once; crisp shapes are drawn into small
supersampled masks of just their bounding box.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import PIL

from aura import progress
from aura.media.fonts import find_font, font_family
from aura.providers.base import ProviderStatus
from aura.providers.images.base import DrawsStills, ImagePrompt, ImageProviderDefaults
from aura.providers.images.files import image_folder, save_scene_png
from aura.providers.images.slides.layout import SAFE_BOTTOM, SAFE_LEFT, SAFE_RIGHT, SAFE_TOP, Slide, render_slide, safe_box
from aura.providers.images.slides.palettes import (
    DEFAULT_STYLE,
    MIN_CONTRAST,
    PALETTES,
    STYLES,
    Palette,
    StyleSpec,
    contrast_ratio,
    luminance,
)
from aura.supervision import checkpoint

__all__ = [
    "DEFAULT_STYLE", "MIN_CONTRAST", "PALETTES", "SAFE_BOTTOM", "SAFE_LEFT", "SAFE_RIGHT", "SAFE_TOP", "STYLES",
    "Palette", "Slide", "SlideProvider", "StyleSpec", "contrast_ratio", "luminance", "render_slide", "safe_box",
]  # fmt: skip


class SlideProvider(DrawsStills, ImageProviderDefaults):
    """Title-card slides drawn with Pillow: needs no network, no GPU and no model.

    No setting changes a slide and every request can be served (the defaults' answers).
    """

    name = "slides"

    def status(self) -> ProviderStatus:
        path = find_font("Aa")
        font = f"font {font_family(path)} ({path})" if path else "no system fonts found, using Pillow's built-in font"
        return ProviderStatus(self.name, "images", True, f"Pillow {PIL.__version__} title cards; {font}")

    def render(self, prompts: Sequence[ImagePrompt], size: tuple[int, int], out_dir: Path) -> list[Path]:
        out_dir = image_folder(out_dir)
        paths = []
        for done, prompt in enumerate(prompts, start=1):
            checkpoint()  # between slides: a timeout or a cancellation stops here
            slide = render_slide(prompt, size)
            paths.append(save_scene_png(slide.image, out_dir, prompt.index))
            progress.report("visuals", 0.05 + 0.9 * done / len(prompts), f"slide {done}/{len(prompts)}")
        return paths
