"""The stages of a video, in the order the generate-video flow runs them, and their tasks as one run uses them."""

from __future__ import annotations

from typing import NamedTuple

from prefect import Task

from aura.options import PipelineOptions
from aura.settings import get_settings
from aura.stages import brief, compose, publish, script, visuals, voice
from aura.providers.images import motion
from aura.providers.images.motion import MotionSettings
from aura.stages.checkpoints import result_storage_for

JOB_FLOW = "generate-video"  # the flow's name (flows/generate_video.py): its runs are the video jobs
STAGES = (brief.STAGE, script.STAGE, voice.STAGE, visuals.STAGE, compose.STAGE)
STAGE_NAMES = tuple(stage.name for stage in STAGES)
WEIGHTS = {stage.name: stage.weight for stage in STAGES}
WHEN_ASKED = (publish.NAME,)  # stages a run has only when its settings ask for them (AURA_PUBLISH)


class StageTasks(NamedTuple):
    brief: Task
    script: Task
    voice: Task
    visuals: Task
    fallback: Task  # slides in place of visuals that failed: its own policy, whatever the preset
    compose: Task
    publish: Task  # only when AURA_PUBLISH asks for an upload


def stage_tasks(options: PipelineOptions, store_url: str, fresh: bool = False) -> StageTasks:
    """Every stage task with the run's preset applied (Prefect's `with_options`), its results kept with the
    artifact store's checkpoints, and `fresh` (run again and replace the checkpoint instead of reusing it)."""
    storage = result_storage_for(get_settings().result_storage_location(store_url))
    run_options = {"result_storage": storage, **({"refresh_cache": True} if fresh else {})}
    configured = [stage.task_for(options.policy(stage.name), **run_options) for stage in STAGES]
    if MotionSettings().model and (configured[3].timeout_seconds or 0) < motion.STAGE_TIMEOUT_S:
        configured[3] = configured[3].with_options(timeout_seconds=motion.STAGE_TIMEOUT_S)  # clips take minutes
    fallback = visuals.FALLBACK_STAGE.task_for(None, **run_options)
    return StageTasks(*configured[:4], fallback, configured[4], publish.STAGE.task_for(None, **run_options))


def stage_of(task_run_name: str) -> str | None:
    """The stage a task run belongs to, from its name ("voice-3f1", "visuals-fallback-0a2"): None for others."""
    name = task_run_name.rsplit("-", 1)[0]
    name = "visuals" if name == "visuals-fallback" else name  # slides in place of failed images
    return name if name in STAGE_NAMES or name in WHEN_ASKED else None
