"""Pipeline options: per-stage retry/timeout policies and render knobs, with presets."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

StageName = Literal["brief", "script", "voice", "visuals", "compose"]
STAGES: tuple[StageName, ...] = ("brief", "script", "voice", "visuals", "compose")
PresetName = Literal["default", "debug", "quick_demo"]


class StagePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retries: int = Field(default=0, ge=0, le=10)
    retry_delay_s: float = Field(default=2.0, ge=0, le=600, description="First retry delay; doubles each retry.")
    timeout_s: float = Field(gt=0, le=7200)


class PipelineOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brief: StagePolicy = StagePolicy(retries=0, timeout_s=30)
    # room for one model that hangs (AURA_LLM_TIMEOUT_S 50 s, 1 retry), then the offline writer
    script: StagePolicy = StagePolicy(retries=2, timeout_s=120)
    voice: StagePolicy = StagePolicy(retries=3, timeout_s=180)
    visuals: StagePolicy = StagePolicy(retries=2, timeout_s=300)
    compose: StagePolicy = StagePolicy(retries=0, timeout_s=600)
    x264_preset: str | None = Field(default=None, description="Overrides AURA_X264_PRESET.")
    crf: int | None = Field(default=None, ge=0, le=51, description="Overrides AURA_CRF.")
    ken_burns: bool = True
    karaoke: bool = Field(default=True, description="Highlight each word as it is spoken.")
    keep_work_files: bool = Field(
        default=True, description="Keep the stage outputs (narration, images, subtitles.ass) in work/ after the render."
    )

    def policy(self, stage: StageName) -> StagePolicy:
        return getattr(self, stage)

    @classmethod
    def preset(cls, name: str) -> PipelineOptions:
        try:
            return PRESETS[name].model_copy(deep=True)
        except KeyError:
            raise ValueError(f"preset {name!r} is unknown: use one of {', '.join(PRESETS)}") from None


PRESETS: dict[str, PipelineOptions] = {
    # the policies of the original design
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
        brief=StagePolicy(retries=0, timeout_s=30),
        script=StagePolicy(retries=1, retry_delay_s=1, timeout_s=60),
        voice=StagePolicy(retries=1, retry_delay_s=1, timeout_s=90),
        visuals=StagePolicy(retries=0, timeout_s=120),
        compose=StagePolicy(retries=0, timeout_s=300),
        x264_preset="ultrafast",
        crf=26,
    ),
}
