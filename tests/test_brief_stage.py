"""The brief stage: the machine is checked before any work, and each failure says what to do."""

from __future__ import annotations

import os
import stat
import subprocess
from collections import namedtuple

import pytest

from aura.errors import SystemCheckError
from aura.media import ffmpeg as ffmpeg_module
from aura.media.ffmpeg import ffmpeg_path
from aura.models import VideoRequest
from aura.stages.script import script_task
from aura.settings import OFFLINE_MODEL, Settings
from aura.stages import brief
from aura.stages.brief import check_request, estimate_output_bytes


@pytest.fixture
def fresh_ffmpeg_lookup():
    """ffmpeg's location and capabilities are cached per process: forget them around a test."""
    ffmpeg_module.ffmpeg_path.cache_clear()
    ffmpeg_module.capabilities.cache_clear()
    yield
    ffmpeg_module.ffmpeg_path.cache_clear()
    ffmpeg_module.capabilities.cache_clear()


def test_a_healthy_machine_passes(tmp_path):
    report = check_request(VideoRequest(brief="How volcanoes form"), tmp_path / "out")
    assert report.ffmpeg and "ffmpeg version" in report.ffmpeg_version
    assert report.free_disk_bytes > report.estimated_output_bytes > 0
    assert report.warnings == []


def test_estimate_grows_with_duration_and_resolution():
    short = estimate_output_bytes(VideoRequest(brief="x", duration_seconds=30))
    long = estimate_output_bytes(VideoRequest(brief="x", duration_seconds=600))
    big = estimate_output_bytes(VideoRequest(brief="x", duration_seconds=600, resolution="1080p"))
    assert short < long < big


def test_unwritable_output_folder_is_refused_with_what_to_do(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    with pytest.raises(SystemCheckError, match=r"a-file/out is not writable.*--out or AURA_OUTPUT"):
        check_request(VideoRequest(brief="x"), a_file / "out")
    if os.geteuid() != 0:  # root ignores permission bits
        locked = tmp_path / "locked"
        locked.mkdir(mode=stat.S_IRUSR | stat.S_IXUSR)
        with pytest.raises(SystemCheckError, match="not writable"):
            check_request(VideoRequest(brief="x"), locked / "out")
        locked.chmod(stat.S_IRWXU)


def test_a_full_disk_is_refused_before_rendering(tmp_path, monkeypatch):
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(brief.shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(SystemCheckError, match=r"not enough disk space.*MiB needed.*free some space"):
        check_request(VideoRequest(brief="x", duration_seconds=600), tmp_path)


def test_missing_ffmpeg_says_how_to_install_it(monkeypatch, fresh_ffmpeg_lookup):
    monkeypatch.setenv("AURA_FFMPEG", "/nonexistent/ffmpeg")
    with pytest.raises(SystemCheckError, match=r"AURA_FFMPEG=/nonexistent/ffmpeg is not an executable"):
        ffmpeg_path()


def test_ffmpeg_without_libx264_and_libass_is_refused(tmp_path, monkeypatch, fresh_ffmpeg_lookup):
    # a stand-in for a minimal ffmpeg build: it answers like ffmpeg but lists no libx264 and no ass filter
    fake = tmp_path / "ffmpeg"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        '  *-version*) echo "ffmpeg version 0.0-minimal" ;;\n'
        '  *-encoders*) printf "Encoders:\\n ------\\n A....D aac   AAC\\n" ;;\n'
        '  *-filters*) printf "Filters:\\n ... scale  V->V  x\\n ... crop V->V x\\n ... concat N->N x\\n" ;;\n'
        "esac\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("AURA_FFMPEG", str(fake))
    with pytest.raises(SystemCheckError) as caught:
        check_request(VideoRequest(brief="x"), tmp_path)
    message = str(caught.value)
    assert "libx264" in message and "libass" in message and "loudnorm" in message
    assert "apt-get install ffmpeg" in message


def test_music_that_is_missing_or_not_audio_names_the_field(tmp_path, local_paths):
    with pytest.raises(SystemCheckError, match=r"^music: file .*nope\.mp3 does not exist"):
        check_request(VideoRequest(brief="x", music=str(tmp_path / "nope.mp3")), tmp_path)
    fake = tmp_path / "fake.mp3"
    fake.write_text("not audio at all")
    with pytest.raises(SystemCheckError, match=r"^music: .*fake\.mp3"):
        check_request(VideoRequest(brief="x", music=str(fake)), tmp_path)


def test_real_music_passes(tmp_path, local_paths):
    music = tmp_path / "bed.mp3"
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "sine=d=1", str(music)], check=True)
    assert check_request(VideoRequest(brief="x", music=str(music)), tmp_path).warnings == []


