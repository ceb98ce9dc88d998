"""edge-tts offline behaviour: bounded failures through local proxies, no real internet touched."""

from __future__ import annotations

import subprocess
import time

import pytest

from aura.media.ffmpeg import capabilities, ffmpeg_path
from aura.providers.tts import EdgeTTSProvider, TTSError, TTSProvider, VoiceInfo, WordTiming
from aura.providers.tts import edge_provider
from aura.providers.tts.edge_provider import (
    SAMPLE_RATE,
    TICKS_PER_SECOND,
    edge_rate,
    edge_voice_for,
    proxy_url,
    word_timings,
)
from helpers.network import use_proxy

TIMEOUT_S = 1.5
MARGIN_S = 1.5  # a functional bound (thread start, loop teardown on 2 busy cores), not a benchmark




@pytest.fixture(autouse=True)
def no_voice_cache(monkeypatch):
    """Each test starts as a fresh process would: no voice list fetched yet."""
    monkeypatch.setattr(edge_provider, "_voice_cache", None)


def test_is_a_provider():
    assert isinstance(EdgeTTSProvider(), TTSProvider)
    with pytest.raises(TTSError, match="timeout_s"):
        EdgeTTSProvider(timeout_s=0)


def test_silent_network_fails_within_timeout(monkeypatch, tmp_path, silent_proxy):
    use_proxy(monkeypatch, silent_proxy)
    monkeypatch.chdir(tmp_path)
    provider = EdgeTTSProvider(timeout_s=TIMEOUT_S)
    started = time.monotonic()
    with pytest.raises(TTSError, match=rf"edge-tts.*127\.0\.0\.1:{silent_proxy}.*timeout") as caught:
        provider.synthesize("Hello from a machine with no network.")
    assert time.monotonic() - started < TIMEOUT_S + MARGIN_S
    assert "espeak-ng" in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # no partial file anywhere


def test_refused_proxy_fails_fast(monkeypatch, tmp_path, refused_port):
    use_proxy(monkeypatch, refused_port)
    monkeypatch.chdir(tmp_path)
    started = time.monotonic()
    with pytest.raises(TTSError, match=rf"edge-tts.*could not connect to 127\.0\.0\.1:{refused_port}"):
        EdgeTTSProvider(timeout_s=5).synthesize("Hello.")
    assert time.monotonic() - started < 1.5
    assert list(tmp_path.iterdir()) == []


def test_voices_on_dead_network_is_empty(monkeypatch, silent_proxy):
    use_proxy(monkeypatch, silent_proxy)
    started = time.monotonic()
    assert EdgeTTSProvider(timeout_s=TIMEOUT_S).voices() == []
    assert time.monotonic() - started < TIMEOUT_S + MARGIN_S
    assert edge_provider._voice_cache is None  # a failure is not cached: a later call may succeed


@pytest.mark.parametrize("dead", ["silent_proxy", "refused_port"])
def test_status_reports_unreachable(monkeypatch, request, dead):
    port = request.getfixturevalue(dead)
    use_proxy(monkeypatch, port)
    started = time.monotonic()
    status = EdgeTTSProvider().status()
    assert time.monotonic() - started < edge_provider.PROBE_TIMEOUT_S + 1.0
    assert status.kind == "tts" and status.name == "edge-tts"
    assert not status.usable
    assert f"127.0.0.1:{port}" in status.detail and "online service" in status.detail


