"""The edit as a timeline: OpenTimelineIO written beside each video, exported through OTIO's adapters.

FCP 7 XML and FCPXML read back clip for clip; the MLT export, rendered by
`melt`, gives the same video cut for cut as Aura's own MP4.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import opentimelineio as otio
import pytest

from aura.media.ffmpeg import ffmpeg_path
from aura.media.plan import CompositionPlan, Footage, Shot
from aura.media.probe import probe
from aura.media.subtitles import Cue
from aura.media.timeline import FORMATS, build_timeline, write_as
from aura.models import VideoRequest
from flows.generate_video import generate_video

FPS = 30


def plan_of(folder: Path) -> CompositionPlan:
    """A still held 3 s, a 1 s clip looped over 100 frames, a 2.9 s clip slowed to 100 frames."""
    shots = [Shot(Footage(folder / "work/images/scene_000.png"), 0, 90, "zoom_in"),
             Shot(Footage(folder / "work/images/scene_001.mp4", "clip", 1.0), 90, 100, "pan_left"),
             Shot(Footage(folder / "work/images/scene_002.mp4", "clip", 2.9), 190, 100, "pan_left")]  # fmt: skip
    return CompositionPlan(720, 1280, FPS, 290, shots, folder / "work/narration.wav", folder / "video.mp4", fade_frames=4)


def test_each_scene_is_the_part_of_its_source_the_render_used(tmp_path):
    timeline = build_timeline(plan_of(tmp_path), [Cue(0.2, 1.5, ("Hello there",), ())], tmp_path, "T", tmp_path / "work/music.wav")
    video, narration, music = timeline.tracks
    assert [c.name for c in video] == ["Scene 1", "Scene 2", "Scene 2 (loop 2)", "Scene 2 (loop 3)", "Scene 2 (loop 4)", "Scene 3"]
    assert [c.source_range.duration.value for c in video] == [90, 30, 30, 30, 10, 100]  # the loop as repeated clips
    assert video[0].metadata["aura"]["ken_burns"] == "zoom_in"
    assert isinstance(video[-1].effects[0], otio.schema.LinearTimeWarp) and video[-1].metadata["aura"]["slowed"] > 1
    assert video[0].media_reference.target_url == "work/images/scene_000.png"  # relative to the job folder
    assert [m.name for m in video.markers] == ["Hello there"] and video.markers[0].marked_range.start_time.value == 6
    assert narration.duration().value == music.duration().value == 290 and timeline.metadata["aura"]["width"] == 720


@pytest.mark.parametrize("fmt", ["fcp7", "fcpxml", "edl"])
def test_editor_formats_read_back_clip_for_clip(tmp_path, fmt):
    timeline = build_timeline(plan_of(tmp_path), [], tmp_path, "T")
    back = otio.adapters.read_from_string(write_as(timeline, fmt), adapter_name=FORMATS[fmt], **({"rate": FPS} if fmt == "edl" else {}))
    ours = [c.source_range.duration.to_frames() for c in timeline.tracks[0].find_clips()]
    theirs = [round(c.duration().to_seconds() * FPS) for c in next(t for t in back.tracks if t.kind == "Video").find_clips()]
    assert len(theirs) == len(ours) and all(abs(a - b) <= 1 for a, b in zip(ours, theirs))


def test_a_format_no_adapter_writes_says_which_do():
    with pytest.raises(ValueError, match=r"cannot be written as 'aaf' here: the formats that work are otio, fcp7, fcpxml, edl, mlt"):
        write_as(otio.schema.Timeline(), "aaf")


def cut_times(video: Path) -> list[float]:
    """Where the picture changes at once (ffmpeg's scene score)."""
    shown = subprocess.run([ffmpeg_path(), "-hide_banner", "-i", str(video), "-an", "-vf", "select='gt(scene,0.25)',showinfo",
                            "-f", "null", "-"], capture_output=True, text=True, check=True).stderr  # fmt: skip
    return [float(t) for t in re.findall(r"pts_time:([0-9.]+)", shown)]


@pytest.fixture(scope="module")
def made(prefect_server, tmp_path_factory):
    """A 20 s job of three scenes from the user's own media: a red still, a short clip (looped), a blue still."""
    folder = tmp_path_factory.mktemp("timeline")
    red, clip, blue = folder / "red.png", folder / "bars.mp4", folder / "blue.png"
    for color, path in (("red", red), ("blue", blue)):
        subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", f"color={color}:s=720x1280", "-frames:v", "1", str(path)], check=True)
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=720x1280:r=30:d=1.5", "-pix_fmt", "yuv420p", str(clip)], check=True)
    from aura.input_rules import local_caller

    with local_caller():
        request = VideoRequest(brief="Three colours of the sea", duration_seconds=20, aspect="9:16", media=[str(red), str(clip), str(blue)], seed=1)
        return generate_video(request=request, preset="quick_demo", output=str(folder / "out"))


@pytest.mark.e2e
def test_the_mlt_export_renders_with_melt_to_the_same_video_cut_for_cut(made, tmp_path):
    assert shutil.which("melt"), "install melt (Debian's package; scripts/setup.sh does)"
    folder = Path(made.folder)
    exported = subprocess.run([sys.executable, "-m", "aura.cli", "export", str(folder), "--format", "mlt"],
                              capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    assert exported == str(folder / "timeline.mlt")
    rendered = tmp_path / "melt.mp4"
    # MLT's image loader (Qt) wants a display; offscreen it needs none
    env = {**os.environ, "DISPLAY": os.environ.get("DISPLAY", ":0"), "QT_QPA_PLATFORM": "offscreen"}
    subprocess.run(["melt", exported, "-consumer", f"avformat:{rendered}", "width=720", "height=1280", "frame_rate_num=30",
                    "frame_rate_den=1", "vcodec=libx264", "preset=ultrafast", "acodec=aac", "-silent"],
                   cwd=folder, env=env, check=True, capture_output=True, timeout=600)  # fmt: skip
    ours, theirs = probe(Path(made.paths()["video"])), probe(rendered)
    assert abs(ours.duration - theirs.duration) <= 0.1
    timeline = otio.adapters.read_from_file(str(folder / "timeline.otio"))
    scene_starts = sorted({c.range_in_parent().start_time.to_seconds() for c in timeline.tracks[0] if "loop" not in c.name})[1:]
    metadata = json.loads(Path(made.paths()["metadata"]).read_text())
    aura_starts = [scene["start"] for scene in metadata["timings"]["scenes"]][1:]  # Aura's own MP4 cuts here
    assert all(abs(a - b) <= 2 / FPS for a, b in zip(scene_starts, aura_starts)) and len(scene_starts) == len(aura_starts)
    cuts = cut_times(rendered)
    for start in scene_starts:
        assert any(abs(cut - start) <= 2 / FPS for cut in cuts), (start, cuts)


@pytest.mark.e2e
def test_a_bundle_holds_the_timeline_and_every_file_it_names(made, tmp_path):
    folder = Path(made.folder)
    target = tmp_path / "edit.zip"
    subprocess.run([sys.executable, "-m", "aura.cli", "export", str(folder), "--format", "fcp7", "--bundle", "--out", str(target)],
                   check=True, capture_output=True)  # fmt: skip
    with zipfile.ZipFile(target) as archive:
        names = set(archive.namelist())
    assert "timeline.xml" in names and "work/narration.wav" in names
    assert {n for n in names if n.startswith("work/images/")} == {f"work/images/{p.name}" for p in (folder / "work/images").iterdir()}
    wrong = subprocess.run([sys.executable, "-m", "aura.cli", "export", str(folder), "--format", "aaf"], capture_output=True, text=True)
    assert wrong.returncode == 2 and "these work: otio, fcp7, fcpxml, edl, mlt" in wrong.stderr and "Traceback" not in wrong.stderr
