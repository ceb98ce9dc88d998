"""The voice stage, called as a plain function: real espeak-ng and Piper, real ffmpeg loudness passes, a real job folder."""

from __future__ import annotations

import hashlib
import math
import socket
import wave
from array import array
from collections import Counter

import pytest

from aura.media.audio import measure_loudness
from aura.models import Scene, Script, VideoRequest
from aura.providers.tts import EspeakTTS, GTTSProvider, PiperTTS, Speech, TTSError
from aura.providers.tts import WordTiming as TTSWord
from aura.settings import Settings
from aura.stages.script import LEAD_IN_S, SCENE_PAUSE_S, TAIL_S
from aura.stages.voice import RATE_RANGE, RESPEAK_TOLERANCE, assemble, check_speech, narrate
from aura.store import ArtifactStore

# about 7.7 s of speech at espeak-ng's 165 words a minute: about what a 10 s request plans
NARRATIONS = [
    "Deep under the ground, hot magma slowly rises.",
    "Pressure builds beneath the thick rocky crust.",
    "At last the mountain erupts with fire and ash.",
]
EPS = 1e-6


def _script() -> Script:
    return Script(
        title="How volcanoes form",
        scenes=[Scene(narration=t, visual_prompt=f"picture of {t}", key_phrase=t.split()[0]) for t in NARRATIONS],
    )


def _request(duration: int = 10, **extra) -> VideoRequest:
    return VideoRequest(brief="How volcanoes form", duration_seconds=duration, **extra)


def _fixed_silences(scene_count: int) -> float:
    return LEAD_IN_S + TAIL_S + SCENE_PAUSE_S * (scene_count - 1)


def _tone(seconds: float, rate: int, freq: float = 440.0, amplitude: int = 8000) -> bytes:
    n = round(seconds * rate)
    step = 2 * math.pi * freq / rate
    return array("h", (int(amplitude * math.sin(step * i)) for i in range(n))).tobytes()


@pytest.fixture(scope="module")
def narrated(tmp_path_factory):
    job = ArtifactStore(str(tmp_path_factory.mktemp("store"))).job("t1")
    narration = narrate(_script(), _request(10), job, Settings())
    return job, narration


# --------------------------------------------------------------------------- the narration file


def test_narration_wav_is_in_the_job_with_its_checksum(narrated):
    job, narration = narrated
    path = job.folder / "work" / "narration.wav"
    assert narration.audio.key == "work/narration.wav"
    assert path.is_file()
    data = path.read_bytes()
    assert narration.audio.sha256 == hashlib.sha256(data).hexdigest()
    assert narration.audio.size == len(data)
    assert narration.provider == "piper"  # the default chain speaks with the packaged Piper voice
    assert narration.voice == "en_US-joe-medium"
    assert narration.warnings == []
    # the raw, un-normalised track and temporary files are gone
    assert sorted(p.name for p in path.parent.iterdir()) == ["narration.wav"]


def test_duration_is_the_wav_length(narrated):
    job, narration = narrated
    with wave.open(str(job.path("work/narration.wav")), "rb") as wav:
        assert wav.getnchannels() == 1
        assert wav.getframerate() == narration.sample_rate
        length = wav.getnframes() / wav.getframerate()
    assert narration.duration == pytest.approx(length, abs=EPS)
    # all three scenes were spoken: real speech, not a stub
    assert narration.duration > _fixed_silences(3) + 3


def test_scene_timings_cover_the_whole_narration_without_gaps(narrated):
    _, narration = narrated
    scenes = narration.scenes
    assert [s.index for s in scenes] == [0, 1, 2]
    assert scenes[0].start == 0
    assert scenes[-1].end == pytest.approx(narration.duration, abs=EPS)
    for before, after in zip(scenes, scenes[1:]):
        assert before.end == pytest.approx(after.start, abs=EPS)
    for scene in scenes:
        assert scene.start < scene.speech_end < scene.end
        # the pause after each scene is real silence on the timeline
        pause = TAIL_S if scene.index == len(scenes) - 1 else SCENE_PAUSE_S
        assert scene.end - scene.speech_end == pytest.approx(pause, abs=0.01)


def test_words_are_inside_their_scene_and_in_order(narrated):
    _, narration = narrated
    previous_end = 0.0
    for scene, text in zip(narration.scenes, NARRATIONS):
        assert scene.words, f"scene {scene.index} has no word timings"
        # every written word is there once, in order
        assert " ".join(w.text for w in scene.words) == text
        for word in scene.words:
            assert scene.start - EPS <= word.start <= word.end <= scene.speech_end + EPS
            assert word.start >= previous_end - EPS
            previous_end = word.end
    # the first word starts after the lead-in breath, not at 0
    assert narration.scenes[0].words[0].start >= LEAD_IN_S - 0.01


