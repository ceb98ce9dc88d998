"""A run's progress artifact in Prefect, fed by its stages' reports (aura.progress), weighted as they declare.

Its description also tells the time left (aura.eta): forecast once, when the run
begins, from the built-in rates at once and from this server's history of runs
(aura.stages.run_history) as soon as a thread has read it, so the run never
waits for the read.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.runtime import flow_run as current_flow_run

from aura import eta, progress
from aura.settings import get_settings
from aura.stages import run_history
from aura.stages.publish import UPLOADS, targets
from aura.stages.stage import current_run_id

PUBLISH_EVERY_S = 0.5  # the server is told at most this often, and at the end of every stage
log = logging.getLogger("aura.progress")


class ProgressArtifact:
    """Created in the flow's context; every report of the run's threads moves it (`finish` ends it)."""

    def __init__(self, run_id: str, weights: dict[str, float]):
        self.run_id = run_id
        self.total = progress.RunProgress(weights)
        self._lock = threading.Lock()
        self._publishing = threading.Lock()  # a description and its update go out together: the last word stays last
        self._published = 0.0
        asked = self._forecast()
        left = self.total.eta_seconds()
        self.artifact_id = create_progress_artifact(
            progress=0.0, description="starting" + (eta.left_text(left) if left is not None else "")
        )
        progress.add_listener(self._heard)
        if asked is not None:
            context = contextvars.copy_context()  # the flow's settings: which server to read
            threading.Thread(target=context.run, args=(self._from_history, *asked), name="aura-eta", daemon=True).start()

    def finish(self, message: str | None = None) -> None:
        """The last word: `message` (why the run failed), or the last report's; nothing is left to wait for."""
        progress.remove_listener(self._heard)
        self.total.end(message)
        self._publish()

    def _forecast(self) -> tuple | None:
        """The built-in rates' forecast, now; what the history's forecast needs (features, providers, stages)."""
        try:
            request = current_flow_run.parameters.get("request") or {}
            request = request.model_dump() if hasattr(request, "model_dump") else dict(request)
            settings = get_settings()
            stages = ("publish",) if set(targets(request, settings)) & set(UPLOADS) else ()
            asked = (eta.features(request), eta.provider_keys(settings), stages)
            self._told(eta.BUILT_IN_MODEL.predict(*asked))
            return asked
        except Exception:  # noqa: BLE001 - no forecast is a run without a time left, never a failed one
            log.debug("no forecast for run %s", self.run_id, exc_info=True)
            return None

    def _from_history(self, x: tuple, keys: dict, stages: tuple) -> None:
        try:
            started = time.perf_counter()
            samples = run_history.read_samples()
            log.debug("run history: %d samples read in %.2f s", len(samples), time.perf_counter() - started)
            if samples and not self.total.finished:
                self._told(eta.fit(samples).predict(x, keys, stages))
                self._publish()
        except Exception:  # noqa: BLE001 - as above: the built-in rates' forecast stands
            log.debug("no forecast from history for run %s", self.run_id, exc_info=True)

    def _told(self, predicted: dict[str, float]) -> None:
        self.total.forecast(predicted)
        progress.forecast(predicted)  # the CLI's bar, in this process

    def _heard(self, stage: str, fraction: float, message: str) -> None:
        if current_run_id() != self.run_id:  # another run in this process
            return
        self.total.update(stage, fraction, message)
        with self._lock:
            due = fraction >= 1.0 or time.monotonic() - self._published >= PUBLISH_EVERY_S
            if due:
                self._published = time.monotonic()
        if due:
            self._publish()

    def _publish(self) -> None:
        try:
            with self._publishing:
                update_progress_artifact(self.artifact_id, progress=self.total.percent, description=self.total.describe(200))
        except Exception:  # noqa: BLE001 - progress is best effort: never fail a render over it
            log.debug("progress artifact update failed", exc_info=True)
