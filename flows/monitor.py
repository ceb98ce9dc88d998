"""Watching a run from inside it: the progress artifact, and cancellation from the UI or API.

One thread per run, started with the flow's context (settings, client, run):

- progress: the stages' reports, weighted as each stage declares (aura.progress),
  published to a Prefect progress artifact at most twice a second;
- cancellation: the run's state is read every second; once it is Cancelling
  (the UI's Cancel button, `prefect flow-run cancel`, the REST API), every
  stage of the run is interrupted (aura.supervision), which kills their
  child processes. A run under a worker is also sent SIGTERM by the worker;
  this catches runs that no worker supervises (`aura generate`, a served flow).
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.client.orchestration import get_client

from aura import progress
from aura.supervision import RunControl, current_run_id

PUBLISH_EVERY_S = 0.5
CANCEL_POLL_S = 1.0
log = logging.getLogger("aura.monitor")


class RunMonitor:
    def __init__(self, run_id: str, control: RunControl, weights: dict[str, float]):
        self.run_id = run_id
        self.control = control
        self.progress = progress.RunProgress(weights)
        self.artifact_id: UUID | None = None
        self._changed = threading.Event()
        self._stop = threading.Event()
        self._published = -1.0
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RunMonitor:
        self.artifact_id = create_progress_artifact(progress=0.0, description="starting")
        progress.add_listener(self._heard)
        context = contextvars.copy_context()  # the thread talks to the same server as the flow
        self._thread = threading.Thread(target=context.run, args=(self._loop,), name="aura-monitor", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        progress.remove_listener(self._heard)
        self._stop.set()
        self._changed.set()
        if self._thread:
            self._thread.join(10)
        self._publish(force=True)

    def finish(self, message: str) -> None:
        """The run's last word on the progress artifact (100 % only when the video is there)."""
        self.progress.message = message
        self._publish(force=True)

    def _heard(self, stage: str, fraction: float, message: str) -> None:
        if current_run_id() != self.run_id:  # another run in this process
            return
        self.progress.update(stage, fraction, message)
        self._changed.set()

    def _loop(self) -> None:
        next_poll = 0.0
        with get_client(sync_client=True) as client:
            while not self._stop.is_set():
                if self._changed.is_set():
                    self._changed.clear()
                    self._publish()
                if time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + CANCEL_POLL_S
                    self._poll_cancellation(client)
                self._stop.wait(PUBLISH_EVERY_S)

    def _poll_cancellation(self, client) -> None:
        try:
            state = client.read_flow_run(UUID(self.run_id)).state
        except Exception:  # noqa: BLE001 - a busy server is asked again next second
            return
        if state is not None and (state.is_cancelling() or state.is_cancelled()) and not self.control.cancelled:
            log.warning("run %s was cancelled (%s): stopping its stages", self.run_id, state.name)
            self.control.cancel(f"the run was cancelled ({state.message or 'from the Prefect UI or API'})")

    def _publish(self, force: bool = False) -> None:
        percent = self.progress.percent
        if self.artifact_id is None or (percent == self._published and not force):
            return
        try:
            update_progress_artifact(self.artifact_id, progress=percent, description=self.progress.describe()[:200])
            self._published = percent
        except Exception:  # noqa: BLE001 - progress is best effort: never fail a render over it
            log.debug("progress artifact update failed", exc_info=True)
