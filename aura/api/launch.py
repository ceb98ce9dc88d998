"""Starting a video job: a run of the generate-video deployment, or a run the gateway makes itself.

Either way the job is a Prefect flow run created before the answer goes out,
so its id is known at once. With AURA_GATEWAY_DEPLOYMENT the deployment's
workers pick it up. Without it the gateway is its own worker: it runs
`python -m aura.api.run_local <id>` for each job, at most AURA_GATEWAY_LOCAL_RUNS
at a time (the others wait, Scheduled); the children die with the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import DeploymentFlowRunCreate, FlowRunCreate
from prefect.client.schemas.objects import FlowRun, FlowRunPolicy
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.context import SettingsContext, get_settings_context
from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, Settings
from prefect.states import Cancelled, Crashed, Scheduled, to_state_create

from aura import processes
from aura.api.tenancy import ensure_limit, limit_name, limit_name_of, tenant_queue
from aura.api.tenants import TAG_PREFIX, Tenant
from aura.errors import AuraError
from aura.models import VideoRequest

log = logging.getLogger("aura.api")
TAGS = ["aura", "gateway"]


class LaunchError(AuraError):
    """The job could not be started (the deployment is missing, the server is down)."""


RETRY_DELAYS_S = (0.02, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
AT_ONCE = 8  # creations side by side while the server takes them (PostgreSQL)


class RunCreator:
    """Flow run creations, a few at a time; one at a time once the server has said it is busy (SQLite).

    Prefect's server on SQLite answers 503 to writes that overlap (a deferred
    transaction cannot take the write lock) and its client waits 2 s before it
    tries again: ten jobs created at once took up to 6.5 s each. One at a time
    they take ~50 ms each; a job process's write that collides with one costs
    a retry of milliseconds instead. On PostgreSQL creations overlap: ten
    at once are answered within 0.3 s (p95) where one at a time needs 0.5 s
    and more. The gateway cannot ask the server which database it has, so it
    starts with creations side by side and goes one at a time, for good, at
    the first 503.
    """

    def __init__(self, at_once: int = AT_ONCE) -> None:
        self._slots = asyncio.Semaphore(at_once)
        self._one_at_a_time = asyncio.Lock()
        self.serial = False
        self._no_retries: tuple[Settings, Settings] | None = None  # (the settings it was made from, the copy)

    async def __call__(self, make: Callable[[], Awaitable[FlowRun]]) -> FlowRun:
        async with self._slots:
            for delay in (*RETRY_DELAYS_S, None):
                try:
                    with self._without_client_retries():
                        if not self.serial:
                            return await make()
                        async with self._one_at_a_time:
                            return await make()
                except PrefectHTTPStatusError as exc:
                    if exc.response.status_code != 503 or delay is None:
                        raise
                    if not self.serial:
                        log.info("the Prefect server is busy with overlapping writes (SQLite): creating runs one at a time")
                        self.serial = True
                        continue  # again at once, in line: the lock orders them now
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _without_client_retries(self) -> SettingsContext:
        """Prefect's settings with its client's own retries off (this class retries at once instead). The copy is
        made once: Prefect's temporary_settings makes it anew on every entry, ~20 ms of CPU that was three
        quarters of the gateway's work per job under a burst."""
        context = get_settings_context()
        if self._no_retries is None or self._no_retries[0] is not context.settings:
            copy = context.settings.copy_with_update(updates={PREFECT_CLIENT_MAX_RETRIES: 0})
            self._no_retries = (context.settings, copy)
        return SettingsContext(profile=context.profile, settings=self._no_retries[1])