def test_proxy_from_environment(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert proxy_url() is None
    monkeypatch.setenv("ALL_PROXY", "proxy.corp:3128")
    assert proxy_url() == "http://proxy.corp:3128"
    monkeypatch.setenv("HTTPS_PROXY", "http://user:pw@secure.corp:8080")
    assert proxy_url() == "http://user:pw@secure.corp:8080"
    assert "pw" not in edge_provider._route(proxy_url())
    monkeypatch.setenv("NO_PROXY", ".bing.com")
    assert proxy_url() is None


@pytest.mark.parametrize(
    ("wpm", "rate"),
    [(None, "+0%"), (150, "+0%"), (180, "+20%"), (120, "-20%"), (165, "+10%"), (30, "-50%"), (1000, "+100%")],
)
def test_rate_mapping(wpm, rate):
    assert edge_rate(wpm) == rate


def test_rate_must_be_positive():
    with pytest.raises(TTSError, match="rate_wpm"):
        edge_rate(0)


@pytest.mark.parametrize(
    ("language", "voice"),
    [
        ("en", "en-US-AriaNeural"),
        ("en-US", "en-US-AriaNeural"),
        ("en_GB", "en-GB-SoniaNeural"),
        ("pt-BR", "pt-BR-FranciscaNeural"),
        ("pt", "pt-PT-RaquelNeural"),
        ("de-AT", "de-DE-KatjaNeural"),
        ("zh-Hant", "zh-TW-HsiaoChenNeural"),
        ("ZH", "zh-CN-XiaoxiaoNeural"),
        ("no", "nb-NO-PernilleNeural"),
    ],
)
def test_default_voice(language, voice):
    assert edge_voice_for(language) == voice


def test_default_voice_from_the_fetched_list():
    known = [VoiceInfo("cy-GB-NiaNeural", "Nia", ("cy-gb",), "edge-tts")]
    assert edge_voice_for("cy", known) == "cy-GB-NiaNeural"
    assert edge_voice_for("en", known) == "en-US-AriaNeural"  # the table wins: same voice either way
    with pytest.raises(TTSError, match="'xx-YY'"):
        edge_voice_for("xx-YY", known)


def test_unknown_voice_and_language():
    provider = EdgeTTSProvider()
    with pytest.raises(TTSError, match="no such voice.*aura voices"):
        provider.synthesize("hello", voice="klingon")
    with pytest.raises(TTSError, match="language 'tlh'"):
        provider.synthesize("hello", language="tlh")


@pytest.mark.parametrize("text", ["", "  \n "])
def test_empty_text(text):
    with pytest.raises(TTSError, match="empty"):
        EdgeTTSProvider().synthesize(text)


def _boundary(text: str, start_s: float, length_s: float) -> dict:
    return {
        "type": "WordBoundary",
        "offset": round(start_s * TICKS_PER_SECOND),
        "duration": round(length_s * TICKS_PER_SECOND),
        "text": text,
    }


def test_word_boundary_ticks_to_seconds():
    events = [
        _boundary("Hello", 0.1, 0.4),
        _boundary(",", 0.5, 0.05),  # punctuation is not a word
        {"type": "SentenceBoundary", "offset": 0, "duration": 20_000_000, "text": "Hello, world"},
        _boundary("world", 0.6, 0.5),
        _boundary("again", 1.9, 0.5),  # runs past the decoded clip
    ]
    words = word_timings(events, clip_s=2.0)
    assert words == [
        WordTiming("Hello", pytest.approx(0.1), pytest.approx(0.5)),
        WordTiming("world", pytest.approx(0.6), pytest.approx(1.1)),
        WordTiming("again", pytest.approx(1.9), 2.0),
    ]
    assert word_timings([_boundary("one", 5_000_000 / TICKS_PER_SECOND, 0.1)], clip_s=1.0)[0].start == 0.5


def _tone_mp3() -> bytes:
    """2 s of MP3 at 24 kHz (what the service sends): silence, a tone from 0.5 s to 1.5 s, silence."""
    assert {"libmp3lame", "libshine"} & capabilities().encoders, "ffmpeg needs an MP3 encoder: apt-get install ffmpeg"
    expr = r"if(between(t\,0.5\,1.5)\,0.5*sin(2*PI*440*t)\,0)"  # commas escaped for the filter parser
    cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi",
           "-i", f"aevalsrc={expr}:d=2:s=24000", "-f", "mp3", "pipe:1"]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, timeout=30, check=True).stdout


