"""Offline speech with libespeak-ng (from the espeakng-loader wheel) through ctypes.

espeak-ng reports a WORD event for each word it speaks, with the word's place in the text and
its time in the audio, so these word timings are measurements, not estimates.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from aura.providers.base import ProviderStatus
from aura.providers.tts.base import (
    Speech,
    TTSError,
    VoiceInfo,
    WordTiming,
    non_silent_span,
    normalize_language,
    require_text,
)

if TYPE_CHECKING:
    from aura.models import VideoRequest
    from aura.settings import Settings

NAME = "espeak-ng"
INSTALL_HINT = "install it with `pip install espeakng-loader`"
DEFAULT_RATE_WPM = 165
MIN_RATE_WPM, MAX_RATE_WPM = 80, 450  # what espeakRATE accepts

# From speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS = 2  # espeak_Synth returns when all audio went through the callback
_INITIALIZE_DONT_EXIT = 0x8000  # report errors instead of calling exit()
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_RATE = 1
_EE_OK = 0
_PHONEMES_IPA = 0x02  # espeak_TextToPhonemes: bit 1 asks for IPA as UTF-8


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based, in characters (code points), not bytes
        ("length", ctypes.c_int),  # in characters
        ("audio_position", ctypes.c_int),  # ms from the start of this espeak_Synth call
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # (priority byte, NUL-terminated code)* then a 0 byte
        ("identifier", ctypes.c_char_p),  # file under espeak-ng-data/voices or lang, e.g. "gmw/en-US"
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class _WordEvent:
    char_start: int  # 0-based index into the text
    char_end: int
    time: float  # seconds


@dataclass(frozen=True)
class _LanguageVoice:
    priority: int  # lower is preferred, as espeak-ng ranks them
    voice_id: str


class _Engine:
    """The process-wide libespeak-ng instance. Every method must be called with _LOCK held.

    The same text gives slightly different samples from call to call (a few ms of length): the
    pitch flutter state runs on across calls and no API resets it (espeak_ng_SetRandSeed does not).
    """

    def __init__(self) -> None:
        import espeakng_loader

        self.library_path = espeakng_loader.get_library_path()
        lib = ctypes.CDLL(self.library_path)
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self.lib = lib

        data_path = espeakng_loader.get_data_path()
        self.sample_rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), _INITIALIZE_DONT_EXIT
        )
        if self.sample_rate <= 0:
            raise TTSError(f"libespeak-ng did not initialise with data at {data_path}: reinstall it ({INSTALL_HINT})")
        self.version = (lib.espeak_Info(None) or b"?").decode()
        # the callback object must outlive every synthesis, so it lives on the engine
        self._callback = _SynthCallback(self._on_audio)
        lib.espeak_SetSynthCallback(self._callback)
        self._chunks: list[bytes] = []
        self._events: list[_WordEvent] = []
        self.voices, self.by_language = self._list_voices()

    def _on_audio(self, wav, num_samples, events) -> int:
        if wav and num_samples > 0:
            self._chunks.append(ctypes.string_at(wav, num_samples * 2))
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            event = events[i]
            if event.type == _EVENT_WORD:
                start = event.text_position - 1
                self._events.append(_WordEvent(start, start + max(event.length, 1), event.audio_position / 1000))
            i += 1
        return 0  # 0 = keep synthesizing

    def _list_voices(self) -> tuple[list[VoiceInfo], dict[str, _LanguageVoice]]:
        """All voices, and for each language code the voice espeak-ng ranks best for it."""
        array_ = self.lib.espeak_ListVoices(None)
        voices: list[VoiceInfo] = []
        best: dict[str, _LanguageVoice] = {}
        i = 0
        while array_[i]:
            voice = array_[i].contents
            # "gmw/en-US" -> "en-US": short, and accepted by espeak_SetVoiceByName
            voice_id = voice.identifier.decode().rsplit("/", 1)[-1]
            languages = [(priority, code.lower()) for priority, code in _read_languages(voice.languages)]
            voices.append(VoiceInfo(voice_id, voice.name.decode(), tuple(c for _, c in languages), NAME))
            for priority, code in languages:
                if code not in best or priority < best[code].priority:
                    best[code] = _LanguageVoice(priority, voice_id)
            i += 1
        return voices, best

    def synthesize(self, text: str, voice_id: str, rate_wpm: int) -> tuple[bytes, list[_WordEvent]]:
        if self.lib.espeak_SetVoiceByName(voice_id.encode()) != _EE_OK:
            raise TTSError(f"espeak-ng has no voice {voice_id!r}: run `aura voices` to list them")
        # after the voice: choosing a voice resets the rate
        self.lib.espeak_SetParameter(_RATE, rate_wpm, 0)
        self._chunks, self._events = [], []
        data = text.encode("utf-8")
        flags = _CHARS_UTF8
        rc = self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, flags, None, None)
        if rc != _EE_OK:
            raise TTSError(f"espeak-ng failed to synthesize (error {rc}); try a shorter text or another voice")
        return b"".join(self._chunks), self._events

    def phonemes(self, text: str, voice_id: str) -> str:
        """The text in IPA, clause by clause joined with spaces (espeak_TextToPhonemes; no audio)."""
        if self.lib.espeak_SetVoiceByName(voice_id.encode()) != _EE_OK:
            raise TTSError(f"espeak-ng has no voice {voice_id!r}: run `aura voices` to list them")
        buffer = ctypes.create_string_buffer(text.encode("utf-8"))
        pointer = ctypes.c_void_p(ctypes.addressof(buffer))
        clauses = []
        # each call reads one clause and moves the pointer on; NULL once the text is used up
        while pointer.value:
            ipa = self.lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, _PHONEMES_IPA)
            if ipa:
                clauses.append(ipa.decode("utf-8", "replace"))
        return " ".join(clauses)


def _read_languages(pointer: int | None) -> list[tuple[int, str]]:
    """Decode espeak's packed language list: [priority byte][code\\0] ... [0]."""
    languages = []
    while pointer:
        priority = ctypes.c_ubyte.from_address(pointer).value
        if priority == 0:
            break
        code = ctypes.string_at(pointer + 1)
        languages.append((priority, code.decode()))
        pointer += 2 + len(code)
    return languages


