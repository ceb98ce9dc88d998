"""The visuals stage, called as a plain function with the offline slides provider."""

from __future__ import annotations

import hashlib

import pytest
from PIL import Image

from aura.errors import ProviderError
from aura.media.plan import overscan_size
from aura.models import Scene, Script, VideoRequest
from aura.stages.visuals import IMAGES_DIR, draw_stills
from aura.store import ArtifactStore

SCENES = [
    ("Deep under the ground, hot magma slowly rises.", "Magma rises"),
    ("Pressure builds beneath the thick rocky crust.", "Pressure builds"),
    ("At last the mountain erupts with fire and ash.", "Eruption!"),
]


def _script() -> Script:
    return Script(
        title="How volcanoes form",
        scenes=[Scene(narration=n, visual_prompt=f"a volcano: {k}", key_phrase=k) for n, k in SCENES],
    )


def _render(tmp_path, job_id: str, **request):
    request = VideoRequest(brief="How volcanoes form", **request)
    job = ArtifactStore(str(tmp_path)).job(job_id)
    return job, request, draw_stills(_script(), request, job, "slides")


@pytest.mark.parametrize("aspect", ["16:9", "9:16"])
def test_one_overscan_image_per_scene_with_its_checksum(tmp_path, aspect):
    job, request, visuals = _render(tmp_path, "t1", seed=7, aspect=aspect)
    size = overscan_size(*request.size)
    assert visuals.provider == "slides"
    assert tuple(visuals.size) == size
    assert visuals.warnings == []
    assert len(visuals.images) == len(SCENES)
    assert len({ref.key for ref in visuals.images}) == len(SCENES)
    for ref in visuals.images:
        assert ref.key.startswith(IMAGES_DIR + "/")
        path = job.path(ref.key)
        data = path.read_bytes()
        assert ref.sha256 == hashlib.sha256(data).hexdigest()
        assert ref.size == len(data)
        with Image.open(path) as image:
            assert image.size == size
    # no temporary files left beside the images
    assert not [p for p in job.path(IMAGES_DIR).iterdir() if p.name.startswith(".")]


def test_same_request_gives_identical_images(tmp_path):
    first_job, _, first = _render(tmp_path, "a", seed=42)
    second_job, _, second = _render(tmp_path, "b", seed=42)
    assert [r.sha256 for r in first.images] == [r.sha256 for r in second.images]
    for a, b in zip(first.images, second.images):
        assert first_job.path(a.key).read_bytes() == second_job.path(b.key).read_bytes()
    # without a seed the brief decides: still the same every time
    _, _, unseeded_a = _render(tmp_path, "c")
    _, _, unseeded_b = _render(tmp_path, "d")
    assert [r.sha256 for r in unseeded_a.images] == [r.sha256 for r in unseeded_b.images]


def test_a_different_seed_gives_a_different_first_image(tmp_path):
    _, _, first = _render(tmp_path, "a", seed=1)
    _, _, other = _render(tmp_path, "b", seed=2)
    assert first.images[0].sha256 != other.images[0].sha256


def test_scenes_of_one_video_do_not_look_identical(tmp_path):
    _, _, visuals = _render(tmp_path, "a", seed=3)
    assert len({r.sha256 for r in visuals.images}) == len(SCENES)


def test_an_unknown_provider_is_named_with_the_setting_to_fix(tmp_path):
    job = ArtifactStore(str(tmp_path)).job("t1")
    request = VideoRequest(brief="How volcanoes form")
    with pytest.raises(ProviderError) as caught:
        draw_stills(_script(), request, job, "dalle-9000")
    message = str(caught.value)
    assert "AURA_IMAGE_PROVIDER" in message
    assert "dalle-9000" in message
    assert "slides" in message  # says what it can be set to
    assert not job.path(IMAGES_DIR).exists()
