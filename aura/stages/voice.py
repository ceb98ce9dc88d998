"""Stage 3, voice: narrate every scene, measure it, and lay the scenes on one timeline."""

from __future__ import annotations

import time
import unicodedata

from prefect import task

from aura import progress, spend
from aura.media.audio import normalize_loudness, resample, silence, wav_duration
from aura.media.subtitles import is_spaceless
from aura.models import Narration, SceneTiming, Script, VideoRequest, WordTiming
from aura.providers.tts import Speech, TTSError, tts_chain
from aura.providers.tts.chain import TTSChain
from aura.providers.tts.registry import tts_output_settings
from aura.settings import Settings, get_settings
from aura.stages.script import LEAD_IN_S, SCENE_PAUSE_S, TAIL_S, speech_seconds_for
from aura.stages.checkpoints import PERSISTED, StageCachePolicy, narration_text
from aura.stages.stage import Stage, backoff, open_job, supervised, worth_retrying
from aura.supervision import checkpoint
from aura.store import JobStore


RATE_RANGE = (120, 220)
HOLD_TOLERANCE = 0.04  # the pace holds while the narration is projected this close to its planned length
RESPEAK_TOLERANCE = 0.05  # a scene spoken this far off the final pace (the first, before it was known) is spoken again
MIN_SECONDS_PER_WORD, MAX_SECONDS_PER_WORD = 0.12, 1.6


def check_speech(speech: Speech, text: str, scene: int) -> None:
    """Reject audio a listener would reject: silence, or a length that cannot be this text."""
    words = _scene_words(text)
    if speech.is_silent():
        raise TTSError(f"{speech.provider} produced silence for scene {scene + 1}")
    per_word = speech.duration / words
    if not MIN_SECONDS_PER_WORD <= per_word <= MAX_SECONDS_PER_WORD * (3 if words < 3 else 1):
        raise TTSError(
            f"{speech.provider} produced {speech.duration:.1f} s for {words} words in scene {scene + 1}: "
            "not a plausible narration"
        )


def words_as_written(text: str, words: list) -> list:
    """The engine's word timings re-cut to the narration's own space-separated tokens.

    Engines split some tokens ("$(rm" into "$(" and "rm") and join others
    ("colons :"); subtitles must show the text as written. Characters (spaces
    aside) are matched one to one and times interpolated inside an engine word,
    so a token gets the time span of its characters. If the characters do not
    match, the engine's words are kept as they are.
    """
    pieces = ["".join(w.text.split()) for w in words]
    if not words or "".join(pieces) != "".join(text.split()):
        return words
    spans, position = [], 0  # each engine word's range in the space-free text
    for piece in pieces:
        spans.append((position, position + len(piece)))
        position += len(piece)

    def time_at(p: int, at_end: bool) -> float:
        for word, (a, b) in zip(words, spans):
            if a <= p < b or (at_end and a < p <= b):
                return word.start + (p - a) / max(1, b - a) * (word.end - word.start)
        return words[-1].end

    make = type(words[0])
    tokens, position = [], 0
    for token in text.split():
        a, b = position, position + len(token)
        cuts = [a, b]
        if _spaceless(token):
            # scripts written without spaces keep the engine's finer words (the subtitle
            # builder joins them without spaces), so long runs still light up word by word
            cuts = sorted({a, b, *(x for span in spans for x in span if a < x < b)})
        for lo, hi in zip(cuts, cuts[1:]):
            start, end = time_at(lo, False), time_at(hi, True)
            tokens.append(make(text=token[lo - a : hi - a], start=start, end=max(end, start)))
        position = b
    return tokens


def _spaceless(token: str) -> bool:
    # the subtitle builder's own rule, so both agree on which words join without a space
    return any(is_spaceless(ch) for ch in token)


class Pace:
    """The speaking rate that brings a narration to its planned length, learnt from the scenes spoken so far.

    An engine's rate is a nominal words-per-minute: how fast a voice really speaks a text is known only
    once it has spoken some of it. The first scene is spoken at the rate the plan assumes; after each
    scene the engine's seconds per word at a given rate are re-estimated, and the rate changes only when
    the narration would otherwise miss its plan by more than HOLD_TOLERANCE.
    """

    def __init__(self, planned_s: float, words: list[int]):
        self.planned_s, self.words = planned_s, words
        self.rate = _clamp(60 * sum(words) / planned_s)
        self._spoken_s = self._rated_words = 0.0  # seconds spoken; seconds x rate, summed (the engine's constant)
        self._done = 0

    def spoke(self, seconds: float, rate: int) -> None:
        """Scene after scene: what one took at `rate`; the rate for the next."""
        self._spoken_s += seconds
        self._rated_words += seconds * rate
        self._done += 1
        per_word = self._rated_words / max(1, sum(self.words[: self._done]))  # seconds x rate per word
        left_words, left_s = sum(self.words[self._done :]), self.planned_s - self._spoken_s
        if not left_words:
            return
        projected = self._spoken_s + per_word * left_words / self.rate
        if abs(projected - self.planned_s) > self.planned_s * HOLD_TOLERANCE:
            self.rate = _clamp(per_word * left_words / left_s) if left_s > 0 else RATE_RANGE[1]


def _clamp(rate: float) -> int:
    return int(max(RATE_RANGE[0], min(RATE_RANGE[1], round(rate))))


