"""Image providers are plugins of one shape: a new one is one class and one registry line."""

from __future__ import annotations

import os

import pytest
from PIL import Image
from pydantic_settings import SettingsConfigDict

from aura.doctor import run_checks
from aura.errors import ProviderError, SystemCheckError
from aura.models import Scene, Script, VideoRequest
from aura.providers.base import ProviderSettings, ProviderStatus
from aura.providers.images import ImagePrompt, ImageProvider, SlideProvider, registry
from aura.providers.images.base import DrawsStills, ImageProviderDefaults
from aura.providers.images.files import image_folder, save_scene_png
from aura.providers.images.registry import (
    IMAGE_PROVIDERS,
    check_images_request,
    choose_image_provider,
    get_image_provider,
    image_output_settings,
    image_provider_names,
)
from aura.providers.images.stable_diffusion import StableDiffusionProvider
from aura.settings import Settings, get_settings
from aura.stages import visuals


class WatercoloursSettings(ProviderSettings):
    """Its own settings (AURA_WATERCOLOURS_*), in its own file: nothing added to aura.settings."""

    model_config = SettingsConfigDict(env_prefix="AURA_WATERCOLOURS_")
    paper: int = 512


class Watercolours(DrawsStills, ImageProviderDefaults):
    """A provider as a plugin would write one, with settings of its own."""

    name = "watercolours"

    def __init__(self, paper: int):
        self.paper = paper

    @classmethod
    def from_settings(cls, settings):
        return cls(paper=WatercoloursSettings().paper)

    @classmethod
    def output_settings(cls, settings):
        return {"paper": WatercoloursSettings().paper}

    @classmethod
    def check_request(cls, request, settings):
        if request.resolution == "1080p":
            raise SystemCheckError("resolution: watercolours dry too slowly for 1080p: use --resolution 720p")
        return [f"watercolours take a while: {request.duration_seconds} s of video"]

    def status(self):
        return ProviderStatus(self.name, "images", True, f"brushes ready, {self.paper} px paper")

    def render(self, prompts, size, out_dir):
        out_dir = image_folder(out_dir)
        return [save_scene_png(Image.new("RGB", size, (200, 220, 240)), out_dir, p.index) for p in prompts]


@pytest.fixture
def watercolours(monkeypatch, fresh_settings):
    """Watercolours registered and chosen for this test only (the registry and AURA_* are restored after)."""
    monkeypatch.setattr(IMAGE_PROVIDERS, "_providers", dict(IMAGE_PROVIDERS._providers))
    IMAGE_PROVIDERS.register(Watercolours)  # the one line a new provider adds to the registry
    for name in list(os.environ):
        if name.startswith("AURA_") and name != "AURA_STATE_DIR":
            monkeypatch.delenv(name)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("AURA_IMAGE_PROVIDER", "watercolours")
    monkeypatch.setenv("AURA_WATERCOLOURS_PAPER", "768")
    return fresh_settings()


def test_a_new_provider_is_one_class_and_one_registry_line(watercolours, tmp_path, monkeypatch):
    settings = get_settings()
    assert "watercolours" in image_provider_names()
    assert choose_image_provider(settings) == ("watercolours", "AURA_IMAGE_PROVIDER=watercolours")

    provider = get_image_provider("watercolours")
    assert isinstance(provider, Watercolours) and isinstance(provider, ImageProvider)
    assert provider.paper == 768  # made from the settings
    [path] = provider.render([_prompt()], (64, 36), tmp_path)
    assert path.name == "scene_000.png"

    assert image_output_settings("watercolours", settings) == {"provider": "watercolours", "paper": 768}

    assert check_images_request(VideoRequest(brief="x", duration_seconds=20), settings) == [
        "watercolours take a while: 20 s of video"
    ]
    with pytest.raises(SystemCheckError, match="^resolution: watercolours"):
        check_images_request(VideoRequest(brief="x", resolution="1080p"), settings)

    by_name = {check.name: check for check in run_checks()}
    check = by_name["watercolours"]
    assert (check.kind, check.usable) == ("images", True)
    assert check.detail.startswith("brushes ready, 768 px paper [configured]")
    assert "AURA_IMAGE_PROVIDER=watercolours" in check.detail
    assert by_name["slides"].usable  # the built-in ones are still reported

    # its own settings are in the visuals checkpoint key: other paper, other key
    inputs = {"script": Script(title="t", scenes=[Scene(narration="a b c", visual_prompt="p", key_phrase="k")] * 2),
              "request": VideoRequest(brief="x")}  # fmt: skip
    before = visuals.STAGE.cache_key(inputs, settings)
    monkeypatch.setenv("AURA_WATERCOLOURS_PAPER", "512")
    assert image_output_settings("watercolours", settings) == {"provider": "watercolours", "paper": 512}
    assert visuals.STAGE.cache_key(inputs, settings) != before


def test_the_test_provider_is_gone_after_the_test():
    assert "watercolours" not in image_provider_names()
    assert "watercolours" not in registry.IMAGE_PROVIDERS


def test_the_built_in_providers_have_the_shape():
    settings = Settings(_env_file=None, sd_model="models/sd-turbo", sd_steps=2, sd_guidance=0, sd_base_size=512)
    assert {"slides", "stable-diffusion", "library"} <= set(image_provider_names())
    for name in ["slides", "stable-diffusion"]:
        made = IMAGE_PROVIDERS.make(name, settings)
        assert isinstance(made, ImageProvider) and made.name == name
    assert image_output_settings("slides", settings) == {"provider": "slides"}
    assert image_output_settings("stable-diffusion", settings) == {
        "provider": "stable-diffusion", "model": "models/sd-turbo", "steps": 2, "guidance": 0, "base_size": 512,
    }  # fmt: skip
    # the device and batch size are left out of the key, as they always were: they decide how fast, not what
    faster = settings.model_copy(update={"sd_device": "cpu", "sd_batch_size": 4})
    assert image_output_settings("stable-diffusion", faster) == image_output_settings("stable-diffusion", settings)
    assert SlideProvider.check_request(VideoRequest(brief="x", visuals_required=True), settings) == []
    assert StableDiffusionProvider.from_settings(settings).model == "models/sd-turbo"


def test_an_unknown_provider_is_refused_before_any_work():
    settings = Settings(_env_file=None, image_provider="dalle-9000")
    with pytest.raises(SystemCheckError) as caught:
        check_images_request(VideoRequest(brief="x"), settings)
    message = str(caught.value)
    for words in ("'dalle-9000'", "AURA_IMAGE_PROVIDER", "auto", "slides", "stable-diffusion"):
        assert words in message
    with pytest.raises(ProviderError, match="AURA_IMAGE_PROVIDER to auto or one of slides, stable-diffusion"):
        get_image_provider("dalle-9000")


def _prompt():
    return ImagePrompt(index=0, prompt="a lake", key_phrase="Lakes", title="Water", style="story", seed=1)
