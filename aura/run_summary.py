"""How each stage of a run ended, from Prefect's task-run states and aura's own measurements, as markdown.

Prefect records each stage's final state (Completed, Cached, TimedOut,
Failed...) and how often it ran; aura adds what only it measures: per
attempt, wall time, CPU time and peak memory of the process and the stage's
child processes (aura.usage). No Prefect in here: the flows read the
task runs and hand over their state names.
"""

from __future__ import annotations

from aura.models import StageReport
from aura.spend import Spend
from aura.usage import Attempt

SUMMARY_KEY = "aura-run-summary"


def _status(state_name: str | None, attempts: list[Attempt]) -> str:
    """The stage's status in the summary's words; Prefect's state first, the last attempt where it has none."""
    last = attempts[-1].outcome if attempts else None
    if state_name == "Cached":
        return "cached"
    if state_name == "TimedOut":
        return "timed out"
    if state_name == "Completed":
        return "completed"
    if state_name in ("Failed", "Crashed"):
        return "cancelled" if last == "cancelled" else state_name.lower()
    if state_name in ("Cancelled", "Cancelling"):
        return "cancelled"
    return last or "not run"  # never finished: stopped with its run, or never started


def stage_report(
    state_name: str | None, attempts: list[Attempt], *, runs: int | None = None, seconds: float = 0.0,
    provider: str | None = None, cached_from: str | None = None, message: str | None = None,
) -> StageReport:  # fmt: skip
    """One stage's row: how its task run ended and how often it ran (Prefect: `state_name`, `runs`, `seconds`),
    what each attempt cost where aura measured it (`attempts`), who served it."""
    status = _status(state_name, attempts)
    failed = status not in ("completed", "cached", "not run")
    error = (attempts[-1].error if attempts else None) or (" ".join((message or "").split())[:500] or None)
    return StageReport(
        status=status,
        state=state_name,
        attempts=runs if runs is not None else len(attempts),
        seconds=round(sum(a.usage.seconds for a in attempts) if attempts else seconds, 3),
        cpu_seconds=round(sum(a.usage.cpu_seconds for a in attempts), 3) if attempts else None,
        peak_memory_bytes=max(a.usage.peak_rss_bytes for a in attempts) if attempts else None,
        provider=provider,
        cached=status == "cached",
        cached_from=cached_from,
        error=error if failed else None,
    )


def _mib(value: int | None) -> str:
    return "–" if value is None else f"{value / 2**20:.0f} MiB"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} s"


def _cell(text: str | None) -> str:
    return (text or "–").replace("|", "\\|").replace("\n", " ")


def summary_markdown(
    reports: dict[str, StageReport], *, status: str, job_id: str, flow_run_id: str, video_url: str | None,
    error: str | None, published: dict[str, str] | None = None, spend: Spend | None = None,
) -> str:  # fmt: skip
    lines = [f"## Aura run {status}", ""]
    head = f"Job `{job_id}`, flow run `{flow_run_id}`"
    lines.append(f"{head}: [video.mp4]({video_url})" if video_url else f"{head}: no video")
    for target, url in (published or {}).items():
        lines += ["", f"Published on {target}: {url}"]
    if error:
        lines += ["", f"**Error:** {_cell(error)}"]
    lines += [
        "",
        "| stage | status | Prefect state | attempts | duration | peak memory | CPU time | provider | cached |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for stage, r in reports.items():
        cached = f"yes (job `{r.cached_from}`)" if r.cached and r.cached_from else "yes" if r.cached else "no"
        status_cell = r.status if not r.error else f"{r.status}: {_cell(r.error)[:160]}"
        lines.append(
            f"| {stage} | {status_cell} | {r.state or '–'} | {r.attempts} | {_seconds(r.seconds)} | {_mib(r.peak_memory_bytes)} "
            f"| {_seconds(r.cpu_seconds)} | {_cell(r.provider)} | {cached} |"
        )
    total = sum(r.seconds for r in reports.values())
    lines += ["", f"Stage time in all: {total:.2f} s. Voice and visuals run side by side and share the process's figures."]
    if spend is not None:
        lines += ["", f"**Spent:** {_cell(spend.describe())}"]
        lines += [f"- {model}: {use.tokens_in:,} tokens in, {use.tokens_out:,} out, ${use.usd:.6f}" for model, use in spend.llm.items()]
    return "\n".join(lines) + "\n"
