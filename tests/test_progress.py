"""The run's progress: the design's stage weights, and a total that never goes backwards."""

from __future__ import annotations

from aura.progress import RunProgress
from aura.stages.pipeline import WEIGHTS


def test_the_total_follows_the_design_weights():
    # each stage declares its weight in its own module
    assert WEIGHTS == {"brief": 5, "script": 20, "voice": 25, "visuals": 30, "compose": 20}
    run = RunProgress(WEIGHTS)
    assert run.percent == 0.0
    run.update("brief", 1.0, "checks passed")
    run.update("script", 1.0)
    assert run.percent == 25.0
    run.update("visuals", 0.5, "slide 5/10")
    assert run.percent == 40.0 and run.describe() == "visuals: slide 5/10"
    for stage in WEIGHTS:
        run.update(stage, 1.0)
    assert run.percent == 100.0


def test_a_retried_stage_does_not_move_the_total_back_and_unknown_stages_are_ignored():
    run = RunProgress(WEIGHTS)
    run.update("voice", 0.8)
    run.update("voice", 0.1, "attempt 2")
    assert run.percent == 20.0
    run.update("uploading", 1.0)
    assert run.percent == 20.0
