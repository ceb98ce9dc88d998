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


@dataclass
class StageOutcome:
    """How a stage ended in this run, beyond its attempts (aura.supervision records those)."""

    cached: bool = False
    cached_from: str | None = None
    provider: str | None = None
    seconds: float = 0.0  # time spent reading and checking a checkpoint


def result_storage_for(location: str):
    """What Prefect's `result_storage` accepts for a location: a Path, or a saved fsspec block."""
    if "://" not in location or location.startswith("file://"):
        return Path(location.removeprefix("file://"))
    from prefect.filesystems import RemoteFileSystem

    name = "aura-results-" + hashlib.sha256(location.encode()).hexdigest()[:12]
    try:
        return RemoteFileSystem.load(name)
    except ValueError:  # not saved yet on this server
        block = RemoteFileSystem(basepath=location)
        block.save(name, overwrite=True)
        return block


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
        state = self.configured(task, policy)(*args, return_state=True, **kwargs)
        return self.collect(stage, state, task, policy, args, kwargs)

    def submit(self, task: Task, policy: StagePolicy, *args: Any, **kwargs: Any) -> PrefectFuture:
        return self.configured(task, policy).submit(*args, **kwargs)

    def collect(self, stage: str, state_or_future, task: Task, policy: StagePolicy, args=(), kwargs=None) -> Any:
        """The stage's output; a checkpoint whose files are gone or changed is recomputed."""
        started = time.perf_counter()
        state: State = state_or_future
        if isinstance(state_or_future, PrefectFuture):
            state_or_future.wait()
            state = state_or_future.state
        value = state.result()  # raises the stage's failure
        outcome = self.outcomes.setdefault(stage, StageOutcome())
        if state.name != "Cached":
            return value
        usable = reuse(value, self.job) if hasattr(value, "media") else value
        if usable is None:
            get_run_logger().warning(
                "the %s checkpoint points at files that are missing or changed: running %s again", stage, stage
            )
            state = self.configured(task, policy, refresh=True)(*args, return_state=True, **(kwargs or {}))
            return state.result()
        outcome.cached = True
        outcome.cached_from = getattr(value, "job_id", None) or None
        outcome.seconds = time.perf_counter() - started
        progress.report(stage, 1.0, "reused from a checkpoint")
        return usable
