"""TTS resilience: a provider chain with circuit breakers, through the real voice stage.

The failing providers are the real online engines (gTTS, edge-tts) pointed at a
local proxy that never answers or a port that refuses; the fallback is the
real Piper voice (the default chain closes with piper, then espeak-ng).
"""

from __future__ import annotations

import math
import time
from array import array
from typing import ClassVar

import pytest
from pydantic_settings import SettingsConfigDict

from aura.errors import ProviderError, SystemCheckError
from aura.models import Scene, Script, VideoRequest
from aura.providers.base import ProviderSettings, ProviderStatus
from aura.providers.tts import (
    TTS_ENGINES,
    EdgeTTSProvider,
    EspeakTTS,
    GTTSProvider,
    Speech,
    TTSError,
    TTSProvider,
    VoiceInfo,
    check_tts_request,
    estimate_word_timings,
    tts_chain,
    tts_output_settings,
)
from aura.providers.tts.chain import TTSChain
from aura.providers.tts.piper_provider import PiperTTS
from aura.settings import Settings
from aura.stages.inputs import check_voice
from aura.stages import voice
from aura.stages.voice import narrate
from aura.store import ArtifactStore
from helpers.network import use_proxy

TIMEOUT_S = 1.0
NARRATIONS = [
    "Magma rises from deep below the crust.",
    "Pressure builds inside the chamber.",
    "Gas and rock burst out of the vent.",
    "Ash falls for miles around the mountain.",
    "Over centuries the cone grows taller.",
]


def _script() -> Script:
    scenes = [Scene(narration=t, visual_prompt="a volcano", key_phrase=t.split()[0]) for t in NARRATIONS]
    return Script(title="Volcanoes", scenes=scenes)


def _settings(engines: str, **extra) -> Settings:
    return Settings(_env_file=None, tts_provider=engines, tts_timeout_s=TIMEOUT_S, **extra)


def _count_calls(monkeypatch, cls) -> list[str]:
    calls: list[str] = []
    original = cls.synthesize

    def counting(self, text, *args, **kwargs):
        calls.append(text)
        return original(self, text, *args, **kwargs)

    monkeypatch.setattr(cls, "synthesize", counting)
    return calls


@pytest.mark.parametrize("engine", [GTTSProvider, EdgeTTSProvider])
def test_a_hanging_provider_costs_one_timeout_then_piper_narrates_every_scene(tmp_path, monkeypatch, silent_proxy, engine):
    use_proxy(monkeypatch, silent_proxy)
    calls = _count_calls(monkeypatch, engine)
    job = ArtifactStore(str(tmp_path)).job("hang")
    started = time.monotonic()
    narration = narrate(_script(), VideoRequest(brief="volcanoes", duration_seconds=15), job, _settings(engine.name))
    elapsed = time.monotonic() - started

    assert narration.provider == "piper"
    assert calls == [NARRATIONS[0]]  # one timeout for the run, not one per scene
    assert f"{engine.name} failed" in narration.warnings[0]
    # bounded: one online timeout plus Piper's load and work (seconds), with room for a busy machine
    assert elapsed < TIMEOUT_S + 15
    assert [" ".join(w.text for w in s.words) for s in narration.scenes] == NARRATIONS


def test_a_refusing_provider_fails_over_at_once(tmp_path, monkeypatch, refused_port):
    use_proxy(monkeypatch, refused_port)
    job = ArtifactStore(str(tmp_path)).job("refused")
    narration = narrate(_script(), VideoRequest(brief="volcanoes", duration_seconds=15), job, _settings("edge-tts,gtts"))
    assert narration.provider == "piper"
    # both online engines were tried in order, each refused, each said so
    assert [w.split(" ")[0] for w in narration.warnings] == ["edge-tts", "gtts"]
    assert all("refused" in w.lower() for w in narration.warnings)


