"""Stage 3, voice: narrate every scene, measure it, and lay the scenes on one timeline."""

from __future__ import annotations

import time
import unicodedata

from prefect import task

from aura import progress
from aura.media.audio import normalize_loudness, resample, silence, wav_duration, write_wav
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


BASE_RATE_WPM = 165
RATE_RANGE = (120, 220)
# a narration further than this from the planned speech time is re-spoken at a fitted rate
FIT_TOLERANCE = 0.08
MIN_SECONDS_PER_WORD, MAX_SECONDS_PER_WORD = 0.12, 1.6


def check_speech(speech: Speech, text: str, scene: int) -> None:
    """Reject audio a listener would reject: silence, or a length that cannot be this text."""
    # a wide (CJK) character is about a word's worth of speech; those scripts have no spaces
    words = max(1, len(text.split()) + sum(1 for ch in text if unicodedata.east_asian_width(ch) in ("W", "F")))
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


def _speak_all(chain: TTSChain, script: Script, request: VideoRequest, rate: int | None) -> list[Speech]:
    speeches = []
    for scene in script.scenes:
        checkpoint()  # between scenes: a timeout or a cancellation stops here
        speeches.append(_speak(chain, scene.narration, scene.index, request, rate))
        progress.report("voice", 0.1 + 0.6 * (scene.index + 1) / len(script.scenes), f"scene {scene.index + 1}")
    # one voice per video: scenes spoken before a provider failed are spoken again by its successor
    for index, speech in enumerate(speeches):
        if speech.provider != chain.current.name:
            scene = script.scenes[index]
            speeches[index] = _speak(chain, scene.narration, scene.index, request, rate)
    return speeches


def _speak(chain: TTSChain, text: str, scene: int, request: VideoRequest, rate: int | None) -> Speech:
    speech = chain.speak(text, scene, language=request.language, voice=request.voice, rate_wpm=rate)
    speech.words = words_as_written(text, speech.words)
    return speech


def fitted_rate(speeches: list[Speech], planned_seconds: float, rate: int) -> int | None:
    """A speaking rate that brings the narration to the planned length, or None if it is close enough."""
    spoken = sum(s.duration for s in speeches)
    if abs(spoken - planned_seconds) <= planned_seconds * FIT_TOLERANCE:
        return None
    return max(RATE_RANGE[0], min(RATE_RANGE[1], round(rate * spoken / planned_seconds)))


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
    planned = speech_seconds_for(request.duration_seconds, len(script.scenes))
    speeches = _speak_all(chain, script, request, BASE_RATE_WPM)
    if chain.current.rate_controlled:  # only then can a narration be re-paced to fit the duration
        better = fitted_rate(speeches, planned, BASE_RATE_WPM)
        if better is not None:
            progress.report("voice", 0.7, f"re-pacing to {better} words per minute")
            speeches = _speak_all(chain, script, request, better)
    pcm, rate, timings = assemble(speeches)

    raw_key, final_key = "work/narration_raw.wav", "work/narration.wav"
    with job.writing(raw_key) as tmp:
        write_wav(tmp, pcm, rate)
    progress.report("voice", 0.85, "normalising loudness to -16 LUFS")
    with job.writing(final_key) as tmp:
        normalize_loudness(job.path(raw_key), tmp, sample_rate=rate)
    job.path(raw_key).unlink(missing_ok=True)
    duration = wav_duration(job.path(final_key))
    # the timeline ends where the audio ends (loudnorm keeps the length to the sample or so)
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
    with supervised():
        return narrate(script, request, open_job(store_url, job_id), get_settings())


STAGE = Stage(
    name="voice", label="Voice", weight=25, task=voice_task,
    served_by=lambda narration: f"{narration.provider} ({narration.voice})",
)  # fmt: skip
