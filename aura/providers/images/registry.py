"""Visuals providers by name, and the chain the settings make of them: a new provider is one class and one line here.

AURA_IMAGE_PROVIDER names one provider or several in order (`pexels,pixabay`);
`auto` means Stable Diffusion where AURA_SD_MODEL is set. The user's own media
library (AURA_MEDIA_LIBRARY) serves first when it is set, and slides serve
last: each provider serves the scenes it can and leaves the rest to the next.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aura.errors import ProviderError, SystemCheckError
from aura.providers.base import Registry
from aura.providers.images.base import ImageProvider
from aura.providers.images.comfyui import ComfyUIProvider
from aura.providers.images.motion import MotionSettings
from aura.providers.images.library import MediaLibraryProvider
from aura.providers.images.pexels import PexelsProvider
from aura.providers.images.pixabay import PixabayProvider
from aura.providers.images.slides import SlideProvider
from aura.providers.images.stable_diffusion import StableDiffusionProvider, model_problem
from aura.settings import Settings, get_settings

if TYPE_CHECKING:
    from aura.models import VideoRequest

FALLBACK = "slides"
LIBRARY = "library"

IMAGE_PROVIDERS: Registry[ImageProvider] = Registry(
    "images",
    "AURA_IMAGE_PROVIDER",
    [
        SlideProvider,
        StableDiffusionProvider,
        MediaLibraryProvider,
        PexelsProvider,
        PixabayProvider,
        ComfyUIProvider,
    ],
    also=("auto",),
)


def image_provider_names() -> list[str]:
    return sorted(IMAGE_PROVIDERS.names())


def image_chain(settings: Settings) -> tuple[list[str], str]:
    """The providers that serve the scenes, in order (slides last), and why, in words a run summary can show."""
    asked = [name.strip() for name in settings.image_provider.split(",") if name.strip()] or ["auto"]
    names, reasons = [], []
    if settings.image_provider.strip() not in ("", "auto"):
        reasons.append(f"AURA_IMAGE_PROVIDER={settings.image_provider.strip()}")
    for name in asked:
        if name != "auto":
            names.append(name)
        elif settings.sd_model:
            names.append("stable-diffusion")
            reasons.append(f"AURA_SD_MODEL={settings.sd_model}")
    if LIBRARY in IMAGE_PROVIDERS and LIBRARY not in names and IMAGE_PROVIDERS.get(LIBRARY).configured(settings):
        names.insert(0, LIBRARY)
        reasons.append("AURA_MEDIA_LIBRARY is set: your own media first")
    if not names:  # slides only: say how to get more
        reasons.append("AURA_SD_MODEL is not set: set it to a Stable Diffusion folder or hub id for generated images")
    chain = list(dict.fromkeys([*names, FALLBACK]))
    return chain, "; ".join(reasons)


def choose_image_provider(settings: Settings) -> tuple[str, str]:
    """The first provider of the chain, and why (`aura doctor` marks it as the one configured)."""
    chain, reason = image_chain(settings)
    return chain[0], reason


def get_image_provider(name: str) -> ImageProvider:
    # settings are read when the provider is asked for, not at import (tests change AURA_SD_*)
    return IMAGE_PROVIDERS.make(name, get_settings())


def image_output_settings(name: str, settings: Settings) -> dict[str, object]:
    """The provider's name and the settings that change its images: what the visuals checkpoint key holds."""
    return {"provider": name, **IMAGE_PROVIDERS.get(name).output_settings(settings)}


def chain_output_settings(chain: list[str], settings: Settings) -> list[dict[str, object]]:
    """Every provider of a chain with the settings that change its media, in order."""
    return [image_output_settings(name, settings) for name in chain]


def check_images_request(request: VideoRequest, settings: Settings) -> list[str]:
    """Each provider of the chain checks the request (the brief stage); an unknown provider is refused here.

    Refused rather than left to the visuals stage, where it would quietly become slides after the
    script and the narration were made: a typo in AURA_IMAGE_PROVIDER costs a second, not a run.
    """
    chain, _ = image_chain(settings)
    warnings: list[str] = []
    for name in chain:
        try:
            warnings += IMAGE_PROVIDERS.get(name).check_request(request, settings)
        except ProviderError as exc:
            raise SystemCheckError(str(exc)) from None
    return warnings + check_motion_request(request)


def check_motion_request(request: VideoRequest) -> list[str]:
    """A motion model that is not there: the scenes stay stills (a warning), or the run stops when visuals are
    required, before any work."""
    motion = MotionSettings()
    problem = motion.model and model_problem(motion.model)
    if not problem:
        return []
    if request.visuals_required:
        raise SystemCheckError(f"visuals_required: AURA_MOTION_MODEL={motion.model}: {problem}")
    return [f"AURA_MOTION_MODEL={motion.model}: {problem}: the scenes will be stills"]
