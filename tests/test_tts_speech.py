"""The `speech` engine: OpenAI-compatible speech services through litellm.

The service is a local server of OpenAI's documented shape that answers real speech
(espeak-ng, encoded by ffmpeg in the format asked for); it can also fail, hang, or refuse
a key. What is checked is what a user would: the narration is heard, the words are timed
in order, a dead server costs a bounded time and then another engine speaks.
"""

from __future__ import annotations

import logging
import time

import pytest

from aura.models import VideoRequest
from aura.providers.tts import TTS_ENGINES, EspeakTTS, TTSError, check_tts_request
from aura.providers.tts.chain import TTSChain
from aura.providers.tts.online import SAMPLE_RATE, decode_audio, decode_mp3
from aura.providers.tts.speech_provider import (
    OPENAI_VOICES,
    SpeechTTSProvider,
    backoff_bound,
    speech_speed,
)
from aura import spend
from aura.settings import Settings, get_settings
from helpers.speech_server import encode, running_servers

SENTENCES = [
    "Magma rises from deep below the crust.",
    "Pressure builds inside the chamber.",
    "Gas and rock burst out of the vent.",
]
TEXT = " ".join(SENTENCES)
SECRET = "sk-test-very-secret-key-0123456789"
OK_TIMEOUT_S = 10.0  # a generous limit for answers that come (a busy 2-core machine encodes slowly)


