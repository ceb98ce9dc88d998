"""The stages of a video, in the order the generate-video flow runs them, and their tasks as one run uses them."""

from __future__ import annotations

from typing import Any, NamedTuple

from prefect import Task

from aura.options import PipelineOptions
from aura.stages import brief, compose, script, visuals, voice

STAGES = (brief.STAGE, script.STAGE, voice.STAGE, visuals.STAGE, compose.STAGE)
STAGE_NAMES = tuple(stage.name for stage in STAGES)
WEIGHTS = {stage.name: stage.weight for stage in STAGES}


class StageTasks(NamedTuple):
    brief: Task
    script: Task
    voice: Task
    visuals: Task
    fallback: Task  # slides in place of visuals that failed: its own policy, whatever the preset
    compose: Task


def stage_tasks(options: PipelineOptions, result_storage: Any, fresh: bool = False) -> StageTasks:
    """Every stage task with the run's preset applied (Prefect's `with_options`), where its results go, and
    `fresh` (run again and replace the checkpoint instead of reusing it)."""
    run_options = {"result_storage": result_storage, **({"refresh_cache": True} if fresh else {})}
    configured = [stage.task_for(options.policy(stage.name), **run_options) for stage in STAGES]
    fallback = visuals.FALLBACK_STAGE.task_for(None, **run_options)
    return StageTasks(*configured[:4], fallback, configured[4])


def stage_of(task_run_name: str) -> str | None:
    """The stage a task run belongs to, from its name ("voice-3f1", "visuals-fallback-0a2"): None for others."""
    name = task_run_name.rsplit("-", 1)[0]
    name = "visuals" if name == "visuals-fallback" else name  # slides in place of failed images
    return name if name in STAGE_NAMES else None
