"""Child processes Aura owns: they die with their owner, on a timeout, a cancellation or a crash.

Every ffmpeg (and any other helper binary) is started through `run`, which

- starts the child in its own process group, so a kill reaches everything it started;
- asks Linux to SIGKILL the child if this process dies (PR_SET_PDEATHSIG), so even a
  `kill -9` of the worker leaves no orphaned ffmpeg behind;
- registers it with the current owner (a stage's scope, see aura.supervision), which kills
  it when the stage times out or the run is cancelled;
- kills it on any exception in the waiting thread (Ctrl-C, Prefect's own timeout);
- runs it at the render priority (nice 10 by default, AURA_RENDER_NICE): ffmpeg and job
  processes yield the CPU to the processes that answer requests (a Prefect server, the
  gateway), which otherwise wait seconds behind them on a small machine.

No Prefect in here: media and providers use it directly.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

_PR_SET_PDEATHSIG = 1


class Owner(Protocol):
    """Who a child process belongs to: told about it, and asked how long it may still run."""

    def adopt(self, proc: subprocess.Popen) -> None: ...

    def release(self, proc: subprocess.Popen) -> None: ...

    def remaining_s(self) -> float | None: ...

    def check(self) -> None: ...

    def expire_if_due(self, now: float) -> None: ...


_owner: contextvars.ContextVar[Owner | None] = contextvars.ContextVar("aura_process_owner", default=None)
_live: dict[int, subprocess.Popen] = {}
_live_lock = threading.Lock()


@contextlib.contextmanager
def owned_by(owner: Owner) -> Iterator[None]:
    """Children started inside this block (in this thread or context) belong to `owner`."""
    token = _owner.set(owner)
    try:
        yield
    finally:
        _owner.reset(token)


class Group:
    """The children of a few threads working together, inside the current owner (which still sees each of them):
    `kill_all` stops the rest when one of them fails."""

    def __init__(self) -> None:
        self.parent = _owner.get()
        self._children: set[subprocess.Popen] = set()
        self._lock = threading.Lock()

    def adopt(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._children.add(proc)
        if self.parent is not None:
            self.parent.adopt(proc)

    def release(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._children.discard(proc)
        if self.parent is not None:
            self.parent.release(proc)

    def remaining_s(self) -> float | None:
        return self.parent.remaining_s() if self.parent is not None else None

    def check(self) -> None:
        if self.parent is not None:
            self.parent.check()

    def expire_if_due(self, now: float) -> None:
        if self.parent is not None:
            self.parent.expire_if_due(now)

    def kill_all(self) -> None:
        with self._lock:
            children = list(self._children)
        for proc in children:
            kill(proc)


def _load_prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl()


def render_nice() -> int:
    """The niceness render work runs at (AURA_RENDER_NICE, 0 to 19)."""
    from aura.settings import get_settings

    return get_settings().render_nice


def _die_with(parent: int, nice: int) -> Callable[[], None] | None:
    """A preexec hook: SIGKILL for the child when `parent` (this process) dies, and at least `nice`."""
    if _prctl is None and not nice:
        return None

    def hook() -> None:
        # runs in the child between fork and exec: only the pre-resolved libc call and os calls, no imports
        if nice and os.getpriority(os.PRIO_PROCESS, 0) < nice:
            os.setpriority(os.PRIO_PROCESS, 0, nice)
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(137)

    return hook


@dataclass
class Completed:
    returncode: int
    stdout: bytes
    stderr: bytes


class ChildTimeout(Exception):
    """The child ran past the timeout given to `run` (the caller says what that means)."""

    def __init__(self, timeout_s: float, stderr: bytes = b""):
        super().__init__(f"ran past its {timeout_s:.0f} s limit")
        self.timeout_s = timeout_s
        self.stderr = stderr


def start(
    cmd: Sequence[str], *, cwd=None, stdin=None, stdout=None, stderr=None, env=None, serves_requests: bool = False
) -> subprocess.Popen:
    """Start an owned child (see the module docstring); `run` is the usual way in.

    `serves_requests`: a child that answers others (a Prefect server) keeps this process's priority.
    """
    nice = 0 if serves_requests else render_nice()
    proc = subprocess.Popen(
        list(cmd), cwd=cwd, stdin=stdin, stdout=stdout, stderr=stderr, env=env,
        start_new_session=True, preexec_fn=_die_with(os.getpid(), nice),
    )  # fmt: skip
    with _live_lock:
        _live[proc.pid] = proc
    owner = _owner.get()
    if owner is not None:
        owner.adopt(proc)
    return proc


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL the child's whole process group; safe to call on one that already ended."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


def stop(proc: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM the child's process group so it can clean up; SIGKILL whatever is left after `grace_s`."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        kill(proc)


def exit_reason(returncode: int) -> str:
    """How a child ended, in words: 'was killed by SIGSEGV', 'exited with code 3'."""
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return f"was killed by {name}" + (" (the out-of-memory killer sends it too)" if name == "SIGKILL" else "")


def forget(proc: subprocess.Popen) -> None:
    """A long-lived child `start`ed outside `run` has ended: drop it from the live list."""
    _forget(proc, None)


def _forget(proc: subprocess.Popen, owner: Owner | None) -> None:
    with _live_lock:
        _live.pop(proc.pid, None)
    if owner is not None:
        owner.release(proc)


def live_children() -> list[subprocess.Popen]:
    """Owned children still running in this process (the tests read the process table too)."""
    with _live_lock:
        return [p for p in _live.values() if p.poll() is None]


def run(
    cmd: Sequence[str],
    *,
    input: bytes | None = None,
    timeout: float | None = None,
    cwd=None,
    capture_stdout: bool = True,
    on_stdout_line: Callable[[bytes], None] | None = None,
) -> Completed:
    """Run a child to its end and return its exit status and output.

    The wait is bounded by `timeout` and by what the owner allows (a stage's
    deadline); an owner that cancels or times out kills the child and its
    interruption is raised here. `on_stdout_line` streams stdout line by line
    (ffmpeg's -progress) instead of collecting it.
    """
    owner = _owner.get()
    limit = _limit(timeout, owner)
    proc = start(
        cmd, cwd=cwd,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE if (capture_stdout or on_stdout_line) else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        if on_stdout_line is None:
            try:
                out, err = proc.communicate(input, timeout=limit)
            except subprocess.TimeoutExpired:
                kill(proc)
                out, err = proc.communicate()
                _raise_timeout(owner, timeout, limit, err)
        else:
            out, err = _stream(proc, on_stdout_line, limit, owner, timeout)
    except BaseException:
        # an exception in this thread (Ctrl-C, a timeout from outside) must not leave the child running
        kill(proc)
        with contextlib.suppress(Exception):
            proc.wait(5)
        raise
    finally:
        _forget(proc, owner)
    if owner is not None:
        owner.check()  # killed by its owner: the owner's reason, not "ffmpeg failed"
    return Completed(proc.returncode, out or b"", err or b"")


def _limit(timeout: float | None, owner: Owner | None) -> float | None:
    left = owner.remaining_s() if owner is not None else None
    limits = [t for t in (timeout, left) if t is not None]
    return max(0.01, min(limits)) if limits else None


def _raise_timeout(owner: Owner | None, timeout: float | None, limit: float | None, err: bytes) -> None:
    if owner is not None:
        # the owner's deadline may be what ended the wait (a hair before its own timer fired)
        owner.expire_if_due(time.monotonic() + 0.05)
        owner.check()
    raise ChildTimeout(timeout if timeout is not None else (limit or 0.0), err or b"")


def _stream(proc: subprocess.Popen, on_line, limit, owner, timeout) -> tuple[bytes, bytes]:
    """Read stdout line by line while stderr is drained in a thread; bounded by `limit`."""
    chunks: list[bytes] = []
    drain = threading.Thread(target=lambda: chunks.append(proc.stderr.read()), daemon=True)
    drain.start()
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        kill(proc)

    timer = threading.Timer(limit, expire) if limit is not None else None
    if timer:
        timer.daemon = True
        timer.start()
    try:
        for line in proc.stdout:
            with contextlib.suppress(Exception):  # a progress callback must never break the render
                on_line(line)
        proc.wait()
    finally:
        if timer:
            timer.cancel()
    drain.join(5)
    err = b"".join(chunks)
    if expired.is_set():
        _raise_timeout(owner, timeout, limit, err)
    return b"", err
