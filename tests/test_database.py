"""aura.database: the PostgreSQL server `deployments/local.py up --database postgres` keeps in a folder.

Its whole life (initdb, start, the database, stop, start again on the same
data) is tested where PostgreSQL is installed (CI installs it); the deployed
tests then run their cluster on it (tests/test_deployed.py).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from aura import database
from aura.database import LocalPostgres, PostgresError

installed = pytest.mark.skipif(
    database.binaries() is None and os.environ.get("AURA_POSTGRES") != "1",
    reason="PostgreSQL is not installed here: AURA_POSTGRES=1 bash scripts/setup.sh installs it",
)


def test_without_postgresql_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(database, "binaries", lambda: None)
    with pytest.raises(PostgresError, match=r"not installed.*AURA_POSTGRES=1 bash scripts/setup.sh"):
        LocalPostgres(tmp_path / "postgres").start()
    assert not (tmp_path / "postgres").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="as root only: PostgreSQL then runs as the postgres user")
@installed
def test_as_root_a_folder_the_postgres_user_cannot_reach_is_named_before_anything_is_made(tmp_path):
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    closed.chmod(0o700)
    with pytest.raises(PostgresError) as refused:
        LocalPostgres(closed / "postgres").start()
    assert "cannot pass through" in str(refused.value) and str(tmp_path) in str(refused.value)
    assert not (closed / "postgres").exists()


@installed
def test_a_server_is_made_once_started_on_loopback_stopped_and_started_again_on_its_data():
    home = Path(tempfile.mkdtemp(prefix="aura-pg-"))
    home.chmod(0o711)
    postgres = LocalPostgres(home / "postgres")
    try:
        url = postgres.start()
        settings = json.loads((home / "postgres" / "connection.json").read_text())
        assert url == f"postgresql+asyncpg://aura:{settings['password']}@127.0.0.1:{settings['port']}/prefect"
        assert (home / "postgres" / "connection.json").stat().st_mode & 0o777 == 0o600
        assert postgres.running() and "(running)" in postgres.describe() and settings["password"] not in postgres.describe()
        assert postgres.start() == url  # already running: the same server
        postgres.stop()
        assert not postgres.running() and "(stopped)" in postgres.describe()
        assert postgres.start().endswith("/prefect") and postgres.settings()["password"] == settings["password"]
    finally:
        postgres.stop()
        import shutil

        shutil.rmtree(home, ignore_errors=True)