def test_repeated_failures_open_the_breaker_for_the_cool_down(tmp_path, monkeypatch, silent_proxy):
    use_proxy(monkeypatch, silent_proxy)
    calls = _count_calls(monkeypatch, GTTSProvider)
    # espeak-ng as the fallback: its runs take well under the 2 s cool-down
    settings = _settings("gtts,espeak-ng", tts_failures_to_open=2, tts_cooldown_s=2.0)
    request = VideoRequest(brief="volcanoes", duration_seconds=15)
    store = ArtifactStore(str(tmp_path))

    for run in ("first", "second"):  # two failed runs: the breaker opens
        narrate(_script(), request, store.job(run), settings)
    assert len(calls) == 2

    started = time.monotonic()
    third = narrate(_script(), request, store.job("third"), settings)
    assert len(calls) == 2  # skipped without a call, so without a timeout
    assert third.provider == "espeak-ng"
    assert "gtts skipped" in third.warnings[0] and "next try after" in third.warnings[0]
    assert time.monotonic() - started < TIMEOUT_S + 10

    time.sleep(2.1)  # the cool-down passes: one trial call is let through (half-open)
    narrate(_script(), request, store.job("fourth"), settings)
    assert len(calls) == 3


class _FailsAfter:
    """An engine that speaks the first scenes and then breaks, as a flaky service does mid-run."""

    name = "flaky"
    rate_controlled = True

    def __init__(self, good_calls: int):
        self.good_calls = good_calls
        self.calls = 0
        self.espeak = EspeakTTS()

    def synthesize(self, text, language="en", voice=None, rate_wpm=None) -> Speech:
        self.calls += 1
        if self.calls > self.good_calls:
            raise TTSError("flaky: service went away")
        speech = self.espeak.synthesize(text, language=language, rate_wpm=rate_wpm)
        return Speech(pcm=speech.pcm, sample_rate=speech.sample_rate, words=speech.words, provider="flaky", voice="x")


def test_a_provider_failing_mid_run_leaves_one_voice_for_the_whole_video(tmp_path, monkeypatch):
    flaky = _FailsAfter(good_calls=2)
    monkeypatch.setattr("aura.stages.voice.tts_chain", lambda settings: [flaky, EspeakTTS()])
    job = ArtifactStore(str(tmp_path)).job("flaky")
    narration = narrate(_script(), VideoRequest(brief="volcanoes", duration_seconds=15), job, _settings("espeak-ng"))
    assert narration.provider == "espeak-ng"
    assert flaky.calls == 3  # two good scenes, one failure, then never again this run
    assert len(narration.warnings) == 1 and "flaky failed" in narration.warnings[0]


def test_the_last_provider_failing_is_an_error_naming_it_and_the_scene():
    class Broken:
        name = "broken"

        def synthesize(self, *args, **kwargs):
            raise TTSError("no audio device")

    chain = TTSChain([Broken()], failures_to_open=2, cooldown_s=60)
    with pytest.raises(TTSError, match=r"broken failed for scene 3: no audio device"):
        chain.speak("hello there", 2, language="en", voice=None, rate_wpm=None)


def test_the_chain_comes_from_a_comma_separated_setting_and_piper_then_espeak_close_it():
    assert Settings(_env_file=None).tts_provider == ["piper", "espeak-ng"]
    assert Settings(_env_file=None, tts_provider="edge-tts, gtts").tts_provider == ["edge-tts", "gtts", "piper", "espeak-ng"]
    assert Settings(_env_file=None, tts_provider="speech").tts_provider == ["speech", "piper", "espeak-ng"]
    assert Settings(_env_file=None, tts_provider="piper,speech").tts_provider == ["piper", "speech", "espeak-ng"]
    # a list that names espeak-ng chose its engines to the end: no piper is added, espeak-ng moves last
    assert Settings(_env_file=None, tts_provider="espeak-ng").tts_provider == ["espeak-ng"]
    assert Settings(_env_file=None, tts_provider="espeak-ng,gtts").tts_provider == ["gtts", "espeak-ng"]


def test_an_unknown_engine_is_refused_by_the_registry_naming_the_setting_and_the_engines():
    settings = Settings(_env_file=None, tts_provider="polly")  # settings know no engines
    for use in (tts_chain, tts_output_settings, lambda s: check_tts_request(VideoRequest(brief="x"), s)):
        with pytest.raises(ProviderError) as caught:
            use(settings)
        assert "'polly'" in str(caught.value) and "AURA_TTS_PROVIDER" in str(caught.value)
        assert all(name in str(caught.value) for name in ("edge-tts", "gtts", "espeak-ng"))
    with pytest.raises(SystemCheckError, match="AURA_TTS_PROVIDER"):  # before any work, as a setting to fix
        check_voice(VideoRequest(brief="x"), settings)


