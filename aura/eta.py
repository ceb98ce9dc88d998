"""Time to finish: each stage's seconds predicted from a request's features, and what is left of a run.

No Prefect in here: aura.stages.run_history reads the server's past task runs
into `Sample`s, `fit` turns them into a `Model`, and aura.progress asks
`remaining_seconds` as stages report.

The model, and why this one: a stage's time is close to linear in a few
figures of the request (minutes of narration for the voice, scenes for the
visuals, frame pixels x frames for the composition), so each stage gets a
linear fit on [1, minutes, compose work, scenes], per provider where one has
enough history (an online writer is not the offline one), pooled over the
stage otherwise. A server has few runs at first and they are noisy (a busy
machine), so the fit is ridge-regularised towards the built-in rates: with
little history it stays near them, with more the history takes over. That is
a 4x4 solve per stage: no library, no training step, milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from aura.models import frame_size, scene_count_for

# The order a run goes through; a group's stages run side by side, so the group takes its longest (voice || visuals).
# "run" is what a run spends beside its stages (its start, Prefect's bookkeeping, the metadata and the summary).
CRITICAL_PATH: tuple[tuple[str, ...], ...] = (("brief",), ("script",), ("voice", "visuals"), ("compose",), ("publish",), ("run",))
FEATURES = ("1", "minutes", "compose work", "scenes")
MIN_SAMPLES = 4  # a provider's own fit needs this many of its runs; fewer are pooled with the stage's others
RIDGE = 1.0  # how many runs' worth of weight the built-in rates keep (per feature, in its own scale)

# Seconds per feature, measured on the 2-core development machine with the offline providers (the offline writer,
# piper, slides, libx264): six fresh runs of 10 to 90 s, 720p and 1080p, 30 and 60 fps (README: Time to finish).
BUILT_IN: dict[str, tuple[float, float, float, float]] = {
    "brief": (0.1, 0.0, 0.0, 0.0),
    "script": (0.05, 0.0, 0.0, 0.0),  # the offline writer: an online model's seconds come from history
    "voice": (0.9, 2.0, 0.0, 0.0),  # piper: about 2 s per minute of narration
    "visuals": (0.2, 0.0, 0.6, 0.05),  # slides: a few per second, bigger frames slower
    "compose": (0.8, 1.0, 7.0, 0.0),  # libx264 veryfast: about 7 s per megapixel-minute at 30 fps
    "publish": (2.0, 0.0, 0.0, 0.0),
    "run": (0.15, 0.0, 0.0, 0.0),
}


class Sample(NamedTuple):
    """One stage of one past run: how long it took for a request of these features, served by `key`."""

    stage: str
    key: str
    x: tuple[float, ...]
    seconds: float
    run: str = ""  # the flow run it comes from


def _get(request: Any, name: str, default: Any) -> Any:
    value = request.get(name) if isinstance(request, Mapping) else getattr(request, name, None)
    return default if value is None else value


def features(request: Any, scenes: int | None = None) -> tuple[float, ...]:
    """[1, minutes, compose work, scenes] of a VideoRequest or its parameters as a flow run keeps them (a dict).
    Compose work is frame megapixels x fps/30 x minutes; scenes, when not known yet, as the script will make them."""
    try:
        duration = float(_get(request, "duration_seconds", 60))
        width, height = frame_size(str(_get(request, "aspect", "16:9")), str(_get(request, "resolution", "720p")))
        fps = float(_get(request, "fps", 30))
    except (KeyError, TypeError, ValueError):  # parameters of another version: the defaults' size
        duration, (width, height), fps = 60.0, frame_size("16:9", "720p"), 30.0
    minutes = duration / 60
    count = scenes if scenes is not None else scene_count_for(duration)
    return (1.0, minutes, width * height / 1e6 * fps / 30 * minutes, float(count))


def provider_key(served: str | None) -> str:
    """The provider part of who served a stage: 'piper (en_US-joe)' -> 'piper', 'pexels+slides' -> 'pexels'."""
    return re.split(r"[\s(+,]", (served or "").strip().lower(), maxsplit=1)[0]


def provider_keys(settings: Any) -> dict[str, str]:
    """The providers a new run will be served by, as far as settings say (a request names none): the first model
    of the LLM chain, the first TTS engine, the first provider of the visuals chain as the visuals stage makes it."""
    from aura.providers.images.registry import image_chain

    images = image_chain(settings)[0][0]
    tts = settings.tts_provider[0] if settings.tts_provider else ""
    return {"script": provider_key(settings.llm_chain[0]), "voice": provider_key(tts), "visuals": images}


class Model(NamedTuple):
    """Coefficients per stage (pooled) and per (stage, provider key); a stage with neither has its built-in rate."""

    pooled: dict[str, tuple[float, ...]]
    per_key: dict[tuple[str, str], tuple[float, ...]]
    samples: int

    def predict(self, x: tuple[float, ...], keys: Mapping[str, str] | None = None, stages: Iterable[str] = ()) -> dict[str, float]:
        """Seconds per stage (those of the critical path, and `stages` asked for too), never negative."""
        keys = keys or {}
        wanted = dict.fromkeys([s for group in CRITICAL_PATH for s in group if s != "publish"] + list(stages))
        out = {}
        for stage in wanted:
            w = self.per_key.get((stage, keys.get(stage, ""))) or self.pooled.get(stage) or BUILT_IN.get(stage)
            out[stage] = max(0.0, sum(a * b for a, b in zip(w, x))) if w else 0.0
        return out


BUILT_IN_MODEL = Model({}, {}, 0)


def _ridge(xs: list[tuple[float, ...]], ys: list[float], prior: tuple[float, ...]) -> tuple[float, ...]:
    """Least squares pulled towards `prior`: argmin |Xw - y|^2 + RIDGE * sum_j s_j (w_j - prior_j)^2, with s_j the
    feature's mean square (so the pull is the same whatever a feature's units)."""
    import numpy as np

    X, y, w0 = np.asarray(xs, float), np.asarray(ys, float), np.asarray(prior, float)
    scale = np.maximum((X**2).mean(axis=0), 1e-9)
    penalty = RIDGE * np.diag(scale)
    w = np.linalg.solve(X.T @ X + penalty, X.T @ y + penalty @ w0)
    return tuple(float(v) for v in w)


def fit(samples: Iterable[Sample]) -> Model:
    """Per stage, a fit over all its samples; per provider key, one over that key's own when it has MIN_SAMPLES."""
    by_stage: dict[str, list[Sample]] = {}
    for sample in samples:
        if sample.stage in BUILT_IN and sample.seconds >= 0:
            by_stage.setdefault(sample.stage, []).append(sample)
    pooled, per_key, count = {}, {}, 0
    for stage, own in by_stage.items():
        count += len(own)
        prior = BUILT_IN[stage]
        pooled[stage] = _ridge([s.x for s in own], [s.seconds for s in own], prior)
        keys: dict[str, list[Sample]] = {}
        for sample in own:
            keys.setdefault(sample.key, []).append(sample)
        for key, mine in keys.items():
            if len(mine) >= MIN_SAMPLES and len(keys) > 1:  # one key only: its fit is the pooled one
                per_key[(stage, key)] = _ridge([s.x for s in mine], [s.seconds for s in mine], prior)
    return Model(pooled, per_key, count)