def _scene_words(text: str) -> int:
    # a wide (CJK) character is about a word's worth of speech; those scripts have no spaces
    return max(1, len(text.split()) + sum(1 for ch in text if unicodedata.east_asian_width(ch) in ("W", "F")))


def _speak_all(chain: TTSChain, script: Script, request: VideoRequest) -> list[Speech]:
    """Every scene, once, at a rate that fits the plan; the first scene again if the pace it set was far off,
    and every scene again by the successor of an engine that failed (one voice per video)."""
    planned = speech_seconds_for(request.duration_seconds, len(script.scenes))
    pace = Pace(planned, [_scene_words(scene.narration) for scene in script.scenes])
    speeches, rates = [], []
    for scene in script.scenes:
        checkpoint()  # between scenes: a timeout or a cancellation stops here
        paced = chain.current.rate_controlled
        speech = _speak(chain, scene.narration, scene.index, request, pace.rate if paced else None)
        speeches.append(speech)
        rates.append(pace.rate if paced else None)
        if paced:
            pace.spoke(speech.duration, pace.rate)
        progress.report("voice", 0.1 + 0.7 * (scene.index + 1) / len(script.scenes), f"scene {scene.index + 1}")
    for index, speech in enumerate(speeches):
        off_pace = rates[index] is not None and abs(rates[index] - pace.rate) > pace.rate * RESPEAK_TOLERANCE
        if speech.provider != chain.current.name or off_pace:
            scene = script.scenes[index]
            rate = pace.rate if chain.current.rate_controlled else None
            speeches[index] = _speak(chain, scene.narration, scene.index, request, rate)
    return speeches


def _speak(chain: TTSChain, text: str, scene: int, request: VideoRequest, rate: int | None) -> Speech:
    speech = chain.speak(text, scene, language=request.language, voice=request.voice, rate_wpm=rate)
    speech.words = words_as_written(text, speech.words)
    return speech


def assemble(speeches: list[Speech]) -> tuple[bytes, int, list[SceneTiming]]:
    """One PCM track: lead-in, each scene followed by a pause, a tail; scene timings from real lengths."""
    rate = speeches[0].sample_rate
    pcm = bytearray(silence(LEAD_IN_S, rate))
    timings = []
    for index, speech in enumerate(speeches):
        samples = resample(speech.pcm, speech.sample_rate, rate)
        start_sample = len(pcm) // 2
        scene_start = 0.0 if index == 0 else start_sample / rate
        offset = start_sample / rate
        pcm += samples
        speech_end = len(pcm) / 2 / rate
        pcm += silence(SCENE_PAUSE_S if index < len(speeches) - 1 else TAIL_S, rate)
        words = [WordTiming(text=w.text, start=offset + w.start, end=offset + w.end) for w in speech.words]
        timings.append(SceneTiming(index=index, start=scene_start, end=len(pcm) / 2 / rate, speech_end=speech_end, words=words))
    return bytes(pcm), rate, timings


def narrate(script: Script, request: VideoRequest, job: JobStore, settings: Settings) -> Narration:
    started = time.perf_counter()
    chain = TTSChain(
        tts_chain(settings),  # the configured engines, best first; espeak-ng (offline) closes it
        failures_to_open=settings.tts_failures_to_open,
        cooldown_s=settings.tts_cooldown_s,
        check=check_speech,
        state_dir=settings.breaker_dir,
    )
    speeches = _speak_all(chain, script, request)
    pcm, rate, timings = assemble(speeches)
    progress.report("voice", 0.85, "normalising loudness to -16 LUFS")
    final_key = "work/narration.wav"
    with job.writing(final_key) as tmp:
        normalize_loudness(pcm, rate, tmp)
    duration = wav_duration(job.path(final_key))
    # the timeline ends where the audio ends (the limiter keeps the length to the sample)
    timings[-1] = timings[-1].model_copy(update={"end": duration})
    progress.report("voice", 1.0, f"{duration:.1f} s of narration by {speeches[-1].provider}")
    return Narration(
        job_id=job.job_id,
        audio=job.ref(final_key),
        duration=duration,
        sample_rate=rate,
        scenes=timings,
        provider=speeches[-1].provider,
        voice=speeches[-1].voice,
        warnings=chain.warnings,
        elapsed_s=time.perf_counter() - started,
    )


def _cache_inputs(inputs: dict, settings: Settings) -> dict:
    """What makes the narration: the words spoken, the voice and language, the pace, the engines."""
    return {
        "script": narration_text(inputs["script"]),
        "request": inputs["request"].model_dump(mode="json", include={"language", "voice", "duration_seconds"}),
        "settings": tts_output_settings(settings),
    }


CHECKPOINT = StageCachePolicy(
    stage="voice", inputs=_cache_inputs, sources=("aura.stages.voice", "aura.providers.tts", "aura.media.audio")
)


@task(
    name="voice", retries=3, retry_delay_seconds=backoff(2, 3), timeout_seconds=180, retry_condition_fn=worth_retrying,
    cache_policy=CHECKPOINT, **PERSISTED,
)  # fmt: skip
def voice_task(script: Script, request: VideoRequest, store_url: str, job_id: str) -> Narration:
    with supervised() as scope, spend.tally(scope.task_run_id) as bill:
        narration = narrate(script, request, open_job(store_url, job_id), get_settings())
    return narration.model_copy(update={"spend": bill})


STAGE = Stage(
    name="voice", label="Voice", weight=25, task=voice_task,
    served_by=lambda narration: f"{narration.provider} ({narration.voice})",
)  # fmt: skip
