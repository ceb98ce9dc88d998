"""What every stage task shares: its policy, its checkpoint, its scope, and the job's store."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from prefect import Task
from prefect.context import TaskRunContext
from prefect.tasks import exponential_backoff

from aura.errors import ProviderUnavailable
from aura.options import StagePolicy
from aura.store import ArtifactStore, JobStore
from aura.supervision import RunCancelled, Scope, find_run


def worth_retrying(task, task_run, state) -> bool:
    """Prefect retry condition: a cancelled run, or a provider that cannot work here, is not retried."""
    try:
        state.result()
    except (ProviderUnavailable, RunCancelled):
        return False
    except Exception:  # noqa: BLE001 - any other failure (a timeout too) may pass on a second try
        return True
    return True


def with_policy(task: Task, policy: StagePolicy, *, refresh: bool = False, **options) -> Task:
    """The task with a policy's retries and backoff; its timeout is enforced by the stage's scope.

    Prefect's own timeout is left unset on purpose: it cannot interrupt a
    blocking call in a worker thread and leaves child processes running,
    while the scope kills them (aura.supervision). A scope's timeout is a
    TimeoutError, so Prefect still records the task run as TimedOut.
    `refresh` recomputes the stage even when its checkpoint exists.
    """
    delays = exponential_backoff(backoff_factor=policy.retry_delay_s)(policy.retries) if policy.retries else 0
    configured = task.with_options(
        retries=policy.retries,
        retry_delay_seconds=delays,
        retry_condition_fn=worth_retrying,
        refresh_cache=refresh or None,
        **options,
    )
    configured.aura_timeout_s = policy.timeout_s
    return configured


@contextlib.contextmanager
def supervised(stage: str) -> Iterator[Scope]:
    """One attempt of a stage inside its task run: the policy's deadline, owned children, costs."""
    ctx = TaskRunContext.get()
    timeout_s = getattr(ctx.task, "aura_timeout_s", None) if ctx else None
    run_id = str(ctx.task_run.flow_run_id) if ctx and ctx.task_run.flow_run_id else None
    attempt = ctx.task_run.run_count if ctx else 1
    with Scope(stage, timeout_s=timeout_s, run=find_run(run_id), attempt=max(1, attempt)) as scope:
        yield scope


def open_job(store_url: str, job_id: str) -> JobStore:
    return ArtifactStore(store_url).job(job_id)