def remaining_seconds(
    predicted: Mapping[str, float], fractions: Mapping[str, float], elapsed_in_stage: Mapping[str, float]
) -> float:
    """Seconds left along the critical path: the groups one after the other, a group as long as its longest stage.

    A stage not started has its prediction left; one under way blends the prediction's remainder with what its
    own pace says (elapsed / fraction), trusting its pace more as its fraction grows; a finished one has none.
    The groups follow each other, so a group that has reported ends the ones before it (a stage reused from a
    checkpoint reports nothing)."""
    heard = [i for i, group in enumerate(CRITICAL_PATH) if any(fractions.get(s, 0.0) > 0 or s in elapsed_in_stage for s in group)]
    left = 0.0
    for i, group in enumerate(CRITICAL_PATH):
        if heard and i < heard[-1]:
            continue
        left += max((_stage_left(predicted.get(s, 0.0), fractions.get(s, 0.0), elapsed_in_stage.get(s)) for s in group),
                    default=0.0)  # fmt: skip
    return max(0.0, left)


def _stage_left(predicted: float, fraction: float, elapsed: float | None) -> float:
    if fraction >= 1.0:
        return 0.0
    if elapsed is None or fraction <= 0.0:
        return predicted * (1.0 - fraction)
    by_pace = elapsed * (1.0 - fraction) / fraction
    return (1.0 - fraction) * predicted * (1.0 - fraction) + fraction * by_pace


_LEFT = re.compile(r" · about (?:(\d+) min)? ?(?:(\d+) s)? left$")


def left_text(seconds: float) -> str:
    """' · about 42 s left', ' · about 2 min 35 s left' (to the next 5 s past a minute): the description's suffix."""
    s = max(1, round(seconds))
    if s < 60:
        return f" · about {s} s left"
    s = 5 * round(s / 5)
    minutes, rest = divmod(s, 60)
    return f" · about {minutes} min{f' {rest} s' if rest else ''} left"


def split_left(description: str) -> tuple[str, float | None]:
    """A description without its suffix, and the seconds it said were left (None without one)."""
    match = _LEFT.search(description)
    if not match or not any(match.groups()):
        return description, None
    return description[: match.start()], 60.0 * int(match.group(1) or 0) + int(match.group(2) or 0)
