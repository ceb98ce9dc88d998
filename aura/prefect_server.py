"""The Prefect server a command talks to: one that is running, or a temporary one that dies with the command.

`aura generate` and `aura serve` need a Prefect API. In order:

1. `PREFECT_API_URL` (the environment, the active profile, prefect.toml):
   used as it is; a server there that does not answer is an error that says
   what to do, never a silent temporary server beside it;
2. a server at the address `prefect server start` (or `aura server start`)
   listens on, PREFECT_SERVER_API_HOST:PORT (127.0.0.1:4200 by default);
3. a temporary server of our own, which Prefect would otherwise start with
   a fixed 20 s budget. Ours is started as early as possible (before the
   command's heavy imports, so the two overlap), gets a budget that grows
   with the machine's load, dies with the command even on SIGKILL
   (PR_SET_PDEATHSIG, aura.processes), and reports a failed start in one line.

The background server of `aura server start` is Prefect's own server detached
properly: Prefect 3.8's `prefect server start --background` leaves the server
writing to pipes its parent closes, and it dies seconds after starting. Its
pid goes where Prefect's own `prefect server stop` looks for it.

Nothing here imports Prefect at module level: `Connection.resolve` reads
Prefect's settings when it has to; everything else is plain HTTP.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

from aura import processes
from aura.errors import AuraError

START_BUDGET_S = 90.0  # an idle 2-core machine starts a fresh server in 8-10 s, a migrated one in 2-4 s
MAX_START_BUDGET_S = 900.0
STOP_GRACE_S = 10.0
# a server stopped before it answered may be making its database: SIGTERM lets it finish the
# migration first (measured: it exits ~6 s later with the schema at head); never SIGKILL it mid-way
UNREADY_STOP_GRACE_S = 120.0
PID_FILE = "server.pid"  # Prefect's own name (prefect.cli._server_utils.SERVER_PID_FILE_NAME)
LOG_FILE = "server.log"
KEEP_ONE_RUNNING = "keep one running for faster runs: aura server start"


class PrefectServerError(AuraError):
    """No Prefect API can be reached or started."""


@dataclass(frozen=True)
class ServerChoice:
    api_url: str
    source: str  # "PREFECT_API_URL" | "running" | "temporary"


def healthy(api_url: str, timeout_s: float = 3.0, api_key: str | None = None) -> bool:
    """The Prefect API at `api_url` answers its health check."""
    request = urllib.request.Request(api_url.rstrip("/") + "/health")
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status == 200
    except (OSError, ValueError):  # refused, timed out, not HTTP, a malformed URL
        return False


def start_budget_s(configured: float | None = None) -> float:
    """How long a temporary server may take to start: longer on a busy machine (load per core)."""
    if configured:
        return configured
    try:
        load = os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:
        load = 1.0
    return min(MAX_START_BUDGET_S, START_BUDGET_S * max(1.0, load))


def _local_host(host: str) -> str:
    # a server listening on every interface is reached on loopback
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def default_api_url(host: str | None = None, port: int | str | None = None) -> str:
    """Where `prefect server start` listens: the given host and port, else the environment's, else 127.0.0.1:4200."""
    host = host or os.environ.get("PREFECT_SERVER_API_HOST") or "127.0.0.1"
    port = port or os.environ.get("PREFECT_SERVER_API_PORT") or "4200"
    return f"http://{_url_host(_local_host(str(host)))}:{port}/api"


def _settings() -> tuple[str | None, str | None, str]:
    """PREFECT_API_URL, PREFECT_API_KEY and the `prefect server start` address, from every source Prefect
    reads (environment, profile, prefect.toml); importing Prefect costs about a second."""
    from prefect.settings import PREFECT_API_KEY, PREFECT_API_URL, PREFECT_SERVER_API_HOST, PREFECT_SERVER_API_PORT

    listening = default_api_url(PREFECT_SERVER_API_HOST.value(), PREFECT_SERVER_API_PORT.value())
    return PREFECT_API_URL.value() or None, PREFECT_API_KEY.value() or None, listening


