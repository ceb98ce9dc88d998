"""A PostgreSQL server of Aura's own for the Prefect server: Debian's packages, a data folder, loopback only.

SQLite serializes the Prefect server's writes and answers 503 to overlapping
ones; several workers and a gateway under load want PostgreSQL. This keeps one
in a folder (`deployments/.local/postgres` for `deployments/local.py up
--database postgres`): made with initdb on first use, with a generated
password (scram-sha-256) kept beside it in connection.json (mode 0600),
listening on 127.0.0.1 only, on a free port chosen at each start. Debian's
`postgresql` package provides the programs (scripts/setup.sh installs it when
AURA_POSTGRES=1). PostgreSQL refuses to run as root: as root, its programs run
as the `postgres` user the package creates, which owns the data folder.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
from pathlib import Path

from aura.errors import AuraError

DATABASE = "prefect"
USER = "aura"
INSTALL_HINT = "install PostgreSQL with AURA_POSTGRES=1 bash scripts/setup.sh (or apt-get install postgresql)"


class PostgresError(AuraError):
    """PostgreSQL is missing, or its server would not start or stop."""


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and url.split(":", 1)[0].startswith("postgresql")


def binaries() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres: Debian's newest /usr/lib/postgresql/N/bin, or PATH's."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: _version(p.parent.parent.name))
    if debian:
        return debian[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class LocalPostgres:
    """One PostgreSQL server whose data lives in `folder` (data/, connection.json)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder).resolve()
        self.data = self.folder / "data"
        self.settings_file = self.folder / "connection.json"
        self.log = self.data / "server.log"  # written by the server's own user: inside its folder

    # --- what it is ------------------------------------------------------------------------------------

    def initialized(self) -> bool:
        return (self.data / "PG_VERSION").exists() and self.settings_file.exists()

    def settings(self) -> dict:
        return json.loads(self.settings_file.read_text())

    def url(self) -> str:
        """The Prefect server's connection URL (it holds the password: never print it)."""
        s = self.settings()
        return f"postgresql+asyncpg://{USER}:{s['password']}@127.0.0.1:{s['port']}/{DATABASE}"

    def describe(self) -> str:
        """Where it is, without the password."""
        where = f"127.0.0.1:{self.settings()['port']}" if self.settings_file.exists() else "not made yet"
        return f"PostgreSQL at {where}, database {DATABASE}, data in {self.data} ({'running' if self.running() else 'stopped'})"

    def running(self) -> bool:
        if not (self.data / "postmaster.pid").exists() or binaries() is None:
            return False
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    # --- what it does ----------------------------------------------------------------------------------

    def start(self, timeout_s: int = 60) -> str:
        """Made on first use, started unless running, its database made: the connection URL."""
        if binaries() is None:
            raise PostgresError(f"PostgreSQL is not installed (no initdb): {INSTALL_HINT}")
        if not self.initialized():
            self._initialize()
        if not self.running():
            settings = self.settings()
            if not _port_free(settings["port"]):  # taken since the last start: another free one
                settings["port"] = _free_port()
                self._save(settings)
            options = f"-c listen_addresses=127.0.0.1 -p {settings['port']} -k {self.data}"
            started = self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t",
                                str(timeout_s), "start", check=False)  # fmt: skip
            if started.returncode != 0:
                raise PostgresError(f"PostgreSQL did not start: {_last_line(self.log, started)} (its log: {self.log})")
        self._create_database()
        return self.url()

    def stop(self, timeout_s: int = 60) -> None:
        if self.running():
            stopped = self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", str(timeout_s), "stop", check=False)
            if stopped.returncode != 0:
                raise PostgresError(f"PostgreSQL did not stop: {_last_line(self.log, stopped)}")

    def _initialize(self) -> None:
        self._check_reachable()
        if self.data.exists() and any(self.data.iterdir()):
            raise PostgresError(f"{self.data} holds files but no database (no PG_VERSION): move it away to start afresh")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(mode=0o700, exist_ok=True)
        password = secrets.token_urlsafe(24)
        password_file = self.folder / ".initdb-password"
        password_file.write_text(password)
        try:
            os.chmod(password_file, 0o600)
            self._own(self.data, password_file)
            made = self._run("initdb", "-D", str(self.data), "-U", USER, f"--pwfile={password_file}",
                             "-A", "scram-sha-256", "-E", "UTF8", "--no-instructions", check=False)  # fmt: skip
        finally:
            password_file.unlink(missing_ok=True)
        if made.returncode != 0:
            shutil.rmtree(self.data, ignore_errors=True)  # nothing half-made stays: the next start makes it again
            raise PostgresError(f"initdb failed: {_last_line(None, made)}")
        self._save({"port": _free_port(), "password": password})

    def _create_database(self) -> None:
        settings = self.settings()
        env = {**os.environ, "PGPASSWORD": settings["password"]}
        where = ["-h", "127.0.0.1", "-p", str(settings["port"]), "-U", USER]
        found = subprocess.run([str(binaries() / "psql"), *where, "-d", "postgres", "-tAc",
                                f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"],
                               env=env, capture_output=True, text=True)  # fmt: skip
        if found.returncode == 0 and found.stdout.strip() == "1":
            return
        made = subprocess.run([str(binaries() / "createdb"), *where, DATABASE], env=env, capture_output=True, text=True)
        if made.returncode != 0 and "already exists" not in made.stderr:
            raise PostgresError(f"could not create the database {DATABASE}: {_last_line(None, made)}")

    def _save(self, settings: dict) -> None:
        tmp = self.settings_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(settings))
        os.chmod(tmp, 0o600)
        tmp.replace(self.settings_file)

    # --- as whom ---------------------------------------------------------------------------------------

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(binaries() / program), *args]
        if os.geteuid() == 0:  # PostgreSQL never runs as root: as the user Debian's package made for it
            runuser = shutil.which("runuser") or "/usr/sbin/runuser"  # util-linux; /usr/sbin may be off PATH
            command = [runuser, "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, cwd="/")

    def _own(self, *paths: Path) -> None:
        if os.geteuid() == 0:
            import pwd

            try:
                entry = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresError(f"PostgreSQL will not run as root and there is no `postgres` user: {INSTALL_HINT}") from None
            for path in paths:
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def _check_reachable(self) -> None:
        """As root the server runs as `postgres`: every folder above its data must let others pass (o+x)."""
        if os.geteuid() != 0:
            return
        for parent in self.folder.parents:
            if parent.exists() and not os.stat(parent).st_mode & 0o001:
                raise PostgresError(
                    f"PostgreSQL runs as the postgres user, which cannot pass through {parent} (mode "
                    f"{oct(os.stat(parent).st_mode & 0o777)}): keep its folder under folders others may enter, or chmod o+x {parent}"
                )  # fmt: skip
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, os.stat(self.folder).st_mode | 0o001)


def _last_line(log: Path | None, done: subprocess.CompletedProcess) -> str:
    text = (done.stderr or "") + (done.stdout or "")
    if log is not None and log.exists():
        text += log.read_text(errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {done.returncode}"
