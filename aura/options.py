"""Pipeline options: presets that override the stage tasks' own policies, and render knobs.

Each stage task declares the design's policy in its own decorator
(aura/stages/); a preset or a caller's options name only what they change,
and the flow applies them with Prefect's `task.with_options`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PresetName = Literal["default", "debug", "quick_demo"]


class StagePolicy(BaseModel):
    """What a preset changes of a stage task's policy; a field left out keeps the task's own value."""

    model_config = ConfigDict(extra="forbid")

    retries: int | None = Field(default=None, ge=0, le=10)
    retry_delay_s: float | None = Field(default=None, ge=0, le=600, description="First retry delay; doubles each retry.")
    timeout_s: float | None = Field(default=None, gt=0, le=7200)


class PipelineOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brief: StagePolicy | None = None
    script: StagePolicy | None = None
    voice: StagePolicy | None = None
    visuals: StagePolicy | None = None
    compose: StagePolicy | None = None
    x264_preset: str | None = Field(default=None, description="Overrides AURA_X264_PRESET.")
    crf: int | None = Field(default=None, ge=0, le=51, description="Overrides AURA_CRF.")
    ken_burns: bool = True
    karaoke: bool = Field(default=True, description="Highlight each word as it is spoken.")
    keep_work_files: bool = Field(
        default=True, description="Keep the stage outputs (narration, images, subtitles.ass) in work/ after the render."
    )

    def policy(self, stage: str) -> StagePolicy | None:
        """The changes to a stage's policy, None when the stage keeps its task's own."""
        return getattr(self, stage, None)

    @classmethod
    def preset(cls, name: str) -> PipelineOptions:
        try:
            return PRESETS[name].model_copy(deep=True)
        except KeyError:
            raise ValueError(f"preset {name!r} is unknown: use one of {', '.join(PRESETS)}") from None


PRESETS: dict[str, PipelineOptions] = {
    # the policies of the stage tasks' decorators, unchanged
    "default": PipelineOptions(),
    # fail fast, wait longer, show everything: for finding out why a run breaks
    "debug": PipelineOptions(
        brief=StagePolicy(retries=0, timeout_s=60),
        script=StagePolicy(retries=0, timeout_s=600),
        voice=StagePolicy(retries=0, timeout_s=600),
        visuals=StagePolicy(retries=0, timeout_s=900),
        compose=StagePolicy(retries=0, timeout_s=1800),
    ),
    # fastest path to a watchable result: quick encode, short timeouts, one retry
    "quick_demo": PipelineOptions(
        script=StagePolicy(retries=1, retry_delay_s=1, timeout_s=60),
        voice=StagePolicy(retries=1, retry_delay_s=1, timeout_s=90),
        visuals=StagePolicy(retries=0, timeout_s=120),
        compose=StagePolicy(retries=0, timeout_s=300),
        x264_preset="ultrafast",
        crf=26,
    ),
}