def prefect_home() -> Path:
    from prefect.settings import PREFECT_HOME

    return Path(PREFECT_HOME.value()).expanduser()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_command(host: str, port: int) -> list[str]:
    import importlib.util

    spec = importlib.util.find_spec("prefect")  # finds the package without importing it
    if spec is None or not spec.origin:
        raise PrefectServerError("prefect is not installed: pip install -e . (scripts/setup.sh does it)")
    app_dir = str(Path(spec.origin).parent.parent)
    return [
        sys.executable, "-m", "uvicorn", "--app-dir", app_dir, "--factory", "prefect.server.api.server:create_app",
        "--host", host, "--port", str(port), "--log-level", "error", "--lifespan", "on",
    ]  # fmt: skip


def _server_env(**extra: str) -> dict[str, str]:
    """A server's environment: no analytics, Prefect's last-app optimisations, and never a client's API URL."""
    env = {**os.environ, "PREFECT__SERVER_FINAL": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **extra}
    env.pop("PREFECT_API_URL", None)
    return env


class _Exited(Exception):
    """The server process ended before it answered; the message is its last log line."""


def _await_answer(proc: subprocess.Popen, api_url: str, deadline: float, log: Path) -> None:
    """Until the server at `api_url` answers; _Exited when it ends first, TimeoutError past `deadline`."""
    while not healthy(api_url, timeout_s=2.0):
        if proc.poll() is not None:
            raise _Exited(_last_line(log, f"it exited with status {proc.returncode}"))
        if time.monotonic() >= deadline:
            raise TimeoutError
        time.sleep(0.1)


def _last_line(log: Path | None, fallback: str) -> str:
    if log is None or not log.is_file():
        return fallback
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else fallback


class TemporaryServer:
    """A Prefect server for this command only: started at once, waited for later, gone with the command."""

    def __init__(self) -> None:
        self._log = Path(tempfile.mkstemp(prefix="aura-prefect-server-", suffix=".log")[1])
        self.started = time.monotonic()
        self.ready_after_s: float | None = None
        self._spawn()

    def _spawn(self) -> None:
        self.port = _free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        # what Prefect's own temporary server sets: no UI, no background services beyond a run's needs
        env = _server_env(PREFECT_UI_ENABLED="0", PREFECT__SERVER_EPHEMERAL="1")
        with open(self._log, "wb") as log:
            # its own session (Ctrl-C reaches the command, which stops its run before the server goes),
            # and SIGKILL when the command dies, however it dies
            self.proc = processes.start(
                _server_command("127.0.0.1", self.port), stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                serves_requests=True,
            )

    def wait(self, budget_s: float) -> str:
        """The API URL once the server answers; PrefectServerError if it exits or runs past the budget."""
        deadline = self.started + budget_s
        while True:
            try:
                _await_answer(self.proc, self.api_url, deadline, self._log)
            except _Exited as exited:
                if "address already in use" in str(exited).lower() and time.monotonic() < deadline:
                    processes.forget(self.proc)
                    self._spawn()  # another process took the free port first
                    continue
                self.stop()
                raise PrefectServerError(f"the temporary Prefect server did not start: {exited}") from None
            except TimeoutError:
                self.stop()
                raise PrefectServerError(
                    f"the temporary Prefect server did not answer within {budget_s:.0f} s (the machine is busy?): "
                    f"start one yourself (aura server start) and run again, or set AURA_PREFECT_START_TIMEOUT_S"
                ) from None
            self.ready_after_s = time.monotonic() - self.started
            return self.api_url

    def stop(self) -> None:
        processes.stop(self.proc, grace_s=STOP_GRACE_S if self.ready_after_s is not None else UNREADY_STOP_GRACE_S)
        processes.forget(self.proc)
        self._log.unlink(missing_ok=True)


