"""Issue 3's promises, end to end: Stable Diffusion stills, a dead LLM and a dead TTS endpoint
that cost a bounded time before the fallbacks serve, and a fact from a reference document that
reaches the narration. Every part is real except the network, which is a local port.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.media import parse_srt
from helpers.tiny_sd import build_tiny_sd_pipeline
from PIL import Image, ImageChops

from aura.media.probe import probe
from aura.models import Script, VideoRequest
from aura.options import PipelineOptions, StagePolicy
from aura.providers.images.stable_diffusion import StableDiffusionProvider
from aura.stages.visuals import prompts_for
from flows.generate_video import generate_video

pytestmark = pytest.mark.e2e

FACT = "The Zarnok Basin holds 417 dormant vents"
REFERENCE = f"""# Field notes: the Zarnok Basin

{FACT}, more than any other basin surveyed. Geologists call the largest one the sleeping kettle.
Its last eruption, 9,000 years ago, left a lake of black glass that locals still walk on.
"""
SD_ENV = {"AURA_SD_STEPS": "2", "AURA_SD_GUIDANCE": "1.5", "AURA_SD_BASE_SIZE": "128", "AURA_SD_DEVICE": "cpu"}


@pytest.fixture(scope="module")
def tiny_sd_model(tmp_path_factory) -> Path:
    return build_tiny_sd_pipeline(tmp_path_factory.mktemp("sd") / "tiny-sd")


def test_cli_makes_stable_diffusion_scenes_despite_dead_llm_and_tts(tmp_path, tiny_sd_model, silent_proxy, refused_port, prefect_api_url, local_paths):
    notes = tmp_path / "zarnok.md"
    notes.write_text(REFERENCE, encoding="utf-8")
    env = {
        **os.environ, **SD_ENV,
        "PREFECT_API_URL": prefect_api_url,  # the session's server (test_cli_server covers a temporary one)
        "AURA_SD_MODEL": str(tiny_sd_model),
        # the LLM: a port nobody listens on; the offline writer closes the chain
        "AURA_LLM_MODEL": "openai/gpt-4o-mini", "AURA_LLM_API_BASE": f"http://127.0.0.1:{refused_port}/v1",
        "AURA_LLM_API_KEY": "sk-test", "AURA_LLM_RETRIES": "0",
        # the TTS: gTTS through a proxy that never answers; piper (then espeak-ng) closes the chain
        "AURA_TTS_PROVIDER": "gtts", "AURA_TTS_TIMEOUT_S": "2",
        "HTTPS_PROXY": f"http://127.0.0.1:{silent_proxy}", "https_proxy": f"http://127.0.0.1:{silent_proxy}",
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    }  # fmt: skip
    out = tmp_path / "out"
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "aura.cli", "generate", "The Zarnok Basin and its volcanoes", "--duration", "20",
         "--reference", str(notes), "--seed", "11", "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=400, env=env,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    metadata = json.loads(Path(report["metadata"]).read_text(encoding="utf-8"))

    # who served, and why the others did not
    providers = metadata["providers"]
    assert (providers["llm"], providers["tts"], providers["images"]) == ("aura/offline", "piper", "stable-diffusion")
    assert report["providers"]["images"] == "stable-diffusion"
    assert any(w.startswith("openai/gpt-4o-mini: ") for w in metadata["warnings"])
    # the deadline thread or the socket's own timeout may fire first: either way, a timeout
    assert any(w.startswith("gtts failed") and re.search(r"within timeout_s=2 s|timed out", w) for w in metadata["warnings"])
    # bounded: one LLM refusal, one TTS timeout, then the offline parts; generous for a loaded 2-core machine
    assert elapsed < 240

    # the reference fact reached the narration and the subtitles, and the source is listed
    narration = " ".join(scene["narration"] for scene in metadata["script"]["scenes"])
    assert FACT in narration
    subtitles = " ".join(" ".join(cue.lines) for cue in parse_srt(Path(report["subtitles"])))
    assert "Zarnok Basin holds 417 dormant vents" in " ".join(subtitles.split())
    assert [ref["source"] for ref in metadata["references"]][:1] == ["zarnok.md"]

    # the scenes are the Stable Diffusion images of their prompts and seeds, not slides
    request = VideoRequest.model_validate(metadata["request"])
    script = Script.model_validate(metadata["script"])
    stills = sorted((Path(report["folder"]) / "work" / "images").iterdir())
    assert len(stills) == len(script.scenes)
    provider = StableDiffusionProvider(
        str(tiny_sd_model), device="cpu", steps=2, guidance=1.5, base_size=128
    )
    with Image.open(stills[0]) as used:
        again = provider.render(prompts_for(script, request)[:1], used.size, tmp_path / "again")
        with Image.open(again[0]) as redrawn:
            assert ImageChops.difference(used.convert("RGB"), redrawn.convert("RGB")).getbbox() is None

    info = probe(Path(report["video"]))
    assert [s.codec for s in info.of_kind("video")] == ["h264"] and [s.codec for s in info.of_kind("audio")] == ["aac"]
    assert (info.of_kind("video")[0].width, info.of_kind("video")[0].height) == (1280, 720)


def test_an_unloadable_model_falls_back_to_slides_at_once(prefect_server, tmp_path, monkeypatch, fresh_settings):
    missing = tmp_path / "no-such-model"
    monkeypatch.setenv("AURA_SD_MODEL", str(missing))
    fresh_settings()
    # retries allowed: an unavailable model must not use them
    options = PipelineOptions(visuals=StagePolicy(retries=3, retry_delay_s=5, timeout_s=120))
    request = VideoRequest(brief="How glaciers carve valleys", duration_seconds=10, aspect="1:1")
    result = generate_video(request, options=options, output=str(tmp_path / "out"))
    metadata = json.loads(Path(result.paths()["metadata"]).read_text(encoding="utf-8"))
    assert metadata["providers"]["images"] == "slides"
    assert [row["provider"] for row in metadata["credits"]] == ["slides"] * len(metadata["credits"])
    # the chain passes every scene on to slides inside the visuals task, and says why
    warning = next(w for w in metadata["warnings"] if w.startswith("visuals: stable-diffusion failed"))
    assert str(missing) in warning and "AURA_SD_MODEL" in warning and warning.endswith("fell back to slides")
    assert _attempts(result.flow_run_id, "visuals") == 1  # not retried: retrying cannot make the model appear

    required = request.model_copy(update={"visuals_required": True})
    state = generate_video(required, options=options, output=str(tmp_path / "out"), return_state=True)
    assert state.is_failed()
    assert str(missing) in str(state.result(raise_on_failure=False))


def _attempts(flow_run_id: str, task_name: str) -> int:
    """How many times Prefect ran one task of a flow run (its run_count)."""
    from helpers.runs import task_runs_of

    runs = task_runs_of(flow_run_id)
    # task runs are named "<task>-<suffix>": "visuals-fallback-3c1" is another task
    (run,) = [r for r in runs if re.fullmatch(rf"{task_name}-\w+", r.name)]
    return run.run_count


def test_without_a_model_the_slides_say_why(prefect_server, tmp_path, monkeypatch, fresh_settings):
    monkeypatch.delenv("AURA_SD_MODEL", raising=False)
    fresh_settings()
    result = generate_video(VideoRequest(brief="Why leaves change colour", duration_seconds=10), output=str(tmp_path))
    assert result.providers["images"] == "slides"
    assert "AURA_SD_MODEL is not set" in result.providers["images_reason"]
