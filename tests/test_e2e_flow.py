"""End to end through the real Prefect flow: probe the files a user gets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from helpers.media import parse_srt, top_level_boxes
from helpers.runs import task_runs_of
from PIL import Image

from aura import spend
from aura.media.audio import measure_loudness
from aura.media.ffmpeg import ffmpeg_path
from aura.media.probe import probe
from aura.models import VideoRequest
from aura.options import PipelineOptions, StagePolicy
from aura.providers.images import registry
from aura.providers.images.base import DrawsStills, ImageProviderDefaults
from aura.stages.pipeline import STAGE_NAMES
from flows.generate_video import generate_video

pytestmark = pytest.mark.e2e

METACHARACTERS = (
    "Quotes ' and colons : and backslashes \\ and 100% [brackets], commas; braces {\\b1} and \\N stay literal. "
    "Shell bits $(rm -rf /) | & > < `id` are just words. "
    "Volcanoes — вулканы, البراكين, ज्वालामुखी — erupt when magma rises."
)


def _check_video(result, request: VideoRequest) -> dict:
    """The checks a user makes on a finished job; returns metadata.json."""
    paths = {k: Path(v) for k, v in result.paths().items()}
    for name, path in paths.items():
        assert path.is_file() and path.stat().st_size > 0, f"{name} missing"
    folder = Path(result.folder)
    assert not list(folder.rglob(".tmp-*")), "temporary files left behind"

    info = probe(paths["video"])
    video, audio = info.of_kind("video"), info.of_kind("audio")
    assert [v.codec for v in video] == ["h264"]
    assert [a.codec for a in audio] == ["aac"]
    assert (video[0].width, video[0].height) == request.size
    boxes = top_level_boxes(paths["video"])
    assert boxes.index("moov") < boxes.index("mdat"), f"not faststart: {boxes}"

    metadata = json.loads(paths["metadata"].read_text(encoding="utf-8"))
    narration = folder / "work" / "narration.wav"
    with wave.open(str(narration)) as wav:
        narration_seconds = wav.getnframes() / wav.getframerate()
    assert abs(info.duration - narration_seconds) <= 0.1
    assert abs(metadata["timings"]["duration"] - narration_seconds) <= 0.01

    cues = parse_srt(paths["subtitles"])
    assert cues, "no subtitles"
    assert [c.number for c in cues] == list(range(1, len(cues) + 1))
    for before, after in zip(cues, cues[1:]):
        assert before.end <= after.start
    for cue in cues:
        assert 0 <= cue.start < cue.end <= info.duration + 0.001
        assert 1 <= len(cue.lines) <= 2 and all(len(line) <= 42 for line in cue.lines)

    with Image.open(paths["thumbnail"]) as thumb:
        assert thumb.format == "JPEG" and thumb.size == request.size

    assert metadata["request"]["brief"] == request.brief
    assert len(metadata["script"]["scenes"]) == len(metadata["timings"]["scenes"])
    assert set(metadata["stage_seconds"]) == {"brief", "script", "voice", "visuals", "compose"}
    assert metadata["providers"]["llm"] == "aura/offline"
    assert metadata["providers"]["tts"] == "piper"  # the default chain's neural voice, offline
    return metadata


def test_twenty_second_video(prefect_server, tmp_path):
    request = VideoRequest(brief="How bees make honey", duration_seconds=20)
    result = generate_video(request, output=str(tmp_path))
    metadata = _check_video(result, request)
    assert result.flow_run_id and metadata["flow_run_id"] == result.flow_run_id
    # the narration was paced to the request: a 20 s ask gives roughly 20 s
    assert 15 <= result.duration <= 25
    loudness = measure_loudness(Path(result.paths()["video"]))
    assert abs(loudness["input_i"] - (-16.0)) <= 1.5
    assert metadata["providers"]["images"] == "slides"
    # the tasks' own policies ran, and Prefect recorded them on the task runs the UI shows
    assert _policies(result.flow_run_id) == {"brief": (0, 0), "script": (2, 2), "voice": (3, 2), "visuals": (2, 2), "compose": (0, 0)}


def _policies(flow_run_id: str) -> dict[str, tuple]:
    """Each stage's retries and first retry delay, as the Prefect server holds them for its task run."""
    policies = {}
    for run in task_runs_of(flow_run_id):
        stage = run.name.rsplit("-", 1)[0]
        if stage in STAGE_NAMES:  # not the render-visuals subflow's own task run in the parent
            delay = run.empirical_policy.retry_delay
            policies[stage] = (run.empirical_policy.retries, delay[0] if isinstance(delay, list) else delay or 0)
    return policies


