"""Word timings where an engine reports none: phrases spoken one by one, words placed inside each.

A speech API answers with audio and nothing else. Its phrase boundaries are real when each
phrase is asked for separately (`split_phrases`); inside a phrase `place_words` puts the words
by how long they take to say (their phonemes, from espeak-ng's phonemizer) and matches the
pauses it finds in the audio to word boundaries, punctuation first. `bench/word_timing.py`
measures it against engines whose timings are known (Piper's alignments, espeak-ng's events).
"""

from __future__ import annotations

import math
import re
from array import array
from dataclasses import dataclass
from functools import lru_cache

from aura.providers.tts.base import SILENCE_DBFS, TTSError, WordTiming, pcm_samples

FRAME_S = 0.01
# a gap this long inside a phrase is a pause (a stop consonant's closure is shorter)
MIN_PAUSE_S = 0.12
# tuned with bench/word_timing.py (on the same audio for every candidate, since Piper's differs per run):
# duration units of a consonant (1), a vowel, and what stress and length add to a vowel;
# a word before punctuation counts this many units more (speakers draw it out before they pause)
VOWEL, STRESSED_VOWEL, LONG_VOWEL = 1.0, 0.5, 0.5
FINAL_LENGTHENING = 1.0
_VOWELS = set("aeiouyæɐɑɒɔəɘɚɛɜɝɞɪʊʌʏøœɤɯɨʉɵɶ")
# a pause at a word boundary without punctuation costs this much (seconds) more than at a mark;
# leaving a pause unexplained (a breath, a stop inside a word) costs this much
UNMARKED_PAUSE_COST = 0.25
SKIP_PAUSE_COST = 0.2
# a phrase longer than this is split at its commas, then between words (speech APIs cap a request
# at a few thousand characters; shorter phrases also make more boundaries real)
MAX_PHRASE_CHARS = 180
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])[\"'”’)\]]*\s+")
_CLAUSE_END = re.compile(r"(?<=[,;:—–、，；：])\s+")
_PAUSE_AFTER = re.compile(r"[.!?…。！？,;:—–、，；：\"'”’)\]]$")
_NOT_PHONEMES = re.compile(r"[ˈˌ\s\-_'\"()]")  # stress marks and separators take no time


def split_phrases(text: str, max_chars: int = MAX_PHRASE_CHARS) -> list[str]:
    """The text as sentences, long ones cut at clause marks and then between words.

    Words are never cut, and the phrases joined by single spaces give back the text's words.
    """
    phrases: list[str] = []
    for sentence in _SENTENCE_END.split(" ".join(text.split())):
        if not sentence:
            continue
        pieces = [sentence] if len(sentence) <= max_chars else _CLAUSE_END.split(sentence)
        current = ""
        for piece in pieces:
            for word in piece.split(" ") if len(piece) > max_chars else [piece]:
                if current and len(current) + 1 + len(word) > max_chars:
                    phrases.append(current)
                    current = word
                else:
                    current = f"{current} {word}" if current else word
        if current:
            phrases.append(current)
    return phrases


@lru_cache(maxsize=4096)
def _ipa(word: str, language: str) -> str:
    from aura.providers.tts.espeak import EspeakTTS

    try:
        return EspeakTTS().phonemes(word, language)
    except TTSError:  # no espeak-ng voice for the language
        return ""


def _duration_units(ipa: str) -> float:
    """How long a phoneme string takes to say: vowels longer than consonants, stressed and long
    vowels longer still (tuned with bench/word_timing.py)."""
    units, stressed = 0.0, False
    for ch in ipa:
        if ch == "ˈ":
            stressed = True
        elif ch == "ː":
            units += LONG_VOWEL
        elif ch in _VOWELS:
            units += VOWEL + (STRESSED_VOWEL if stressed else 0.0)
            stressed = False
        elif not _NOT_PHONEMES.match(ch):
            units += 1.0
    return units


def word_weights(words: list[str], language: str) -> list[float]:
    """How long each word takes to say, relative to the others: its phonemes, and a little more
    before a punctuation mark (speakers draw out the word before they pause)."""
    weights = []
    for word in words:
        units = _duration_units(_ipa(word, language))
        if units == 0:  # no voice for the language, or only punctuation: letters are the next best measure
            units = sum(ch.isalnum() for ch in word) * 0.8
        weights.append(max(units, 0.5) + (FINAL_LENGTHENING if _PAUSE_AFTER.search(word) else 0.0))
    return weights


