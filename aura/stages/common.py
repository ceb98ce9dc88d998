"""What every stage task shares: building a task from a policy, and the job's store."""

from __future__ import annotations

from prefect import Task
from prefect.tasks import exponential_backoff

from aura.options import StagePolicy
from aura.store import ArtifactStore, JobStore


def with_policy(task: Task, policy: StagePolicy) -> Task:
    """The task with the retries, backoff and timeout of a policy (PipelineOptions override the defaults)."""
    delays = exponential_backoff(backoff_factor=policy.retry_delay_s)(policy.retries) if policy.retries else 0
    return task.with_options(retries=policy.retries, retry_delay_seconds=delays, timeout_seconds=policy.timeout_s)


def open_job(store_url: str, job_id: str) -> JobStore:
    return ArtifactStore(store_url).job(job_id)
