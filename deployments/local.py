"""Aura deployed on one machine, in one command: server, work pools, deployments and workers.

    python deployments/local.py up      # server (unless one answers), pools, prefect deploy --all, workers
    python deployments/local.py up --database postgres  # the server on a PostgreSQL server of its own
    python deployments/local.py status  # what runs, its database, and where its logs are
    python deployments/local.py down    # stops everything `up` started

`up` starts a Prefect server on 127.0.0.1 unless PREFECT_API_URL (or
--api-url) points at one that answers. Its database is SQLite in the state
folder, or with `--database postgres` a PostgreSQL server in
<state folder>/postgres (aura.database: made on first use, loopback only, a
generated password); a PREFECT_API_DATABASE_CONNECTION_URL that already names
PostgreSQL is used as it is. It then creates the work
pools `cpu`, `gpu` and `batch` (process type; `gpu` limited to one run per
GPU); deploys prefect.yaml; and starts N `cpu` workers (videos, from every
queue of the pool: `default`, and each gateway tenant's `tenant-<name>`), one
`batch-worker` (pool `batch`: batches only wait on their videos, so they must
not hold a video's slot) and one `gpu` worker per GPU (one on a machine
without a GPU, where Stable Diffusion runs on the CPU). Every process
is detached, logs to the state folder, and is recorded in state.json for `down`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from aura.database import LocalPostgres, PostgresError, is_postgres_url
from aura.prefect_server import healthy
from aura.processes import render_nice

CHECKOUT = Path(__file__).resolve().parent.parent
DEFAULT_HOME = CHECKOUT / "deployments" / ".local"
POOLS = ("cpu", "gpu", "batch")
BATCH_LIMIT = 4  # batch runs at once on the batch worker


def prefect_cli() -> list[str]:
    return [sys.executable, "-m", "prefect"]


def gpu_count() -> int:
    """GPUs nvidia-smi sees (0 without the driver)."""
    if not shutil.which("nvidia-smi"):
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in out.splitlines())


def _spawn(command: list[str], log: Path, env: dict[str, str], nice: int = 0) -> int:
    """`nice`: the process's niceness, which its children (a worker's flow runs) inherit."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        # a session of its own: the process outlives this command, and `down` stops its whole group
        proc = subprocess.Popen(
            command, cwd=CHECKOUT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=(lambda: os.nice(nice)) if nice else None,
        )  # fmt: skip
    return proc.pid


def start_server(home: Path, host: str, port: int, database_url: str, timeout_s: float = 180) -> tuple[str, int]:
    """A Prefect server on `database_url`; its API URL and pid once it is healthy."""
    api_url = f"http://{host}:{port}/api"
    env = dict(os.environ)
    env["PREFECT_HOME"] = str(home / "prefect")
    env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.pop("PREFECT_API_URL", None)
    pid = _spawn([*prefect_cli(), "server", "start", "--host", host, "--port", str(port)], home / "server.log", env)
    deadline = time.monotonic() + timeout_s
    while not healthy(api_url):
        if time.monotonic() > deadline or not _alive(pid):
            raise SystemExit(f"the Prefect server did not start: see {home / 'server.log'}")
        time.sleep(0.5)
    return api_url, pid


def talking_to(api_url: str):
    """Prefect's client settings for this server (its settings are read once, when Prefect is first imported)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    os.environ["PREFECT_API_URL"] = api_url
    return temporary_settings({PREFECT_API_URL: api_url})


def create_pools(api_url: str, gpus: int) -> None:
    """Work pools `cpu`, `gpu` and `batch` (process workers); `gpu` runs at most one flow run per GPU."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    limits = {"cpu": None, "gpu": max(1, gpus), "batch": None}
    with talking_to(api_url), get_client(sync_client=True) as client:
        for name in POOLS:
            try:
                client.create_work_pool(
                    WorkPoolCreate(name=name, type="process", base_job_template=template, concurrency_limit=limits[name])
                )
            except ObjectAlreadyExists:
                client.update_work_pool(name, WorkPoolUpdate(concurrency_limit=limits[name]))


ZOMBIE_AUTOMATION = "aura: crash runs whose heartbeats stopped"
MISSED_HEARTBEATS = 3  # Prefect's advice: a run is given up after three heartbeats that did not come


def heartbeat_s() -> int:
    """The flows' heartbeat (PREFECT_FLOWS_HEARTBEAT_FREQUENCY, Prefect's default 180 s)."""
    from prefect.settings import get_current_settings

    return get_current_settings().flows.heartbeat_frequency or 180


def watch_heartbeats(api_url: str) -> None:
    """Prefect's own answer to a run whose machine died with it (its worker too, so none reports a crash):
    an automation that marks a flow run Crashed when its heartbeats stop (docs: "detect zombie flows").
    A run whose process dies under a live worker is marked Crashed by that worker at once."""
    from prefect.client.orchestration import get_client

    with talking_to(api_url), get_client(sync_client=True) as client:
        if client.read_automations_by_name(ZOMBIE_AUTOMATION):
            return  # made by an earlier `up` against this server
    silence = MISSED_HEARTBEATS * heartbeat_s()
    with talking_to(api_url):
        _create_automation(silence)


