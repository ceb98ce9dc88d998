"""Image providers by name, so settings can choose one and later issues can add more."""

from __future__ import annotations

from collections.abc import Callable

from aura.errors import ProviderError
from aura.providers.images.base import ImageProvider
from aura.providers.images.slides import SlideProvider
from aura.providers.images.stable_diffusion import StableDiffusionProvider
from aura.settings import Settings, get_settings

FALLBACK = "slides"


def _stable_diffusion() -> ImageProvider:
    # settings are read when the provider is asked for, not at import (tests change AURA_SD_*)
    return StableDiffusionProvider.from_settings(get_settings())


_factories: dict[str, Callable[[], ImageProvider]] = {"slides": SlideProvider, "stable-diffusion": _stable_diffusion}


def register_image_provider(name: str, factory: Callable[[], ImageProvider]) -> None:
    _factories[name] = factory


def image_provider_names() -> list[str]:
    return sorted(_factories)


def choose_image_provider(settings: Settings) -> tuple[str, str]:
    """The provider the settings ask for, and why, in words a run summary can show."""
    name = settings.image_provider
    if name == "auto":
        if settings.sd_model:
            return "stable-diffusion", f"AURA_SD_MODEL={settings.sd_model}"
        return FALLBACK, "AURA_SD_MODEL is not set: set it to a Stable Diffusion folder or hub id for generated images"
    return name, f"AURA_IMAGE_PROVIDER={name}"


def get_image_provider(name: str) -> ImageProvider:
    try:
        factory = _factories[name]
    except KeyError:
        raise ProviderError(
            f"image provider {name!r} is unknown: set AURA_IMAGE_PROVIDER to auto or one of {', '.join(image_provider_names())}"
        ) from None
    return factory()