def test_speech_from_streamed_audio_and_boundaries(monkeypatch, tmp_path):
    mp3 = _tone_mp3()
    events = [_boundary("one", 0.5, 0.2), _boundary("two", 0.8, 0.3), _boundary("three", 1.2, 0.3)]
    calls = []

    async def fake_stream(text, voice, rate, proxy, socket_timeout_s):
        # stands in for the service only: the loop, thread, decode and timings are real
        calls.append((text, voice, rate))
        return mp3, events

    monkeypatch.setattr(edge_provider, "_stream_speech", fake_stream)
    monkeypatch.chdir(tmp_path)
    speech = EdgeTTSProvider(timeout_s=10).synthesize("one two three", language="en-GB", rate_wpm=180)
    assert calls == [("one two three", "en-GB-SoniaNeural", "+20%")]
    assert speech.sample_rate == SAMPLE_RATE == 24000
    assert speech.provider == "edge-tts" and speech.voice == "en-GB-SoniaNeural"
    assert 1.9 < speech.duration < 2.2  # MP3 adds a little padding
    assert not speech.is_silent()
    assert [w.text for w in speech.words] == ["one", "two", "three"]
    assert speech.words[0].start == pytest.approx(0.5) and speech.words[-1].end == pytest.approx(1.5)
    assert all(0 <= w.start <= w.end <= speech.duration for w in speech.words)
    assert all(a.end <= b.start for a, b in zip(speech.words, speech.words[1:]))
    assert list(tmp_path.iterdir()) == []


def test_no_word_events_falls_back_to_estimate(monkeypatch):
    mp3 = _tone_mp3()

    async def fake_stream(*args):
        return mp3, []

    monkeypatch.setattr(edge_provider, "_stream_speech", fake_stream)
    speech = EdgeTTSProvider().synthesize("a bbb", voice="en-US-GuyNeural")
    assert speech.voice == "en-US-GuyNeural"
    assert [w.text for w in speech.words] == ["a", "bbb"]
    assert speech.words[0].start == pytest.approx(0.5, abs=0.1)


def test_library_errors_become_tts_errors(monkeypatch):
    from edge_tts.exceptions import NoAudioReceived

    async def no_audio(*args):
        raise NoAudioReceived("No audio was received.")

    monkeypatch.setattr(edge_provider, "_stream_speech", no_audio)
    with pytest.raises(TTSError, match="edge-tts.*no audio received.*en-US-AriaNeural"):
        EdgeTTSProvider().synthesize("hello")


def test_voices_are_listed_once_and_checked(monkeypatch):
    raw = [
        {"ShortName": "fr-FR-DeniseNeural", "Locale": "fr-FR", "FriendlyName": "Microsoft Denise Online (Natural)"},
        {"ShortName": "cy-GB-NiaNeural", "Locale": "cy-GB", "FriendlyName": ""},
    ]
    calls = []

    async def fake_list(proxy):
        calls.append(proxy)
        return raw

    monkeypatch.setattr(edge_provider, "_list_voices", fake_list)
    provider = EdgeTTSProvider()
    voices = provider.voices()
    assert voices == [
        VoiceInfo("cy-GB-NiaNeural", "cy-GB-NiaNeural", ("cy-gb",), "edge-tts"),
        VoiceInfo("fr-FR-DeniseNeural", "Microsoft Denise Online (Natural)", ("fr-fr",), "edge-tts"),
    ]
    assert provider.voices() == voices and len(calls) == 1  # cached for the process
    # with the list at hand, voice names are checked and spelled as the service spells them
    assert provider._choose_voice("en", "FR-fr-deniseneural") == "fr-FR-DeniseNeural"
    assert provider._choose_voice("cy", None) == "cy-GB-NiaNeural"
    with pytest.raises(TTSError, match="has no such voice"):
        provider._choose_voice("en", "en-US-NobodyNeural")
