"""Image providers by name, so settings can choose one: a new provider is one class and one line here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aura.errors import ProviderError, SystemCheckError
from aura.providers.base import Registry
from aura.providers.images.base import ImageProvider
from aura.providers.images.slides import SlideProvider
from aura.providers.images.stable_diffusion import StableDiffusionProvider
from aura.settings import Settings, get_settings

if TYPE_CHECKING:
    from aura.models import VideoRequest

FALLBACK = "slides"

IMAGE_PROVIDERS: Registry[ImageProvider] = Registry(
    "images",
    "AURA_IMAGE_PROVIDER",
    [
        SlideProvider,
        StableDiffusionProvider,
    ],
    also=("auto",),
)


def image_provider_names() -> list[str]:
    return sorted(IMAGE_PROVIDERS.names())


def choose_image_provider(settings: Settings) -> tuple[str, str]:
    """The provider the settings ask for, and why, in words a run summary can show."""
    name = settings.image_provider
    if name == "auto":
        if settings.sd_model:
            return "stable-diffusion", f"AURA_SD_MODEL={settings.sd_model}"
        return FALLBACK, "AURA_SD_MODEL is not set: set it to a Stable Diffusion folder or hub id for generated images"
    return name, f"AURA_IMAGE_PROVIDER={name}"


def get_image_provider(name: str) -> ImageProvider:
    # settings are read when the provider is asked for, not at import (tests change AURA_SD_*)
    return IMAGE_PROVIDERS.make(name, get_settings())


def image_output_settings(name: str, settings: Settings) -> dict[str, object]:
    """The provider's name and the settings that change its images: what the visuals checkpoint key holds."""
    return {"provider": name, **IMAGE_PROVIDERS.get(name).output_settings(settings)}


def check_images_request(request: VideoRequest, settings: Settings) -> list[str]:
    """The chosen provider's check of the request (the brief stage); an unknown provider is refused here.

    Refused rather than left to the visuals stage, where it would quietly become slides after the
    script and the narration were made: a typo in AURA_IMAGE_PROVIDER costs a second, not a run.
    """
    name, _ = choose_image_provider(settings)
    try:
        provider = IMAGE_PROVIDERS.get(name)
    except ProviderError as exc:
        raise SystemCheckError(str(exc)) from None
    return provider.check_request(request, settings)