# libespeak-ng keeps its voice, rate and output buffers in globals: one caller at a time.
_LOCK = threading.Lock()
_engine: _Engine | None = None
_engine_error: str | None = None


def _get_engine() -> _Engine:
    """Load and initialise libespeak-ng once per process; call with _LOCK held."""
    global _engine, _engine_error
    if _engine is None and _engine_error is None:
        try:
            _engine = _Engine()
        except TTSError as exc:
            _engine_error = str(exc)
        except ImportError:
            _engine_error = f"the espeakng-loader package is missing: {INSTALL_HINT}"
        except (OSError, RuntimeError, AttributeError) as exc:
            _engine_error = f"libespeak-ng could not be loaded ({exc}): {INSTALL_HINT}"
    if _engine is None:
        raise TTSError(_engine_error or "libespeak-ng is unavailable")
    return _engine


def _anchor_words(text: str, events: list[_WordEvent]) -> list[_WordEvent]:
    """One event per spoken word of the text, at the word's first character.

    What espeak-ng 1.52 actually reports (measured):
    - several events for one written word ("42" -> "forty" "two", "3.14", "1,000"), overlapping
      in the text, or the same event repeated: these are one word, timed by the first;
    - a word after a "." that espeak does not take as a sentence end (a lower-case word follows)
      points at the space before it, with length 1;
    - the second word of a spoken symbol's name ("grinning face" for an emoji) also points at
      the following space; then the next event starts right after that space.
    """
    anchors: list[_WordEvent] = []
    for index, event in enumerate(events):
        start = min(event.char_start, len(text))
        char_end = event.char_end
        if start < len(text) and text[start].isspace():
            after = len(text) - len(text[start:].lstrip())
            following = events[index + 1] if index + 1 < len(events) else None
            if following is not None and following.char_start == after:
                start = len(text)  # continuation of the previous word
            else:
                start, char_end = after, after + 1
        if start >= len(text) or (anchors and start < anchors[-1].char_end):
            if anchors:  # more of the previous word being spoken
                last = anchors[-1]
                anchors[-1] = _WordEvent(last.char_start, max(last.char_end, char_end), last.time)
            continue
        anchors.append(_WordEvent(start, char_end, event.time))
    return anchors