@dataclass(frozen=True)
class _Pause:
    start: float
    end: float


def _loud_frames(samples: array, sample_rate: int, threshold_dbfs: float) -> list[bool]:
    frame = max(1, int(sample_rate * FRAME_S))
    threshold = 32768.0 * 10 ** (threshold_dbfs / 20.0)
    loud = []
    for i in range(0, len(samples), frame):
        chunk: array = samples[i : i + frame]
        loud.append(max(max(chunk), -min(chunk)) >= threshold)
    return loud


def speech_and_pauses(pcm: bytes, sample_rate: int) -> tuple[float, float, list[_Pause]] | None:
    """(start, end) of the audible speech and the pauses inside it; None for silence."""
    samples = pcm_samples(pcm)
    if not samples:
        return None
    peak = max(max(samples), -min(samples))
    if peak <= 0:
        return None
    # relative to the phrase's own peak: a quiet voice has quiet pauses too
    threshold = max(SILENCE_DBFS, 20 * math.log10(peak / 32768.0) - 30.0)
    loud = _loud_frames(samples, sample_rate, threshold)
    if not any(loud):
        return None
    first = loud.index(True)
    last = len(loud) - 1 - loud[::-1].index(True)
    pauses, run_start = [], None
    for i in range(first, last + 1):
        if not loud[i] and run_start is None:
            run_start = i
        elif loud[i] and run_start is not None:
            if (i - run_start) * FRAME_S >= MIN_PAUSE_S:
                pauses.append(_Pause(run_start * FRAME_S, i * FRAME_S))
            run_start = None
    return first * FRAME_S, (last + 1) * FRAME_S, pauses


