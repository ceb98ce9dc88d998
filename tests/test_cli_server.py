"""Which Prefect server `aura generate` talks to, and that nothing of it outlives the command.

Each `aura` here runs as a user types it, in its own process, with a Prefect
home of its own (no PREFECT_API_URL, and a server port nobody listens on), so
it takes the path a new user's first run takes: a temporary server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from helpers.faults import faulty_ffmpeg, started
from helpers.jobs import check_video, job_folders, wait_for
from helpers.network import free_port

from aura.models import VideoRequest

pytestmark = pytest.mark.e2e

SERVER_APP = "prefect.server.api.server:create_app"


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory) -> Path:
    """One Prefect home for the module: its database is made (migrated) by the first server only."""
    return tmp_path_factory.mktemp("prefect-home")


def user_env(prefect_home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "PREFECT_SERVER_API", "AURA_FFMPEG"))}
    return {**env, "PREFECT_HOME": str(prefect_home), "PREFECT_SERVER_API_PORT": str(free_port()), **extra}


def aura(*args: str, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aura.cli", *args], env=env, capture_output=True, text=True, timeout=timeout)


def servers_under(pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if SERVER_APP in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:  # a short-lived child that just ended
            continue
    return found


def test_a_first_run_starts_a_temporary_server_says_so_once_and_leaves_nothing_running(prefect_home, tmp_path):
    env = user_env(prefect_home)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "aura.cli", "generate", "How tides work", "--duration", "10", "--aspect", "1:1",
         "--preset", "quick_demo", "--out", str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    server = wait_for(lambda: servers_under(proc.pid), 60, "the temporary server to start")[0]
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert Path(stdout.strip()).is_file()
    check_video(Path(stdout.strip()).parent, VideoRequest(brief="How tides work", duration_seconds=10, aspect="1:1"))
    hints = [line for line in stderr.splitlines() if "aura server start" in line]
    assert len(hints) == 1 and "temporary Prefect server" in hints[0]
    assert "Traceback" not in stderr
    assert not psutil.pid_exists(server.pid) or server.status() == psutil.STATUS_ZOMBIE


def test_kill_9_takes_the_temporary_server_with_it_and_a_later_run_sweeps_the_leftovers(prefect_home, tmp_path, prefect_api_url):
    out, faults = tmp_path / "out", tmp_path / "faulty"
    env = user_env(prefect_home, AURA_FFMPEG=str(faulty_ffmpeg(faults, "realtime-compose")))
    proc = subprocess.Popen(
        [sys.executable, "-m", "aura.cli", "generate", "How auroras glow", "--duration", "20", "--aspect", "1:1",
         "--preset", "quick_demo", "--out", str(out)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        [server] = wait_for(lambda: servers_under(proc.pid), 60, "the temporary server to start")
        wait_for(lambda: started(faults, "realtime-compose"), 180, "composition to start")
        [job] = job_folders(out)
        half_written = wait_for(lambda: list(job.rglob(".tmp-*")), 30, "the encode to write its temporary file")
        proc.kill()  # SIGKILL: no handler runs, no atexit, no finally
        proc.wait(10)
        gone, alive = psutil.wait_procs([server], timeout=10)
        assert not alive, "the temporary Prefect server outlived a kill -9 of its command"
    finally:
        if proc.poll() is None:
            proc.kill()
    assert all(path.exists() for path in half_written)  # nothing could clean up after a SIGKILL...

    # ...so the next run in the same store does (this one on the session's server, to save a start)
    again = aura("generate", "How tides turn", "--duration", "10", "--preset", "quick_demo", "--out", str(out), "--json",
                 env={**user_env(prefect_home), "PREFECT_API_URL": prefect_api_url})  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert not list(job.rglob(".tmp-*")), "the killed run's half-written files are still there"
    assert (job / "work" / "narration.wav").is_file()  # its finished work stays


def test_a_server_started_with_aura_server_start_serves_every_run_until_stopped(prefect_home, tmp_path):
    env = user_env(prefect_home)
    port = env["PREFECT_SERVER_API_PORT"]
    try:
        up = aura("server", "start", env=env)
        assert up.returncode == 0, up.stderr
        assert f"http://127.0.0.1:{port}/api" in up.stderr and "aura server stop" in up.stderr
        assert aura("server", "status", env=env).returncode == 0
        doctor = json.loads(aura("doctor", "--json", env=env).stdout)
        [prefect] = [check for check in doctor if check["name"] == "prefect"]
        assert f":{port}/api answers" in prefect["detail"]
        pid = int((prefect_home / "server.pid").read_text())  # where Prefect's own `prefect server stop` looks

        run = aura("generate", "How bees dance", "--duration", "10", "--preset", "quick_demo", "--out", str(tmp_path / "out"), "--json", env=env)
        assert run.returncode == 0, run.stderr
        report = json.loads(run.stdout)
        assert report["prefect_server"] == {"api_url": f"http://127.0.0.1:{port}/api", "source": "running", "start_seconds": None}
        assert "aura server start" not in run.stderr  # no hint when a server is already up
    finally:
        stopped = subprocess.run([sys.executable, "-m", "prefect", "server", "stop"], env=env, capture_output=True, text=True, timeout=60)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    psutil.wait_procs([psutil.Process(pid)] if psutil.pid_exists(pid) else [], timeout=20)
    status = aura("server", "status", env=env)
    assert status.returncode == 1 and "aura server start" in status.stderr


def test_a_configured_server_that_does_not_answer_is_one_line_that_names_it(prefect_home, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/api"
    proc = aura("generate", "How tides work", "--out", str(tmp_path / "out"), env=user_env(prefect_home, PREFECT_API_URL=dead))
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and dead in lines[0] and "PREFECT_API_URL" in lines[0] and "aura server start" in lines[0]
    assert not (tmp_path / "out").exists()


def test_a_temporary_server_that_cannot_start_is_one_line_with_its_reason(tmp_path):
    home = tmp_path / "home"
    env = user_env(home, PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{tmp_path}/no/such/folder/prefect.db")
    started_at = time.monotonic()
    proc = aura("generate", "How tides work", "--out", str(tmp_path / "out"), env=env)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("aura: the temporary Prefect server did not start:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert time.monotonic() - started_at < 120  # it reports the exit, it does not wait out the budget