def _word_timings(text: str, events: list[_WordEvent], audio_end: float, duration: float) -> list[WordTiming]:
    """Words of the input text with start/end times from espeak's WORD events.

    espeak sends no event for some words ("co-operate" -> only "co"), and languages without
    spaces (Chinese) get several words inside one space-separated token. So each word runs from
    the start of its token (or from its own event when the previous word is in the same token)
    to where the next word starts: every character of the text belongs to one word, punctuation
    included, and nothing is said twice. A word ends where the next one starts; the last one
    where the audible audio ends.
    """
    anchors = _anchor_words(text, events)
    starts = []
    for index, anchor in enumerate(anchors):
        token_start = anchor.char_start
        while token_start > 0 and not text[token_start - 1].isspace():
            token_start -= 1
        if index == 0:
            starts.append(0)  # text before the first spoken word (a quote, a dash) belongs to it
        elif token_start <= anchors[index - 1].char_start:
            starts.append(anchor.char_start)  # same token as the previous word: split at the event
        else:
            starts.append(token_start)

    words: list[tuple[str, float]] = []
    last_time = 0.0
    for index, anchor in enumerate(anchors):
        span_end = starts[index + 1] if index + 1 < len(anchors) else len(text)
        word = " ".join(text[starts[index] : span_end].split())
        last_time = min(max(anchor.time, last_time), duration)  # ordered and inside the audio
        words.append((word, last_time))
    timings = []
    for index, (word, start) in enumerate(words):
        end = words[index + 1][1] if index + 1 < len(words) else min(max(audio_end, start), duration)
        timings.append(WordTiming(word, start, end))
    return timings


class EspeakTTS:
    """Offline TTS: always available where the espeakng-loader wheel installs."""

    name: ClassVar[str] = NAME
    rate_controlled: ClassVar[bool] = True  # espeakRATE

    def __init__(self, default_rate_wpm: int = DEFAULT_RATE_WPM) -> None:
        self.default_rate_wpm = default_rate_wpm

    @classmethod
    def from_settings(cls, settings: Settings) -> EspeakTTS:
        return cls()

    @classmethod
    def output_settings(cls, settings: Settings) -> dict[str, object]:
        return {}  # no setting of its own changes the audio

    @classmethod
    def check_request(cls, request: VideoRequest, settings: Settings) -> list[str]:
        # one word costs milliseconds and exercises exactly the lookup the voice stage will do
        cls.from_settings(settings).synthesize("ok", language=request.language, voice=request.voice)
        return []

    def status(self) -> ProviderStatus:
        try:
            with _LOCK:
                engine = _get_engine()
        except TTSError as exc:
            return ProviderStatus(NAME, "tts", False, str(exc))
        detail = f"libespeak-ng {engine.version}, {len(engine.voices)} voices, {engine.library_path}"
        return ProviderStatus(NAME, "tts", True, detail)

    def voices(self) -> list[VoiceInfo]:
        with _LOCK:
            return list(_get_engine().voices)

    def synthesize(
        self, text: str, language: str = "en", voice: str | None = None, rate_wpm: int | None = None
    ) -> Speech:
        require_text(text)
        text = text.replace("\x00", " ")  # a NUL would end the C string early
        rate = min(max(int(rate_wpm or self.default_rate_wpm), MIN_RATE_WPM), MAX_RATE_WPM)
        with _LOCK:
            engine = _get_engine()
            voice_id = self._voice_named(engine, voice) if voice else self._voice_for(engine, language)
            pcm, events = engine.synthesize(text, voice_id, rate)
            sample_rate = engine.sample_rate
        duration = len(pcm) // 2 / sample_rate
        span = non_silent_span(pcm, sample_rate)
        audio_end = span[1] if span else duration
        words = _word_timings(text, events, audio_end, duration)
        return Speech(pcm=pcm, sample_rate=sample_rate, words=words, provider=NAME, voice=voice_id)

    def phonemes(self, text: str, language: str = "en") -> str:
        """The IPA espeak-ng reads the text as, in the language's voice (for timing estimates)."""
        with _LOCK:
            engine = _get_engine()
            return engine.phonemes(text.replace("\x00", " "), self._voice_for(engine, language))

    @staticmethod
    def _voice_named(engine: _Engine, voice: str) -> str:
        """The voice of espeak-ng's own list with this id: libespeak-ng reads any path it is given as a voice
        file (and may crash on it), so only names from its list ever reach it."""
        known = {info.id.lower(): info.id for info in engine.voices}
        try:
            return known[voice.strip().lower()]
        except KeyError:
            raise TTSError("espeak-ng has no such voice: pick one from GET /api/voices or `aura voices`") from None

    @staticmethod
    def _voice_for(engine: _Engine, language: str) -> str:
        """The best espeak voice for a BCP-47 tag, dropping subtags until one matches (fr-CA -> fr)."""
        tag = normalize_language(language or "")
        parts = tag.split("-")
        while parts and parts[0]:
            match = engine.by_language.get("-".join(parts))
            if match:
                return match.voice_id
            parts.pop()
        raise TTSError(
            f"espeak-ng has no voice for language {language!r}: pass a supported BCP-47 code "
            "(e.g. en, en-US, fr, pt-BR) or a voice from `aura voices`"
        )