def test_portrait_with_music_and_metacharacters(prefect_server, tmp_path, local_paths):
    music = tmp_path / "bed.wav"
    subprocess.run(
        [ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "sine=f=330:d=4", "-ac", "2", str(music)], check=True
    )
    request = VideoRequest(brief=METACHARACTERS, duration_seconds=30, aspect="9:16", music=str(music), seed=7)
    result = generate_video(request, preset="quick_demo", output=str(tmp_path / "out"))
    metadata = _check_video(result, request)
    assert (result.width, result.height) == (720, 1280)
    srt = Path(result.paths()["subtitles"]).read_text(encoding="utf-8")
    # the writer reads "100%" aloud as "100 percent"; test_subtitles burns a literal % in
    for literal in ("$(rm", "{\\b1}", "percent", "[brackets],", "\\N", "вулканы,"):
        assert literal in srt, f"{literal!r} lost from the subtitles"
    assert metadata["request"]["music"] == str(music)
    # the preset changed the tasks with with_options: its policies are the ones on the task runs
    assert _policies(result.flow_run_id) == {"brief": (0, 0), "script": (1, 1), "voice": (1, 1), "visuals": (0, 2), "compose": (0, 0)}
    loudness = measure_loudness(Path(result.paths()["video"]))
    assert abs(loudness["input_i"] - (-16.0)) <= 2.0


class _BrokenImages(DrawsStills, ImageProviderDefaults):
    """Crashes (not a ProviderError the chain passes on) after 2 GPU seconds: the whole visuals task fails and
    the flow draws slides."""

    name = "broken"

    def status(self):
        raise NotImplementedError

    def render(self, prompts, size, out_dir):
        spend.charge_gpu(2.0, usd_per_hour=1.8)
        raise RuntimeError("the GPU caught fire")


def test_visuals_failure_falls_back_to_slides(prefect_server, tmp_path, monkeypatch, fresh_settings):
    monkeypatch.setitem(registry.IMAGE_PROVIDERS._providers, "broken", _BrokenImages)  # registered for this test only
    monkeypatch.setenv("AURA_IMAGE_PROVIDER", "broken")
    fresh_settings()
    options = PipelineOptions(visuals=StagePolicy(retries=0, timeout_s=60))
    request = VideoRequest(brief="Why the sky is blue", duration_seconds=10, aspect="1:1")
    result = generate_video(request, options=options, output=str(tmp_path))
    metadata = _check_video(result, request)
    assert metadata["providers"]["images"] == "slides"
    assert any("GPU caught fire" in w and "slides" in w for w in metadata["warnings"])
    # the GPU time the failed visuals used is the run's, though slides were shown
    assert metadata["spend"]["gpu_seconds"] == 2.0 and metadata["spend"]["total_usd"] == pytest.approx(0.001)

    required = request.model_copy(update={"visuals_required": True})
    state = generate_video(required, options=options, output=str(tmp_path), return_state=True)
    assert state.is_failed()
    assert "GPU caught fire" in str(state.result(raise_on_failure=False))


def test_cli_generate_json(tmp_path, prefect_api_url):
    """The command a user types, in its own process (on the session's server: test_cli_server covers a temporary one)."""
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url}
    out = tmp_path / "cli"
    args = [sys.executable, "-m", "aura.cli", "generate", "How tides work", "--duration", "10", "--aspect", "1:1",
            "--preset", "quick_demo", "--out", str(out), "--json"]  # fmt: skip
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["ok"] and report["flow_run_id"]
    assert Path(report["video"]).is_file() and Path(report["video"]).parent.parent == out
    assert (report["width"], report["height"]) == (720, 720)
    assert set(report["stage_seconds"]) == {"brief", "script", "voice", "visuals", "compose"}
    assert report["providers"]["llm"] == "aura/offline" and report["providers"]["images"] == "slides"
    assert report["providers"]["tts"] == "piper"  # default settings speak with the packaged Piper voice
    assert {name: stage["status"] for name, stage in report["stages"].items()} == dict.fromkeys(report["stage_seconds"], "completed")

    # the same request again with --fresh: the checkpoints of the first run are not used
    again = subprocess.run([*args, "--fresh"], capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    stages = json.loads(again.stdout)["stages"]
    assert all(stage["status"] == "completed" and not stage["cached"] for stage in stages.values())


def test_cli_missing_input_is_one_line_before_any_work(tmp_path):
    """A request naming a file that is not there: one line naming the field, exit 2, nothing written."""
    out = tmp_path / "cli"
    proc = subprocess.run(
        [sys.executable, "-m", "aura.cli", "generate", "How tides work", "--duration", "10",
         "--music", str(tmp_path / "missing.mp3"), "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("aura: invalid music") and "missing.mp3" in lines[0]
    assert not out.exists()  # checked before any work: no job folder, no run
