"""What every text-to-speech provider returns, and the audio helpers they share."""

from __future__ import annotations

import math
import os
import sys
import tempfile
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

from aura.errors import ProviderError
from aura.providers.base import Provider

# Below this peak level a 10 ms frame counts as silence (speech peaks sit around -10..-1 dBFS).
SILENCE_DBFS = -40.0
_FULL_SCALE = 32768.0


class TTSError(ProviderError):
    """A TTS provider could not turn text into speech."""


class TTSDeclined(TTSError):
    """An engine cannot speak this request on this machine (no voice for the language, not installed, its
    voice file missing or damaged): the next engine of the chain speaks it. Not an outage: it never
    counts towards the engine's circuit breaker."""


@dataclass(frozen=True)
class WordTiming:
    text: str
    start: float  # seconds from the start of this clip
    end: float


@dataclass(frozen=True)
class VoiceInfo:
    id: str  # what a user passes as `voice`
    name: str
    languages: tuple[str, ...]  # BCP-47-ish codes, lower case, e.g. ("en-us",)
    provider: str


def require_text(text: object) -> str:
    """The text to speak; TTSError when there is nothing to say."""
    if not isinstance(text, str) or not text.strip():
        raise TTSError("nothing to say: the text is empty")
    return text


def normalize_language(language: str) -> str:
    """'en_US' / 'EN-us' -> 'en-us': the form both providers compare against."""
    return language.strip().replace("_", "-").lower()


def pcm_samples(pcm: bytes) -> array:
    """Signed 16-bit little-endian bytes as an array of ints (C speed for max/min/sum)."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _dbfs(level: float) -> float:
    return 20.0 * math.log10(level / _FULL_SCALE) if level > 0 else -math.inf


def non_silent_span(
    pcm: bytes, sample_rate: int, threshold_dbfs: float = SILENCE_DBFS, frame_s: float = 0.01
) -> tuple[float, float] | None:
    """(start, end) in seconds of the audible part of the clip, or None when it is all silence."""
    samples = pcm_samples(pcm)
    frame = max(1, int(sample_rate * frame_s))
    threshold = _FULL_SCALE * 10 ** (threshold_dbfs / 20.0)

    def loud(i: int) -> bool:
        chunk = samples[i : i + frame]
        return max(max(chunk), -min(chunk)) >= threshold

    starts = range(0, len(samples), frame)
    first = next((i for i in starts if loud(i)), None)
    if first is None:
        return None
    last = next(i for i in reversed(starts) if loud(i))
    return first / sample_rate, min(last + frame, len(samples)) / sample_rate


def estimate_word_timings(words: list[str], start: float, end: float) -> list[WordTiming]:
    """Spread [start, end] over the words in proportion to their character length.

    Only for engines that report no word events: longer words take longer to say, which is
    close enough for subtitles but is a guess, not a measurement.
    """
    words = [w for w in words if w]
    if not words:
        return []
    end = max(end, start)
    total = sum(len(w) for w in words)
    timings = []
    position = start
    for index, word in enumerate(words):
        # the last word ends exactly at `end` so rounding never leaves a gap
        word_end = end if index == len(words) - 1 else position + (end - start) * len(word) / total
        timings.append(WordTiming(word, position, word_end))
        position = word_end
    return timings


@dataclass
class Speech:
    pcm: bytes  # signed 16-bit little-endian mono samples
    sample_rate: int
    words: list[WordTiming]
    provider: str
    voice: str

    @property
    def duration(self) -> float:
        return len(self.pcm) // 2 / self.sample_rate

    @property
    def peak_dbfs(self) -> float:
        """Loudest sample in dBFS; -inf for digital silence."""
        samples = pcm_samples(self.pcm)
        if not samples:
            return -math.inf
        return _dbfs(max(max(samples), -min(samples)))

    @property
    def rms_dbfs(self) -> float:
        """Average loudness in dBFS; -inf for digital silence."""
        samples = pcm_samples(self.pcm)
        if not samples:
            return -math.inf
        return _dbfs(math.sqrt(sum(s * s for s in samples) / len(samples)))

    def is_silent(self, threshold_dbfs: float = SILENCE_DBFS) -> bool:
        return self.peak_dbfs < threshold_dbfs

    def write_wav(self, path: str | os.PathLike) -> None:
        """Write a 16-bit mono WAV; written to a temporary name and renamed so no reader sees half a file."""
        path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as raw, wave.open(raw, "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(self.sample_rate)
                wav.writeframes(self.pcm)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


@runtime_checkable
class TTSProvider(Provider, Protocol):
    """A TTS engine: aura.providers.base.Provider's shape (its check_request raises TTSError for a language or
    voice it has not), plus speech and voices."""

    # whether synthesize() honours rate_wpm, so a narration can be re-paced to fit its duration
    rate_controlled: ClassVar[bool]

    def synthesize(
        self, text: str, language: str = "en", voice: str | None = None, rate_wpm: int | None = None
    ) -> Speech:
        ...

    def voices(self) -> list[VoiceInfo]:
        ...
