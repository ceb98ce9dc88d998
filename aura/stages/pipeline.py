"""The stages of a video, in the order the generate-video flow runs them (progress bars, summaries, the gateway)."""

from aura.stages import brief, compose, script, visuals, voice

STAGES = (brief.STAGE, script.STAGE, voice.STAGE, visuals.STAGE, compose.STAGE)
STAGE_NAMES = tuple(stage.name for stage in STAGES)
WEIGHTS = {stage.name: stage.weight for stage in STAGES}
