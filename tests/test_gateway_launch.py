"""How the gateway creates its jobs' flow runs: side by side, one at a time once the server is busy (SQLite), a busy server
tried again within milliseconds."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from prefect.exceptions import PrefectHTTPStatusError

from aura.api.launch import AT_ONCE, RETRY_DELAYS_S, RunCreator


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


def test_creations_overlap_until_the_server_says_it_is_busy_then_go_one_at_a_time():
    running, overlaps, busy_once = [], [], [True]

    async def make(answer_busy: bool = False):
        running.append(1)
        overlaps.append(len(running))
        await asyncio.sleep(0.01)
        running.pop()
        if answer_busy and busy_once[0]:
            busy_once[0] = False
            raise _http_error(503)  # SQLite: overlapping writes
        return "run"

    async def burst(create_run: RunCreator, busy: bool = False) -> list:
        overlaps.clear()
        made = await asyncio.gather(*(create_run(lambda: make(busy)) for _ in range(20)))
        return [made, max(overlaps), create_run.serial]

    async def three_bursts() -> list:
        create_run = RunCreator()
        return [await burst(create_run), await burst(create_run, busy=True), await burst(create_run)]

    side_by_side, busy, after = asyncio.run(three_bursts())
    assert side_by_side == [["run"] * 20, AT_ONCE, False]  # PostgreSQL takes them side by side, a few at a time
    assert busy[0] == ["run"] * 20 and busy[2] is True  # the first 503 made it go one at a time, for good
    assert after == [["run"] * 20, 1, True]


def test_a_creation_runs_without_prefects_own_retries_in_the_settings_of_the_moment():
    from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    seen = []

    async def make():
        seen.append((PREFECT_CLIENT_MAX_RETRIES.value(), PREFECT_API_URL.value()))
        return "run"

    creator, before = RunCreator(), PREFECT_CLIENT_MAX_RETRIES.value()
    for url in ("http://one/api", "http://one/api", "http://two/api"):
        with temporary_settings({PREFECT_API_URL: url}):
            assert asyncio.run(creator(make)) == "run"
    # retries off inside each creation only; a change of the settings around it is followed, not a stale copy
    assert seen == [(0, "http://one/api"), (0, "http://one/api"), (0, "http://two/api")]
    assert PREFECT_CLIENT_MAX_RETRIES.value() == before != 0
