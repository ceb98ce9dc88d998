"""One read a second of every run the gateway's streams follow, instead of one read per stream.

Each open stream asked the Prefect server for its run every second: fifty
clients watching fifty queued jobs were fifty reads a second, and the server
(one process, its CPU shared with everything else) answered new jobs after
them. Here the runs of every open stream are read together, in one filtered
query per POLL_S (pages of 200); a stream then asks for its stages and
progress only while its run is under way.
"""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun

from aura.api.stream import POLL_S  # one pace for every stream

PAGE = 200  # the server's most runs per read
GIVE_UP_S = 30.0  # a server that does not answer for this long ends the streams (each says so)


class RunWatch:
    def __init__(self, client: PrefectClient, poll_s: float = POLL_S):
        self.client, self.poll_s = client, poll_s
        self._watchers: dict[UUID, int] = {}
        self._latest: dict[UUID, FlowRun] = {}
        self._asked: set[UUID] = set()  # the runs the last read asked for
        self._error: BaseException | None = None
        self._refreshed = asyncio.Condition()
        self._loop: asyncio.Task | None = None

    async def next(self, run_id: UUID) -> FlowRun | None:
        """The run as the next shared read that asked for it finds it (None: it is gone); the reads' error when
        the server has not answered for GIVE_UP_S."""
        async with self._refreshed:
            if self._loop is None or self._loop.done():
                self._loop = asyncio.create_task(self._read_forever(), name="aura-run-watch")
            while True:
                await self._refreshed.wait()
                if self._error is not None:
                    raise self._error
                if run_id in self._asked:  # a stream that came after a read began waits for the next one
                    return self._latest.get(run_id)

    def follow(self, run_id: UUID) -> None:
        self._watchers[run_id] = self._watchers.get(run_id, 0) + 1

    def leave(self, run_id: UUID) -> None:
        left = self._watchers.get(run_id, 0) - 1
        if left > 0:
            self._watchers[run_id] = left
        else:
            self._watchers.pop(run_id, None)
            self._latest.pop(run_id, None)

    async def close(self) -> None:
        if self._loop is not None:
            self._loop.cancel()

    async def _read_forever(self) -> None:
        failing_since: float | None = None
        while self._watchers:
            await asyncio.sleep(self.poll_s)
            ids = list(self._watchers)
            latest: dict[UUID, FlowRun] = {}
            try:
                for start in range(0, len(ids), PAGE):
                    page = ids[start : start + PAGE]
                    runs = await self.client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=page)), limit=PAGE)
                    latest.update((run.id, run) for run in runs)
            except Exception as exc:  # noqa: BLE001 - a blip is read again; a server gone for GIVE_UP_S ends the streams
                failing_since = failing_since or time.monotonic()
                if time.monotonic() - failing_since < GIVE_UP_S:
                    continue
                async with self._refreshed:
                    self._error = exc
                    self._refreshed.notify_all()
                continue
            failing_since = None
            async with self._refreshed:
                self._latest, self._asked, self._error = latest, set(ids), None
                self._refreshed.notify_all()