def test_offline_writer_in_a_language_without_a_pack_warns(tmp_path):
    offline = Settings(_env_file=None, llm_model=OFFLINE_MODEL)
    report = check_request(VideoRequest(brief="Jak powstają wulkany", language="pl"), tmp_path, offline)
    assert any("offline writer writes English (en), Spanish (es), French (fr), German (de), Portuguese (pt), Italian (it)" in w and "AURA_LLM_MODEL" in w for w in report.warnings)
    # the six languages it writes need no warning, and nor does any language with a real model
    assert check_request(VideoRequest(brief="Comment naissent les volcans", language="fr"), tmp_path, offline).warnings == []
    assert check_request(VideoRequest(brief="x", language="pl"), tmp_path, Settings(_env_file=None, llm_model="openai/gpt-4o-mini")).warnings == []


def test_unknown_voice_or_language_is_refused_before_any_work(tmp_path):
    with pytest.raises(SystemCheckError, match=r"^voice: espeak-ng has no such voice.*aura voices"):
        check_request(VideoRequest(brief="x", voice="nosuch"), tmp_path)
    with pytest.raises(SystemCheckError, match=r"^language: .*'tlh'"):
        check_request(VideoRequest(brief="x", language="tlh"), tmp_path)
    with pytest.raises(SystemCheckError, match=r"^language: gTTS .*'tlh'"):
        check_request(VideoRequest(brief="x", language="tlh"), tmp_path, Settings(_env_file=None, tts_provider="gtts"))
    check_request(VideoRequest(brief="x", language="pt-BR", voice="pt-BR"), tmp_path)


def test_reference_paths_are_checked_before_any_work(tmp_path, local_paths):
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\nMagma rises.", encoding="utf-8")
    check_request(VideoRequest(brief="x", references=[str(notes), str(tmp_path)]), tmp_path)
    with pytest.raises(SystemCheckError, match=r"references\[1\]: .*missing\.txt does not exist"):
        check_request(VideoRequest(brief="x", references=[str(notes), str(tmp_path / "missing.txt")]), tmp_path)
    (tmp_path / "tool.exe").write_bytes(b"MZ")
    with pytest.raises(SystemCheckError, match=r"references\[0\]: .*tool\.exe is not a supported document"):
        check_request(VideoRequest(brief="x", references=[str(tmp_path / "tool.exe")]), tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemCheckError, match=r"AURA_REFERENCE_DIR|holds no"):
        check_request(VideoRequest(brief="x"), tmp_path, Settings(_env_file=None, reference_dir=str(empty)))


def test_edge_voices_are_checked_by_name_and_language(tmp_path):
    edge = Settings(_env_file=None, tts_provider="edge-tts")
    check_request(VideoRequest(brief="x", language="fr"), tmp_path, edge)
    check_request(VideoRequest(brief="x", voice="en-GB-SoniaNeural"), tmp_path, edge)
    with pytest.raises(SystemCheckError, match=r"^voice: edge-tts voices look like en-US-AriaNeural"):
        check_request(VideoRequest(brief="x", voice="sonia"), tmp_path, edge)


def test_an_unusable_stable_diffusion_model_is_a_warning_or_an_error_when_required(tmp_path):
    settings = Settings(_env_file=None, sd_model=str(tmp_path / "nowhere"))
    report = check_request(VideoRequest(brief="x"), tmp_path, settings)
    assert any("stable-diffusion is not usable" in w and "slides" in w for w in report.warnings)
    with pytest.raises(SystemCheckError, match=r"^visuals_required: .*nowhere"):
        check_request(VideoRequest(brief="x", visuals_required=True), tmp_path, settings)


def test_a_chain_that_could_outlast_the_script_stage_is_called_out(tmp_path):
    slow = Settings(_env_file=None, llm_model="openai/gpt-4o-mini", llm_timeout_s=120, llm_retries=2)
    script_timeout = script_task.timeout_seconds  # the script task declares its own
    assert slow.llm_worst_case_s > script_timeout
    report = check_request(VideoRequest(brief="x"), tmp_path, slow, script_timeout_s=script_timeout)
    assert any("script stage times out after 120 s" in w and "AURA_LLM_TIMEOUT_S" in w for w in report.warnings)
    default = Settings(_env_file=None, llm_model="openai/gpt-4o-mini")
    assert default.llm_worst_case_s <= script_timeout  # the defaults fit the default script timeout
    assert check_request(VideoRequest(brief="x"), tmp_path, default, script_timeout_s=script_timeout).warnings == []
