"""Stage progress, reported by stages and heard by whoever listens in this process (the CLI).

Kept deliberately tiny: a listener is a callable(stage, fraction, message).
Listeners must be quick and must not raise; a failing listener is dropped
rather than allowed to break a render.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

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


class RunProgress:
    """A whole run's progress from its stages' reports, each weighted by its share of a run (0 to 100).

    `weights` come from the stages' own declarations (aura.stages.pipeline.WEIGHTS).
    """

    def __init__(self, weights: dict[str, float]) -> None:
        self.weights = dict(weights)
        self.fractions = dict.fromkeys(self.weights, 0.0)
        self.stage = next(iter(self.weights), "")
        self.message = ""
        self._lock = threading.Lock()

    def update(self, stage: str, fraction: float, message: str = "") -> None:
        if stage not in self.fractions:
            return
        with self._lock:
            # a retried stage starts again from its first report: progress never goes backwards
            self.fractions[stage] = max(self.fractions[stage], min(1.0, max(0.0, fraction)))
            self.stage, self.message = stage, message

    @property
    def percent(self) -> float:
        with self._lock:
            done = sum(self.weights[s] * f for s, f in self.fractions.items())
        return round(100.0 * done / sum(self.weights.values()), 1)

    def describe(self) -> str:
        """'stage: message', as published on the run's progress artifact (parse_description reads it back)."""
        with self._lock:
            stage, message = self.stage, self.message
        return f"{stage}: {message}" if message else stage


def parse_description(description: str, stages: Iterable[str]) -> tuple[str | None, str]:
    """The stage and message of a progress artifact's description ('voice: scene 3 of 8')."""
    head, sep, rest = description.partition(": ")
    if head in stages:
        return head, rest if sep else ""
    return None, description
