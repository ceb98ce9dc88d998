"""VideoRequest and PipelineOptions: what a user may ask for, and the errors they get otherwise."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aura.models import VideoRequest, frame_size
from aura.options import PRESETS, PipelineOptions, StagePolicy
from aura.stages.pipeline import STAGES
from aura.stages.stage import worth_retrying

BRIEF = "How volcanoes form"


def rejected(field: str, **values) -> str:
    """The one error message of a request that breaks `field`, after checking it names that field."""
    with pytest.raises(ValidationError) as info:
        VideoRequest(**{"brief": BRIEF, **values})
    errors = info.value.errors()
    assert [e["loc"] for e in errors] == [(field,)], errors
    return errors[0]["msg"]


# --- brief -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "brief",
    ["", "   ", " \n\t \r\n ", "\x00\x07\x1b", "\u202e\u200b\x1b[31m\x1b[0m"],
    ids=["empty", "spaces", "whitespace", "control-chars", "invisible-only"],
)
def test_empty_brief_is_rejected_with_the_limit(brief):
    message = rejected("brief", brief=brief)
    assert "empty" in message
    assert "4,000" in message


def test_brief_over_4000_characters_is_rejected_with_its_length_and_the_limit():
    message = rejected("brief", brief="a" * 4001)
    assert "4,001" in message and "4,000" in message


def test_brief_of_exactly_4000_characters_is_accepted():
    assert VideoRequest(brief="a" * 4000).brief == "a" * 4000


def test_limit_counts_the_brief_after_stripping():
    padded = "  \n\t " + "b" * 4000 + " \r\n  "
    assert VideoRequest(brief=padded).brief == "b" * 4000
    # control characters do not count either: they are removed before the length check
    assert VideoRequest(brief="\x00" * 50 + "c" * 4000 + "\u200b" * 50).brief == "c" * 4000


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Vol\x00canoes erupt", "Volcanoes erupt"),
        ("Bell\x07 rings", "Bell rings"),
        ("\x1b[31mred\x1b[0m alert", "red alert"),
        ("\x1b[1;38;5;196mbold red\x1b[0m text", "bold red text"),
        ("safe \u202eevil\u202c text", "safe evil text"),
        ("zero\u200bwidth space", "zerowidth space"),
        ("tab\tseparated", "tab separated"),
        ("\ufeffbyte order mark", "byte order mark"),
    ],
)
def test_control_characters_are_removed_from_the_brief(raw, clean):
    assert VideoRequest(brief=raw).brief == clean


def test_line_breaks_survive_as_newlines():
    request = VideoRequest(brief="Line one\r\nLine two\rLine three\n\n\nLine four")
    assert request.brief.split("\n") == ["Line one", "Line two", "Line three", "Line four"]


def test_joiners_that_scripts_need_are_kept():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467 family"  # emoji ZWJ sequence
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # ZWNJ inside a Persian word
    assert VideoRequest(brief=family).brief == family
    assert VideoRequest(brief=persian).brief == persian


def test_metacharacters_and_other_scripts_pass_unchanged():
    brief = (
        "It's 5:30 \\ 100% [note] a, b; {x} $(rm -rf /) | cat & echo > out < in `whoami` "
        "\\n {\\b1}bold{\\b0} \\N next line\n"
        "مرحبا بالعالم — नमस्ते दुनिया — 你好，世界 — こんにちは — 안녕하세요"
    )
    assert VideoRequest(brief=brief).brief == brief
    # the same with control characters sprinkled in: only those go
    dirty = brief.replace("[note]", "[no\x00te]").replace("你好", "你\u200b好").replace("next", "\x1b[1mnext\x1b[0m")
    assert VideoRequest(brief=dirty).brief == brief


def test_brief_is_required():
    with pytest.raises(ValidationError) as info:
        VideoRequest()
    assert [e["loc"] for e in info.value.errors()] == [("brief",)]


# --- short text fields ----------------------------------------------------------------------


def test_title_over_120_characters_is_rejected():
    message = rejected("title", title="t" * 121)
    assert "121" in message and "120" in message
    assert VideoRequest(brief=BRIEF, title="t" * 120).title == "t" * 120


def test_audience_over_200_characters_is_rejected():
    message = rejected("audience", audience="a" * 201)
    assert "201" in message and "200" in message
    assert VideoRequest(brief=BRIEF, audience="a" * 200).audience == "a" * 200


def test_title_and_audience_are_cleaned_and_blank_means_none():
    request = VideoRequest(brief=BRIEF, title="  Fire\x00 and\n ice  ", audience=" \u200b ")
    assert request.title == "Fire and ice"
    assert request.audience is None


# --- choices -------------------------------------------------------------------------------


def test_style_outside_the_list_names_the_choices():
    message = rejected("style", style="vlog")
    for style in ("documentary", "explainer", "promo", "tutorial", "story"):
        assert style in message
    assert VideoRequest(brief=BRIEF, style="story").style == "story"


def test_duration_limits():
    assert "10" in rejected("duration_seconds", duration_seconds=9)
    assert "1200" in rejected("duration_seconds", duration_seconds=1201)
    assert VideoRequest(brief=BRIEF, duration_seconds=10).duration_seconds == 10
    assert VideoRequest(brief=BRIEF, duration_seconds=1200).duration_seconds == 1200
    assert VideoRequest(brief=BRIEF).duration_seconds == 60


def test_aspect_resolution_and_fps_choices():
    assert "16:9" in rejected("aspect", aspect="4:3")
    assert "720p" in rejected("resolution", resolution="480p")
    message = rejected("fps", fps=29)
    assert all(str(n) in message for n in (24, 25, 30, 60))
    assert "30" in rejected("fps", fps="29")


def test_fps_given_as_text_becomes_a_number():
    request = VideoRequest(brief=BRIEF, fps="30")
    assert request.fps == 30 and isinstance(request.fps, int)


def test_defaults():
    request = VideoRequest(brief=BRIEF)
    assert (request.style, request.aspect, request.resolution, request.fps, request.language) == (
        "explainer",
        "16:9",
        "720p",
        30,
        "en",
    )
    assert request.voice is None and request.music is None and request.seed is None
    assert request.visuals_required is False


# --- language ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [("en", "en"), ("en-us", "en-US"), ("pt_BR", "pt-BR"), ("zh-Hant-TW", "zh-Hant-TW"), (" FR ", "fr"), ("yue", "yue")],
)
def test_language_tags_are_accepted_in_canonical_case(given, stored):
    assert VideoRequest(brief=BRIEF, language=given).language == stored


@pytest.mark.parametrize("tag", ["english", "e", "en--US", "", "en US", "en-", "12"])
def test_language_that_is_not_a_tag_is_rejected(tag):
    message = rejected("language", language=tag)
    assert "BCP-47" in message


# --- voice, music, seed, extra fields ---------------------------------------------------------


@pytest.mark.parametrize("voice", ["en; rm -rf /", "$(reboot)", "en`id`", "en|cat", "en && ls", "en>out", "a" * 101])
def test_voice_with_shell_metacharacters_is_rejected(voice):
    message = rejected("voice", voice=voice)
    assert "aura voices" in message


@pytest.mark.parametrize(
    "voice",
    ["../../../../../../../../../etc/passwd", "/etc/passwd", "gmw/en-US", "voices\\en", "en..US", ".hidden", "C:voice",
     "~/voice.onnx", "+x", "file://x"],
)  # fmt: skip
def test_a_voice_is_a_name_never_a_path(voice):
    message = rejected("voice", voice=voice)
    assert "never a path" in message and "GET /api/voices" in message and "aura voices" in message
    assert "passwd" not in message  # the value sent is not echoed


@pytest.mark.parametrize("voice", ["en-US", "en_US-joe-medium", "fr-FR-Standard-A", "en-US-AriaNeural", "alloy", "cmn", "en-GB-x-rp", "bf_emma+am_adam"])
def test_ordinary_voice_ids_are_accepted(voice):
    assert VideoRequest(brief=BRIEF, voice=voice).voice == voice


@pytest.mark.parametrize("music", ["notes.txt", "song.mp3.exe", "track", "video.mp4"])
def test_music_that_is_not_audio_is_rejected(music):
    message = rejected("music", music=music)
    assert "audio" in message and ".mp3" in message


def test_music_audio_files_are_accepted(local_paths):
    assert VideoRequest(brief=BRIEF, music="/data/bed.MP3").music == "/data/bed.MP3"
    assert VideoRequest(brief=BRIEF, music="calm loop.flac").music == "calm loop.flac"


def test_seed_limits():
    assert "0" in rejected("seed", seed=-1)
    assert "4294967295" in rejected("seed", seed=2**32)
    assert VideoRequest(brief=BRIEF, seed=0).seed == 0
    assert VideoRequest(brief=BRIEF, seed=2**32 - 1).seed == 2**32 - 1


def test_unknown_field_is_rejected_by_name():
    message = rejected("colour", colour="red")
    assert "not permitted" in message


# --- frame size and form schema -------------------------------------------------------------


@pytest.mark.parametrize(
    ("aspect", "resolution", "size"),
    [
        ("16:9", "720p", (1280, 720)),
        ("16:9", "1080p", (1920, 1080)),
        ("9:16", "720p", (720, 1280)),
        ("9:16", "1080p", (1080, 1920)),
        ("1:1", "720p", (720, 720)),
        ("1:1", "1080p", (1080, 1080)),
    ],
)
def test_frame_size_for_every_aspect_and_resolution(aspect, resolution, size):
    assert frame_size(aspect, resolution) == size
    assert VideoRequest(brief=BRIEF, aspect=aspect, resolution=resolution).size == size
    width, height = size
    assert width % 2 == 0 and height % 2 == 0  # libx264 with yuv420p needs even sides


def test_json_schema_gives_the_form_its_choices_and_limits():
    schema = VideoRequest.model_json_schema()
    props = schema["properties"]
    assert schema["required"] == ["brief"]
    assert schema.get("additionalProperties") is False
    assert props["style"]["enum"] == ["documentary", "explainer", "promo", "tutorial", "story"]
    assert props["aspect"]["enum"] == ["16:9", "9:16", "1:1"]
    assert props["resolution"]["enum"] == ["720p", "1080p"]
    assert props["fps"]["enum"] == [24, 25, 30, 60]
    assert (props["duration_seconds"]["minimum"], props["duration_seconds"]["maximum"]) == (10, 1200)
    assert props["duration_seconds"]["default"] == 60
    for name, prop in props.items():
        assert prop.get("description"), f"{name} has no description for the form"


# --- pipeline options -----------------------------------------------------------------------


def test_presets_exist():
    assert set(PRESETS) == {"default", "debug", "quick_demo"}
    for name in PRESETS:
        assert isinstance(PipelineOptions.preset(name), PipelineOptions)


def test_each_stage_task_carries_the_design_policy_itself():
    policies = {stage.name: (stage.task.retries, stage.task.timeout_seconds) for stage in STAGES}
    assert policies == {
        "brief": (0, 30),
        "script": (2, 120),
        "voice": (3, 180),
        "visuals": (2, 300),
        "compose": (0, 600),
    }
    assert all(stage.task.retry_condition_fn is worth_retrying for stage in STAGES)
    assert PipelineOptions.preset("default") == PipelineOptions()  # the default preset changes nothing


def _preset_task(preset: str, stage):
    return stage.task_for(PipelineOptions.preset(preset).policy(stage.name))


def test_debug_fails_fast_and_waits_longer():
    for stage in STAGES:
        debug = _preset_task("debug", stage)
        assert debug.retries == 0
        assert debug.timeout_seconds >= stage.task.timeout_seconds


def test_quick_demo_encodes_fast_with_short_timeouts():
    quick = PipelineOptions.preset("quick_demo")
    assert quick.x264_preset == "ultrafast"
    assert quick.crf is not None
    for stage in STAGES:
        assert _preset_task("quick_demo", stage).timeout_seconds <= stage.task.timeout_seconds


def test_a_preset_changes_the_task_with_prefect_s_own_with_options():
    voice = next(stage for stage in STAGES if stage.name == "voice")
    quick = _preset_task("quick_demo", voice)
    assert (quick.retries, quick.retry_delay_seconds, quick.timeout_seconds) == (1, [1], 90)
    assert quick.cache_policy is voice.task.cache_policy and quick.fn is voice.task.fn
    # a policy that names only the timeout keeps the task's own retries and delays
    longer = voice.task_for(StagePolicy(timeout_s=400))
    assert (longer.retries, longer.retry_delay_seconds, longer.timeout_seconds) == (3, [2, 4, 8], 400)
    assert voice.task.timeout_seconds == 180  # the declared task itself is unchanged


def test_preset_is_a_copy_that_callers_may_change():
    options = PipelineOptions.preset("debug")
    options.script.retries = 9
    assert PipelineOptions.preset("debug").script.retries == 0


def test_unknown_preset_names_the_choices():
    with pytest.raises(ValueError) as info:
        PipelineOptions.preset("turbo")
    message = str(info.value)
    assert "turbo" in message
    for name in ("default", "debug", "quick_demo"):
        assert name in message


def test_options_reject_unknown_fields_and_bad_policies():
    with pytest.raises(ValidationError):
        PipelineOptions(turbo=True)
    with pytest.raises(ValidationError):
        PipelineOptions(crf=52)
    with pytest.raises(ValidationError):
        PipelineOptions(script={"retries": -1, "timeout_s": 10})