@pytest.fixture(autouse=True)
def _direct(no_proxy, monkeypatch, tmp_path):
    """Local servers are reached directly, and no AURA_SPEECH_* or key of the user's leaks in."""
    import os

    for name in list(os.environ):
        if name.startswith("AURA_SPEECH_") or name in ("OPENAI_API_KEY", "AZURE_API_KEY", "AZURE_OPENAI_API_KEY"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env of the tree is read


@pytest.fixture
def speech_server():
    """`speech_server(["fail", "ok"])`: a local speech server with those behaviours, stopped after the test."""
    yield from running_servers()


def _engine(server_or_url, **kwargs) -> SpeechTTSProvider:
    url = server_or_url if isinstance(server_or_url, str) else server_or_url.url
    options = {"voice": "af_bella", "retries": 0, "timeout_s": OK_TIMEOUT_S, **kwargs}
    return SpeechTTSProvider("openai/kokoro", api_base=url, **options)


def _settings(**extra) -> Settings:
    return Settings(_env_file=None, tts_provider="speech", **extra)


# --- speaking -------------------------------------------------------------------------------


def test_a_narration_is_spoken_phrase_by_phrase_with_real_phrase_boundaries(speech_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-users-openai-key")  # must not go to another host
    server = speech_server(["ok"])
    speech = _engine(server).synthesize(TEXT, language="en", rate_wpm=180)

    assert speech.provider == "speech" and speech.voice == "af_bella" and speech.sample_rate == SAMPLE_RATE
    assert 3.0 < speech.duration < 20.0  # three sentences, a little faster than usual
    assert not speech.is_silent() and speech.rms_dbfs > -35

    requests = server.speech_requests
    assert [r.body["input"] for r in requests] == SENTENCES  # one request per phrase, in order
    for r in requests:
        assert r.path == "/v1/audio/speech"
        assert r.body["model"] == "kokoro"  # litellm's provider prefix is not sent
        assert r.body["voice"] == "af_bella" and r.body["response_format"] == "mp3"
        assert r.body["speed"] == pytest.approx(1.2)  # 180 wpm / 150
        assert r.headers["authorization"] == "Bearer not-needed"  # never the user's OPENAI_API_KEY

    words = speech.words
    assert [w.text for w in words] == TEXT.split()  # every word, in order
    assert all(0.0 <= w.start <= w.end <= speech.duration + 1e-6 for w in words)
    assert all(a.end <= b.start + 1e-6 for a, b in zip(words, words[1:]))  # monotonic, no overlap
    # the second sentence's first word starts after the first sentence's audio: the boundary is real
    first_clip_s = len(decode_mp3(encode(SENTENCES[0], "mp3", 1.2), 10)) / 2 / SAMPLE_RATE
    second_start = words[len(SENTENCES[0].split())]
    assert second_start.text == "Pressure" and second_start.start >= first_clip_s - 0.05
    assert words[-1].end > speech.duration - 1.5  # the last word ends near the end of the audio


def test_the_key_is_sent_to_the_server_and_the_default_voice_is_used(speech_server):
    server = speech_server(["ok"])
    speech = _engine(server, api_key=SECRET, voice="am_adam").synthesize("Hello there.")
    assert speech.voice == "am_adam" and speech.words[0].text == "Hello"
    (request,) = server.speech_requests
    assert request.headers["authorization"] == f"Bearer {SECRET}" and request.body["voice"] == "am_adam"
    assert "speed" not in request.body  # no rate asked: the service's own pace


@pytest.mark.parametrize("fmt", ["mp3", "wav", "opus", "aac", "flac"])
def test_every_answer_format_decodes_to_the_same_speech(speech_server, fmt):
    server = speech_server(["ok"])
    speech = _engine(server, fmt=fmt).synthesize("The vent glows at night.")
    assert server.speech_requests[0].body["response_format"] == fmt
    reference = len(decode_audio(encode("The vent glows at night.", "wav"), 10, fmt="wav")) / 2 / SAMPLE_RATE
    assert speech.duration == pytest.approx(reference, abs=0.15)  # codec padding only
    assert not speech.is_silent()


def test_decode_audio_probes_the_container_and_decode_mp3_still_works():
    wav = encode("One two three.", "wav")
    mp3 = encode("One two three.", "mp3")
    assert abs(len(decode_audio(wav, 10)) - len(decode_mp3(mp3, 10))) < SAMPLE_RATE * 2 * 0.15
    with pytest.raises(TTSError, match="could not decode"):
        decode_audio(b"not audio at all" * 20, 10)
    with pytest.raises(TTSError, match="no audio"):
        decode_audio(b"", 10, source="speech")


# --- failures -------------------------------------------------------------------------------


def test_server_errors_are_retried_by_the_router(speech_server):
    server = speech_server(["fail", "fail", "ok"])
    speech = _engine(server, retries=2).synthesize("Ash falls for miles.")
    assert len(server.speech_requests) == 3  # two 500s, then the answer
    assert not speech.is_silent() and [w.text for w in speech.words] == ["Ash", "falls", "for", "miles."]


def test_errors_beyond_the_retries_name_the_status_and_the_host(speech_server):
    server = speech_server(["fail"])
    with pytest.raises(TTSError) as caught:
        _engine(server, retries=0).synthesize("Ash falls for miles.")
    message = str(caught.value)
    assert "HTTP 500" in message and f"127.0.0.1:{server.port}" in message and "check the server" in message
    assert len(server.speech_requests) == 1


def test_a_hanging_server_fails_within_the_bound(speech_server):
    server = speech_server(["hang"])
    engine = _engine(server, retries=1, timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(TTSError) as caught:
        engine.synthesize(TEXT)
    elapsed = time.monotonic() - started
    # two tries of 1 s and litellm's backoff (at most ~3 s for one retry): a bound, not a benchmark
    assert elapsed < 2 * 1.0 + backoff_bound(1) + 2.0
    assert len(server.speech_requests) == 2  # the first phrase, tried twice; the others never asked
    message = str(caught.value)
    assert "timeout" in message and f"127.0.0.1:{server.port}" in message and "another engine" in message


def test_a_refused_port_fails_quickly(refused_port):
    engine = _engine(f"http://127.0.0.1:{refused_port}/v1", timeout_s=5.0)
    started = time.monotonic()
    with pytest.raises(TTSError) as caught:
        engine.synthesize("Hello there.")
    assert time.monotonic() - started < 4.0  # refused at once: no timeout is waited for
    message = str(caught.value)
    assert "could not connect" in message and "refused" in message.lower()
    assert f"127.0.0.1:{refused_port}" in message and "check the server or use another engine" in message


def test_an_empty_answer_is_an_error(speech_server):
    server = speech_server(["empty"])
    with pytest.raises(TTSError, match="no audio"):
        _engine(server).synthesize("Hello there.")


def test_a_dead_server_falls_back_to_espeak_through_the_chain(refused_port, tmp_path, caplog):
    speech = _engine(f"http://127.0.0.1:{refused_port}/v1", timeout_s=2.0)
    chain = TTSChain([speech, EspeakTTS()], failures_to_open=2, cooldown_s=60, state_dir=tmp_path / "breakers")
    with caplog.at_level(logging.WARNING, logger="aura.tts"):
        spoken = chain.speak("Over centuries the cone grows taller.", 0, language="en", voice="af_bella", rate_wpm=None)
    assert spoken.provider == "espeak-ng" and not spoken.is_silent()
    assert len(chain.warnings) == 1 and chain.warnings[0].startswith("speech failed")
    assert "using espeak-ng instead" in chain.warnings[0]
    assert any("speech failed" in r.getMessage() for r in caplog.records)


def test_the_key_never_appears_in_messages_or_settings(speech_server, monkeypatch):
    server = speech_server(["unauthorized"])
    monkeypatch.setenv("AURA_SPEECH_MODEL", "openai/kokoro")
    monkeypatch.setenv("AURA_SPEECH_API_BASE", server.url)
    monkeypatch.setenv("AURA_SPEECH_API_KEY", SECRET)
    settings = _settings(tts_timeout_s=OK_TIMEOUT_S)
    engine = SpeechTTSProvider.from_settings(settings)

    with pytest.raises(TTSError) as caught:
        engine.synthesize("Hello there.")
    message = str(caught.value)
    assert server.speech_requests[0].headers["authorization"] == f"Bearer {SECRET}"  # it was sent...
    assert "401" in message and "AURA_SPEECH_API_KEY" in message
    assert SECRET not in message and SECRET[3:12] not in message  # ...but never shown

    output = SpeechTTSProvider.output_settings(settings)
    assert output == {"model": "openai/kokoro", "api_base": server.url, "voice": "alloy", "format": "mp3"}
    assert SECRET not in repr(output) and SECRET not in repr(engine)
    assert SECRET not in engine.status().detail


# --- configuration, checks, status, voices --------------------------------------------------


def test_the_request_check_names_what_to_set():
    request = VideoRequest(brief="volcanoes")
    with pytest.raises(TTSError, match="AURA_SPEECH_MODEL") as caught:
        SpeechTTSProvider.check_request(request, _settings())
    assert "AURA_SPEECH_API_BASE" in str(caught.value)  # the compatible-server way is named too
    with pytest.raises(TTSError, match="AURA_SPEECH_MODEL"):  # and through the registry, as the brief stage asks
        check_tts_request(request, _settings())


def test_openai_itself_needs_a_key_and_one_of_its_voices(monkeypatch):
    monkeypatch.setenv("AURA_SPEECH_MODEL", "openai/tts-1")
    with pytest.raises(TTSError) as caught:
        SpeechTTSProvider.check_request(VideoRequest(brief="x"), _settings())
    assert "OPENAI_API_KEY" in str(caught.value) and "AURA_SPEECH_API_KEY" in str(caught.value)

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    assert SpeechTTSProvider.check_request(VideoRequest(brief="x"), _settings()) == []  # default voice: alloy
    assert SpeechTTSProvider.check_request(VideoRequest(brief="x", voice="nova"), _settings()) == []
    with pytest.raises(TTSError) as caught:
        SpeechTTSProvider.check_request(VideoRequest(brief="x", voice="af_bella"), _settings())
    message = str(caught.value)
    assert "no such voice" in message and all(v in message for v in OPENAI_VOICES) and SECRET not in message

    monkeypatch.setenv("AURA_SPEECH_MODEL", "openai/gpt-4o-mini-tts")
    with pytest.raises(TTSError, match="alloy"):
        SpeechTTSProvider.check_request(VideoRequest(brief="x", voice="af_bella"), _settings())


def test_a_compatible_server_takes_any_voice_and_no_key(monkeypatch):
    monkeypatch.setenv("AURA_SPEECH_MODEL", "openai/kokoro")
    monkeypatch.setenv("AURA_SPEECH_API_BASE", "http://127.0.0.1:8880/v1")
    assert SpeechTTSProvider.check_request(VideoRequest(brief="x", voice="af_bella"), _settings()) == []
    assert SpeechTTSProvider.check_request(VideoRequest(brief="x", voice="bf_emma+am_adam"), _settings()) == []


def test_settings_are_its_own_and_a_bad_value_names_its_variable(monkeypatch):
    assert TTS_ENGINES.names().index("speech") < TTS_ENGINES.names().index("edge-tts")
    monkeypatch.setenv("AURA_SPEECH_MODEL", "openai/kokoro")
    monkeypatch.setenv("AURA_SPEECH_FORMAT", "wav")
    engine = SpeechTTSProvider.from_settings(_settings(tts_timeout_s=7.0))
    assert (engine.model, engine.format, engine.voice, engine.retries, engine.timeout_s) == ("openai/kokoro", "wav", "alloy", 2, 7.0)
    monkeypatch.setenv("AURA_SPEECH_TIMEOUT_S", "3")
    assert SpeechTTSProvider.from_settings(_settings(tts_timeout_s=7.0)).timeout_s == 3.0
    # what changes the audio is in the checkpoint key; a timeout or retries are not
    before = SpeechTTSProvider.output_settings(_settings())
    monkeypatch.setenv("AURA_SPEECH_RETRIES", "5")
    assert SpeechTTSProvider.output_settings(_settings()) == before
    monkeypatch.setenv("AURA_SPEECH_VOICE", "am_adam")
    assert SpeechTTSProvider.output_settings(_settings()) != before

    for variable, value in (("AURA_SPEECH_RETRIES", "99"), ("AURA_SPEECH_FORMAT", "ogg"), ("AURA_SPEECH_TIMEOUT_S", "0")):
        monkeypatch.setenv(variable, value)
        with pytest.raises(TTSError, match=f"invalid {variable}"):
            SpeechTTSProvider.from_settings(_settings())
        monkeypatch.delenv(variable)


def test_speed_follows_the_rate_within_openais_limits():
    assert speech_speed(None) is None
    assert speech_speed(150) == 1.0 and speech_speed(225) == 1.5
    assert speech_speed(10) == 0.25 and speech_speed(2000) == 4.0
    assert SpeechTTSProvider.rate_controlled


def test_status_says_whether_the_server_can_be_reached(speech_server, refused_port):
    server = speech_server(["ok"])
    up = _engine(server).status()
    assert up.usable and f"127.0.0.1:{server.port} reachable" in up.detail
    down = _engine(f"http://127.0.0.1:{refused_port}/v1").status()
    assert not down.usable and f"127.0.0.1:{refused_port}" in down.detail
    unset = SpeechTTSProvider(None).status()
    assert not unset.usable and "AURA_SPEECH_MODEL" in unset.detail
    assert server.speech_requests == []  # a status costs no synthesis


def test_voices_come_from_the_server_or_openais_list(speech_server, refused_port):
    server = speech_server(["ok"], voices=["af_bella", "am_adam"])
    voices = _engine(server).voices()
    assert [v.id for v in voices] == ["af_bella", "am_adam"] and {v.provider for v in voices} == {"speech"}
    assert server.requests[-1].path == "/v1/audio/voices"
    assert [v.id for v in SpeechTTSProvider("openai/tts-1").voices()] == list(OPENAI_VOICES)
    # a server without the list: the configured voice, at once
    started = time.monotonic()
    assert [v.id for v in _engine(f"http://127.0.0.1:{refused_port}/v1", voice="x1").voices()] == ["x1"]
    assert time.monotonic() - started < 3.0


# --- what it costs --------------------------------------------------------------------------


def test_the_characters_sent_are_counted_and_priced_from_the_table(speech_server, monkeypatch):
    monkeypatch.setenv("AURA_PRICES", '{"speech": {"openai/kokoro": 20}}')  # USD per million characters
    get_settings.cache_clear()
    server = speech_server(["ok"])
    try:
        with spend.tally() as bill:
            _engine(server).synthesize(TEXT)
    finally:
        get_settings.cache_clear()
    sent = sum(len(r.body["input"]) for r in server.speech_requests)
    assert sent == sum(len(s) for s in SENTENCES)
    assert bill.speech["openai/kokoro"].characters == sent
    assert bill.speech["openai/kokoro"].usd == pytest.approx(sent * 20 / 1e6) and not bill.unpriced


def test_a_model_without_a_price_is_counted_and_named_as_unpriced(speech_server):
    server = speech_server(["ok"])
    with spend.tally() as bill:
        _engine(server).synthesize("Hello there.")
    assert bill.speech["openai/kokoro"].characters == len("Hello there.") and bill.total_usd == 0
    assert bill.unpriced == ["openai/kokoro"] and "no price for openai/kokoro" in bill.describe()
