"""Stage scopes: a deadline that really stops work, the child processes a stage owns, and what it cost.

A `Scope` wraps one attempt of one stage. When its deadline passes, or when
the run it belongs to is cancelled, it kills the stage's child processes
(ffmpeg, decoders) and marks itself interrupted; the stage's own loops call
`checkpoint()` between units of work (scenes, images, diffusion steps), so
pure-Python and GPU work stops at the next unit too. Whatever the stage then
raises (ffmpeg "killed", a provider error) becomes the scope's
interruption: `StageTimeout` (a TimeoutError, so Prefect records the task as
TimedOut) or `RunCancelled`.

Prefect's task timeout alone cannot do this: it raises in the task's thread
only when that thread next runs Python code, and it leaves child processes
running. No Prefect in here: the stage layer binds scopes to task runs.
"""

from __future__ import annotations

import contextvars
import logging
import resource
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import psutil

from aura import processes
from aura.errors import AuraError

log = logging.getLogger("aura.stages")
SAMPLE_INTERVAL_S = 0.1
_POLL_S = 0.05  # how often an interruptible wait looks for an interruption


class Interrupted(AuraError):
    """Work stopped on purpose: a deadline passed or the run was cancelled."""

    def __init__(self, message: str = "interrupted", stage: str | None = None):
        super().__init__(message)
        self.stage = stage


class StageTimeout(Interrupted, TimeoutError):
    """A stage ran past its timeout; its child processes were killed."""


class RunCancelled(Interrupted):
    """The run was cancelled (from the Prefect UI, the API, or a signal)."""


@dataclass
class Usage:
    """What one attempt cost. Process-wide figures: stages that run side by side share them."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process (all threads) plus the child processes it reaped
    peak_rss_bytes: int = 0  # this process plus the stage's live child processes


@dataclass
class Attempt:
    stage: str
    attempt: int
    outcome: str  # completed, failed, timed out, cancelled
    error: str | None
    usage: Usage
    started_at: float  # epoch seconds


_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("aura_scope", default=None)
_run_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("aura_run_id", default=None)


def current_run_id() -> str | None:
    """The flow run this thread works for (the logs' correlation id), if any."""
    scope = _scope.get()
    return scope.run.run_id if scope is not None and scope.run is not None else _run_id.get()


def bind_run(run_id: str | None) -> contextvars.Token:
    """This thread (and the tasks it starts) now works for `run_id`; `unbind_run` undoes it."""
    return _run_id.set(run_id)


def unbind_run(token: contextvars.Token) -> None:
    _run_id.reset(token)


def checkpoint() -> None:
    """Raise the current stage's interruption, if it has one: call between units of work."""
    scope = _scope.get()
    if scope is not None:
        scope.check()


T = TypeVar("T")


def call_interruptibly(work: Callable[[], T], timeout_s: float | None = None, what: str = "no answer") -> T:
    """Run a blocking call (a network request) in a daemon thread and wait for it, interruptibly.

    The wait ends with the call's result, with TimeoutError after `timeout_s`,
    or at once with the current stage's interruption; an abandoned call ends
    on its own soon after, as its sockets have timeouts too. Socket timeouts
    alone do not bound a call: DNS lookups ignore them and a server that
    drips bytes resets them.
    """
    outcome: dict[str, object] = {}
    done = threading.Event()
    context = contextvars.copy_context()  # the call's children still belong to this stage

    def target() -> None:
        try:
            outcome["value"] = context.run(work)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, name="aura-call", daemon=True).start()
    deadline = None if timeout_s is None else time.monotonic() + max(timeout_s, 0.0)
    while not done.wait(_POLL_S if deadline is None else max(0.0, min(_POLL_S, deadline - time.monotonic()))):
        checkpoint()
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"{what} within {timeout_s:.1f} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


