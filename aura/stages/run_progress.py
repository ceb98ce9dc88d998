"""A run's progress artifact in Prefect, fed by its stages' reports (aura.progress), weighted as they declare."""

from __future__ import annotations

import logging
import threading
import time

from prefect.artifacts import create_progress_artifact, update_progress_artifact

from aura import progress
from aura.stages.stage import current_run_id

PUBLISH_EVERY_S = 0.5  # the server is told at most this often, and at the end of every stage
log = logging.getLogger("aura.progress")


class ProgressArtifact:
    """Created in the flow's context; every report of the run's threads moves it (`finish` ends it)."""

    def __init__(self, run_id: str, weights: dict[str, float]):
        self.run_id = run_id
        self.total = progress.RunProgress(weights)
        self.artifact_id = create_progress_artifact(progress=0.0, description="starting")
        self._lock = threading.Lock()
        self._published = 0.0
        progress.add_listener(self._heard)

    def finish(self, message: str | None = None) -> None:
        """The last word: `message` (why the run failed), or the last report's."""
        progress.remove_listener(self._heard)
        self.total.message = message or self.total.message
        self._publish()

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
            update_progress_artifact(self.artifact_id, progress=self.total.percent, description=self.total.describe()[:200])
        except Exception:  # noqa: BLE001 - progress is best effort: never fail a render over it
            log.debug("progress artifact update failed", exc_info=True)
