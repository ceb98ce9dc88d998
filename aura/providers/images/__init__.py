"""Image providers: each turns scene prompts into one still image per scene."""

from aura.providers.images.base import STYLES, ImagePrompt, ImageProvider
from aura.providers.images.slides import SlideProvider, render_slide

__all__ = ["STYLES", "ImagePrompt", "ImageProvider", "SlideProvider", "render_slide"]
