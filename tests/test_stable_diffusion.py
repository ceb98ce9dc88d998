"""The Stable Diffusion provider, run for real on a tiny random-weight pipeline loaded from disk.

torch and diffusers are required here (CI installs the `sd` extra): a missing
package fails these tests rather than skipping them.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aura import progress
from aura.errors import ProviderUnavailable
from aura.media.plan import overscan_size
from aura.providers.images import ImagePrompt
from aura.providers.images import stable_diffusion as sd
from aura.providers.images.registry import get_image_provider
from aura.providers.images.stable_diffusion import (
    StableDiffusionProvider,
    auto_batch_size,
    generation_size,
    pick_device,
)
from helpers.tiny_sd import build_tiny_sd_pipeline

STEPS = 2
BASE = 64  # 88x48 for 16:9: the tiny UNet draws that in a few ms


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_sd_pipeline(tmp_path_factory.mktemp("sd") / "tiny-sd")


@pytest.fixture(autouse=True)
def _fresh_pipeline_cache():
    sd.clear_pipeline_cache()
    yield
    sd.clear_pipeline_cache()


def _provider(model, batch_size: int = 0, **kwargs) -> StableDiffusionProvider:
    options = {"device": "cpu", "steps": STEPS, "guidance": 7.5, "base_size": BASE, **kwargs}
    return StableDiffusionProvider(str(model) if model is not None else None, batch_size=batch_size, **options)


def _prompts(seeds=(11, 22, 33), style: str = "documentary") -> list[ImagePrompt]:
    subjects = ["magma rising under a volcano", "pressure building in the crust", "a volcano erupting at night"]
    return [
        ImagePrompt(index=i, prompt=subjects[i % 3], key_phrase=f"Phrase {i}", title="Volcanoes", style=style, seed=seed)
        for i, seed in enumerate(seeds)
    ]


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


# ---------------------------------------------------------------- rendering


@pytest.mark.parametrize("frame", [(1280, 720), (720, 1280)], ids=["16:9", "9:16"])
def test_one_image_per_scene_of_exactly_the_requested_size(tiny_model, tmp_path, frame):
    size = overscan_size(*frame)
    prompts = _prompts()
    paths = _provider(tiny_model, batch_size=2).render(prompts, size, tmp_path / "images")
    assert [p.name for p in paths] == ["scene_000.png", "scene_001.png", "scene_002.png"]
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.size == size
            assert image.mode == "RGB"
    # written atomically: no temporary files left beside the images
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [p.name for p in paths]


def test_the_same_seed_gives_the_same_image_and_another_seed_a_different_one(tiny_model, tmp_path):
    provider = _provider(tiny_model, batch_size=1)
    size = (320, 180)
    first = provider.render(_prompts(seeds=(5,)), size, tmp_path / "a")[0]
    again = provider.render(_prompts(seeds=(5,)), size, tmp_path / "b")[0]
    other = provider.render(_prompts(seeds=(6,)), size, tmp_path / "c")[0]
    assert np.array_equal(_pixels(first), _pixels(again))
    assert np.abs(_pixels(first) - _pixels(other)).mean() > 5


def test_a_batch_gives_the_same_images_as_one_at_a_time(tiny_model, tmp_path):
    size = (320, 180)
    prompts = _prompts(seeds=(101, 202, 303))
    batched = _provider(tiny_model, batch_size=3).render(prompts, size, tmp_path / "batched")
    single = _provider(tiny_model, batch_size=1).render(prompts, size, tmp_path / "single")
    for a, b in zip(batched, single):
        # The latents are identical (one generator per image); only float sums differ in
        # order when the UNet's matmuls run over 3 images instead of 1, which can flip a
        # pixel by a level or two after rounding to 8 bits. Anything above that is a bug.
        assert np.abs(_pixels(a) - _pixels(b)).max() <= 2
    assert len({_pixels(p).tobytes() for p in batched}) == 3  # and the scenes do differ


def test_the_pipeline_is_loaded_once_and_reused_across_renders(tiny_model, tmp_path, monkeypatch):
    loads = []
    real_load = sd._load_pipeline

    def counting_load(*args):
        loads.append(args)
        return real_load(*args)

    monkeypatch.setattr(sd, "_load_pipeline", counting_load)
    _provider(tiny_model).render(_prompts(seeds=(1,)), (160, 90), tmp_path / "one")
    # another provider object, the folder written differently: still the same pipeline
    same_folder = tiny_model.parent / ".." / tiny_model.parent.name / tiny_model.name
    _provider(same_folder).render(_prompts(seeds=(2,)), (90, 160), tmp_path / "two")
    assert len(loads) == 1
    assert sd.get_pipeline(str(tiny_model), "cpu", "float32") is sd.get_pipeline(str(same_folder), "cpu", "float32")
    assert len(loads) == 1


def test_progress_is_reported_per_batch(tiny_model, tmp_path):
    heard = []

    def listener(stage, fraction, message):
        heard.append((stage, fraction))

    progress.add_listener(listener)
    try:
        _provider(tiny_model, batch_size=2).render(_prompts(), (160, 90), tmp_path)
    finally:
        progress.remove_listener(listener)
    fractions = [f for stage, f in heard if stage == "visuals"]
    assert len(fractions) == 3  # loading, then 2 batches (2 + 1 images)
    assert fractions == sorted(fractions)
    assert 0.9 <= fractions[-1] < 1.0  # the stage itself reports 1.0 when the files are registered


def test_the_visuals_stage_renders_with_stable_diffusion_from_settings(tiny_model, tmp_path, monkeypatch, fresh_settings):
    from aura.models import Scene, Script, VideoRequest
    from aura.stages.visuals import draw_stills
    from aura.store import ArtifactStore

    monkeypatch.setenv("AURA_SD_MODEL", str(tiny_model))
    monkeypatch.setenv("AURA_SD_DEVICE", "cpu")
    monkeypatch.setenv("AURA_SD_STEPS", "2")
    monkeypatch.setenv("AURA_SD_BASE_SIZE", "128")
    fresh_settings()
    script = Script(
        title="Volcanoes",
        scenes=[Scene(narration="Magma rises.", visual_prompt="magma", key_phrase="Magma rises")] * 2,
    )
    request = VideoRequest(brief="How volcanoes form", seed=3, resolution="720p")
    job = ArtifactStore(str(tmp_path)).job("sd")
    visuals = draw_stills(script, request, job, "stable-diffusion")
    assert visuals.provider == "stable-diffusion"
    assert len(visuals.images) == 2
    for ref in visuals.images:
        with Image.open(job.path(ref.key)) as image:
            assert image.size == tuple(visuals.size) == overscan_size(*request.size)


# ---------------------------------------------------------------- unavailable models


def _assert_names_model_and_setting(caught, model: str) -> None:
    message = str(caught.value)
    assert model in message
    assert "AURA_SD_MODEL" in message


def test_a_missing_folder_is_unavailable_and_named(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ProviderUnavailable) as caught:
        _provider(missing).render(_prompts(), (160, 90), tmp_path / "out")
    _assert_names_model_and_setting(caught, str(missing))
    assert "does not exist" in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_a_folder_that_is_not_a_pipeline_is_unavailable_and_named(tmp_path):
    folder = tmp_path / "just-files"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"\0" * 16)
    with pytest.raises(ProviderUnavailable) as caught:
        _provider(folder).render(_prompts(), (160, 90), tmp_path / "out")
    _assert_names_model_and_setting(caught, str(folder))
    assert "model_index.json" in str(caught.value)


def test_a_broken_pipeline_folder_is_unavailable_and_named(tiny_model, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "model_index.json").write_text((tiny_model / "model_index.json").read_text())
    with pytest.raises(ProviderUnavailable) as caught:  # components are missing
        _provider(folder).render(_prompts(), (160, 90), tmp_path / "out")
    _assert_names_model_and_setting(caught, str(folder))


def test_an_uncached_hub_id_fails_fast_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = "aura-tests/no-such-sd-model"
    with pytest.raises(ProviderUnavailable) as caught:
        _provider(model).render(_prompts(), (160, 90), tmp_path / "out")
    _assert_names_model_and_setting(caught, model)
    assert f"hf download {model} --local-dir" in str(caught.value)


def test_a_missing_sd_extra_says_how_to_install_it(tiny_model, tmp_path, monkeypatch):
    real_find_spec = sd.importlib.util.find_spec
    monkeypatch.setattr(sd.importlib.util, "find_spec", lambda name, *a: None if name == "diffusers" else real_find_spec(name, *a))
    status = _provider(tiny_model).status()
    assert not status.usable
    assert "diffusers" in status.detail and "pip install 'aura-video[sd]'" in status.detail
    with pytest.raises(ProviderUnavailable, match=r"pip install torch && pip install 'aura-video\[sd\]'"):
        _provider(tiny_model).render(_prompts(), (160, 90), tmp_path)


def test_no_model_set_is_unavailable(tmp_path):
    with pytest.raises(ProviderUnavailable, match="AURA_SD_MODEL is not set"):
        _provider(None).render(_prompts(), (160, 90), tmp_path)


# ---------------------------------------------------------------- status (never loads the model)


def test_status_when_the_model_is_not_set():
    status = _provider(None).status()
    assert (status.name, status.kind, status.usable) == ("stable-diffusion", "images", False)
    assert "AURA_SD_MODEL is not set" in status.detail


def test_status_of_a_missing_folder(tmp_path):
    status = _provider(tmp_path / "gone").status()
    assert not status.usable
    assert str(tmp_path / "gone") in status.detail
    assert "does not exist" in status.detail


def test_status_of_an_uncached_hub_id(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    status = _provider("aura-tests/no-such-sd-model").status()
    assert not status.usable
    assert "cache" in status.detail


def test_status_of_a_good_folder_says_device_and_dtype_without_loading(tiny_model, monkeypatch):
    monkeypatch.setattr(sd, "_load_pipeline", lambda *args: pytest.fail("status() loaded the model"))
    status = _provider(tiny_model, device="auto").status()
    assert status.usable, status.detail
    device = pick_device("auto")
    assert f"on {device} ({sd.dtype_name(device)})" in status.detail


def test_the_registry_builds_it_from_settings(tiny_model, monkeypatch, fresh_settings):
    monkeypatch.setenv("AURA_SD_MODEL", str(tiny_model))
    monkeypatch.setenv("AURA_SD_STEPS", "3")
    monkeypatch.setenv("AURA_SD_BATCH_SIZE", "4")
    fresh_settings()
    provider = get_image_provider("stable-diffusion")
    assert isinstance(provider, StableDiffusionProvider)
    assert (provider.model, provider.steps, provider.batch_size) == (str(tiny_model), 3, 4)


def test_importing_the_registry_does_not_import_torch():
    code = "import sys, aura.providers.images.registry; sys.exit('torch' in sys.modules or 'diffusers' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False, cwd=Path(__file__).parents[1]).returncode == 0


# ---------------------------------------------------------------- pure helpers


@pytest.mark.parametrize("base", [512, 768, 1024])
@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920), (1000, 1000), overscan_size(1280, 720)])
def test_generation_size_keeps_the_aspect_at_the_models_area(size, base):
    w, h = generation_size(size, base)
    assert w % 8 == 0 and h % 8 == 0
    assert abs((w / h) / (size[0] / size[1]) - 1) < 0.03
    assert abs(w * h / base**2 - 1) < 0.03


def test_generation_size_for_sd15():
    assert generation_size((1920, 1080), 512) == (680, 384)
    assert generation_size((1080, 1920), 512) == (384, 680)
    assert generation_size((1080, 1080), 512) == (512, 512)


def test_pick_device_prefers_cuda_then_mps_then_cpu():
    assert pick_device("auto", ["cpu", "mps", "cuda"]) == "cuda"
    assert pick_device("auto", ["cpu", "mps"]) == "mps"
    assert pick_device("auto", ["cpu"]) == "cpu"
    assert pick_device("cpu", ["cpu", "cuda"]) == "cpu"
    with pytest.raises(ProviderUnavailable, match="AURA_SD_DEVICE=cuda"):
        pick_device("cuda", ["cpu"])


def test_auto_batch_size_follows_free_gpu_memory_and_pixel_area():
    gib = 2**30
    assert auto_batch_size("cpu", (512, 512)) == sd.CPU_BATCH
    assert auto_batch_size("mps", (512, 512)) == sd.CPU_BATCH
    assert auto_batch_size("cuda", (512, 512), free_bytes=int(0.5 * gib)) == 1  # never 0
    assert auto_batch_size("cuda", (512, 512), free_bytes=10 * gib) == 6
    assert auto_batch_size("cuda", (1024, 1024), free_bytes=10 * gib) == 1  # 4x the pixels
    assert auto_batch_size("cuda", (512, 512), free_bytes=10 * gib, dtype="float32") == 3
    assert auto_batch_size("cuda", (512, 512), free_bytes=200 * gib) == sd.MAX_BATCH


def test_a_timeout_stops_sampling_at_the_next_step_and_releases_the_model(tiny_model, tmp_path, monkeypatch):
    from aura.supervision import RunCancelled, Scope, StageTimeout, cancel_run, end_run

    steps_taken: list[int] = []
    real_check_in = sd._check_in

    def slow_step(pipe, step, timestep, tensors):
        steps_taken.append(step)
        time.sleep(0.1)  # a slow GPU: each step takes a while
        return real_check_in(pipe, step, timestep, tensors)

    monkeypatch.setattr(sd, "_check_in", slow_step)
    provider = _provider(tiny_model, steps=500)
    provider._pipeline()  # loaded before the clock starts: the deadline falls inside sampling
    with pytest.raises(StageTimeout):
        with Scope("visuals", timeout_s=0.5):
            provider.render(_prompts(), (160, 90), tmp_path / "timeout")
    assert 1 <= len(steps_taken) < 100, "sampling did not stop at the step after the deadline"
    assert not list((tmp_path / "timeout").glob("*.png"))
    assert sd._cache, "a timeout keeps the model loaded for the retry"

    threading.Timer(0.3, cancel_run, args=("sd-cancel", "cancelled from the UI")).start()
    with pytest.raises(RunCancelled):
        with Scope("visuals", run_id="sd-cancel"):
            provider.render(_prompts(), (160, 90), tmp_path / "cancel")
    end_run("sd-cancel")
    assert not sd._cache, "a cancelled run hands the model's memory back"
    assert not sd._sampling_lock.locked()
