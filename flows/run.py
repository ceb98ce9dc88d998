"""One run of a flow as Aura runs it: set-up, the calls of its stages, progress, cancellation, and the summary.

Both flows open one (`with VideoRun(...) as run`) and their bodies are the
DAG. A run of its own (not a subflow in its parent's process) removes what
killed runs left half-written, publishes its progress artifact and watches
for its cancellation (flows/monitor.py), stops every stage when one fails,
and publishes the summary artifact: each stage's Prefect state, with the
time, CPU and memory that aura measured (aura.run_summary).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from prefect import Task, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.states import Cancelled, State

from aura import progress
from aura.models import VIDEO_KEY, StageReport, VideoRequest
from aura.options import PipelineOptions
from aura.run_summary import SUMMARY_KEY, stage_report, summary_markdown
from aura.settings import get_settings
from aura.stages.checkpoints import result_storage_for, reuse
from aura.stages.stage import Stage, open_job
from aura.store import file_url
from aura.supervision import RunCancelled, bind_run, close_run, find_run, open_run, share_run, unbind_run
from aura.stages.run_logs import attach_aura_logs
from flows.monitor import RunMonitor

STOP_GRACE_S = 15  # how long a failed or cancelled run waits for its other stages to stop


@dataclass
class Ended:
    """How a stage ended in this run: its task run's final state, and where a checkpoint came from."""

    state: str | None = None  # Prefect's state name: Completed, Cached, TimedOut, Failed...
    output: Any = None
    cached_from: str | None = None
    provider: str | None = None  # who served it, when its output does not say all (the gpu pool's worker)
    seconds: float = 0.0  # time spent checking a checkpoint


@dataclass
class Submitted:
    stage: Stage
    future: PrefectFuture
    call: tuple[tuple, dict]  # its arguments, to run it again when its checkpoint proves stale


