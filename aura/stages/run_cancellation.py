"""A run's cancellation (the Prefect UI's Cancel button, the API), heard on Prefect's event stream: its stages stop.

A worker's runner cancels the runs it started itself (it signals their
process); this is for runs that no worker supervises: `aura generate` and the
gateway's own jobs. One daemon thread per run, waiting on the stream.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from datetime import datetime, timezone
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.events.clients import get_events_subscriber
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

from aura.supervision import cancel_run

log = logging.getLogger("aura.runs")


class CancellationWatch:
    def __init__(self, run_id: str):
        self.run_id = run_id
        self._since = datetime.now(timezone.utc)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._ready = threading.Event()
        context = contextvars.copy_context()  # the flow's settings: which server to listen to
        threading.Thread(target=context.run, args=(asyncio.run, self._watch()), name="aura-cancel-watch", daemon=True).start()

    def stop(self) -> None:
        self._ready.wait(5)
        if self._loop is not None and self._task is not None:
            try:
                self._loop.call_soon_threadsafe(self._task.cancel)
            except RuntimeError:  # it heard the cancellation and has ended
                pass

    async def _watch(self) -> None:
        self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        self._ready.set()
        cancelling = EventFilter(
            event=EventNameFilter(name=["prefect.flow-run.Cancelling"]),
            resource=EventResourceFilter(id=[f"prefect.flow-run.{self.run_id}"]),
        )
        try:
            async with get_events_subscriber(filter=cancelling) as events, get_client() as client:
                state = (await client.read_flow_run(UUID(self.run_id))).state  # cancelled before we listened?
                if state is None or not state.is_cancelling():
                    async for event in events:
                        if event.occurred >= self._since:  # the stream replays its last minute: not an earlier attempt's
                            break
                    state = (await client.read_flow_run(UUID(self.run_id))).state
            if state is None or not (state.is_cancelling() or state.is_cancelled()):
                return  # the stream ended without a cancellation
            reason = state.message or "from the Prefect UI or API"
            log.warning("run %s was cancelled (%s): stopping its stages", self.run_id, reason)
            cancel_run(self.run_id, f"the run was cancelled ({reason})")
        except asyncio.CancelledError:
            pass
        except Exception:  # noqa: BLE001 - without the stream, a cancellation waits for the run's end
            log.warning("run %s: Prefect's event stream is unavailable: a cancellation from the UI will not stop "
                        "this run's stages", self.run_id, exc_info=True)  # fmt: skip
