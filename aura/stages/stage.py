"""What every stage shares: its one declaration, its policy, the scope of each attempt, and the job's store.

A stage module declares itself once, as `STAGE = Stage(...)` beside its
Prefect task, and the task's decorator carries the design's policy
(retries, retry delays, timeout, cache policy, retry condition). A preset
changes that policy with Prefect's own `task.with_options` (`Stage.task_for`),
nowhere else. A task hook notes who served each finished stage, for the
run's summary (aura.usage).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prefect import Task
from prefect.context import FlowRunContext, TaskRunContext
from prefect.tasks import exponential_backoff

from aura import usage
from aura.errors import ProviderUnavailable
from aura.options import StagePolicy
from aura.settings import Settings
from aura.store import ArtifactStore, JobStore
from aura.supervision import RunCancelled, Scope


def worth_retrying(task, task_run, state) -> bool:
    """Prefect retry condition: a cancelled run, or a provider that cannot work here, is not retried."""
    try:
        state.result()
    except (ProviderUnavailable, RunCancelled):
        return False
    except Exception:  # noqa: BLE001 - any other failure (a timeout too) may pass on a second try
        return True
    return True


def backoff(first_delay_s: float, retries: int) -> list[float]:
    """Retry delays that double from `first_delay_s` (Prefect's exponential_backoff, as a list)."""
    return exponential_backoff(backoff_factor=first_delay_s)(retries) if retries else [0.0]


@dataclass(frozen=True)
class Stage:
    """One stage of the pipeline, declared once in its module."""

    name: str
    label: str  # the CLI's progress bar
    weight: float  # its share of a whole run's progress
    task: Task = field(repr=False)
    served_by: Callable[[Any], str | None] = field(default=lambda output: None, repr=False)  # the summary's provider

    def __post_init__(self) -> None:
        if self._note_server not in self.task.on_completion_hooks:
            self.task.on_completion_hooks.append(self._note_server)

    def _note_server(self, task: Task, task_run, state) -> None:
        """Task hook: who served the stage, and the job whose checkpoint it reused (Cached)."""
        output = state.result(raise_on_failure=False)
        job_id = getattr(output, "job_id", None) if state.name == "Cached" else None
        usage.note(str(task_run.flow_run_id), str(task_run.id), self.served_by(output), job_id)

    def task_for(self, policy: StagePolicy | None, **options: Any) -> Task:
        """The stage's task with a preset's changes to its policy, and the run's own options."""
        changes = dict(options)
        if policy is not None:
            if policy.retries is not None:
                changes["retries"] = policy.retries
            if policy.retry_delay_s is not None:
                changes["retry_delay_seconds"] = backoff(policy.retry_delay_s, changes.get("retries", self.task.retries))
            if policy.timeout_s is not None:
                changes["timeout_seconds"] = policy.timeout_s
        return self.task.with_options(**changes) if changes else self.task

    def cache_key(self, inputs: dict[str, Any], settings: Settings | None = None) -> str | None:
        """The checkpoint key the stage's task computes for these inputs (None: never cached)."""
        key_for = getattr(self.task.cache_policy, "key", None)
        return key_for(inputs, settings) if key_for else None


@contextlib.contextmanager
def supervised(name: str | None = None) -> Iterator[Scope]:
    """One attempt of a stage inside its task run: the task's own timeout as the deadline, owned children, costs.

    Prefect enforces the same timeout; the scope is what stops a blocking call
    and kills the stage's child processes when it passes (aura.supervision).
    """
    ctx = TaskRunContext.get()
    timeout_s = ctx.task.timeout_seconds if ctx else None
    run_id = current_run_id()
    attempt = ctx.task_run.run_count if ctx else 1
    stage = name or (ctx.task.name if ctx else "stage")
    task_run_id = str(ctx.task_run.id) if ctx else None
    with Scope(stage, timeout_s=timeout_s, run_id=run_id, attempt=max(1, attempt), task_run_id=task_run_id) as scope:
        yield scope


def current_run_id() -> str | None:
    """The flow run this thread works for (its stages, progress and logs): Prefect's context says, in the
    flow's thread and in its tasks' threads alike."""
    ctx = FlowRunContext.get()
    return str(ctx.flow_run.id) if ctx is not None and ctx.flow_run is not None else None


def open_job(store_url: str, job_id: str) -> JobStore:
    return ArtifactStore(store_url).job(job_id)


class _ScopesEnforceTimeouts(logging.Filter):
    """Prefect warns that its timeout cannot stop blocking work in a worker thread; a stage's scope does."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Timeout of %s seconds configured for this task")


logging.getLogger("prefect.task_runs").addFilter(_ScopesEnforceTimeouts())