def _create_automation(silence: int) -> None:
    from datetime import timedelta

    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    Automation(
        name=ZOMBIE_AUTOMATION,
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"}, expect={"prefect.flow-run.*"},  # a heartbeat or any state change
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}), for_each={"prefect.resource.id"},
            posture=Posture.Proactive, threshold=1, within=timedelta(seconds=silence),
        ),
        actions=[ChangeFlowRunState(
            state=StateType.CRASHED,
            message=f"no heartbeat for {silence} s: the machine running it, or its worker, stopped answering",
        )],
    ).create()  # fmt: skip


def worker_env(api_url: str) -> dict[str, str]:
    """What every worker (and the flow runs it starts) needs: the API and absolute stores.

    No AURA_CHECKOUT: the runs work from the checkout `prefect deploy` recorded (this one).
    """
    env = dict(os.environ)
    env["PREFECT_API_URL"] = api_url
    for name, default in (("AURA_OUTPUT", "out"), ("AURA_RESULT_STORAGE", None)):
        value = env.get(name, default)
        if value and "://" not in value:  # one folder for every worker, whatever its working directory
            env[name] = str((CHECKOUT / value).resolve()) if not Path(value).is_absolute() else value
    return env


def deploy(api_url: str) -> None:
    """`prefect deploy --all` with prefect.yaml."""
    result = subprocess.run(
        [*prefect_cli(), "--no-prompt", "deploy", "--all"], cwd=CHECKOUT, env=worker_env(api_url),
        capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"prefect deploy --all failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def start_worker(
    api_url: str, pool: str, name: str, home: Path, limit: int = 1, extra_env: dict | None = None, queue: str | None = None
) -> int:
    command = [*prefect_cli(), "worker", "start", "--pool", pool, "--name", name, "--limit", str(limit), "--type", "process"]
    if queue:
        command += ["--work-queue", queue]
    # scratch space of its own, as on a machine of its own: with a remote store nothing is shared but the store
    scratch = home / "scratch" / name
    scratch.mkdir(parents=True, exist_ok=True)
    env = {**worker_env(api_url), "TMPDIR": str(scratch), **(extra_env or {})}
    # the runs a worker starts render below the server (and a gateway beside it), which answer requests: a queue
    # of videos must not slow the answers (AURA_RENDER_NICE, as for the gateway's own job processes)
    return _spawn(command, home / "logs" / f"{name}.log", env, nice=render_nice())


def wait_for_workers(api_url: str, names: list[str], timeout_s: float = 120) -> None:
    """Until every named worker has sent its heartbeat to the server."""
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout_s
    with talking_to(api_url), get_client(sync_client=True) as client:
        while True:
            online = {w.name for pool in POOLS for w in client.read_workers_for_work_pool(pool)}
            if set(names) <= online:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"workers {sorted(set(names) - online)} did not come online: see their logs")
            time.sleep(0.5)


