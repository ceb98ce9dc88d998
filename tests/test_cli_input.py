"""The `aura` command's answers to bad input, `doctor` and `voices` (typer's CliRunner, no flow runs)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aura.cli import app
from aura.providers.images import registry
from aura.providers.images.base import ImageProviderDefaults

BRIEF = "How volcanoes form"

# (options, words the one-line error must hold: the field and its limit or choices)
BAD_INPUT = [
    (["--duration", "5"], ["duration", "10"]),
    (["--duration", "1201"], ["duration", "1200"]),
    (["--aspect", "4:3"], ["aspect", "16:9", "9:16", "1:1"]),
    (["--fps", "29"], ["fps", "24", "25", "30", "60"]),
    (["--language", "english"], ["language", "english", "BCP-47"]),
    (["--language", "en--US"], ["language", "BCP-47"]),
    (["--resolution", "480p"], ["resolution", "720p", "1080p"]),
    (["--preset", "turbo"], ["preset", "turbo", "default", "debug", "quick_demo"]),
    (["--style", "vlog"], ["style", "documentary", "story"]),
    (["--seed", "-1"], ["seed", "0"]),
    (["--music", "notes.txt"], ["music", "audio", ".mp3"]),
    (["--voice", "en; rm -rf /"], ["voice", "aura voices"]),
    (["--title", "t" * 121], ["title", "120"]),
    (["--duration", "abc"], ["duration", "integer"]),
    (["--fps", "thirty"], ["fps", "24", "30"]),
]
IDS = [" ".join(options)[:30] for options, _ in BAD_INPUT]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize(("options", "words"), BAD_INPUT, ids=IDS)
def test_bad_input_is_one_line_naming_the_field(runner, options, words):
    result = runner.invoke(app, ["generate", BRIEF, *options])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aura: invalid ")
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize(("options", "words"), BAD_INPUT, ids=IDS)
def test_bad_input_in_json_mode_is_one_object(runner, options, words):
    result = runner.invoke(app, ["generate", BRIEF, *options, "--json"])
    assert result.exit_code == 2, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    answer = json.loads(lines[0])
    assert answer["ok"] is False
    assert answer["error"].startswith("invalid ")
    for word in words:
        assert word in answer["error"]


def test_empty_brief_is_rejected_before_any_work(runner):
    result = runner.invoke(app, ["generate", " \t ", "--json"])
    assert result.exit_code == 2
    answer = json.loads(result.stdout)
    assert answer == {"ok": False, "error": answer["error"]}
    assert "brief" in answer["error"] and "4,000" in answer["error"]


@pytest.mark.parametrize("value", ["[/red]", "[bold]x", "[link=http://x]y"])
def test_user_text_in_an_error_is_printed_as_text(runner, value):
    # the error quotes the user's value; it must not be read as terminal markup
    result = runner.invoke(app, ["generate", BRIEF, "--language", value])
    assert result.exit_code == 2, repr(result.exception)
    assert value in result.stderr


@pytest.fixture
def isolated_settings(tmp_path, monkeypatch, fresh_settings):
    """Default settings (offline writer, espeak-ng, slides) with output in a temporary folder."""
    import os

    for name in list(os.environ):
        if name.startswith("AURA_") and name != "AURA_STATE_DIR":  # breaker state stays in the tests' folder
            monkeypatch.delenv(name)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("AURA_OUTPUT", str(tmp_path / "videos"))
    monkeypatch.setenv("AURA_GTTS_TIMEOUT_S", "2")
    fresh_settings()
    return tmp_path / "videos"


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [("AURA_TTS_PROVIDER", "polly", ["'polly'", "AURA_TTS_PROVIDER", "espeak-ng"]),
     ("AURA_IMAGE_PROVIDER", "dalle", ["'dalle'", "AURA_IMAGE_PROVIDER", "slides"])],
)  # fmt: skip
def test_a_provider_no_registry_has_is_one_line_before_any_work(runner, isolated_settings, monkeypatch, fresh_settings,
                                                                 variable, value, words):  # fmt: skip
    monkeypatch.setenv(variable, value)
    fresh_settings()
    result = runner.invoke(app, ["generate", BRIEF])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().startswith("aura: invalid ") and len(result.stderr.strip().splitlines()) == 1
    assert all(word in result.stderr for word in words), result.stderr
    assert not isolated_settings.exists()  # nothing was started, nothing written


def test_doctor_reports_an_image_provider_whose_own_check_breaks(runner, isolated_settings, monkeypatch):
    class Crashing(ImageProviderDefaults):
        name = "crashing"

        def status(self):
            raise RuntimeError("no driver")

    monkeypatch.setitem(registry.IMAGE_PROVIDERS._providers, "crashing", Crashing)
    result = runner.invoke(app, ["doctor", "--json"])
    by_name = {check["name"]: check for check in json.loads(result.stdout)}
    assert by_name["crashing"]["usable"] is False
    assert "RuntimeError: no driver" in by_name["crashing"]["detail"]
    assert by_name["slides"]["usable"] is True  # the rest is still checked


def test_doctor_json_lists_every_provider(runner, isolated_settings):
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    checks = json.loads(result.stdout)
    by_name = {check["name"]: check for check in checks}
    for name in ("ffmpeg", "espeak-ng", "slides", "aura/offline", "gtts", "output", "prefect", "checkpoints"):
        assert name in by_name, f"doctor does not report {name}"
    for check in checks:
        assert set(check) == {"kind", "name", "usable", "detail"}
        assert isinstance(check["usable"], bool) and check["detail"]
    # the offline defaults work on this machine, and say they are the configured ones
    for name in ("ffmpeg", "espeak-ng", "slides", "aura/offline", "output"):
        assert by_name[name]["usable"] is True, by_name[name]
    for name in ("espeak-ng", "slides", "aura/offline"):
        assert "[configured]" in by_name[name]["detail"]
    assert str(isolated_settings) in by_name["output"]["detail"]
    # without a Stable Diffusion model the slides are configured, and doctor says why
    assert by_name["stable-diffusion"]["usable"] is False
    assert "AURA_SD_MODEL is not set" in by_name["slides"]["detail"]
    assert by_name["rag"]["usable"] is True and "all-MiniLM-L6-v2" in by_name["rag"]["detail"]
    assert {"edge-tts", "gtts"} <= set(by_name)
    assert by_name["input_roots"]["usable"] and "only from the aura command" in by_name["input_roots"]["detail"]


def test_doctor_names_the_folders_other_runs_may_read(runner, isolated_settings, monkeypatch, fresh_settings, tmp_path):
    monkeypatch.setenv("AURA_INPUT_ROOTS", f"{tmp_path}, {tmp_path / 'gone'}")
    fresh_settings()
    by_name = {check["name"]: check for check in json.loads(runner.invoke(app, ["doctor", "--json"]).stdout)}
    assert by_name["input_roots"]["usable"] is False and "gone" in by_name["input_roots"]["detail"]


def test_doctor_table_shows_which_provider_is_configured(runner, isolated_settings, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "aura/offline" in result.stdout and "espeak-ng" in result.stdout
    # the script writer, piper, espeak-ng and slides; piper says which voice serves which language
    assert result.stdout.count("[configured]") == 4
    piper_row = next(line for line in result.stdout.splitlines() if "piper" in line and "│" in line)
    assert "en_US-joe-medium speaks en-us" in piper_row and "sha256 ok" in piper_row


def test_voices_lists_english_voices(runner, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = runner.invoke(app, ["voices", "--language", "en", "--provider", "espeak-ng"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert rows, result.stdout
    assert any("English" in row for row in rows)
    assert all(row.split("│")[1].strip() == "espeak-ng" for row in rows)
    assert any(row.split("│")[2].strip() in ("en", "en-US", "en-GB") for row in rows)
    assert all("en" in row.split("│")[4] for row in rows)  # only English voices
    assert "French" not in result.stdout


def test_voices_for_another_language_leaves_english_out(runner, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = runner.invoke(app, ["voices", "--language", "fr", "--provider", "espeak-ng"])
    assert result.exit_code == 0, result.output
    assert "French" in result.stdout and "English" not in result.stdout


def test_voices_of_every_engine_offline(runner, monkeypatch, refused_port):
    """espeak-ng and gTTS list without a network; edge-tts says it needs one instead of hanging."""
    from helpers.network import use_proxy

    use_proxy(monkeypatch, refused_port)
    monkeypatch.setenv("COLUMNS", "200")
    result = runner.invoke(app, ["voices", "--language", "fr"])
    assert result.exit_code == 0, result.output
    engines = {line.split("│")[1].strip() for line in result.stdout.splitlines() if line.startswith("│")}
    assert {"espeak-ng", "gtts"} <= engines
    assert "edge-tts: the voice list could not be fetched" in result.output


def test_voices_rejects_an_unknown_engine(runner):
    result = runner.invoke(app, ["voices", "--provider", "polly"])
    assert result.exit_code == 2 and "edge-tts" in result.output
