"""Shared fixtures: a real Prefect server for flow tests, isolated output and settings."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# circuit-breaker state is shared through a folder: the tests get their own, never the user's
_BREAKER_DIR = tempfile.mkdtemp(prefix="aura-test-breakers-")
atexit.register(shutil.rmtree, _BREAKER_DIR, True)
os.environ["AURA_STATE_DIR"] = _BREAKER_DIR

import pytest  # noqa: E402

from helpers.network import no_proxy, refused_port, silent_proxy  # noqa: E402,F401  (shared fixtures)


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """A temporary Prefect server (SQLite in a temp folder) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    # results must not land in the user's ~/.prefect: the harness isolates the database only
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(tmp_path_factory.mktemp("prefect-results"))
    # flows run in this process need no heartbeats (nothing here watches for crashed runs), and their
    # thread holds each flow's end by up to a second; runs under the tests' workers keep them
    with prefect_test_harness(server_startup_timeout=120), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@pytest.fixture(scope="session")
def prefect_api_url(prefect_server) -> str:
    """The session server's API, for runs in other processes (the CLI, as a user or a worker runs it)."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


@pytest.fixture
def fresh_settings(monkeypatch):
    """Re-read AURA_* after a test changes them, and again after it ends."""
    from aura.settings import reload_settings

    yield reload_settings
    monkeypatch.undo()
    reload_settings()


@pytest.fixture
def use_ffmpeg(monkeypatch):
    """Point this process's runs at another ffmpeg (a faulty one, helpers.faults), and back afterwards."""
    from aura.media import ffmpeg as ffmpeg_module

    def clear() -> None:
        for cached in (ffmpeg_module.ffmpeg_path, ffmpeg_module.ffprobe_path, ffmpeg_module.capabilities):
            cached.cache_clear()

    def use(path) -> None:
        monkeypatch.setenv("AURA_FFMPEG", str(path))
        clear()

    yield use
    monkeypatch.undo()
    clear()


@pytest.fixture(scope="module")
def api(gateway):
    """A client of the module's `gateway` fixture, with its token."""
    with gateway.client() as client:
        yield client


@pytest.fixture
def local_paths():
    """The test is the `aura` command on its user's machine: the paths it names are its own to read."""
    from aura.input_rules import local_caller

    with local_caller():
        yield


@pytest.fixture(autouse=True)
def _fresh_tts_breakers():
    """Circuit breakers are process-wide: one test's failing provider must not skip it in the next."""
    from aura.providers.breakers import reset_breakers

    reset_breakers(_BREAKER_DIR)
    yield
    reset_breakers(_BREAKER_DIR)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Each phase's report on the test item (item.rep_call...), for fixtures that keep evidence of a failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
