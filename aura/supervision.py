"""Stage scopes: deadlines that really stop work, and a run's stages stopped when it is cancelled or fails.

Ours because Prefect cannot do it: its task timeout interrupts a thread only
when it next runs Python code, and nothing of Prefect kills a task's child
processes. A `Scope` wraps one attempt of one stage: past its deadline, or
when its run is stopped (`cancel_run`, from the flow's hooks and its
cancellation watch), it kills the stage's children (ffmpeg) and the stage
raises at its next `checkpoint()` (between scenes, images, diffusion steps):
`StageTimeout` (a TimeoutError: Prefect records TimedOut) or `RunCancelled`.
No Prefect in here: the stage layer binds scopes to task runs.
"""

from __future__ import annotations

import contextvars
import subprocess
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from aura import processes, usage
from aura.errors import AuraError

_POLL_S = 0.05  # how often an interruptible wait looks for an interruption


class Interrupted(AuraError):
    """Work stopped on purpose: a deadline passed or the run was cancelled."""

    def __init__(self, message: str = "interrupted", stage: str | None = None):
        super().__init__(message)
        self.stage = stage


class StageTimeout(Interrupted, TimeoutError):
    """A stage ran past its timeout; its child processes were killed."""


class RunCancelled(Interrupted):
    """The run was cancelled (from the Prefect UI, the API, or a signal), or stopped because a stage failed."""


_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("aura_scope", default=None)


def checkpoint() -> None:
    """Raise the current stage's interruption, if it has one: call between units of work."""
    scope = _scope.get()
    if scope is not None:
        scope.check()


T = TypeVar("T")


def call_interruptibly(work: Callable[[], T], timeout_s: float | None = None, what: str = "no answer") -> T:
    """A blocking call (a network request, a wait on another run) in a daemon thread: its result, TimeoutError
    after `timeout_s`, or at once the current stage's interruption (socket timeouts alone bound no call: DNS
    ignores them, a server that drips bytes resets them; an abandoned call ends on its own soon after)."""
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
    """One attempt of one stage: its deadline, its children, its run, its cost (a context manager)."""

    def __init__(self, stage: str, timeout_s=None, run_id: str | None = None, attempt: int = 1, task_run_id=None):
        self.stage, self.timeout_s, self.run_id, self.attempt, self.task_run_id = stage, timeout_s, run_id, attempt, task_run_id
        self.interruption: Interrupted | None = None
        self._children: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._deadline = None if timeout_s is None else time.monotonic() + timeout_s
        self.meter = usage.Meter(lambda: [p.pid for p in list(self._children) if p.poll() is None])

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
        if self._deadline is not None and now >= self._deadline:
            self.interrupt(StageTimeout(
                f"{self.stage} ran past its {self.timeout_s:g} s timeout: its child processes were stopped "
                "(raise the stage's timeout in PipelineOptions or choose a faster preset)", self.stage,
            ))  # fmt: skip

    # --- context manager ---
    def __enter__(self) -> Scope:
        self.meter.start()
        self._token = _scope.set(self)
        self._owned = processes.owned_by(self)
        self._owned.__enter__()
        if self._deadline is not None:  # fires the deadline even while the stage blocks in a call
            self._timer = threading.Timer(max(0.0, self.remaining_s()), self.expire_if_due, args=(self._deadline,))
            self._timer.daemon = True
            self._timer.start()
        with _lock:
            _active.add(self)
            reason = _stopped.get(self.run_id) if self.run_id else None
        if reason is not None:  # the run was stopped before this stage began
            self.interrupt(RunCancelled(reason, self.stage))
            self.__exit__(RunCancelled, self.interruption, None)
            raise self.interruption
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._deadline is not None:
            self._timer.cancel()
            if isinstance(exc, TimeoutError) and self.remaining_s() < 1.0:
                # the caller's own timer on the same deadline (Prefect's task timeout) fired first: a timeout all the same
                self.expire_if_due(self._deadline)
        with self._lock:
            leftovers = list(self._children)
        for proc in leftovers:  # a child the stage forgot must not outlive it
            processes.kill(proc)
        self._owned.__exit__(None, None, None)
        _scope.reset(self._token)
        cost = self.meter.stop()
        failure = exc if exc_type is not None else None
        if failure is not None and self.interruption is not None and not isinstance(failure, Interrupted):
            failure = self.interruption  # ffmpeg "killed" or a provider's error after the kill: the real reason
        error = (" ".join(str(failure).split())[:500] or type(failure).__name__) if failure is not None else None
        usage.record(self.run_id, self.task_run_id, usage.Attempt(self.stage, self.attempt, _outcome(failure), error, cost))
        with _idle:
            _active.discard(self)
            _idle.notify_all()
        if failure is not None and failure is not exc:
            raise failure from exc
        return False


def _outcome(failure: BaseException | None) -> str:
    if failure is None or isinstance(failure, StageTimeout):
        return "completed" if failure is None else "timed out"
    # KeyboardInterrupt and Prefect's termination signal are cancellations too
    return "cancelled" if isinstance(failure, RunCancelled) or not isinstance(failure, Exception) else "failed"


_lock = threading.Lock()
_idle = threading.Condition(_lock)
_active: set[Scope] = set()
_stopped: dict[str, str] = {}  # run id -> why its stages stop


def cancel_run(run_id: str, reason: str) -> None:
    """Interrupt every stage of the run now, and any that starts later (until `end_run`)."""
    with _lock:
        _stopped.setdefault(run_id, reason)
        scopes = [scope for scope in _active if scope.run_id == run_id]
    for scope in scopes:
        scope.interrupt(RunCancelled(reason, scope.stage))


def stop_run(run_id: str, reason: str, grace_s: float) -> bool:
    """Cancel the run's stages and wait until none is left running; False when `grace_s` passed first."""
    cancel_run(run_id, reason)
    with _idle:
        return _idle.wait_for(lambda: not any(scope.run_id == run_id for scope in _active), grace_s)


def end_run(run_id: str) -> None:
    """The run is over in this process: forget that it was stopped."""
    with _lock:
        _stopped.pop(run_id, None)
