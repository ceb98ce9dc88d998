"""The compose stage's logic, called without Prefect: outputs, metadata, and what it leaves behind."""

from __future__ import annotations

import json
from pathlib import Path

from aura.models import StageReport, VideoRequest
from aura.options import PipelineOptions
from aura.stages.pipeline import STAGE_NAMES as STAGES
from aura.settings import Settings
from aura.stages.brief import check_request
from aura.stages.compose import compose_task, remove_work_files, write_metadata
from aura.stages.script import write_script
from aura.stages.visuals import draw_stills
from aura.stages.voice import narrate
from aura.store import ArtifactStore


def _run_compose(tmp_path: Path, options: PipelineOptions):
    request = VideoRequest(brief="How snowflakes form", duration_seconds=10, aspect="1:1", fps=24)
    job = ArtifactStore(str(tmp_path)).job("job-1")
    report = check_request(request, tmp_path)
    script = write_script(request, Settings())
    narration = narrate(script, request, job, Settings())
    visuals = draw_stills(script, request, job, "slides")
    composition = compose_task.fn(request, script, narration, visuals, str(tmp_path), "job-1", options)
    stages = {name: StageReport(status="completed", attempts=1, seconds=0.1) for name in STAGES}
    result = write_metadata(job, request, script, narration, visuals, composition, report, stages, None, "default")
    return result, job, composition


def test_metadata_describes_every_output(tmp_path):
    result, job, composition = _run_compose(tmp_path, PipelineOptions())
    metadata = json.loads(Path(result.paths()["metadata"]).read_text(encoding="utf-8"))
    for key in ("video.mp4", "subtitles.srt", "thumbnail.jpg"):
        assert metadata["outputs"][key]["sha256"] == job.ref(key).sha256
    assert composition.job_id == "job-1" and composition.video == job.ref("video.mp4")
    assert metadata["video"] == {"width": 720, "height": 720, "fps": 24, "duration": result.duration}
    assert set(metadata["stages"]) == set(STAGES) and metadata["stages"]["compose"]["status"] == "completed"
    assert metadata["stage_seconds"]["compose"] == 0.1
    assert metadata["providers"]["ffmpeg"].startswith("ffmpeg version")
    assert (job.folder / "work" / "narration.wav").is_file()


def test_work_files_can_be_dropped_after_the_render(tmp_path):
    result, job, _ = _run_compose(tmp_path, PipelineOptions())
    remove_work_files(job)
    assert not (job.folder / "work").exists()
    assert all(Path(p).is_file() for p in result.paths().values())
