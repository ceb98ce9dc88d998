"""gTTS offline behaviour: bounded failures through local proxies, no real internet touched."""

from __future__ import annotations

import subprocess
import time

import pytest

from aura.media.ffmpeg import capabilities, ffmpeg_path
from aura.providers.tts import GTTSProvider, TTSError, TTSProvider, WordTiming, estimate_word_timings
from aura.providers.tts import gtts_provider
from aura.providers.tts.gtts_provider import SAMPLE_RATE, decode_mp3, gtts_voice_for
from helpers.network import use_proxy

TIMEOUT_S = 1.5
MARGIN_S = 1.0




def test_is_a_provider():
    assert isinstance(GTTSProvider(), TTSProvider)


def test_silent_network_fails_within_timeout(monkeypatch, tmp_path, silent_proxy):
    use_proxy(monkeypatch, silent_proxy)
    monkeypatch.chdir(tmp_path)
    provider = GTTSProvider(timeout_s=TIMEOUT_S)
    started = time.monotonic()
    with pytest.raises(TTSError, match="gTTS unreachable.*127.0.0.1"):
        provider.synthesize("Hello from a machine with no network.")
    assert time.monotonic() - started < TIMEOUT_S + MARGIN_S
    assert list(tmp_path.iterdir()) == []  # no 0-byte or partial file anywhere


def test_refused_proxy_fails_fast(monkeypatch, tmp_path, refused_port):
    use_proxy(monkeypatch, refused_port)
    monkeypatch.chdir(tmp_path)
    provider = GTTSProvider(timeout_s=5)
    started = time.monotonic()
    with pytest.raises(TTSError, match="gTTS unreachable"):
        provider.synthesize("Hello.")
    assert time.monotonic() - started < 2.5  # well under the 5 s timeout: a refusal is not waited out
    assert list(tmp_path.iterdir()) == []


def test_status_reports_unreachable(monkeypatch, refused_port):
    use_proxy(monkeypatch, refused_port)
    started = time.monotonic()
    status = GTTSProvider().status()
    assert time.monotonic() - started < 3.0
    assert status.kind == "tts" and status.name == "gtts"
    assert not status.usable
    assert f"127.0.0.1:{refused_port}" in status.detail and "espeak-ng" in status.detail


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", ("en", "en", "com")),
        ("en-US", ("en-us", "en", "com")),
        ("en_GB", ("en-gb", "en", "co.uk")),
        ("pt-BR", ("pt-br", "pt", "com.br")),
        ("fr-CA", ("fr-ca", "fr", "ca")),
        ("de-AT", ("de", "de", "com")),
        ("zh", ("zh-cn", "zh-CN", "com")),
        ("zh-TW", ("zh-tw", "zh-TW", "com")),
        ("he", ("iw", "iw", "com")),
    ],
)
def test_language_mapping(language, expected):
    assert gtts_voice_for(language) == expected


def test_unsupported_language_and_voice():
    provider = GTTSProvider()
    with pytest.raises(TTSError, match="xx-YY"):
        provider.synthesize("hello", language="xx-YY")
    with pytest.raises(TTSError, match="no such voice.*aura voices"):
        provider.synthesize("hello", voice="klingon")


@pytest.mark.parametrize("text", ["", "  \n "])
def test_empty_text(text):
    with pytest.raises(TTSError, match="empty"):
        GTTSProvider().synthesize(text)


def test_voices():
    voices = GTTSProvider().voices()
    ids = {v.id for v in voices}
    assert {"en", "en-gb", "pt-br", "zh-cn", "ru"} <= ids
    assert all(v.provider == "gtts" and v.languages == (v.id,) for v in voices)


def test_estimate_word_timings_is_proportional():
    words = estimate_word_timings(["a", "bbb", "cccccc"], 1.0, 2.0)
    assert [w.text for w in words] == ["a", "bbb", "cccccc"]
    assert words[0] == WordTiming("a", 1.0, pytest.approx(1.1))
    assert words[1].start == words[0].end and words[1].end == pytest.approx(1.4)
    assert words[2].start == words[1].end and words[2].end == 2.0
    assert estimate_word_timings([], 0.0, 1.0) == []


def _tone_mp3() -> bytes:
    """2 s of MP3: silence, a 1 s tone from 0.5 s to 1.5 s, silence."""
    assert {"libmp3lame", "libshine"} & capabilities().encoders, "ffmpeg needs an MP3 encoder: apt-get install ffmpeg"
    expr = r"if(between(t\,0.5\,1.5)\,0.5*sin(2*PI*440*t)\,0)"  # commas escaped for the filter parser
    cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi",
           "-i", f"aevalsrc={expr}:d=2:s=24000", "-f", "mp3", "pipe:1"]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, timeout=30, check=True)
    return result.stdout


def test_decode_and_estimated_timings(monkeypatch):
    mp3 = _tone_mp3()
    # stands in for Google only: everything after the download (decode, timings) is real
    monkeypatch.setattr(gtts_provider, "_fetch_mp3", lambda *args: mp3)
    speech = GTTSProvider().synthesize("one three fivefive", language="en-GB")
    assert speech.sample_rate == SAMPLE_RATE and speech.provider == "gtts" and speech.voice == "en-gb"
    assert 1.9 < speech.duration < 2.2  # MP3 adds a little padding
    assert not speech.is_silent()
    assert [w.text for w in speech.words] == ["one", "three", "fivefive"]
    # the words cover the tone, not the silence around it
    assert speech.words[0].start == pytest.approx(0.5, abs=0.1)
    assert speech.words[-1].end == pytest.approx(1.5, abs=0.1)
    lengths = [w.end - w.start for w in speech.words]
    assert lengths[2] > lengths[1] > lengths[0]


def test_decode_rejects_garbage():
    with pytest.raises(TTSError, match="could not decode"):
        decode_mp3(b"this is not an mp3" * 10, timeout_s=10)