def _assign_pauses(boundaries: list[float], punctuated: list[bool], pauses: list[float], span: float) -> dict[int, int]:
    """Which word boundary each pause belongs to, in order (dynamic programming): {boundary: pause}.

    Boundaries and pauses are both placed on the voiced clock (seconds of speech before them, the
    pauses left out), so a boundary's place does not depend on which pauses came before it. A pause
    costs its distance from the boundary it takes, less where a punctuation mark calls for a pause;
    it may stay unexplained (a breath, a stop inside a word), at a price.
    """
    n, m = len(boundaries), len(pauses)
    inf = float("inf")
    # best[i][j]: lowest cost with the first i boundaries and the first j pauses decided
    best = [[inf] * (m + 1) for _ in range(n + 1)]
    step: list[list[tuple[int, int, bool] | None]] = [[None] * (m + 1) for _ in range(n + 1)]
    best[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            here = best[i][j]
            if here == inf:
                continue
            if i < n and here < best[i + 1][j]:  # boundary i gets no pause
                best[i + 1][j], step[i + 1][j] = here, (i, j, False)
            if j < m and here + SKIP_PAUSE_COST < best[i][j + 1]:  # pause j explained by no boundary
                best[i][j + 1], step[i][j + 1] = here + SKIP_PAUSE_COST, (i, j, False)
            if i < n and j < m:
                distance = abs(boundaries[i] - pauses[j])
                # speakers pause at punctuation, seldom elsewhere
                cost = distance * 0.5 if punctuated[i] else distance + UNMARKED_PAUSE_COST
                if here + cost < best[i + 1][j + 1]:
                    best[i + 1][j + 1], step[i + 1][j + 1] = here + cost, (i, j, True)
    assigned: dict[int, int] = {}
    i, j = n, m
    while (i, j) != (0, 0):
        previous = step[i][j]
        assert previous is not None
        pi, pj, took = previous
        if took:
            assigned[pi] = pj
        i, j = pi, pj
    return assigned


def place_words(words: list[str], pcm: bytes, sample_rate: int, language: str = "en") -> list[WordTiming]:
    """Start and end of each word of one spoken phrase, from the audio and the words alone."""
    words = [w for w in words if w]
    if not words:
        return []
    duration = len(pcm) // 2 / sample_rate
    found = speech_and_pauses(pcm, sample_rate)
    start, end, pauses = found if found else (0.0, duration, [])
    weights = word_weights(words, language)
    voiced = (end - start) - sum(p.end - p.start for p in pauses)
    total = sum(weights)
    # on the voiced clock: where boundary k (between word k and k+1) falls if speech ran evenly,
    # and how much speech comes before each pause
    boundaries, punctuated, position = [], [], 0.0
    for k in range(len(words) - 1):
        position += weights[k]
        boundaries.append(voiced * position / total)
        punctuated.append(bool(_PAUSE_AFTER.search(words[k])))
    before, silent = [], 0.0
    for pause in pauses:
        before.append(pause.start - start - silent)
        silent += pause.end - pause.start
    assigned = {k: pauses[j] for k, j in _assign_pauses(boundaries, punctuated, before, end - start).items()}

    # words between two fixed points (phrase edges, assigned pauses) share that stretch by weight
    anchors = [(-1, start)] + [(k, assigned[k].end) for k in sorted(assigned)] + [(len(words) - 1, end)]
    ends_at = {k: assigned[k].start for k in assigned}
    timings: list[WordTiming] = []
    for (left, t0), (right, t1) in zip(anchors, anchors[1:]):
        group = range(left + 1, right + 1)
        stretch_end = ends_at.get(right, t1)
        group_weight = sum(weights[k] for k in group)
        position = t0
        for k in group:
            length = (stretch_end - t0) * weights[k] / group_weight
            word_end = stretch_end if k == right else position + length
            timings.append(WordTiming(words[k], position, max(word_end, position)))
            position = word_end
    return timings


# ---------------------------------------------------------------- from an engine's phoneme alignments


@dataclass(frozen=True)
class TimedPhoneme:
    phoneme: str
    start: float  # seconds in the clip
    end: float


def _plain(phonemes: str) -> str:
    return _NOT_PHONEMES.sub("", phonemes)


def words_from_phonemes(words: list[str], word_phonemes: list[str], stream: list[TimedPhoneme]) -> list[WordTiming]:
    """Word timings from a timed phoneme stream (Piper's alignments) and each word's own phonemes.

    The stream is the whole text phonemized in context, so it does not split into the text's
    words one to one: espeak-ng joins some ("of the" -> "ʌvðə"), expands others ("42" -> two
    words) and drops punctuation. Each word's phonemes, read on their own, are aligned to the
    stream (difflib, stress marks ignored): a word starts at the stream phoneme its first phoneme
    matched and ends where its last one did. A word with no phonemes of its own (a dash) takes
    no time, at the end of the word before it.
    """
    from difflib import SequenceMatcher

    kept = [p for p in stream if _plain(p.phoneme)]
    target = "".join(_plain(p.phoneme) for p in kept)
    # one character per phoneme in `target`: map characters back to the phoneme they came from
    owner = [i for i, p in enumerate(kept) for _ in _plain(p.phoneme)]
    spans, source = [], ""
    for phonemes in word_phonemes:
        plain = _plain(phonemes)
        spans.append((len(source), len(source) + len(plain)))
        source += plain
    if not kept or not source:
        return []
    matched: dict[int, int] = {}  # source character -> target character
    for a, b, size in SequenceMatcher(None, source, target, autojunk=False).get_matching_blocks():
        for k in range(size):
            matched[a + k] = b + k
    # each word's first and last matched target character; a word none of whose phonemes matched
    # ("a" read alone is "eɪ", in context "ɐ") takes what lies between its neighbours
    firsts: list[int | None] = []
    lasts: list[int | None] = []
    for a, b in spans:
        hits = [matched[i] for i in range(a, b) if i in matched]
        firsts.append(hits[0] if hits else None)
        lasts.append(hits[-1] if hits else None)
    for index, (a, b) in enumerate(spans):
        if firsts[index] is None and a < b:
            before = next((lasts[j] for j in range(index - 1, -1, -1) if lasts[j] is not None), -1)
            after = next((firsts[j] for j in range(index + 1, len(spans)) if firsts[j] is not None), len(target))
            if before + 1 <= after - 1:
                firsts[index], lasts[index] = before + 1, after - 1

    timings: list[WordTiming] = []
    last_end = kept[0].start
    for word, first, last in zip(words, firsts, lasts):
        if first is None or last is None:  # nothing to say, or nowhere left to say it: no time of its own
            timings.append(WordTiming(word, last_end, last_end))
            continue
        start = max(kept[owner[first]].start, last_end)
        end = max(kept[owner[last]].end, start)
        timings.append(WordTiming(word, start, end))
        last_end = end
    return timings