def test_the_registry_makes_each_engine_as_the_settings_say():
    settings = Settings(_env_file=None, tts_provider="gtts,edge-tts", tts_timeout_s=3.0, gtts_tld="co.uk")
    gtts, edge, piper, espeak = tts_chain(settings)
    assert (type(gtts), type(edge), type(piper), type(espeak)) == (GTTSProvider, EdgeTTSProvider, PiperTTS, EspeakTTS)
    assert gtts.tld == "co.uk" and gtts.timeout_s == edge.timeout_s == 3.0
    assert [e.rate_controlled for e in (gtts, edge, piper, espeak)] == [False, True, True, True]
    # the accent and the Piper voice change the audio, a timeout does not
    assert tts_output_settings(settings) == {
        "chain": ["gtts", "edge-tts", "piper", "espeak-ng"], "gtts": {"tld": "co.uk"}, "edge-tts": {},
        "piper": {"voice": "en_US-joe-medium", "sentence_pause_s": 0.25}, "espeak-ng": {},
    }
    assert tts_output_settings(settings.model_copy(update={"tts_timeout_s": 9.0})) == tts_output_settings(settings)


@pytest.mark.parametrize(
    ("engines", "request_fields", "message"),
    [
        ("espeak-ng", {"language": "xx-nowhere"}, "espeak-ng has no voice for language"),
        ("gtts", {"language": "xx-nowhere"}, "gTTS does not support language"),
        ("edge-tts", {"voice": "aria"}, "edge-tts voices look like en-US-AriaNeural"),
    ],
)
def test_the_first_engine_checks_the_request(engines, request_fields, message):
    settings = Settings(_env_file=None, tts_provider=engines)
    assert check_tts_request(VideoRequest(brief="x"), settings) == []
    with pytest.raises(TTSError, match=message):
        check_tts_request(VideoRequest(brief="x", **request_fields), settings)
    with pytest.raises(SystemCheckError, match=f"^{next(iter(request_fields))}: {message}"):
        check_voice(VideoRequest(brief="x", **request_fields), settings)


class _SineSettings(ProviderSettings):
    """The engine's own settings (AURA_SINE_*), declared in its own file: nothing to add to aura.settings."""

    model_config = SettingsConfigDict(env_prefix="AURA_SINE_")
    pitch_hz: float = 440.0


class _SineTTS:
    """A whole engine in one class: what a new file in aura/providers/tts/ would hold."""

    name: ClassVar[str] = "sine"
    rate_controlled: ClassVar[bool] = False
    SAMPLE_RATE = 16000

    def __init__(self, pitch_hz: float):
        self.pitch_hz = pitch_hz

    @classmethod
    def from_settings(cls, settings: Settings) -> _SineTTS:
        return cls(pitch_hz=_SineSettings().pitch_hz)

    @classmethod
    def output_settings(cls, settings: Settings) -> dict[str, object]:
        return {"pitch_hz": cls.from_settings(settings).pitch_hz}

    @classmethod
    def check_request(cls, request: VideoRequest, settings: Settings) -> list[str]:
        if request.voice not in (None, "beep"):
            raise TTSError(f"sine has no voice {request.voice!r}: its one voice is beep")
        return ["sine: every word is a beep"]

    def status(self) -> ProviderStatus:
        return ProviderStatus(self.name, "tts", True, f"a {self.pitch_hz:g} Hz tone")

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo("beep", "Beep", ("en",), self.name)]

    def synthesize(self, text, language="en", voice=None, rate_wpm=None) -> Speech:
        words = text.split()
        samples = int(0.4 * len(words) * self.SAMPLE_RATE)  # 0.4 s a word: a plausible narration pace
        tone = array("h", (int(8000 * math.sin(2 * math.pi * self.pitch_hz * i / self.SAMPLE_RATE)) for i in range(samples)))
        timings = estimate_word_timings(words, 0.0, samples / self.SAMPLE_RATE)
        return Speech(pcm=tone.tobytes(), sample_rate=self.SAMPLE_RATE, words=timings, provider=self.name, voice="beep")


