"""What a tenant may start, and where its runs wait: its daily quotas, its jobs at once, its own inputs.

- Quotas: the tenant's runs of the last 24 hours (Prefect's flow runs tagged
  `tenant:<name>`, by their expected start) against `videos_per_day` and
  `video_minutes_per_day`; a spent quota is QuotaSpent (429, with when the
  next video fits). Judged and created under one lock per tenant, so a burst
  cannot overrun them (one gateway process; several gateways may each let one
  more through).
- Jobs at once: Prefect concurrency limits, which the server enforces without
  a worker holding the waiting run. With a deployment, the tenant's runs wait
  in its own work queue of the deployment's pool (`tenant-<name>`), whose
  concurrency limit is `jobs_at_once`: when workers ask for runs the server
  hands out none of that queue's while that many run, so the workers' free
  slots go to everyone else's runs at once (a deployment's own limit was
  judged only when a worker tried a run: a worker spent a poll on each of a
  burst's waiting runs while another tenant's waited; Prefect's tag limits
  hold task runs, not flow runs). Without one, the gateway's own worker
  takes a slot of the global concurrency limit `aura-tenant-<name>` before a
  slot of its own.
- Inputs: an upload is the tenant's when it uploaded it (a marker
  uploads/owners/<tenant>/<key>); a `store:<job>/<key>` when the job is its
  own. Anything else is answered as a missing file, never as someone else's.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterExpectedStartTime, FlowRunFilterTags
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from aura.api.tenants import Tenant
from aura.errors import AuraError, SystemCheckError
from aura.input_rules import UPLOADS_FOLDER, check
from aura.models import VideoRequest
from aura.stages.inputs import not_stored_message, stored_inputs
from aura.store import ArtifactStore

DAY = timedelta(hours=24)
PAGE = 200  # the server's most runs per read


class QuotaSpent(AuraError):
    """A tenant's daily quota does not hold this video: 429, and Retry-After."""

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


def owner_key(tenant: Tenant, key: str) -> str:
    """The marker that an upload (by its store key) is this tenant's."""
    return f"owners/{tenant.name}/{key}"


def mark_upload(store: ArtifactStore, tenant: Tenant, ref: str) -> None:
    source = check(ref)
    store.job(UPLOADS_FOLDER).write_bytes(owner_key(tenant, source.key), tenant.name.encode())  # never empty: the store refuses that


def check_fits_a_day(tenant: Tenant, request: VideoRequest) -> None:
    """A video longer than the tenant's whole day can never start: 422, before anything is asked of Prefect."""
    limit = tenant.video_minutes_per_day
    if limit is not None and request.duration_seconds > limit * 60:
        raise SystemCheckError(
            f"duration_seconds: {request.duration_seconds} s is more than your {limit:g} minutes of video a day "
            "(video_minutes_per_day): ask for a shorter video"
        )


async def check_tenant_inputs(
    client: PrefectClient, store: ArtifactStore, tenant: Tenant, request: VideoRequest
) -> None:
    """The uploads and store keys the request names are the tenant's; the error is the one a missing file gets."""
    for field, source in stored_inputs(request):
        if source.kind == "upload":
            owned = await asyncio.to_thread(store.job(UPLOADS_FOLDER).stored, owner_key(tenant, source.key))
        else:
            owned = await job_belongs(client, source.folder, tenant)
        if not owned:
            raise SystemCheckError(f"{field}: {not_stored_message(source)}")


async def job_belongs(client: PrefectClient, job_id: str, tenant: Tenant) -> bool:
    try:
        run = await client.read_flow_run(UUID(job_id))
    except (ObjectNotFound, ValueError):
        return False
    return tenant.tag in (run.tags or [])