class VideoRun:
    """The context of one flow run (see the module docstring); `outcome` is what the flow returns."""

    def __init__(
        self, request: VideoRequest, options: PipelineOptions, output: str | None, stages: tuple[Stage, ...],
        job_id: str | None = None,
    ):  # fmt: skip
        settings = get_settings()
        self.request, self.options, self.output, self.stages = request, options, output, stages
        self.store_url = settings.store_url(output)
        self.flow_run_id = str(flow_run.id) if flow_run.id else None
        self.run_id = self.flow_run_id or f"local-{int(time.time() * 1000)}"
        self.job = open_job(self.store_url, job_id or self.run_id)
        self.job_id = self.job.job_id
        self.storage = result_storage_for(settings.result_storage_location(self.store_url))
        self.ended: dict[str, Ended] = {}
        self.outcome: Any = None
        self.logger = get_run_logger()
        self._submitted: list[Submitted] = []
        self._parent = find_run(str(flow_run.parent_flow_run_id)) if flow_run.parent_flow_run_id else None
        if self._parent is not None:  # a subflow in its parent's process: cancelled with it, counted in its summary
            share_run(self.run_id, self._parent)
        self.control = self._parent or open_run(self.run_id)
        self.monitor = RunMonitor(self.run_id, self.control, {s.name: s.weight for s in stages})

    # --- calling stages ---
    def task(self, stage: Stage, refresh: bool = False) -> Task:
        """The stage's task with this run's preset (a policy named as its task), result storage, and `fresh`."""
        fresh = {"refresh_cache": True} if refresh or self.request.fresh else {}
        return stage.task_for(self.options.policy(stage.task.name), result_storage=self.storage, **fresh)

    def stage(self, stage: Stage, *args: Any, **kwargs: Any) -> Any:
        """Run a stage in this thread; its output, or its failure raised."""
        state = self.task(stage)(*args, return_state=True, **kwargs)
        return self._collect(stage, state, (args, kwargs))

    def submit(self, stage: Stage, *args: Any, **kwargs: Any) -> Submitted:
        """Start a stage in the task runner, beside this thread's work; `wait` collects it."""
        submitted = Submitted(stage, self.task(stage).submit(*args, **kwargs), (args, kwargs))
        self._submitted.append(submitted)
        return submitted

    def wait(self, submitted: Submitted) -> Any:
        submitted.future.wait()
        self._submitted.remove(submitted)
        return self._collect(submitted.stage, submitted.future.state, submitted.call)

    def _collect(self, stage: Stage, state: State, call: tuple) -> Any:
        """The stage's output; a checkpoint whose files are gone or changed is a miss, and the stage runs again."""
        started = time.perf_counter()
        self.ended[stage.name] = Ended(state.name)
        value = state.result()  # raises the stage's failure
        self.ended[stage.name].output = value
        if state.name != "Cached":
            return value
        usable = reuse(value, self.job) if hasattr(value, "media") else value
        if usable is None:
            self.logger.warning("the %s checkpoint points at files that are missing or changed: running it again", stage.name)
            args, kwargs = call
            return self._collect(stage, self.task(stage, refresh=True)(*args, return_state=True, **kwargs), call)
        cached_from = getattr(value, "job_id", None) or None
        self.ended[stage.name] = Ended("Cached", usable, cached_from, seconds=time.perf_counter() - started)
        progress.report(stage.name, 1.0, "reused from a checkpoint")
        return usable

    def record(self, name: str, ended: Ended) -> None:
        """How a stage ended elsewhere (a subflow, another pool's run)."""
        self.ended[name] = ended
        if ended.state == "Cached":
            progress.report(name, 1.0, "reused from a checkpoint")

    # --- the run's outcome ---
    def reports(self) -> dict[str, StageReport]:
        """Each stage of this flow, in order, as the summary and metadata.json show it."""
        reports = {}
        for stage in self.stages:
            ended = self.ended.get(stage.name) or Ended()
            provider = ended.provider or (stage.served_by(ended.output) if ended.output is not None else None)
            attempts = self.control.attempts_of(stage.name)  # aura's measures of each attempt
            reports[stage.name] = stage_report(ended.state, attempts, provider, ended.cached_from, ended.seconds)
        return reports

    def done(self, outcome: Any, message: str = "done") -> None:
        self.outcome = outcome
        self.monitor.finish(message)

    def __enter__(self) -> VideoRun:
        self._token = bind_run(self.control.run_id)
        attach_aura_logs()
        if self._parent is None:
            self.logger.info("job %s (correlation id %s): %s", self.job_id, self.run_id, self.request.brief[:80])
            self.job.remove_temporaries()  # left by an earlier attempt of this run that was killed
            swept = self.job.store.sweep_stale_temporaries()  # and by other runs that were killed (kill -9, a lost machine)
            if swept:
                self.logger.info("removed %d half-written file(s) that killed runs left behind", swept)
            self.monitor.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._parent is not None:  # the parent stops, summarises and closes
            close_run(self.run_id)
            unbind_run(self._token)
            return False
        cancelled = exc is not None and (self.control.cancelled or isinstance(exc, RunCancelled) or not isinstance(exc, Exception))
        status = "completed" if exc is None else "cancelled" if cancelled else "failed"
        error = None if exc is None else " ".join(str(exc).split()) or type(exc).__name__
        try:
            if exc is not None:
                self._stop_everything(f"the run {'was cancelled' if cancelled else 'failed'}: {error}")
                self.monitor.finish(f"{status}: {error[:150]}")
            self.monitor.__exit__(exc_type, exc, tb)
            self._summarise(status, error)
        finally:
            close_run(self.run_id)
            unbind_run(self._token)
        if cancelled and isinstance(exc, Exception):
            self.outcome = Cancelled(message=f"Cancelled: {error}")  # the run ends Cancelled, not Failed
            return True
        return False

    def _stop_everything(self, reason: str) -> None:
        """Interrupt the run's other stages (their children die), wait for them, and drop half-written files."""
        self.control.cancel(reason)
        self.control.wait_idle(STOP_GRACE_S)
        self.job.remove_temporaries()
        for submitted in self._submitted:  # how the stages beside the failure ended, once they stopped
            submitted.future.wait(1)
            self.ended.setdefault(submitted.stage.name, Ended(getattr(submitted.future.state, "name", None)))

    def _summarise(self, status: str, error: str | None) -> None:
        """The markdown run summary, whatever happened; it never hides the run's own outcome."""
        try:
            reports = self.reports()
            for name, r in reports.items():
                self.logger.info("%s: %s, %d attempt(s), %.2f s%s", name, r.status, r.attempts, r.seconds, " (cached)" if r.cached else "")
            video = self.job.path(VIDEO_KEY)
            url = file_url(self.store_url, self.job_id, VIDEO_KEY) if status == "completed" and video.is_file() else None
            markdown = summary_markdown(reports, status=status, job_id=self.job_id, flow_run_id=self.run_id, video_url=url, error=error)
            create_markdown_artifact(markdown=markdown, key=SUMMARY_KEY, description=f"{status}: job {self.job_id}"[:200])
        except Exception:  # noqa: BLE001 - a summary that cannot be written is logged, never raised over the result
            self.logger.exception("the run summary could not be written")
