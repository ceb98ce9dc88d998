"""Checkpoint keys: what re-runs a stage, and what must not."""

from __future__ import annotations

import fsspec
import pytest

from aura.models import MediaRef, Narration, Scene, SceneTiming, SceneVisual, Script, VideoRequest, Visuals
from aura.options import PipelineOptions
from aura.settings import Settings
from aura.stages import compose, script, visuals, voice
from aura.stages.checkpoints import source_digest

REQUEST = VideoRequest(brief="How volcanoes form", duration_seconds=20, aspect="9:16", seed=4)
SCRIPT = Script(
    title="Fire Below",
    scenes=[Scene(narration="Magma rises.", visual_prompt="magma", key_phrase="Magma"),
            Scene(narration="It erupts.", visual_prompt="eruption", key_phrase="Eruption")],
)  # fmt: skip
REF = MediaRef(key="work/narration.wav", size=10, sha256="a" * 64)
NARRATION = Narration(audio=REF, duration=19.0, sample_rate=22050, scenes=[SceneTiming(index=0, start=0, end=19, speech_end=18)], provider="espeak-ng", voice="en")
VISUALS = Visuals(
    scenes=[SceneVisual(index=0, media=MediaRef(key="work/images/scene_000.png", size=5, sha256="b" * 64))],
    size=(800, 1400), provider="slides",
)  # fmt: skip


def keys(request: VideoRequest = REQUEST, settings: Settings | None = None, **inputs) -> dict[str, str]:
    settings = settings or Settings(_env_file=None)
    common = {"request": request, "script": SCRIPT, "store_url": "/tmp/a", "job_id": "job-1", **inputs}
    composing = {"narration": NARRATION, "visuals": VISUALS, "options": PipelineOptions(), **common}
    return {
        "script": script.STAGE.cache_key(common, settings),
        "voice": voice.STAGE.cache_key(common, settings),
        "visuals": visuals.STAGE.cache_key(common, settings),
        "compose": compose.STAGE.cache_key(composing, settings),
    }


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {stage for stage in before if before[stage] != after[stage]}


def test_the_run_and_the_store_are_not_part_of_any_key():
    assert keys() == keys(store_url="/elsewhere", job_id="another-run")
    assert keys() == keys(REQUEST.model_copy(update={"fresh": True}))
    assert all(key.startswith(stage + "-") for stage, key in keys().items())


@pytest.mark.parametrize(
    ("update", "stages"),
    [
        ({"voice": "en-GB-scotland"}, {"voice", "compose"}),
        ({"style": "story"}, {"script", "visuals", "compose"}),
        ({"aspect": "16:9"}, {"visuals", "compose"}),
        ({"seed": 5}, {"visuals", "compose"}),
        ({"brief": "How glaciers form"}, {"script", "compose"}),
        ({"duration_seconds": 30}, {"script", "voice", "compose"}),
        ({"fps": 24}, {"compose"}),
    ],
)
def test_a_request_change_reruns_only_the_stages_that_read_it(update, stages):
    assert changed(keys(), keys(REQUEST.model_copy(update=update))) == stages


@pytest.mark.parametrize(
    ("setting", "stages"),
    [
        ({"llm_model": "openai/gpt-4o-mini"}, {"script"}),
        ({"words_per_minute": 170}, {"script"}),
        ({"tts_provider": ["gtts"]}, {"voice"}),
        ({"image_provider": "stable-diffusion", "sd_model": "models/sd-turbo"}, {"visuals"}),
        ({"crf": 30}, {"compose"}),
        ({"llm_timeout_s": 5, "tts_timeout_s": 3, "llm_api_key": "sk-secret"}, set()),  # never timeouts or secrets
    ],
)
def test_a_settings_change_reruns_only_the_stages_it_affects(setting, stages):
    assert changed(keys(), keys(settings=Settings(_env_file=None, **setting))) == stages


def test_stable_diffusion_knobs_matter_only_when_it_draws_the_images():
    slides = Settings(_env_file=None)
    assert keys(settings=slides) == keys(settings=Settings(_env_file=None, sd_steps=2))
    sd = {"image_provider": "stable-diffusion", "sd_model": "m"}
    assert changed(keys(settings=Settings(_env_file=None, **sd)), keys(settings=Settings(_env_file=None, sd_steps=2, **sd))) == {"visuals"}


def test_editing_a_reference_document_rewrites_the_script(tmp_path, local_paths):
    notes = tmp_path / "notes.md"
    notes.write_text("Basalt is runny.")
    request = REQUEST.model_copy(update={"references": [str(tmp_path)]})
    before = keys(request)
    notes.write_text("Rhyolite is sticky.")
    assert changed(before, keys(request)) == {"script"}


def test_new_music_rerenders_only_the_composition(tmp_path, local_paths):
    music = tmp_path / "bed.wav"
    music.write_bytes(b"one")
    request = REQUEST.model_copy(update={"music": str(music)})
    before = keys(request)
    music.write_bytes(b"two")
    assert changed(before, keys(request)) == {"compose"}


def test_new_upstream_files_rerender_the_composition():
    other = NARRATION.model_copy(update={"audio": REF.model_copy(update={"sha256": "c" * 64})})
    assert keys()["compose"] != keys(narration=other)["compose"]


def test_each_stage_hashes_its_own_sources():
    policies = {stage.name: stage.task.cache_policy for stage in (script.STAGE, voice.STAGE, visuals.STAGE, compose.STAGE)}
    digests = {name: source_digest(policy.sources) for name, policy in policies.items()}
    assert len(set(digests.values())) == 4
    assert source_digest(policies["voice"].sources) == digests["voice"]
    assert "aura.stages.voice" in policies["voice"].sources and "aura.providers.tts" in policies["voice"].sources


def test_results_live_in_the_store_unless_configured():
    default = Settings(_env_file=None)
    assert default.result_storage_location("/data/out") == "/data/out/.prefect-results"
    assert default.result_storage_location("s3://bucket/aura") == "s3://bucket/aura/.prefect-results"
    shared = Settings(_env_file=None, result_storage="s3://bucket/results")
    assert shared.result_storage_location("/data/out") == "s3://bucket/results"


@pytest.mark.e2e
def test_a_remote_store_holds_the_checkpoints_and_the_files(prefect_server):
    """An fsspec store (memory:// here; s3:// or gcs:// in a cluster): results and media move by key."""
    from flows.generate_video import generate_video

    url = "memory://aura-checkpoint-test"
    request = VideoRequest(brief="How bees make honey", duration_seconds=10, aspect="1:1")
    first = generate_video(request, preset="quick_demo", output=url)
    second = generate_video(request, preset="quick_demo", output=url)
    fs = fsspec.filesystem("memory")
    assert {p.rsplit("/", 1)[-1].split("-")[0] for p in fs.ls("/aura-checkpoint-test/.prefect-results", detail=False)} == {
        "script", "voice", "visuals", "compose",
    }  # fmt: skip
    assert all(second.stages[s].cached for s in ("script", "voice", "visuals", "compose"))
    assert second.stages["compose"].cached_from == first.job_id
    names = {p.rsplit("/", 1)[-1] for p in fs.ls(f"/aura-checkpoint-test/{second.job_id}", detail=False)}
    assert {"video.mp4", "subtitles.srt", "thumbnail.jpg", "metadata.json"} <= names