def up(args: argparse.Namespace) -> dict:
    home = Path(args.home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    if (home / "state.json").exists():
        raise SystemExit(f"already up (state in {home / 'state.json'}): run `down` first")
    state: dict = {"home": str(home), "processes": {}}
    api_url = args.api_url or os.environ.get("PREFECT_API_URL")
    state["api_url"] = api_url
    _save(home, state)
    try:
        if not api_url or not healthy(api_url):
            database_url = choose_database(args.database, home, state)
            _save(home, state)  # a PostgreSQL started is stopped by `down`, even if the server fails to start
            api_url, pid = start_server(home, args.host, args.port, database_url)
            state["processes"]["server"] = pid
            state["api_url"] = api_url
        else:
            state["database"] = {"kind": "the server's own"}
        _save(home, state)
        _bring_up(args, home, state, api_url)
    except BaseException:
        down(args)  # nothing half-started stays behind
        raise
    return state


def choose_database(kind: str, home: Path, state: dict) -> str:
    """The new server's database URL, recorded in `state`: settings that name PostgreSQL already, SQLite in
    `home`, or a PostgreSQL server of our own in home/postgres."""
    from prefect.settings import get_current_settings

    configured = get_current_settings().server.database.connection_url
    configured = configured.get_secret_value() if configured is not None else None
    if is_postgres_url(configured):  # the server's own settings point at PostgreSQL: used as they are
        state["database"] = {"kind": "postgres", "source": "PREFECT_API_DATABASE_CONNECTION_URL"}
        return configured
    if kind == "postgres":
        postgres = LocalPostgres(home / "postgres")
        state["database"] = {"kind": "postgres", "folder": str(postgres.folder)}
        try:
            return postgres.start()
        except PostgresError as exc:
            raise SystemExit(str(exc)) from None
    state["database"] = {"kind": "sqlite", "path": str(home / "prefect.db")}
    return f"sqlite+aiosqlite:///{home / 'prefect.db'}"


def _bring_up(args: argparse.Namespace, home: Path, state: dict, api_url: str) -> None:
    gpus = gpu_count() if args.gpu_workers is None else args.gpu_workers
    create_pools(api_url, gpus)
    watch_heartbeats(api_url)
    deploy(api_url)
    names = []
    for i in range(1, args.cpu_workers + 1):
        name = f"cpu-worker-{i}"
        # every queue of the pool: a tenant's runs wait in its own (aura.api.tenancy), limited to its jobs at once
        state["processes"][name] = start_worker(api_url, "cpu", name, home, args.worker_limit)
        names.append(name)
    # batches only wait on their videos: a worker of their own, so a batch never holds a slot a video needs
    state["processes"]["batch-worker"] = start_worker(api_url, "batch", "batch-worker", home, BATCH_LIMIT)
    names.append("batch-worker")
    for i in range(max(1, gpus)):
        name = f"gpu-worker-{i}"
        # one worker per GPU, pinned to it; one run at a time so two pipelines never share a GPU's memory
        devices = {"CUDA_VISIBLE_DEVICES": str(i)} if gpus else {}
        state["processes"][name] = start_worker(api_url, "gpu", name, home, 1, devices)
        names.append(name)
    _save(home, state)
    wait_for_workers(api_url, names)
    ui = api_url.removesuffix("/api")
    print(f"Aura is deployed: UI {ui}  (export PREFECT_API_URL={api_url})")
    print(f"workers: {', '.join(names)}; logs in {home / 'logs'}")
    print("run one: prefect deployment run generate-video/generate-video --param request='{\"brief\": \"How volcanoes form\"}'")


def _recorded(args: argparse.Namespace) -> tuple[Path, dict | None]:
    """The state file `up` wrote, and what it holds (None when nothing is up)."""
    state_file = Path(args.home).resolve() / "state.json"
    return state_file, json.loads(state_file.read_text()) if state_file.exists() else None


def down(args: argparse.Namespace) -> None:
    state_file, state = _recorded(args)
    if state is None:
        print("nothing to stop")
        return
    # the workers first, all at once (each takes a second or two to stop), so none picks up a run
    # while the server goes away; then the server
    processes = state["processes"]
    workers = [pid for name, pid in processes.items() if name != "server"]
    stop(workers)
    stop([pid for name, pid in processes.items() if name == "server"])
    stopped = list(processes)
    folder = state.get("database", {}).get("folder")
    if folder:  # the PostgreSQL server `up` started, last: the server wrote to it until it stopped
        postgres = LocalPostgres(Path(folder))
        if postgres.running():
            try:
                postgres.stop()
            except PostgresError as exc:
                raise SystemExit(f"{exc}; the state is kept in {state_file}: run `down` again") from None
            stopped.append("postgres")
    state_file.unlink()
    print(f"stopped {', '.join(stopped) or 'nothing'}")


def stop(pids: list[int], grace_s: float = 15) -> None:
    """SIGTERM to each process group, SIGKILL to what is left after the grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
            time.sleep(0.2)
        pids = [pid for pid in pids if _alive(pid)]
        if not pids:
            return


def status(args: argparse.Namespace) -> None:
    _, state = _recorded(args)
    if state is None:
        print("not up")
        return
    print(f"API {state['api_url']} ({'healthy' if state['api_url'] and healthy(state['api_url']) else 'not answering'})")
    print(f"database: {describe_database(state.get('database', {}))}")
    for name, pid in state["processes"].items():
        print(f"  {name:14} pid {pid:7}  {'running' if _alive(pid) else 'gone'}")


def describe_database(database: dict) -> str:
    if database.get("folder"):
        return LocalPostgres(Path(database["folder"])).describe()
    if database.get("source"):
        return f"PostgreSQL named by {database['source']}"
    if database.get("path"):
        return f"SQLite at {database['path']}"
    return database.get("kind", "unknown")


def _alive(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our child and has exited
        if finished:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _save(home: Path, state: dict) -> None:
    tmp = home / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(home / "state.json")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "down", "status"):
        command = sub.add_parser(name)
        command.add_argument("--home", default=os.environ.get("AURA_DEPLOY_HOME", str(DEFAULT_HOME)),
                             help="state folder: database, logs, pids (default deployments/.local)")  # fmt: skip
    up_cmd = sub.choices["up"]
    up_cmd.add_argument("--api-url", help="use this Prefect server instead of starting one")
    up_cmd.add_argument("--database", choices=("sqlite", "postgres"), default=os.environ.get("AURA_DATABASE", "sqlite"),
                        help="the new server's database: SQLite in the state folder, or a PostgreSQL server of its own "
                        "in <home>/postgres (default sqlite, or AURA_DATABASE)")  # fmt: skip
    up_cmd.add_argument("--host", default="127.0.0.1")
    up_cmd.add_argument("--port", type=int, default=4200)
    up_cmd.add_argument("--cpu-workers", type=int, default=1)
    up_cmd.add_argument("--gpu-workers", type=int, help="default: one per GPU nvidia-smi lists (one if none)")
    up_cmd.add_argument("--worker-limit", type=int, default=1, help="flow runs at once per cpu worker")
    args = parser.parse_args(argv)
    {"up": up, "down": down, "status": status}[args.command](args)


if __name__ == "__main__":
    main()
