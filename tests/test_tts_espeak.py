"""espeak-ng through ctypes, with the real library: audio, word timings, voices, threads."""

from __future__ import annotations

import string
import threading
import wave

import pytest

from aura.providers.tts import EspeakTTS, Speech, TTSError, TTSProvider

ENGLISH = "The quick brown fox jumps over the lazy dog, and then it rests."


@pytest.fixture(scope="module")
def tts() -> EspeakTTS:
    provider = EspeakTTS()
    status = provider.status()
    assert status.usable, f"espeak-ng unavailable: {status.detail}"
    return provider


def _bare(word: str) -> str:
    return word.strip(string.punctuation + "«»—…。，")


def _check_timings(speech: Speech) -> None:
    previous_end = 0.0
    for word in speech.words:
        assert 0.0 <= word.start <= word.end <= speech.duration + 1e-6, word
        assert word.start >= previous_end - 1e-6, "words overlap or go backwards"
        previous_end = word.end


def test_status_and_protocol(tts):
    status = tts.status()
    assert status.usable and status.kind == "tts" and status.name == "espeak-ng"
    assert isinstance(tts, TTSProvider)


def test_english_sentence(tts):
    speech = tts.synthesize(ENGLISH, language="en-US")
    words = ENGLISH.split()
    assert speech.provider == "espeak-ng" and speech.voice == "en-US"
    assert not speech.is_silent() and speech.peak_dbfs > -20
    assert 0.2 * len(words) <= speech.duration <= 1.5 * len(words)
    assert [w.text for w in speech.words] == words
    _check_timings(speech)
    assert speech.words[0].start < 0.3
    # the last word ends where the speech does, not far into trailing silence
    assert speech.duration - 0.3 <= speech.words[-1].end <= speech.duration


def test_numbers_and_sentences_keep_input_words(tts):
    # "42" and "3.14" are spoken as several words; "well" follows a "." espeak does not end on
    text = "I counted 42 cats. Pi is 3.14 or so. well, fine"
    speech = tts.synthesize(text)
    assert [w.text for w in speech.words] == text.split()
    _check_timings(speech)


def test_faster_rate_is_shorter(tts):
    slow = tts.synthesize(ENGLISH, rate_wpm=120)
    fast = tts.synthesize(ENGLISH, rate_wpm=300)
    assert fast.duration < slow.duration * 0.7
    # out-of-range rates are clamped, not errors
    assert tts.synthesize("hello", rate_wpm=10).duration > tts.synthesize("hello", rate_wpm=10_000).duration


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("ru", "Привет, мир! Это проверка русского текста."),
        ("hi", "नमस्ते दुनिया, यह एक परीक्षा है।"),
        ("el", "Γειά σου κόσμε, αυτό είναι ένα τεστ."),
    ],
)
def test_non_latin_word_texts(tts, language, text):
    # text_position counts characters, not UTF-8 bytes: a byte reading would garble these
    speech = tts.synthesize(text, language=language)
    assert not speech.is_silent()
    assert [_bare(w.text) for w in speech.words] == [_bare(w) for w in text.split()]
    _check_timings(speech)


def test_chinese_without_spaces_is_split_into_words(tts):
    text = "你好世界。我们走吧"
    speech = tts.synthesize(text, language="zh")
    assert speech.voice == "cmn"
    assert len(speech.words) > 1
    assert "".join(w.text for w in speech.words) == text
    _check_timings(speech)


@pytest.mark.parametrize(
    ("language", "voice"),
    [("en-US", "en-US"), ("en_us", "en-US"), ("pt-BR", "pt-BR"), ("fr-CA", "fr"), ("zh-CN", "cmn"), ("de", "de")],
)
def test_voice_from_language(tts, language, voice):
    assert tts.synthesize("one two", language=language).voice == voice


def test_explicit_voice(tts):
    speech = tts.synthesize("Hello there", language="fr", voice="en-GB-x-rp")
    assert speech.voice == "en-GB-x-rp" and [w.text for w in speech.words] == ["Hello", "there"]


def test_unknown_voice_and_language(tts):
    with pytest.raises(TTSError, match="no such voice.*aura voices"):
        tts.synthesize("hello", voice="no-such-voice")
    # libespeak-ng reads a path as a voice file (and may crash on it): only names of its own list reach it
    for path in ("../../../../../../../../../etc/passwd", "/etc/passwd", "gmw/en-US"):
        with pytest.raises(TTSError, match="no such voice"):
            tts.synthesize("hello", voice=path)
    with pytest.raises(TTSError, match="xx-YY"):
        tts.synthesize("hello", language="xx-YY")
    # a failed call leaves the engine usable
    assert tts.synthesize("hello", language="en").words[0].text == "hello"


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text(tts, text):
    with pytest.raises(TTSError, match="empty"):
        tts.synthesize(text)


def test_voices(tts):
    voices = tts.voices()
    assert len(voices) > 50
    english = [v for v in voices if "en-us" in v.languages]
    assert english and english[0].provider == "espeak-ng"
    assert all(lang == lang.lower() for v in voices for lang in v.languages)
    # every listed id is accepted back as a voice
    assert tts.synthesize("ok", voice=english[0].id).voice == english[0].id


def test_threads_share_the_engine_safely(tts):
    jobs = [("en", "Thread safety matters here."), ("ru", "Проверка потоков."), ("fr", "Bonjour tout le monde.")] * 3
    expected = {job: tts.synthesize(job[1], language=job[0]) for job in set(jobs)}
    results: dict[int, Speech] = {}
    errors: list[BaseException] = []

    def work(index: int, language: str, text: str) -> None:
        try:
            for _ in range(3):
                results[index] = tts.synthesize(text, language=language)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, *job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    for index, job in enumerate(jobs):
        # each call got its own voice and its own audio, untouched by the others (espeak's
        # output varies by a few ms between calls, so compare what must not change)
        got, want = results[index], expected[job]
        assert got.voice == want.voice
        assert [w.text for w in got.words] == [w.text for w in want.words]
        assert abs(got.duration - want.duration) < 0.05 * want.duration


def test_write_wav(tts, tmp_path):
    speech = tts.synthesize("A short clip.")
    path = tmp_path / "clip.wav"
    speech.write_wav(path)
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        assert wav.getframerate() == speech.sample_rate
        assert wav.readframes(wav.getnframes()) == speech.pcm
    assert [p.name for p in tmp_path.iterdir()] == ["clip.wav"]  # no temporary left behind
