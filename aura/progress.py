"""Stage progress, reported by stages and heard by whoever listens in this process (the CLI).

Kept deliberately tiny: a listener is a callable(stage, fraction, message).
Listeners must be quick and must not raise; a failing listener is dropped
rather than allowed to break a render. A listener that also has a
`forecast(predicted)` method hears the run's predicted seconds per stage
when they are known (`forecast`: the CLI's bar shows the time left with them).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping

from aura import eta

Listener = Callable[[str, float, str], None]

_listeners: list[Listener] = []
_lock = threading.Lock()
log = logging.getLogger("aura.progress")


def add_listener(listener: Listener) -> None:
    with _lock:
        _listeners.append(listener)


def remove_listener(listener: Listener) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def report(stage: str, fraction: float, message: str = "") -> None:
    fraction = min(1.0, max(0.0, fraction))
    log.debug("%s %.0f%% %s", stage, fraction * 100, message)
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(stage, fraction, message)
        except Exception:  # noqa: BLE001 - a broken progress bar must never fail a render
            log.exception("progress listener failed; removing it")
            remove_listener(listener)


def forecast(predicted: Mapping[str, float]) -> None:
    """Tell the listeners that take forecasts (a `forecast` method) the run's predicted seconds per stage."""
    with _lock:
        listeners = [getattr(listener, "forecast", None) for listener in _listeners]
    for heard in filter(callable, listeners):
        try:
            heard(dict(predicted))
        except Exception:  # noqa: BLE001 - as for reports: a broken bar must never fail a render
            log.exception("forecast listener failed")


class RunProgress:
    """A whole run's progress from its stages' reports, each weighted by its share of a run (0 to 100).

    `weights` come from the stages' own declarations (aura.stages.pipeline.WEIGHTS).
    """

    def __init__(self, weights: dict[str, float], predicted: Mapping[str, float] | None = None) -> None:
        self.weights = dict(weights)
        self.fractions = dict.fromkeys(self.weights, 0.0)
        self.stage = next(iter(self.weights), "")
        self.message = ""
        self.predicted = dict(predicted or {})  # seconds per stage (aura.eta); none: no time left is told
        self.started: dict[str, float] = {}  # when each stage first reported (monotonic)
        self.finished = False
        self._lock = threading.Lock()

    def forecast(self, predicted: Mapping[str, float]) -> None:
        """The run's predicted seconds per stage (from its history once read, the built-in rates before)."""
        with self._lock:
            self.predicted = dict(predicted)

    def end(self, message: str | None = None) -> None:
        """The run has ended: nothing is left (and `message` is its last word, when given)."""
        with self._lock:
            self.finished = True
            self.message = message or self.message

    def eta_seconds(self) -> float | None:
        """Seconds left along the critical path (aura.eta); None without a forecast, 0 once the run ended."""
        with self._lock:
            if self.finished:
                return 0.0
            if not self.predicted:
                return None
            now = time.monotonic()
            elapsed = {stage: now - since for stage, since in self.started.items()}
            return eta.remaining_seconds(self.predicted, self.fractions, elapsed)

    def update(self, stage: str, fraction: float, message: str = "") -> None:
        if stage not in self.fractions:
            return
        with self._lock:
            # a retried stage starts again from its first report: progress never goes backwards
            self.fractions[stage] = max(self.fractions[stage], min(1.0, max(0.0, fraction)))
            self.started.setdefault(stage, time.monotonic())
            self.stage, self.message = stage, message

    @property
    def percent(self) -> float:
        with self._lock:
            done = sum(self.weights[s] * f for s, f in self.fractions.items())
        return round(100.0 * done / sum(self.weights.values()), 1)

    def describe(self, limit: int = 200) -> str:
        """'stage: message · about 42 s left', at most `limit` characters (the message is cut, never the time left),
        as published on the run's progress artifact (parse_description and parse_eta read it back)."""
        left = self.eta_seconds()
        with self._lock:
            stage, message, finished = self.stage, self.message, self.finished
        text = f"{stage}: {message}" if message else stage
        suffix = eta.left_text(left) if left is not None and not finished else ""
        return text[: limit - len(suffix)] + suffix


def parse_description(description: str, stages: Iterable[str]) -> tuple[str | None, str]:
    """The stage and message of a progress artifact's description ('voice: scene 3 of 8 · about 42 s left')."""
    description, _ = eta.split_left(description)
    head, sep, rest = description.partition(": ")
    if head in stages:
        return head, rest if sep else ""
    return None, description


def parse_eta(description: str) -> float | None:
    """The seconds a progress artifact's description said were left, None where it said none."""
    return eta.split_left(description)[1]
