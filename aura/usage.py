"""What each attempt of a stage cost (wall time, CPU time, peak memory) and who served it, by task run id, for the summary.

Prefect records how a stage ended and how often it ran; this is what only
aura measures. Memory is the peak of this process plus the attempt's live
child processes (ffmpeg), sampled by one daemon thread every 0.1 s while
attempts are being measured. Process-wide figures: stages that run side by
side share them. No Prefect in here.
"""

from __future__ import annotations

import logging
import resource
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import psutil

SAMPLE_INTERVAL_S = 0.1
log = logging.getLogger("aura.stages")


@dataclass
class Usage:
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process (all threads) plus the child processes it reaped
    peak_rss_bytes: int = 0  # this process plus the attempt's live child processes


@dataclass
class Attempt:
    stage: str
    attempt: int
    outcome: str  # completed, failed, timed out, cancelled
    error: str | None
    usage: Usage


@dataclass(eq=False)
class Meter:
    """Measures one attempt from `start` to `stop`; `children` names its live child processes' pids."""

    children: Callable[[], Iterable[int]]
    usage: Usage = field(default_factory=Usage)

    def start(self) -> Meter:
        self._started, self._cpu0 = time.perf_counter(), _cpu_seconds()
        self.sample()
        with _lock:
            _metered.add(self)
            global _sampler
            if _sampler is None or not _sampler.is_alive():
                _sampler = threading.Thread(target=_sample_forever, name="aura-usage", daemon=True)
                _sampler.start()
        return self

    def stop(self) -> Usage:
        with _lock:
            _metered.discard(self)
        self.sample()
        self.usage.seconds = time.perf_counter() - self._started
        self.usage.cpu_seconds = _cpu_seconds() - self._cpu0
        return self.usage

    def sample(self) -> None:
        rss = _rss(_me) + sum(_rss(pid) for pid in self.children())
        self.usage.peak_rss_bytes = max(self.usage.peak_rss_bytes, rss)


def record(run_id: str | None, task_run_id: str | None, attempt: Attempt) -> None:
    """Log an attempt's cost, and keep it for its task run's summary."""
    cost = attempt.usage
    log.log(
        logging.INFO if attempt.outcome == "completed" else logging.WARNING,
        "%s attempt %d %s in %.2f s (CPU %.2f s, peak %.0f MiB)%s", attempt.stage, attempt.attempt, attempt.outcome,
        cost.seconds, cost.cpu_seconds, cost.peak_rss_bytes / 2**20, f": {attempt.error}" if attempt.error else "",
    )  # fmt: skip
    if task_run_id is not None:
        with _lock:
            _attempts.setdefault(task_run_id, []).append(attempt)
            _of_run.setdefault(run_id, set()).add(task_run_id)


def note(run_id: str | None, task_run_id: str, served_by: str | None, cached_from: str | None) -> None:
    """Who served a finished stage task run, and the job whose checkpoint it reused."""
    with _lock:
        _served[task_run_id] = (served_by, cached_from)
        _of_run.setdefault(run_id, set()).add(task_run_id)


def task_runs_of(run_ids: Iterable[str]) -> set[str]:
    """The task runs of these flow runs that reached a final state in this process."""
    with _lock:
        return {t for run_id in run_ids for t in _of_run.get(run_id, ())}


def served(task_run_id: str) -> tuple[str | None, str | None]:
    with _lock:
        return _served.get(task_run_id, (None, None))


def attempts_of(task_run_id: str) -> list[Attempt]:
    """The measured attempts of a task run in this process (none for one that ran elsewhere)."""
    with _lock:
        return list(_attempts.get(task_run_id, ()))


def forget_run(run_id: str) -> set[str]:
    """The run is over: drop what was kept of its task runs (their ids, for what else keeps them)."""
    with _lock:
        task_run_ids = _of_run.pop(run_id, set())
        for task_run_id in task_run_ids:
            _attempts.pop(task_run_id, None)
            _served.pop(task_run_id, None)
    return task_run_ids


_lock = threading.Lock()
_metered: set[Meter] = set()
_attempts: dict[str, list[Attempt]] = {}  # task run id -> its attempts
_served: dict[str, tuple[str | None, str | None]] = {}  # task run id -> who served it, the job it reused
_of_run: dict[str | None, set[str]] = {}  # flow run id -> its task runs kept here
_sampler: threading.Thread | None = None
_me = psutil.Process()


def _sample_forever() -> None:
    while True:
        with _lock:
            meters = list(_metered)
        for meter in meters:
            try:
                meter.sample()
            except Exception:  # noqa: BLE001,S112 - a process that vanished mid-sample is not an error
                continue
        time.sleep(SAMPLE_INTERVAL_S)


def _rss(proc: psutil.Process | int) -> int:
    try:
        return (proc if isinstance(proc, psutil.Process) else psutil.Process(proc)).memory_info().rss
    except psutil.Error:
        return 0


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
