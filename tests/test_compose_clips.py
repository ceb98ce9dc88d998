"""Video clips as scene visuals: fitted to their scenes by real ffmpeg, checked the way a viewer would see them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers.media import MUSIC_HZ, band_level_db
from PIL import Image, ImageChops, ImageStat

from aura.media.audio import silence, write_wav
from aura.media.compose import render
from aura.media.plan import MAX_SLOWDOWN, CompositionPlan, Footage, plan_shots
from aura.media.ffmpeg import ffmpeg_path, ffprobe_path, run_ffmpeg
from aura.media.probe import probe
from aura.models import SceneVisual, VideoRequest, Visuals
from aura.stages.compose import footage_of, write_thumbnail
from aura.store import ArtifactStore

WIDTH, HEIGHT, FPS = 320, 180, 25


def _lavfi(out: Path, video: str, seconds: float, audio: str | None = None) -> Path:
    args = [ffmpeg_path(), "-v", "error", "-y", "-f", "lavfi", "-i", video]
    if audio:
        args += ["-f", "lavfi", "-i", audio, "-c:a", "aac", "-shortest"]
    subprocess.run([*args, "-t", str(seconds), "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("clips")
    bands = (  # a portrait clip in three bands: only the middle one survives a 16:9 centre crop
        "color=red:s=360x214:r=30[a];color=lime:s=360x212:r=30[b];color=blue:s=360x214:r=30[c];[a][b][c]vstack=3"
    )
    return {
        "portrait": _lavfi(tmp / "portrait.mp4", bands, 2.0),
        "moving": _lavfi(tmp / "moving.mp4", "testsrc2=s=640x360:r=25", 1.0),  # 1 s: loops in a 3 s scene
        "fast": _lavfi(tmp / "fast.mp4", "testsrc2=s=640x360:r=60", 2.6),  # 60 fps, a little short: slowed
        "loud": _lavfi(tmp / "loud.mp4", "color=gray:s=320x180:r=25", 4.0, audio=f"sine=f={MUSIC_HZ}:r=48000"),
    }


def _narration(tmp: Path, seconds: float) -> Path:
    """A silent narration, so any sound in the video is the clips'."""
    path = tmp / "narration.wav"
    write_wav(path, silence(seconds, 24000), 24000)
    return path


def _render(tmp: Path, footage: list[Footage], starts: list[float], seconds: float, name: str = "out.mp4") -> Path:
    shots, total = plan_shots(footage, starts, seconds, FPS, ["zoom_in"])
    output = tmp / name
    plan = CompositionPlan(
        width=WIDTH, height=HEIGHT, fps=FPS, total_frames=total, shots=shots,
        narration=_narration(tmp, seconds), output=output, workdir=tmp / "work",
    )  # fmt: skip
    render(plan, timeout=120)
    return output


def _frame(video: Path, at: float) -> Image.Image:
    png = video.with_name(f"{video.stem}_{at:.2f}.png")
    run_ffmpeg(["-ss", f"{at}", "-i", str(video), "-frames:v", "1", str(png)])
    with Image.open(png) as image:
        return image.convert("RGB")


def _difference(a: Image.Image, b: Image.Image) -> float:
    return ImageStat.Stat(ImageChops.difference(a, b).convert("L")).mean[0]


