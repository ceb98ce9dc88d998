"""How the gateway creates its jobs' flow runs: one at a time, a busy server tried again within milliseconds."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from prefect.exceptions import PrefectHTTPStatusError

from aura.api.launch import RETRY_DELAYS_S, RunCreator


def _http_error(status: int) -> PrefectHTTPStatusError:
    request = httpx.Request("POST", "http://prefect/api/flow_runs/")
    return PrefectHTTPStatusError.from_httpx_error(
        httpx.HTTPStatusError("busy", request=request, response=httpx.Response(status, request=request))
    )


def test_a_busy_server_is_tried_again_at_once_not_after_prefects_two_seconds():
    calls = []

    async def make():
        calls.append(time.perf_counter())
        if len(calls) < 3:
            raise _http_error(503)  # SQLite's write lock was taken by another writer
        return "run"

    started = time.perf_counter()
    assert asyncio.run(RunCreator()(make)) == "run"
    assert len(calls) == 3 and time.perf_counter() - started < 1.0


def test_other_errors_are_not_retried_and_a_server_that_stays_busy_is_given_up():
    calls = []

    async def refuses():
        calls.append(1)
        raise _http_error(409)

    with pytest.raises(PrefectHTTPStatusError):
        asyncio.run(RunCreator()(refuses))
    assert len(calls) == 1

    async def busy():
        calls.append(1)
        raise _http_error(503)

    calls.clear()
    with pytest.raises(PrefectHTTPStatusError):
        asyncio.run(RunCreator()(busy))
    assert len(calls) == len(RETRY_DELAYS_S) + 1


def test_creations_never_overlap():
    running, overlaps = [], []

    async def make():
        running.append(1)
        overlaps.append(len(running))
        await asyncio.sleep(0.01)
        running.pop()
        return "run"

    async def burst():
        create_run = RunCreator()
        return await asyncio.gather(*(create_run(make) for _ in range(10)))

    assert asyncio.run(burst()) == ["run"] * 10
    assert max(overlaps) == 1
