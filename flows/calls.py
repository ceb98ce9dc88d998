"""Calling stage tasks inside the flow: checkpoints reused (or refused), and how each stage ended."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import Task, get_run_logger
from prefect.futures import PrefectFuture
from prefect.states import State

from aura import progress
from aura.options import StagePolicy
from aura.settings import get_settings
from aura.stages.checkpoints import reuse
from aura.stages.common import with_policy
from aura.store import JobStore
from aura.supervision import RunControl

STOP_GRACE_S = 15  # how long a failed or cancelled run waits for its other stages to stop


@dataclass
class StageOutcome:
    """How a stage ended in this run, beyond its attempts (aura.supervision records those)."""

    cached: bool = False
    cached_from: str | None = None
    provider: str | None = None
    seconds: float = 0.0  # time spent reading and checking a checkpoint


def _block_name(location: str) -> str:
    return "aura-results-" + hashlib.sha256(location.encode()).hexdigest()[:12]


def _is_folder(location: str) -> bool:
    return "://" not in location or location.startswith("file://")


def result_storage_for(location: str):
    """What Prefect's `result_storage` accepts for a location: a Path, or a saved fsspec block.

    A saved block puts its id into every result it writes, so another process
    (the parent of a deployed run, the UI) can read the result back.
    """
    if _is_folder(location):
        return Path(location.removeprefix("file://"))
    from prefect.filesystems import RemoteFileSystem

    try:
        return RemoteFileSystem.load(_block_name(location))
    except ValueError:  # not saved yet on this server
        block = RemoteFileSystem(basepath=location)
        block.save(_block_name(location), overwrite=True)
        return block


def flow_result_storage(location: str) -> Path | str:
    """The same storage, named without asking the server (a flow decorator's `result_storage`).

    A folder is a Path (results keep their absolute path); a URL is the slug of
    the block `result_storage_for` saves, loaded when the flow runs.
    """
    if _is_folder(location):
        return Path(location.removeprefix("file://"))
    return f"remote-file-system/{_block_name(location)}"


@dataclass
class PendingStage:
    """A stage that was started, with what it takes to run it again if its checkpoint proves stale."""

    stage: str
    started: State | PrefectFuture
    task: Task
    policy: StagePolicy
    args: tuple
    kwargs: dict


class StageCalls:
    """The run's way of calling stages: one result storage, `fresh` honoured, checkpoints checked."""

    def __init__(self, job: JobStore, store_url: str, fresh: bool):
        self.job = job
        self.fresh = fresh
        self.storage = result_storage_for(get_settings().result_storage_location(store_url))
        self.outcomes: dict[str, StageOutcome] = {}

    def configured(self, task: Task, policy: StagePolicy, refresh: bool = False) -> Task:
        return with_policy(task, policy, refresh=refresh or self.fresh, result_storage=self.storage)

    def run(self, stage: str, task: Task, policy: StagePolicy, *args: Any, **kwargs: Any) -> Any:
        """Call a stage in this thread and return its output."""
        state = self.configured(task, policy)(*args, return_state=True, **kwargs)
        return self.collect(PendingStage(stage, state, task, policy, args, kwargs))

    def submit(self, stage: str, task: Task, policy: StagePolicy, *args: Any, **kwargs: Any) -> PendingStage:
        """Start a stage in the task runner (side by side with others); `collect` waits for it."""
        future = self.configured(task, policy).submit(*args, **kwargs)
        return PendingStage(stage, future, task, policy, args, kwargs)

    def collect(self, pending: PendingStage) -> Any:
        """The stage's output; a checkpoint whose files are gone or changed is recomputed."""
        started = time.perf_counter()
        stage, state = pending.stage, pending.started
        if isinstance(state, PrefectFuture):
            state.wait()
            state = state.state
        value = state.result()  # raises the stage's failure
        outcome = self.outcomes.setdefault(stage, StageOutcome())
        if state.name != "Cached":
            return value
        usable = reuse(value, self.job) if hasattr(value, "media") else value
        if usable is None:
            get_run_logger().warning(
                "the %s checkpoint points at files that are missing or changed: running %s again", stage, stage
            )
            rerun = self.configured(pending.task, pending.policy, refresh=True)
            state = rerun(*pending.args, return_state=True, **pending.kwargs)
            return state.result()
        outcome.cached = True
        outcome.cached_from = getattr(value, "job_id", None) or None
        outcome.seconds = time.perf_counter() - started
        progress.report(stage, 1.0, "reused from a checkpoint")
        return usable


def stop_everything(control: RunControl, job: JobStore, reason: str) -> None:
    """Interrupt the run's other stages (their children die), wait for them, and drop half-written files."""
    control.cancel(reason)
    control.wait_idle(STOP_GRACE_S)
    job.remove_temporaries()
