"""aura.api.watch: the gateway's one shared read of every followed run (its own logic, with a client that only
answers read_flow_runs: the streams through a real server are tested in tests/test_gateway.py)."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace

import httpx
import pytest

from aura.api import watch as watch_module
from aura.api.watch import RunWatch


class SlowServer:
    """read_flow_runs that takes a while and may fail; it counts the reads."""

    def __init__(self, delay_s: float = 0.05):
        self.delay_s, self.reads, self.failing = delay_s, [], False

    async def read_flow_runs(self, flow_run_filter, limit):
        ids = list(flow_run_filter.id.any_)
        self.reads.append(ids)
        await asyncio.sleep(self.delay_s)
        if self.failing:
            raise httpx.ConnectError("refused")
        return [SimpleNamespace(id=run_id) for run_id in ids]


def test_many_streams_cost_one_read_a_tick_and_a_late_one_waits_for_a_read_that_asks_for_it():
    async def scenario():
        server = SlowServer()
        watch = RunWatch(server, poll_s=0.02)
        first = [uuid.uuid4() for _ in range(30)]
        for run_id in first:
            watch.follow(run_id)
        early = asyncio.gather(*(watch.next(run_id) for run_id in first))
        await asyncio.sleep(0.03)  # a read is under way: the late stream was not in it
        late = uuid.uuid4()
        watch.follow(late)
        found_late = await watch.next(late)
        found = await early
        await watch.close()
        return server, first, found, late, found_late

    server, first, found, late, found_late = asyncio.run(scenario())
    assert [run.id for run in found] == first and found_late.id == late
    assert len(server.reads[0]) == 30  # thirty streams, one read
    assert len(server.reads) <= 3


def test_a_server_gone_past_the_limit_ends_the_streams_with_its_error(monkeypatch):
    monkeypatch.setattr(watch_module, "GIVE_UP_S", 0.1)

    async def scenario():
        server = SlowServer(delay_s=0.0)
        server.failing = True
        watch = RunWatch(server, poll_s=0.02)
        run_id = uuid.uuid4()
        watch.follow(run_id)
        try:
            await asyncio.wait_for(watch.next(run_id), 5)
        finally:
            await watch.close()

    with pytest.raises(httpx.ConnectError):
        asyncio.run(scenario())
