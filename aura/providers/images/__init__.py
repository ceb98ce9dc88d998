"""Visuals providers: each serves scenes with stills (drawn or found) or video clips."""

from aura.providers.images.base import STYLES, Credit, ImagePrompt, ImageProvider, SceneMedia
from aura.providers.images.slides import SlideProvider, render_slide

__all__ = ["STYLES", "Credit", "ImagePrompt", "ImageProvider", "SceneMedia", "SlideProvider", "render_slide"]