def test_narration_is_normalised_to_minus_16_lufs(narrated):
    job, _ = narrated
    loudness = measure_loudness(job.path("work/narration.wav"))
    assert loudness["input_i"] == pytest.approx(-16.0, abs=1.5)
    assert loudness["input_tp"] <= -1.0


# --------------------------------------------------------------------------- re-pacing


@pytest.mark.parametrize("engine", [PiperTTS, EspeakTTS])
def test_the_narration_is_paced_to_the_request_and_each_scene_spoken_once(tmp_path, monkeypatch, engine):
    spoken: list[tuple[str, int | None]] = []
    original = engine.synthesize

    def recording(self, text, language="en", voice=None, rate_wpm=None):
        spoken.append((text, rate_wpm))
        return original(self, text, language=language, voice=voice, rate_wpm=rate_wpm)

    monkeypatch.setattr(engine, "synthesize", recording)
    store = ArtifactStore(str(tmp_path))
    settings = Settings(_env_file=None, tts_provider=engine.name)

    fits = narrate(_script(), _request(10), store.job("fits"), settings)
    fit_calls = list(spoken)
    spoken.clear()
    slow = narrate(_script(), _request(60), store.job("slow"), settings)
    slow_calls = list(spoken)

    for calls in (fit_calls, slow_calls):
        # every scene once, in order; a scene spoken before the pace was known (the first) again if it proved off
        assert [text for text, _ in calls[:3]] == NARRATIONS, calls
        assert max(Counter(text for text, _ in calls).values()) <= 2, calls
        kept = dict(calls)  # the rate each scene was last spoken at: one pace for the whole narration
        assert max(kept.values()) <= min(kept.values()) * (1 + RESPEAK_TOLERANCE) + 1
    # 10 s asked: the speech fills its planned time; 60 s is far more than the text needs: the slowest rate
    assert fits.duration == pytest.approx(10, rel=0.12)
    assert set(dict(slow_calls).values()) == {RATE_RANGE[0]}
    fit_rate = dict(fit_calls)[NARRATIONS[-1]]
    fit_speech, slow_speech = fits.duration - _fixed_silences(3), slow.duration - _fixed_silences(3)
    assert slow_speech > fit_speech * 1.15
    assert slow_speech < fit_speech * fit_rate / RATE_RANGE[0] * 1.1  # never stretched beyond the slowest rate
    assert slow.scenes[-1].end == pytest.approx(slow.duration, abs=EPS)


# --------------------------------------------------------------------------- gTTS -> espeak-ng


