"""The run summary: one row per stage (status, attempts, time, memory, CPU, provider, cached), as markdown."""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact

from aura.models import StageReport
from aura.options import STAGES
from aura.supervision import RunControl
from flows.calls import StageOutcome

SUMMARY_KEY = "aura-run-summary"


def stage_reports(control: RunControl, outcomes: dict[str, StageOutcome]) -> dict[str, StageReport]:
    """Every stage of the design, in order, from its attempts in this run and its checkpoint."""
    reports = {}
    for stage in STAGES:
        attempts = control.attempts_of(stage)
        outcome = outcomes.get(stage) or StageOutcome()
        if not attempts:
            status = "cached" if outcome.cached else "not run"
            reports[stage] = StageReport(
                status=status, seconds=round(outcome.seconds, 3), provider=outcome.provider,
                cached=outcome.cached, cached_from=outcome.cached_from,
            )  # fmt: skip
            continue
        last = attempts[-1]
        reports[stage] = StageReport(
            status=last.outcome,
            attempts=len(attempts),
            seconds=round(sum(a.usage.seconds for a in attempts), 3),
            cpu_seconds=round(sum(a.usage.cpu_seconds for a in attempts), 3),
            peak_memory_bytes=max(a.usage.peak_rss_bytes for a in attempts),
            provider=outcome.provider,
            cached=outcome.cached,  # a stage run elsewhere (the gpu pool) may have reused its checkpoint there
            cached_from=outcome.cached_from,
            error=last.error if last.outcome != "completed" else None,
        )
    return reports


def _mib(value: int | None) -> str:
    return "–" if value is None else f"{value / 2**20:.0f} MiB"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} s"


def _cell(text: str | None) -> str:
    return (text or "–").replace("|", "\\|").replace("\n", " ")


def summary_markdown(
    reports: dict[str, StageReport], *, status: str, job_id: str, flow_run_id: str, video_url: str | None, error: str | None
) -> str:
    lines = [f"## Aura run {status}", ""]
    head = f"Job `{job_id}`, flow run `{flow_run_id}`"
    lines.append(f"{head}: [video.mp4]({video_url})" if video_url else f"{head}: no video")
    if error:
        lines += ["", f"**Error:** {_cell(error)}"]
    lines += [
        "",
        "| stage | status | attempts | duration | peak memory | CPU time | provider | cached |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for stage, r in reports.items():
        cached = f"yes (job `{r.cached_from}`)" if r.cached and r.cached_from else "yes" if r.cached else "no"
        status_cell = r.status if not r.error else f"{r.status}: {_cell(r.error)[:160]}"
        lines.append(
            f"| {stage} | {status_cell} | {r.attempts} | {_seconds(r.seconds)} | {_mib(r.peak_memory_bytes)} "
            f"| {_seconds(r.cpu_seconds)} | {_cell(r.provider)} | {cached} |"
        )
    total = sum(r.seconds for r in reports.values())
    lines += ["", f"Stage time in all: {total:.2f} s. Voice and visuals run side by side and share the process's figures."]
    return "\n".join(lines) + "\n"


def publish_summary(markdown: str, description: str) -> None:
    create_markdown_artifact(markdown=markdown, key=SUMMARY_KEY, description=description[:200])