class Scope:
    """One attempt of one stage: its deadline, its children, its cost (a context manager)."""

    def __init__(self, stage: str, timeout_s: float | None = None, run: RunControl | None = None, attempt: int = 1):
        self.stage = stage
        self.timeout_s = timeout_s
        self.run = run
        self.attempt = attempt
        self.interruption: Interrupted | None = None
        self.usage = Usage()
        self._children: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._deadline: float | None = None
        self._token: contextvars.Token | None = None
        self._owned = None

    # --- processes.Owner ---
    def adopt(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._children.add(proc)
            interrupted = self.interruption is not None
        if interrupted:  # started after the interruption: it must not outlive it
            processes.kill(proc)

    def release(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._children.discard(proc)

    def remaining_s(self) -> float | None:
        return None if self._deadline is None else self._deadline - time.monotonic()

    def check(self) -> None:
        if self.interruption is not None:
            raise self.interruption

    # --- interruption ---
    def interrupt(self, interruption: Interrupted) -> None:
        """Stop the stage: remember why, kill its children (the stage raises at its next check)."""
        with self._lock:
            if self.interruption is not None:
                return
            interruption.stage = interruption.stage or self.stage
            self.interruption = interruption
            children = list(self._children)
        for proc in children:
            processes.kill(proc)

    def expire_if_due(self, now: float) -> None:
        if self._deadline is not None and now >= self._deadline and self.interruption is None:
            self.interrupt(
                StageTimeout(
                    f"{self.stage} ran past its {self.timeout_s:g} s timeout: its child processes were stopped "
                    "(raise the stage's timeout in PipelineOptions or choose a faster preset)",
                    self.stage,
                )
            )

    def sample(self) -> None:
        rss = _rss(_me)
        with self._lock:
            children = list(self._children)
        rss += sum(_rss(psutil.Process(p.pid)) for p in children if p.poll() is None) if children else 0
        self.usage.peak_rss_bytes = max(self.usage.peak_rss_bytes, rss)

    # --- context manager ---
    def __enter__(self) -> Scope:
        self._started = time.perf_counter()
        self._started_at = time.time()
        self._cpu0 = _cpu_seconds()
        if self.timeout_s is not None:
            self._deadline = time.monotonic() + self.timeout_s
        self._token = _scope.set(self)
        self._owned = processes.owned_by(self)
        self._owned.__enter__()
        if self.run is not None:
            self.run._add(self)  # a run already cancelled interrupts the scope at once
        self.sample()
        _supervisor.watch(self)
        if self.interruption is not None:  # the run was cancelled before this stage began
            self.__exit__(type(self.interruption), self.interruption, None)
            raise self.interruption
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        _supervisor.unwatch(self)
        if isinstance(exc, TimeoutError) and self._deadline is not None and self._deadline - time.monotonic() < 1.0:
            # the caller's own timer on the same deadline (Prefect's task timeout) fired first: a timeout all the same
            self.expire_if_due(self._deadline)
        self.sample()
        with self._lock:
            leftovers = list(self._children)
        for proc in leftovers:  # a child the stage forgot must not outlive it
            processes.kill(proc)
        self._owned.__exit__(None, None, None)
        _scope.reset(self._token)
        self.usage.seconds = time.perf_counter() - self._started
        self.usage.cpu_seconds = _cpu_seconds() - self._cpu0
        failure = exc if exc_type is not None else None
        if failure is not None and self.interruption is not None and not isinstance(failure, Interrupted):
            # ffmpeg "killed" or a provider's error after the kill: the real reason is the interruption
            failure = self.interruption
        outcome = _outcome(failure)
        log.log(
            logging.INFO if outcome == "completed" else logging.WARNING,
            "%s attempt %d %s in %.2f s (CPU %.2f s, peak %.0f MiB)%s",
            self.stage, self.attempt, outcome, self.usage.seconds, self.usage.cpu_seconds,
            self.usage.peak_rss_bytes / 2**20, f": {_describe(failure)}" if failure is not None else "",
        )  # fmt: skip
        if self.run is not None:
            self.run._remove(self)
            self.run.record(Attempt(self.stage, self.attempt, outcome, _describe(failure), self.usage, self._started_at))
        if failure is not None and failure is not exc:
            raise failure from exc
        return False


def _outcome(failure: BaseException | None) -> str:
    if failure is None:
        return "completed"
    if isinstance(failure, StageTimeout):
        return "timed out"
    if isinstance(failure, RunCancelled) or not isinstance(failure, Exception):
        return "cancelled"  # also KeyboardInterrupt and Prefect's termination signal
    return "failed"


def _describe(failure: BaseException | None) -> str | None:
    if failure is None:
        return None
    return " ".join(str(failure).split())[:500] or type(failure).__name__


class RunControl:
    """One flow run as this process sees it: its stage scopes, their attempts, and its cancellation."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.cancel_reason: str | None = None
        self.attempts: list[Attempt] = []
        self._scopes: set[Scope] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)

    def cancel(self, reason: str) -> None:
        """Cancel every stage of the run now, and any that starts later."""
        with self._lock:
            if self.cancel_reason is None:
                self.cancel_reason = reason
            scopes = list(self._scopes)
        for scope in scopes:
            scope.interrupt(RunCancelled(reason, scope.stage))

    @property
    def cancelled(self) -> bool:
        return self.cancel_reason is not None

    def record(self, attempt: Attempt) -> None:
        with self._lock:
            self.attempts.append(attempt)

    def attempts_of(self, stage: str) -> list[Attempt]:
        with self._lock:
            return [a for a in self.attempts if a.stage == stage]

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no stage of the run is running (after a cancellation); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._scopes, timeout_s)

    def _add(self, scope: Scope) -> None:
        with self._lock:
            self._scopes.add(scope)
            reason = self.cancel_reason
        if reason is not None:
            scope.interrupt(RunCancelled(reason, scope.stage))

    def _remove(self, scope: Scope) -> None:
        with self._idle:
            self._scopes.discard(scope)
            self._idle.notify_all()


_runs: dict[str, RunControl] = {}
_runs_lock = threading.Lock()


def open_run(run_id: str) -> RunControl:
    """The control of a run in this process (created on first use, shared by its stages)."""
    with _runs_lock:
        return _runs.setdefault(run_id, RunControl(run_id))


def share_run(run_id: str, control: RunControl) -> None:
    """Let `run_id` (a subflow run in this process) act under another run's control: its
    stages are cancelled with that run and their attempts count in its ledger."""
    with _runs_lock:
        _runs[run_id] = control


def find_run(run_id: str | None) -> RunControl | None:
    with _runs_lock:
        return _runs.get(run_id) if run_id else None


def close_run(run_id: str) -> None:
    with _runs_lock:
        _runs.pop(run_id, None)


class _Supervisor:
    """One daemon thread per process: fires deadlines and samples memory of the active scopes."""

    def __init__(self) -> None:
        self._scopes: set[Scope] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, scope: Scope) -> None:
        with self._lock:
            self._scopes.add(scope)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="aura-supervisor", daemon=True)
                self._thread.start()
        self._wake.set()

    def unwatch(self, scope: Scope) -> None:
        with self._lock:
            self._scopes.discard(scope)

    def _loop(self) -> None:
        while True:
            with self._lock:
                scopes = list(self._scopes)
            now = time.monotonic()
            for scope in scopes:
                try:
                    scope.expire_if_due(now)
                    scope.sample()
                except Exception:  # noqa: BLE001,S112 - a process that vanished mid-sample is not an error
                    continue
            self._wake.wait(SAMPLE_INTERVAL_S)
            self._wake.clear()


_supervisor = _Supervisor()
_me = psutil.Process()


def _rss(proc: psutil.Process) -> int:
    try:
        return proc.memory_info().rss
    except psutil.Error:
        return 0


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