def _refused_port() -> int:
    """A local port nobody listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gtts_falls_back_to_espeak_once_for_the_whole_run(tmp_path, monkeypatch):
    port = _refused_port()
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)

    calls: list[str] = []
    original = GTTSProvider.synthesize

    def counting(self, text, *args, **kwargs):
        calls.append(text)
        return original(self, text, *args, **kwargs)

    monkeypatch.setattr(GTTSProvider, "synthesize", counting)
    job = ArtifactStore(str(tmp_path)).job("t1")
    narration = narrate(_script(), _request(10), job, Settings(_env_file=None, tts_provider="gtts,espeak-ng", tts_timeout_s=2))

    assert calls == [NARRATIONS[0]]  # tried for the first scene only, not once per scene
    assert narration.provider == "espeak-ng"
    assert len(narration.warnings) == 1
    assert "gtts" in narration.warnings[0]
    assert "espeak-ng" in narration.warnings[0]
    assert f"127.0.0.1:{port}" in narration.warnings[0]  # it failed on the refused proxy, and says so
    assert job.path("work/narration.wav").is_file()
    assert [" ".join(w.text for w in s.words) for s in narration.scenes] == NARRATIONS
    assert narration.scenes[-1].end == pytest.approx(narration.duration, abs=EPS)


# --------------------------------------------------------------------------- check_speech


def _speech(pcm: bytes, rate: int = 8000, words=()) -> Speech:
    return Speech(pcm=pcm, sample_rate=rate, words=list(words), provider="test-engine", voice="v")


def test_check_speech_rejects_silence():
    with pytest.raises(TTSError, match="silence"):
        check_speech(_speech(bytes(2 * 8000 * 2)), "two seconds of nothing here", 0)
    with pytest.raises(TTSError, match="silence"):
        check_speech(_speech(b""), "no audio at all", 1)


def test_check_speech_rejects_implausible_lengths():
    five_words = "one two three four five"
    with pytest.raises(TTSError, match="not a plausible narration"):
        check_speech(_speech(_tone(20.0, 8000)), five_words, 0)  # 4 s a word
    with pytest.raises(TTSError, match="not a plausible narration"):
        check_speech(_speech(_tone(0.2, 8000)), "a b c d e f g h i j", 2)  # 20 ms a word
    check_speech(_speech(_tone(2.0, 8000)), five_words, 0)  # 0.4 s a word: fine


# --------------------------------------------------------------------------- assemble


def test_assemble_resamples_to_the_first_speech_rate():
    first = _speech(_tone(1.0, 22050), 22050, [TTSWord("hello", 0.1, 0.9)])
    second = _speech(_tone(1.0, 16000, freq=300), 16000, [TTSWord("world", 0.2, 0.8)])
    pcm, rate, timings = assemble([first, second])

    assert rate == 22050
    expected = LEAD_IN_S + 1.0 + SCENE_PAUSE_S + 1.0 + TAIL_S
    assert len(pcm) // 2 / rate == pytest.approx(expected, abs=0.005)
    assert timings[0].start == 0
    assert timings[0].end == pytest.approx(timings[1].start, abs=EPS)
    assert timings[1].end == pytest.approx(len(pcm) // 2 / rate, abs=EPS)
    # the resampled second clip still lasts one second
    assert timings[1].speech_end - timings[1].start == pytest.approx(1.0, abs=0.005)
    assert timings[0].words[0].start == pytest.approx(LEAD_IN_S + 0.1, abs=EPS)
    assert timings[1].words[0].start == pytest.approx(timings[1].start + 0.2, abs=EPS)
    # the second clip's audio is really in the track (not silence) where its timing says
    start = round(timings[1].start * rate) * 2
    end = round(timings[1].speech_end * rate) * 2
    assert not _speech(pcm[start:end], rate).is_silent()


# --- subtitles show the narration as written, whatever the engine's tokenisation -----------


@pytest.mark.parametrize(
    "text",
    [
        "Quotes ' and colons : and backslashes \\ and 100% [brackets], commas; braces {\\b1} and \\N stay.",
        "Shell bits $(rm -rf /) | & > < `id` are just words.",
        "It costs 1,000 dollars, or 3.14 each on 2024-05-01.",
        "Volcanoes — вулканы, ज्वालामुखी — erupt.",
    ],
)
def test_words_as_written_keeps_the_narration_tokens(text):
    from aura.providers.tts import EspeakTTS
    from aura.stages.voice import words_as_written

    speech = EspeakTTS().synthesize(text)
    words = words_as_written(text, speech.words)
    assert [w.text for w in words] == text.split()
    assert words[0].start == speech.words[0].start and words[-1].end == pytest.approx(speech.words[-1].end)
    for before, after in zip(words, words[1:]):
        assert before.start <= before.end <= after.start + 1e-9


def test_words_as_written_keeps_engine_words_inside_spaceless_scripts():
    from aura.providers.tts import EspeakTTS
    from aura.stages.voice import words_as_written

    text = "你好世界。火山很热。"
    speech = EspeakTTS().synthesize(text, language="zh")
    words = words_as_written(text, speech.words)
    assert "".join(w.text for w in words) == text
    assert len(words) == len(speech.words) > 1


def test_words_as_written_falls_back_when_characters_differ():
    from aura.providers.tts import WordTiming
    from aura.stages.voice import words_as_written

    engine = [WordTiming("hello", 0.0, 0.4), WordTiming("wrld", 0.4, 0.8)]
    assert words_as_written("hello world", engine) == engine


def test_chinese_narration_is_accepted_and_timed(tmp_path):
    from aura.models import Scene, Script, VideoRequest
    from aura.settings import Settings
    from aura.stages.voice import narrate
    from aura.store import ArtifactStore

    script = Script(
        title="火山",
        language="zh",
        scenes=[
            Scene(narration="火山是地球内部的岩浆喷出地表形成的。", visual_prompt="a volcano", key_phrase="火山"),
            Scene(narration="岩浆上升时，压力越来越大。", visual_prompt="magma", key_phrase="岩浆"),
        ],
    )
    request = VideoRequest(brief="火山是怎样形成的", duration_seconds=10, language="zh")
    narration = narrate(script, request, ArtifactStore(str(tmp_path)).job("zh"), Settings())
    words = [w for scene in narration.scenes for w in scene.words]
    assert "".join(w.text for w in words) == "".join(s.narration for s in script.scenes)
    assert len(words) > 4  # the engine's words, not one token per sentence
    assert narration.duration > 2