class TenantQuotas:
    """Each tenant's quota check and run creation, one tenant's at a time."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    async def start(
        self, client: PrefectClient, tenant: Tenant, request: VideoRequest, start: Callable[[], Awaitable[FlowRun]]
    ) -> FlowRun:
        lock = self._locks.setdefault(tenant.name, asyncio.Lock())
        async with lock:
            if tenant.videos_per_day is not None or tenant.video_minutes_per_day is not None:
                await self._check(client, tenant, request)
            return await start()

    async def _check(self, client: PrefectClient, tenant: Tenant, request: VideoRequest) -> None:
        now = datetime.now(timezone.utc)
        runs = await _runs_since(client, tenant, now - DAY)  # oldest first
        if tenant.videos_per_day is not None and len(runs) >= tenant.videos_per_day:
            frees_at = runs[len(runs) - tenant.videos_per_day].expected_start_time + DAY
            raise QuotaSpent(
                f"videos_per_day: you have started {len(runs)} videos in the last 24 hours, your limit "
                f"({tenant.videos_per_day}): the next may start in {_wait(frees_at, now)} s",
                _wait(frees_at, now),
            )
        limit = tenant.video_minutes_per_day
        if limit is not None:
            asked = [_minutes(run) for run in runs]
            used = sum(asked)
            wanted = request.duration_seconds / 60
            if used + wanted > limit + 1e-9:
                # the earliest time enough of the oldest runs have left the window for this one to fit
                freed, frees_at = 0.0, now + DAY
                for run, minutes in zip(runs, asked):
                    freed += minutes
                    if used - freed + wanted <= limit + 1e-9:
                        frees_at = run.expected_start_time + DAY
                        break
                raise QuotaSpent(
                    f"video_minutes_per_day: you have asked for {used:g} minutes of video in the last 24 hours and "
                    f"this one is {wanted:g} more, past your limit ({limit:g}): it may start in {_wait(frees_at, now)} s",
                    _wait(frees_at, now),
                )


async def _runs_since(client: PrefectClient, tenant: Tenant, since: datetime) -> list[FlowRun]:
    runs: list[FlowRun] = []
    query = FlowRunFilter(
        tags=FlowRunFilterTags(all_=[tenant.tag]), expected_start_time=FlowRunFilterExpectedStartTime(after_=since)
    )
    while True:
        page = await client.read_flow_runs(
            flow_run_filter=query, sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=PAGE, offset=len(runs)
        )
        runs.extend(page)
        if len(page) < PAGE:
            return runs


def _minutes(run: FlowRun) -> float:
    try:
        return float(run.parameters["request"]["duration_seconds"]) / 60
    except (KeyError, TypeError, ValueError):
        return 0.0


def _wait(frees_at: datetime, now: datetime) -> int:
    return max(1, math.ceil((frees_at - now).total_seconds()))


# --- jobs at once ---------------------------------------------------------------------------------------


def queue_name(tenant: Tenant) -> str:
    return f"tenant-{tenant.name}"


async def tenant_queue(client: PrefectClient, work_pool: str, tenant: Tenant) -> str:
    """The tenant's work queue in the deployment's pool (made, or its limit brought up to date), whose
    concurrency limit is `jobs_at_once`: the server hands the workers none of its runs while that many run."""
    name = queue_name(tenant)
    try:
        queue = await client.read_work_queue_by_name(name, work_pool_name=work_pool)
    except ObjectNotFound:
        try:
            await client.create_work_queue(name=name, work_pool_name=work_pool, concurrency_limit=tenant.jobs_at_once,
                                           description=f"Runs of tenant {tenant.name}, {tenant.jobs_at_once} at once")  # fmt: skip
        except ObjectAlreadyExists:  # another gateway made it first
            return await tenant_queue(client, work_pool, tenant)
        return name
    if queue.concurrency_limit != tenant.jobs_at_once:
        await client.update_work_queue(queue.id, concurrency_limit=tenant.jobs_at_once)
    return name


def limit_name(tenant: Tenant) -> str:
    """The global concurrency limit of a tenant's runs the gateway makes itself (not `tag:...`: that name
    would also hold its task runs, which run inside a slot the run already has)."""
    return limit_name_of(tenant.name)


def limit_name_of(name: str) -> str:
    return f"aura-tenant-{name}"


async def ensure_limit(client: PrefectClient, tenant: Tenant) -> None:
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate

    name = limit_name(tenant)
    try:
        found = await client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        await client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=tenant.jobs_at_once))
        return
    if found.limit != tenant.jobs_at_once or not found.active:
        await client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(limit=tenant.jobs_at_once, active=True))