def test_a_new_engine_is_one_class_and_one_registration(tmp_path, monkeypatch, fresh_settings, refused_port):
    monkeypatch.setattr(TTS_ENGINES, "_providers", dict(TTS_ENGINES._providers))  # undone after the test
    TTS_ENGINES.register(_SineTTS)
    assert isinstance(_SineTTS(440.0), TTSProvider)
    monkeypatch.setenv("AURA_TTS_PROVIDER", "sine")
    settings = Settings(_env_file=None)

    chain = tts_chain(settings)
    assert [type(e) for e in chain] == [_SineTTS, PiperTTS, EspeakTTS]
    assert tts_output_settings(settings)["chain"] == ["sine", "piper", "espeak-ng"]
    assert tts_output_settings(settings)["sine"] == {"pitch_hz": 440.0}
    assert check_tts_request(VideoRequest(brief="x"), settings) == ["sine: every word is a beep"]
    with pytest.raises(TTSError, match="its one voice is beep"):
        check_tts_request(VideoRequest(brief="x", voice="en-US-AriaNeural"), settings)

    narration = narrate(_script(), VideoRequest(brief="volcanoes", duration_seconds=15),
                        ArtifactStore(str(tmp_path)).job("sine"), settings)  # fmt: skip
    assert narration.provider == "sine" and narration.voice == "beep" and not narration.warnings

    from aura.doctor import run_checks

    use_proxy(monkeypatch, refused_port)  # the online engines' probes fail at once
    fresh_settings()
    by_name = {check.name: check for check in run_checks() if check.kind == "tts"}
    assert by_name["sine"].usable and by_name["sine"].detail == "a 440 Hz tone [configured]"
    assert "[configured]" in by_name["espeak-ng"].detail and "[configured]" not in by_name["gtts"].detail

    # its own setting changes its output, so it is in the voice stage's checkpoint key
    before = voice.STAGE.cache_key({"script": _script(), "request": VideoRequest(brief="x")}, settings)
    monkeypatch.setenv("AURA_SINE_PITCH_HZ", "220")
    assert tts_output_settings(settings)["sine"] == {"pitch_hz": 220.0}
    assert voice.STAGE.cache_key({"script": _script(), "request": VideoRequest(brief="x")}, settings) != before


_OPEN_BREAKER = """
import sys
from aura.providers.tts.chain import TTSChain
from aura.providers.tts import EspeakTTS, TTSError

class Down:
    name = "gtts"
    def synthesize(self, *args, **kwargs):
        raise TTSError("service down")

for run in range(2):  # two runs, two failures: the breaker opens
    TTSChain([Down(), EspeakTTS()], failures_to_open=2, cooldown_s=600, state_dir=sys.argv[1]).speak(
        "hello there", 0, language="en", voice=None, rate_wpm=None)
"""


def test_an_open_breaker_is_seen_by_other_processes(tmp_path, monkeypatch, silent_proxy):
    """Prefect's process worker runs each flow in a new process: the outage must be remembered there."""
    import subprocess
    import sys

    state = tmp_path / "breakers"
    proc = subprocess.run([sys.executable, "-c", _OPEN_BREAKER, str(state)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]

    use_proxy(monkeypatch, silent_proxy)
    calls = _count_calls(monkeypatch, GTTSProvider)
    settings = _settings("gtts", tts_failures_to_open=2, tts_cooldown_s=600, state_dir=str(state))
    narration = narrate(_script(), VideoRequest(brief="volcanoes", duration_seconds=15),
                        ArtifactStore(str(tmp_path)).job("later"), settings)  # fmt: skip
    assert calls == []  # skipped without a call: no timeout paid in this process either
    assert narration.provider == "piper" and "gtts skipped" in narration.warnings[0]


def test_an_unwritable_state_folder_keeps_breakers_in_memory(tmp_path):
    from aura.providers.breakers import breaker_for

    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    breaker = breaker_for("gtts", 1, 60, blocked / "breakers")

    def down():
        raise TTSError("service down")

    with pytest.raises(TTSError):
        breaker.call(down)
    assert breaker.current_state == "open"  # it still works, from memory
    assert blocked.read_text() == "not a folder"


def test_the_last_resort_is_never_skipped_by_a_breaker():
    """espeak-ng failing on two odd scenes must not silence every run for the cool-down."""

    class Moody:
        name = "last-resort"
        calls = 0

        def synthesize(self, text, language="en", voice=None, rate_wpm=None):
            Moody.calls += 1
            if text == "bad":
                raise TTSError("cannot say that")
            return EspeakTTS().synthesize(text, language=language)

    chain = TTSChain([Moody()], failures_to_open=1, cooldown_s=600)
    for _ in range(2):
        with pytest.raises(TTSError):
            chain.speak("bad", 0, language="en", voice=None, rate_wpm=None)
    assert chain.speak("hello there", 1, language="en", voice=None, rate_wpm=None).duration > 0
    assert Moody.calls == 3