class DeploymentLauncher:
    """Jobs as runs of a deployment: its work pool's workers make them."""

    def __init__(self, deployment: str):
        self.deployment = deployment
        self._deployment_id: UUID | None = None
        self._pool: str | None = None
        self._finding = asyncio.Lock()
        self._tenant_queues: dict[str, str] = {}
        self.create_run = RunCreator()

    async def start(self, client: PrefectClient, request: VideoRequest, preset: str, tenant: Tenant | None = None) -> FlowRun:
        async with self._finding:  # a first burst looks the deployment up once, not once per request
            if self._deployment_id is None:
                try:
                    found = await client.read_deployment_by_name(self.deployment)
                    self._deployment_id, self._pool = found.id, found.work_pool_name
                except ObjectNotFound:
                    raise LaunchError(
                        f"AURA_GATEWAY_DEPLOYMENT={self.deployment}: the Prefect server has no such deployment: "
                        "deploy it (prefect deploy --all) or unset the setting to run jobs in the gateway"
                    ) from None
        deployment_id, queue = self._deployment_id, None
        if tenant is not None and self._pool is not None:  # its own queue, limited to its jobs at once (aura.api.tenancy)
            if tenant.name not in self._tenant_queues:
                self._tenant_queues[tenant.name] = await tenant_queue(client, self._pool, tenant)
            queue = self._tenant_queues[tenant.name]
        parameters = _parameters(request, preset)
        return await self.create_run(lambda: _run_of_deployment(client, deployment_id, parameters, _tags(tenant), queue))

    async def retry(self, client: PrefectClient, run_id: UUID) -> None:
        """The run Scheduled again: its deployment's workers take it, and its stages reuse their checkpoints."""
        await _scheduled_again(client, run_id)

    async def close(self, client: PrefectClient) -> None:
        return None


class LocalLauncher:
    """Jobs the gateway makes itself, each in a child process, a few at a time."""

    def __init__(self, max_runs: int, api_url: str | None = None):
        # imported now, at start-up: the first import takes seconds, and must not hold up the first 202
        from flows.generate_video import generate_video

        self.flow = generate_video
        self._flow_id: UUID | None = None
        self.create_run = RunCreator()
        self.slots = asyncio.Semaphore(max_runs)
        self.api_url = api_url
        self.waiting: set[UUID] = set()
        self._tenant_limits: set[str] = set()  # tenants whose concurrency limit this gateway has set
        self.children: set = set()
        self._tasks: set[asyncio.Task] = set()

    async def start(self, client: PrefectClient, request: VideoRequest, preset: str, tenant: Tenant | None = None) -> FlowRun:
        if self._flow_id is None:
            self._flow_id = await client.create_flow(self.flow)
        if tenant is not None and tenant.name not in self._tenant_limits:
            await ensure_limit(client, tenant)
            self._tenant_limits.add(tenant.name)
        run = await self.create_run(lambda: self._create(client, _parameters(request, preset), _tags(tenant)))
        self._run(client, run.id, tenant)
        return run

    async def retry(self, client: PrefectClient, run_id: UUID) -> None:
        """The run Scheduled again and made again here, its stages reusing their checkpoints."""
        await _scheduled_again(client, run_id)
        run = await client.read_flow_run(run_id)
        names = [tag.removeprefix(TAG_PREFIX) for tag in run.tags or [] if tag.startswith(TAG_PREFIX)]
        self._run(client, run_id, limit_name_of(names[0]) if names else None)

    def _run(self, client: PrefectClient, run_id: UUID, tenant: Tenant | str | None = None) -> None:
        limit = limit_name(tenant) if isinstance(tenant, Tenant) else tenant
        task = asyncio.create_task(self._make(client, run_id, limit))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _create(self, client: PrefectClient, parameters: dict, tags: list[str]) -> FlowRun:
        """client.create_flow_run without its upsert of the flow on every call: one write per job, not two."""
        body = FlowRunCreate(
            flow_id=self._flow_id, flow_version=self.flow.version, parameters=parameters, tags=[*tags, "local"],
            state=to_state_create(Scheduled()),
            empirical_policy=FlowRunPolicy(retries=self.flow.retries, retry_delay=int(self.flow.retry_delay_seconds or 0)),
        )  # fmt: skip
        response = await client.request("POST", "/flow_runs/", json=body.model_dump(mode="json", exclude_unset=True))
        return FlowRun.model_validate(response.json())

    async def _make(self, client: PrefectClient, run_id: UUID, tenant_limit: str | None = None) -> None:
        self.waiting.add(run_id)
        try:
            # a tenant's slot first (Prefect's concurrency limit, aura.api.tenancy), then one of ours: a tenant's
            # waiting runs never hold a slot someone else's run could use
            async with _tenant_slot(tenant_limit), self.slots:
                self.waiting.discard(run_id)
                if (await client.read_flow_run(run_id)).state.is_final():
                    return  # cancelled while it waited for a slot
                env = dict(os.environ)
                if self.api_url:
                    env["PREFECT_API_URL"] = self.api_url
                proc = processes.start([sys.executable, "-m", "aura.api.run_local", str(run_id)], env=env, stdin=subprocess.DEVNULL)
                self.children.add(proc)
                try:
                    code = await asyncio.to_thread(proc.wait)
                finally:
                    self.children.discard(proc)
                    processes.forget(proc)
                log.info("job %s: its process %s", run_id, processes.exit_reason(code))
                if code != 0:
                    await _crashed_unless_ended(client, run_id, code)
        except Exception:  # noqa: BLE001 - the run's own state tells the user; the gateway keeps serving
            log.exception("job %s could not be run", run_id)

    async def close(self, client: PrefectClient) -> None:
        """On shutdown: jobs still waiting are cancelled in Prefect, running ones are stopped (SIGTERM)."""
        for run_id in list(self.waiting):
            try:
                stopped = Cancelled(message="the gateway stopped before it started this job")
                await client.set_flow_run_state(run_id, stopped, force=True)
            except Exception:  # noqa: BLE001
                log.warning("could not cancel job %s", run_id, exc_info=True)
        # SIGTERM: Prefect marks each run Crashed and its children die; finished stages stay checkpointed
        await asyncio.gather(*(asyncio.to_thread(processes.stop, proc, 20.0) for proc in list(self.children)))
        for task in list(self._tasks):
            task.cancel()