class Connection:
    """The choice of server, in two steps so that a temporary server boots while the command imports.

    `Connection()` is quick (no Prefect import): it reads PREFECT_API_URL from
    the environment and knocks at the default address; when neither gives a
    server it starts a temporary one at once. `resolve()` then reads Prefect's
    own settings (a profile or prefect.toml may name a server: the temporary
    one is dropped for it) and waits for the temporary server within the budget.
    """

    def __init__(self) -> None:
        self.temporary: TemporaryServer | None = None
        self._knocked = default_api_url()  # from the environment only: Prefect is not imported yet
        if not os.environ.get("PREFECT_API_URL") and not healthy(self._knocked, timeout_s=1.0):
            self.temporary = TemporaryServer()

    def resolve(self, budget_s: float | None = None, *, require_answer: bool = True) -> ServerChoice:
        """The server to use. A configured one that does not answer is an error, unless `require_answer`
        is off (the gateway, which answers 503 until its server is back)."""
        api_url, api_key, listening = _settings()
        if api_url:
            self.close()  # a configured server wins, even one named only in the profile
            if require_answer and not healthy(api_url, api_key=api_key):
                raise PrefectServerError(
                    f"the Prefect server at {api_url} (PREFECT_API_URL) does not answer: start it (aura server "
                    "start), or unset PREFECT_API_URL and aura starts a temporary one"
                )
            return ServerChoice(api_url, "PREFECT_API_URL")
        # knock again where it answered a moment ago, or where the profile says a server listens
        if (self.temporary is None or listening != self._knocked) and healthy(listening, timeout_s=2.0):
            self.close()
            return ServerChoice(listening, "running")
        if self.temporary is None:  # it answered a moment ago and is gone: start one after all
            self.temporary = TemporaryServer()
        return ServerChoice(self.temporary.wait(start_budget_s(budget_s)), "temporary")

    def close(self) -> None:
        if self.temporary is not None:
            self.temporary.stop()
            self.temporary = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class BackgroundStatus:
    api_url: str
    pid: int | None
    answering: bool


def _pid_file() -> Path:
    return prefect_home() / PID_FILE


def _read_pid(pid_file: Path) -> int | None:
    """The pid in Prefect's pid file, if that process still runs."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if psutil.pid_exists(pid) else None


def _listen_address() -> tuple[str, int]:
    """PREFECT_SERVER_API_HOST and PORT as Prefect reads them (environment, profile, prefect.toml)."""
    from prefect.settings import PREFECT_SERVER_API_HOST, PREFECT_SERVER_API_PORT

    return PREFECT_SERVER_API_HOST.value(), int(PREFECT_SERVER_API_PORT.value())


def background_status() -> BackgroundStatus:
    api_url = default_api_url(*_listen_address())
    return BackgroundStatus(api_url, _read_pid(_pid_file()), healthy(api_url, timeout_s=2.0))


def start_background(budget_s: float) -> BackgroundStatus:
    """Prefect's server, detached: its own session, its output in PREFECT_HOME/server.log, its pid in server.pid."""
    status = background_status()
    if status.answering:
        return status
    host, port = _listen_address()
    home = prefect_home()
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / LOG_FILE
    command = _server_command(host, port)
    command[command.index("--log-level") + 1] = "warning"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=_server_env(), start_new_session=True
        )
    _pid_file().write_text(str(proc.pid))
    try:
        _await_answer(proc, status.api_url, time.monotonic() + budget_s, log_path)
    except _Exited as exited:
        _pid_file().unlink(missing_ok=True)
        raise PrefectServerError(f"the Prefect server did not start: {exited}") from None
    except TimeoutError:
        raise PrefectServerError(f"the Prefect server did not answer within {budget_s:.0f} s: see {log_path}") from None
    return BackgroundStatus(status.api_url, proc.pid, True)


def stop_background(grace_s: float = 20.0) -> int | None:
    """Stop the server `start_background` (or `prefect server start --background`) left running; its pid, or None."""
    pid_file = _pid_file()
    pid = _read_pid(pid_file)
    pid_file.unlink(missing_ok=True)
    if pid is None:
        return None
    with contextlib.suppress(psutil.NoSuchProcess):
        server = psutil.Process(pid)
        server.terminate()
        try:
            server.wait(grace_s)
        except psutil.TimeoutExpired:
            server.kill()
    return pid
