"""Generated motion: tiny diffusers video pipelines (built and saved here) turn scenes into clips."""

from __future__ import annotations

import logging
import subprocess

import numpy as np
import pytest
from PIL import Image

from aura.media.probe import probe
from aura.models import VideoRequest
from aura.providers.images import motion
from aura.providers.images.base import ImagePrompt, SceneMedia
from aura.providers.images.motion import MotionSettings, animate, chosen
from flows.generate_video import generate_video
from helpers.jobs import check_video
from helpers.tiny_video import save_tiny_svd, save_tiny_text_to_video



@pytest.fixture(scope="module")
def tiny_i2v(tmp_path_factory):
    return save_tiny_svd(tmp_path_factory.mktemp("tiny-svd"), num_frames=6)


@pytest.fixture(scope="module")
def tiny_t2v(tmp_path_factory):
    return save_tiny_text_to_video(tmp_path_factory.mktemp("tiny-t2v"))


@pytest.fixture(autouse=True)
def _fresh_pipelines():
    motion.unload()
    yield
    motion.unload()


def prompts(count: int) -> list[ImagePrompt]:
    return [ImagePrompt(index=i, prompt=f"lava flows into the sea, shot {i}", key_phrase="lava", title="Volcanoes",
                        style="documentary", seed=10 + i) for i in range(count)]  # fmt: skip


def still(tmp_path, index: int):
    path = tmp_path / f"still_{index}.png"
    Image.new("RGB", (384, 216), (40 * index, 90, 160)).save(path)
    return SceneMedia(index=index, path=path)


def frames_of(clip) -> list[np.ndarray]:
    info = probe(clip).of_kind("video")[0]
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout  # fmt: skip
    return list(np.frombuffer(raw, np.uint8).reshape(-1, info.height, info.width, 3))


def test_the_scenes_asked_for():
    assert chosen("all", 4) == [0, 1, 2, 3] and chosen("first:2", 4) == [0, 1] and chosen("every:2", 5) == [0, 2, 4]


def test_an_image_to_video_model_animates_each_chosen_still_into_a_moving_h264_clip(tmp_path, tiny_i2v):
    scenes = {i: still(tmp_path, i) for i in range(3)}
    settings = MotionSettings(model=str(tiny_i2v), steps=1, base_size=64, scenes="every:2")
    done = animate(scenes, prompts(3), (1280, 720), tmp_path / "out", settings)
    assert sorted(done.media) == [0, 2] and not done.warnings  # scene 2 of 3 stays a still
    for media in done.media.values():
        assert media.kind == "clip" and media.credit.provider == "motion" and media.credit.media_id == tiny_i2v.name
        info = probe(media.path)
        video = info.of_kind("video")[0]
        assert video.codec == "h264" and (video.width, video.height) == (112, 64)  # 16:9 at the model's 64x64 area
        assert info.duration == pytest.approx(6 / 7, abs=0.05)  # the model's 6 frames at SVD's own 7 fps
        pictures = frames_of(media.path)
        assert len(pictures) == 6 and np.abs(pictures[0].astype(int) - pictures[-1].astype(int)).mean() > 1  # it moves


def test_a_text_to_video_model_makes_clips_from_the_prompts(tmp_path, tiny_t2v):
    done = animate({}, prompts(2), (720, 1280), tmp_path / "out", MotionSettings(model=str(tiny_t2v), steps=1, base_size=64, frames=4))
    assert sorted(done.media) == [0, 1]
    video = probe(done.media[0].path).of_kind("video")[0]
    assert video.height > video.width and len(frames_of(done.media[0].path)) == 4  # 9:16, as asked


def test_out_of_memory_retries_smaller_then_leaves_the_still(tmp_path, tiny_i2v, monkeypatch, caplog):
    import torch

    real, asked = motion._generate, []

    def short_of_memory(pipe, device, torch_, settings, prompt, still_, size, frames, fps, defaults):
        asked.append((size, frames))
        if len(asked) == 1 or prompt.index == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")
        return real(pipe, device, torch_, settings, prompt, still_, size, frames, fps, defaults)

    monkeypatch.setattr(motion, "_generate", short_of_memory)
    settings = MotionSettings(model=str(tiny_i2v), steps=1, base_size=128)
    with caplog.at_level(logging.WARNING, logger="aura.providers"):
        done = animate({0: still(tmp_path, 0), 1: still(tmp_path, 1)}, prompts(2), (1280, 720), tmp_path / "o", settings)
    (first, frames), (second, fewer) = asked[:2]
    assert frames == 6 and fewer == 3 and second[0] * second[1] < first[0] * first[1]  # half the frames, smaller
    assert sorted(done.media) == [0]
    smallest = motion.clip_size((1280, 720), 64)
    assert done.warnings == [f"motion: scene 2 keeps its still (out of cpu memory even at {smallest[0]}x{smallest[1]}, 2 frames)"]
    assert f"ran out of cpu memory: trying 3 frames at {second[0]}x{second[1]}" in caplog.text
    with pytest.raises(Exception, match="out of cpu memory"):
        animate({1: still(tmp_path, 1)}, prompts(2)[1:], (1280, 720), tmp_path / "o", settings, required=True)


def test_a_model_that_is_not_there_leaves_stills_with_a_warning(tmp_path):
    done = animate({0: still(tmp_path, 0)}, prompts(1), (1280, 720), tmp_path / "o", MotionSettings(model=str(tmp_path / "none")))
    assert not done.media and "AURA_MOTION_MODEL=" in done.warnings[0] and "keep their stills" in done.warnings[0]


@pytest.mark.e2e
def test_a_video_whose_scenes_are_generated_clips_and_whose_second_run_reuses_them(
    prefect_server, tmp_path, tiny_i2v, monkeypatch, fresh_settings
):  # fmt: skip
    for name, value in {"AURA_MOTION_MODEL": str(tiny_i2v), "AURA_MOTION_STEPS": "1", "AURA_MOTION_BASE_SIZE": "64"}.items():
        monkeypatch.setenv(name, value)
    fresh_settings()
    request = VideoRequest(brief="How lava becomes new land", duration_seconds=10, aspect="16:9", seed=4)
    first = generate_video(request, preset="quick_demo", output=str(tmp_path))
    metadata = check_video(tmp_path / first.job_id, request)
    assert metadata["credits"] and all(c["provider"] == "motion" and c["kind"] == "clip" for c in metadata["credits"])
    assert all(c["media_id"] == tiny_i2v.name for c in metadata["credits"])
    second = generate_video(request, preset="quick_demo", output=str(tmp_path))
    assert second.stages["visuals"].cached and second.stages["visuals"].cached_from == first.job_id


def test_a_missing_motion_model_is_named_before_any_work(tmp_path, monkeypatch):
    from aura.errors import SystemCheckError
    from aura.providers.images.registry import check_motion_request

    monkeypatch.setenv("AURA_MOTION_MODEL", str(tmp_path / "svd-missing"))
    [warning] = check_motion_request(VideoRequest(brief="Why rivers bend"))
    assert "AURA_MOTION_MODEL=" in warning and "the scenes will be stills" in warning
    with pytest.raises(SystemCheckError, match="visuals_required: AURA_MOTION_MODEL="):
        check_motion_request(VideoRequest(brief="Why rivers bend", visuals_required=True))