async def _run_of_deployment(
    client: PrefectClient, deployment_id: UUID, parameters: dict, tags: list[str], queue: str | None = None
) -> FlowRun:
    """client.create_flow_run_from_deployment, without the server's check of the parameters against the
    deployment's schema: the gateway has just validated them with the VideoRequest model that schema is made
    from, and that check was two thirds of the server's work per run (jsonschema checks the schema itself each
    time). Runs made from the UI or the API are still checked."""
    body = DeploymentFlowRunCreate(
        parameters=parameters, state=to_state_create(Scheduled()), tags=tags, enforce_parameter_schema=False,
        **({"work_queue_name": queue} if queue else {}),
    )  # fmt: skip
    response = await client.request(
        "POST", "/deployments/{id}/create_flow_run", path_params={"id": deployment_id},
        json=body.model_dump(mode="json", exclude_unset=True),
    )  # fmt: skip
    return FlowRun.model_validate(response.json())


async def _scheduled_again(client: PrefectClient, run_id: UUID) -> None:
    await client.set_flow_run_state(run_id, Scheduled(message="retried from the gateway"), force=True)


async def _crashed_unless_ended(client: PrefectClient, run_id: UUID, code: int) -> None:
    """A job process that died before it ended its run (a signal, the out-of-memory killer, an exit on the
    way up) leaves the run Running: it is marked Crashed with the reason, so the job fails and its stream ends."""
    run = await client.read_flow_run(run_id)
    if run.state is not None and run.state.is_final():
        return
    reason = f"the job's process {processes.exit_reason(code)}"
    log.warning("job %s: %s; marked Crashed", run_id, reason)
    await client.set_flow_run_state(run_id, Crashed(message=reason), force=True)


def _tags(tenant: Tenant | None) -> list[str]:
    return [*TAGS, tenant.tag] if tenant is not None else list(TAGS)


def _tenant_slot(limit: str | None):
    if limit is None:
        return contextlib.nullcontext()
    from prefect.concurrency.asyncio import concurrency

    # the lease is renewed while the run is made; a run longer than the lease keeps its slot
    return concurrency(limit, occupy=1, raise_on_lease_renewal_failure=False)


def _parameters(request: VideoRequest, preset: str) -> dict:
    return {"request": request.model_dump(mode="json"), "preset": preset}
