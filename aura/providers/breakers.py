"""Circuit breakers (pybreaker) whose state every process on the machine shares.

Prefect's process worker starts one process per flow run, so a breaker kept in
memory would forget an outage between runs. Here each breaker's state is a
small JSON file in a state folder, read and written under a file lock;
pybreaker notices state that another process changed. When the folder cannot
be written, the breaker falls back to memory and says so in the log.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pybreaker

from aura.supervision import Interrupted

try:
    import fcntl
except ImportError:  # Windows: one process at a time is still safe through the thread lock
    fcntl = None

log = logging.getLogger("aura.breakers")

_EMPTY = {"state": pybreaker.STATE_CLOSED, "counter": 0, "success_counter": 0, "opened_at": None}


class FileBreakerStorage(pybreaker.CircuitBreakerStorage):
    """One breaker's state in `<folder>/<name>.json`."""

    def __init__(self, folder: Path, name: str) -> None:
        super().__init__(name)
        folder.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", name)
        self._path = folder / f"{stem}.json"
        self._lock_path = folder / f"{stem}.lock"
        self._thread_lock = threading.Lock()
        self._lock_path.touch(exist_ok=True)  # fails here, not mid-call, when the folder is read-only

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock, open(self._lock_path, "a") as handle:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            yield  # closing the file releases the lock

    def _read(self) -> dict:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # no file yet, or a torn one: start closed
            data = {}
        return {**_EMPTY, **(data if isinstance(data, dict) else {})}

    def _change(self, **updates) -> None:
        with self._locked():
            data = self._read()
            for key, value in updates.items():
                data[key] = value(data[key]) if callable(value) else value
            tmp = self._path.with_name(f".{self._path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, self._path)

    @property
    def state(self) -> str:
        return self._read()["state"]

    @state.setter
    def state(self, state: str) -> None:
        self._change(state=state)

    def increment_counter(self) -> None:
        self._change(counter=lambda n: n + 1)

    def reset_counter(self) -> None:
        self._change(counter=0)

    def increment_success_counter(self) -> None:
        self._change(success_counter=lambda n: n + 1)

    def reset_success_counter(self) -> None:
        self._change(success_counter=0)

    @property
    def counter(self) -> int:
        return int(self._read()["counter"])

    @property
    def success_counter(self) -> int:
        return int(self._read()["success_counter"])

    @property
    def opened_at(self) -> datetime | None:
        value = self._read()["opened_at"]
        return datetime.fromisoformat(value) if value else None

    @opened_at.setter
    def opened_at(self, when: datetime) -> None:
        self._change(opened_at=when.isoformat())


_breakers: dict[tuple, pybreaker.CircuitBreaker] = {}
# each breaker's storage, so its opening time can be read without pybreaker's private attributes
_storages: dict[pybreaker.CircuitBreaker, pybreaker.CircuitBreakerStorage] = {}
_lock = threading.Lock()


def breaker_for(name: str, failures_to_open: int, cooldown_s: float, state_dir: Path | None = None) -> pybreaker.CircuitBreaker:
    """The breaker of one provider, sharing its state through `state_dir` (memory only when None)."""
    key = (name, failures_to_open, cooldown_s, str(state_dir) if state_dir else None)
    with _lock:
        if key not in _breakers:
            storage = _storage(name, state_dir)
            # throw_new_error_on_trip=False: the call that trips the breaker still reports its own error;
            # a stage stopped by its timeout or a cancellation says nothing about the service's health
            breaker = pybreaker.CircuitBreaker(
                fail_max=failures_to_open, reset_timeout=cooldown_s, name=name,
                state_storage=storage, throw_new_error_on_trip=False, exclude=[Interrupted],
            )  # fmt: skip
            _breakers[key], _storages[breaker] = breaker, storage
        return _breakers[key]


def _storage(name: str, state_dir: Path | None) -> pybreaker.CircuitBreakerStorage:
    if state_dir is not None:
        try:
            return FileBreakerStorage(Path(state_dir), name)
        except OSError as exc:
            log.warning("breaker state for %s kept in memory: %s is not writable (%s)", name, state_dir, exc)
    return pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)


def open_until(breaker: pybreaker.CircuitBreaker) -> datetime | None:
    """When an open breaker lets a trial call through again, or None when it is not open."""
    storage = _storages.get(breaker)
    if storage is None or breaker.current_state != pybreaker.STATE_OPEN or storage.opened_at is None:
        return None
    opened = storage.opened_at
    if opened.tzinfo is None:
        opened = opened.replace(tzinfo=timezone.utc)
    return opened + timedelta(seconds=breaker.reset_timeout)


def reset_breakers(state_dir: Path | None = None) -> None:
    """Forget every failure: in this process, and in `state_dir` for every process."""
    with _lock:
        _breakers.clear()
        _storages.clear()
    if state_dir is not None and Path(state_dir).is_dir():
        for path in Path(state_dir).glob("*.json"):
            path.unlink(missing_ok=True)