def _frame_count(video: Path) -> int:
    out = subprocess.run(
        [ffprobe_path(), "-v", "error", "-count_frames", "-select_streams", "v", "-show_entries",
         "stream=nb_read_frames", "-of", "json", str(video)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return int(json.loads(out)["streams"][0]["nb_read_frames"])


def test_a_portrait_clip_is_cropped_to_the_middle_of_a_16_9_frame(tmp_path, clips):
    video = _render(tmp_path, [Footage(clips["portrait"], "clip", 2.0)], [0.0], 2.0)
    info = probe(video)
    assert [(v.codec, v.width, v.height) for v in info.of_kind("video")] == [("h264", WIDTH, HEIGHT)]
    frame = _frame(video, 1.0)
    for x, y in [(10, 10), (WIDTH // 2, HEIGHT // 2), (WIDTH - 10, HEIGHT - 10)]:
        red, green, blue = frame.getpixel((x, y))
        assert green > 200 and red < 60 and blue < 60, (x, y, frame.getpixel((x, y)))  # the middle band fills it


def test_a_short_clip_loops_to_fill_its_scene(tmp_path, clips):
    # a 1 s clip in a 3 s scene: a second later the same picture comes round again
    video = _render(tmp_path, [Footage(clips["moving"], "clip", 1.0)], [0.0], 3.0)
    assert probe(video).duration == pytest.approx(3.0, abs=0.1)
    first, one_loop_later, half_way = _frame(video, 0.4), _frame(video, 1.4), _frame(video, 0.9)
    assert _difference(first, one_loop_later) < 3.0
    assert _difference(first, half_way) > 3 * max(_difference(first, one_loop_later), 1.0)
    assert _difference(first, _frame(video, 2.4)) < 3.0  # and round once more


def test_a_clip_a_little_short_is_slowed_and_converted_to_the_video_fps(tmp_path, clips):
    shots, _ = plan_shots([Footage(clips["fast"], "clip", 2.6)], [0.0], 3.0, FPS, ["zoom_in"])
    fit = shots[0].fit(FPS)
    assert not fit.loop and fit.stretch == pytest.approx(3.0 / 2.6) and fit.stretch <= MAX_SLOWDOWN
    video = _render(tmp_path, [Footage(clips["fast"], "clip", 2.6)], [0.0], 3.0)
    assert _frame_count(video) == 3 * FPS  # 60 fps in, exactly the video's 25 fps out
    # the last frames are still the clip's picture (no frozen black tail): not the same as a plain colour
    assert ImageStat.Stat(_frame(video, 2.9).convert("L")).stddev[0] > 20


def test_a_long_clip_is_cut_and_scenes_join_frame_for_frame(tmp_path, clips):
    footage = [Footage(clips["loud"], "clip", 4.0), Footage(clips["portrait"], "clip", 2.0), Footage(clips["moving"], "clip", 1.0)]
    video = _render(tmp_path, footage, [0.0, 1.2, 2.0], 3.3)
    info = probe(video)
    assert info.duration == pytest.approx(3.3, abs=0.1)
    assert _frame_count(video) == round(3.3 * FPS)
    green = _frame(video, 1.6).getpixel((WIDTH // 2, HEIGHT // 2))
    assert green[1] > 200 and green[0] < 60  # the second scene is the portrait clip's middle
    assert not (tmp_path / "work" / "segments").exists()  # the segments are gone once the video is joined


def test_a_clips_sound_is_dropped_unless_kept(tmp_path, clips):
    dropped = _render(tmp_path, [Footage(clips["loud"], "clip", 4.0)], [0.0], 3.0, "dropped.mp4")
    kept = _render(tmp_path, [Footage(clips["loud"], "clip", 4.0, keep_audio=True)], [0.0], 3.0, "kept.mp4")
    for video in (dropped, kept):
        info = probe(video)
        assert [a.codec for a in info.of_kind("audio")] == ["aac"]  # one audio stream either way
        assert info.duration == pytest.approx(3.0, abs=0.1)
    assert band_level_db(kept, 0.5, 2.5) > -40  # the clip's tone is under the (silent) narration
    assert band_level_db(dropped, 0.5, 2.5) < -70


def test_stills_and_clips_mix_in_one_video(tmp_path, clips):
    still = tmp_path / "still.png"
    Image.new("RGB", (400, 300), (200, 40, 40)).save(still)
    video = _render(tmp_path, [Footage(still), Footage(clips["portrait"], "clip", 2.0), Footage(still)], [0.0, 1.0, 2.0], 3.0)
    assert _frame_count(video) == 3 * FPS
    red, green = _frame(video, 0.5).getpixel((WIDTH // 2, HEIGHT // 2)), _frame(video, 1.5).getpixel((WIDTH // 2, HEIGHT // 2))
    assert red[0] > 150 and red[1] < 90
    assert green[1] > 200 and green[0] < 60


def test_a_clip_scene_gives_the_thumbnail_its_first_frame(tmp_path, clips):
    job = ArtifactStore(str(tmp_path)).job("t1")
    job.path("work/images").mkdir(parents=True)
    (job.path("work/images") / "scene_000.mp4").write_bytes(clips["portrait"].read_bytes())
    ref = job.publish("work/images/scene_000.mp4")
    visuals = Visuals(scenes=[SceneVisual(index=0, media=ref, kind="clip", seconds=2.0)], size=(358, 200), provider="t")
    request = VideoRequest(brief="x")
    write_thumbnail(footage_of(visuals, job)[0], request, job)
    with Image.open(job.path("thumbnail.jpg")) as thumb:
        assert thumb.size == request.size
        red, green, blue = thumb.convert("RGB").getpixel((thumb.width // 2, thumb.height // 2))
        assert green > 200 and red < 60
    assert not job.path("work/first_frame.png").exists()
