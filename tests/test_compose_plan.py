"""Composition: frame planning, the filter graph, camera moves, and small real ffmpeg renders."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest
from PIL import Image, ImageChops, ImageStat

from aura.errors import MediaError
from aura.media.audio import silence, wav_duration, write_wav
from aura.media.compose import MAX_CLIPS_PER_SEGMENT, MAX_SCENES_PER_SEGMENT, render, segment_name, segments
from aura.media.plan import MOTIONS, CompositionPlan, Footage, overscan_size, plan_shots
from aura.media.graphs import join_args, segment_args
from aura.media.ffmpeg import ffmpeg_path, run_ffmpeg
from aura.media.probe import probe
from aura.media.subtitles import build_cues, write_ass
from aura.models import VideoRequest
from aura.providers.tts import EspeakTTS
from aura.stages.compose import motions_for, verify_video, write_thumbnail
from aura.store import ArtifactStore

WIDTH, HEIGHT, FPS = 320, 180, 25
NARRATION_S = 3.0
SCENE_STARTS = [0.0, 1.0, 2.0]
SPOKEN = "Lava flows down the hill and cools into rock."
ASS_NAME = "subtitles.ass"


def _ffmpeg_children() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "ffmpeg" in child.name() and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


# --------------------------------------------------------------------------- plan_shots


def _check_plan(clips, total, starts, duration, fps, exact_bounds: bool) -> None:
    assert total == max(len(starts), round(duration * fps))
    assert sum(c.frames for c in clips) == total
    assert clips[0].first_frame == 0
    for clip in clips:
        assert clip.frames >= 1
    for before, after in zip(clips, clips[1:]):
        assert after.first_frame == before.first_frame + before.frames
    assert clips[-1].first_frame + clips[-1].frames == total
    if exact_bounds:
        for clip, start in zip(clips[1:], starts[1:]):
            assert clip.first_frame == round(start * fps)


@pytest.mark.parametrize("fps", [24, 25, 30, 60])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_plan_shots_fills_the_narration_frame_for_frame(fps, seed):
    rng = random.Random(seed * 100 + fps)
    count = rng.randint(2, 40)
    starts = [0.0]
    for _ in range(count - 1):
        starts.append(round(starts[-1] + rng.uniform(0.6, 9.0), 3))  # odd, unrounded starts
    duration = round(starts[-1] + rng.uniform(0.8, 6.0), 4)
    images = [Path(f"scene_{i:03d}.png") for i in range(count)]
    clips, total = plan_shots(images, starts, duration, fps, list(MOTIONS))
    _check_plan(clips, total, starts, duration, fps, exact_bounds=True)
    assert [c.source for c in clips] == images
    assert {c.motion for c in clips} <= set(MOTIONS)


@pytest.mark.parametrize("fps", [24, 25, 30, 60])
def test_plan_shots_gives_crowded_scenes_one_frame_each(fps):
    # scenes bunched at the very end (and more scenes than frames) must still each be seen
    cases = [
        ([0.0, 0.99, 1.0], 1.0),
        ([0.0, 0.5, 0.999, 1.0, 1.0], 1.0),
        ([0.0, 0.001, 0.002, 0.003], 0.01),
        ([0.0] * 6, 2.0),
    ]
    for starts, duration in cases:
        clips, total = plan_shots([Path(f"{i}.png") for i in range(len(starts))], starts, duration, fps, ["zoom_in"])
        _check_plan(clips, total, starts, duration, fps, exact_bounds=False)


def test_plan_shots_needs_one_image_per_scene():
    with pytest.raises(MediaError, match="one image or clip per scene"):
        plan_shots([Path("a.png")], [0.0, 1.0], 2.0, 25, ["zoom_in"])
    with pytest.raises(MediaError):
        plan_shots([], [], 2.0, 25, ["zoom_in"])


# --------------------------------------------------------------------------- the filter graph


def _plan(tmp: Path, images: list[Path], narration: Path, *, music: Path | None = None, starts=None,
          duration: float = NARRATION_S, output: Path | None = None, subtitles: str | None = ASS_NAME) -> CompositionPlan:
    starts = starts if starts is not None else SCENE_STARTS[: len(images)]
    clips, total = plan_shots(images, starts, duration, FPS, list(MOTIONS))
    return CompositionPlan(
        width=WIDTH,
        height=HEIGHT,
        fps=FPS,
        total_frames=total,
        shots=clips,
        narration=narration,
        output=output or tmp / "out.mp4",
        fade_frames=4,
        subtitles_ass=subtitles,
        workdir=tmp,
        music=music,
    )


def _graph(args: list[str]) -> str:
    return args[args.index("-filter_complex") + 1]


def _inputs(args: list[str]) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args) if a == "-i"]


def test_graphs_hold_no_user_text(tmp_path):
    narration_text = "Lava: it's 1,200 °C; [hot] 'really' \\ hot, 50% of it."
    weird_dir = tmp_path / narration_text.replace("/", "_")
    images = [weird_dir / f"scene {i}.png" for i in range(3)]
    plan = _plan(weird_dir, images, weird_dir / "narration.wav", music=weird_dir / "music [1].wav")
    [group] = segments(plan.shots)
    args = segment_args(plan, group, segment_name(0), ken_burns=True)
    graph = _graph(args)
    assert "Lava" not in graph and "°C" not in graph
    assert str(weird_dir) not in graph  # paths are ffmpeg inputs, never filter arguments
    ass_arg = graph.split("ass=", 1)[1].split("[", 1)[0]
    assert ass_arg == ASS_NAME  # a bare file name, resolved in the workdir
    assert _inputs(args) == [str(image) for image in images]
    with_sound = segment_args(plan, group, segment_name(0), ken_burns=True, audio_output="segments/sound.m4a")
    assert str(weird_dir) not in _graph(with_sound)
    assert _inputs(with_sound)[-2:] == [str(weird_dir / "narration.wav"), str(weird_dir / "music [1].wav")]
    join = join_args(plan, "segments/segments.txt", "segments/sound.m4a")
    assert "-filter_complex" not in join  # nothing is filtered again: both streams are copied
    assert _inputs(join) == ["segments/segments.txt", "segments/sound.m4a"]


@pytest.mark.parametrize("count", [1, 3, 7, 13])
def test_scenes_render_a_few_per_segment_of_their_own_frames_and_the_join_copies_them(tmp_path, count):
    images = [tmp_path / f"{i}.png" for i in range(count)]
    starts = [i * 0.4 for i in range(count)]
    plan = _plan(tmp_path, images, tmp_path / "n.wav", starts=starts, duration=count * 0.4 + 0.5)
    groups = segments(plan.shots)
    assert [shot for group in groups for shot in group] == plan.shots  # every scene once, in order
    assert all(len(group) <= MAX_SCENES_PER_SEGMENT for group in groups)
    assert len(groups) == -(-count // MAX_SCENES_PER_SEGMENT)
    for index, group in enumerate(groups):
        args = segment_args(plan, group, segment_name(index), ken_burns=True)
        graph = _graph(args)
        assert args[args.index("-frames:v") + 1] == str(sum(shot.frames for shot in group))
        assert "-an" in args and args[args.index("-vcodec") + 1] == "libx264"
        for shot in group:  # each still repeated after one conversion
            assert f"loop=loop={shot.frames - 1}:" in graph
        assert (f"concat=a=0:n={len(group)}:v=1" in graph) == (len(group) > 1)
        # its subtitles are drawn on the video's own timeline
        assert f"setpts=PTS+{group[0].first_frame / FPS:.6f}/TB" in graph
    join = join_args(plan, "segments/segments.txt", "segments/sound.m4a")
    assert join[join.index("-f") + 1] == "concat"
    assert join[join.index("-vcodec") + 1] == "copy" and join[join.index("-acodec") + 1] == "copy"
    sound = segment_args(plan, groups[0], segment_name(0), ken_burns=True, audio_output="segments/sound.m4a")
    graph = _graph(sound)
    assert "sidechaincompress" not in graph and "loudnorm" not in graph
    assert f"atrim=end={plan.duration:.6f}" in graph
    assert sound[-1] == "segments/sound.m4a" and sound.count("-acodec") == 1


def test_a_segment_holds_few_clips_so_memory_stays_flat(tmp_path):
    footage = [Footage(tmp_path / f"{i}.mp4", "clip", 3.0) if i % 2 else Footage(tmp_path / f"{i}.png") for i in range(20)]
    shots, _ = plan_shots(footage, [i * 1.0 for i in range(20)], 20.5, FPS, ["zoom_in"])
    groups = segments(shots)
    assert [shot for group in groups for shot in group] == shots
    assert all(sum(s.footage.kind == "clip" for s in group) <= MAX_CLIPS_PER_SEGMENT for group in groups)
    assert all(len(group) <= MAX_SCENES_PER_SEGMENT for group in groups)


def test_music_is_ducked_under_the_narration_and_the_mix_normalised(tmp_path):
    images = [tmp_path / f"{i}.png" for i in range(3)]
    plan = _plan(tmp_path, images, tmp_path / "n.wav", music=tmp_path / "music.wav")
    [group] = segments(plan.shots)
    args = segment_args(plan, group, segment_name(0), ken_burns=True, audio_output="segments/sound.m4a")
    graph = _graph(args)
    assert "sidechaincompress" in graph
    assert "loudnorm" in graph
    assert "[4:a]" in graph  # music is the input after the three stills and the narration
    music = args.index(str(tmp_path / "music.wav"))
    assert args[music - 3 : music] == ["-stream_loop", "-1", "-i"]


# --------------------------------------------------------------------------- camera moves


def test_motions_are_reproducible_and_never_repeat_back_to_back():
    sequences = set()
    for seed in range(40):
        request = VideoRequest(brief="volcanoes", seed=seed)
        moves = motions_for(request, 30)
        assert moves == motions_for(VideoRequest(brief="something else", seed=seed), 30)
        assert len(moves) == 30
        assert set(moves) <= set(MOTIONS)
        assert all(a != b for a, b in zip(moves, moves[1:]))
        sequences.add(tuple(moves))
    assert len(sequences) > 30  # the seed really chooses the moves
    # without a seed the brief decides, the same way every time
    assert motions_for(VideoRequest(brief="volcanoes"), 12) == motions_for(VideoRequest(brief="volcanoes"), 12)


# --------------------------------------------------------------------------- real renders


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> SimpleNamespace:
    """Three stills, a 3 s espeak narration, its subtitles and a 5 s music bed."""
    tmp = tmp_path_factory.mktemp("render")
    images = []
    for i, colour in enumerate([(200, 60, 30), (30, 120, 200), (40, 160, 60)]):
        image = Image.new("RGB", (358, 202), colour)
        for x in range(0, 358, 40):  # some texture so motion is visible to the encoder
            image.paste((250, 250, 250), (x, 0, x + 6, 202))
        path = tmp / f"scene_{i:03d}.png"
        image.save(path)
        images.append(path)

    speech = EspeakTTS().synthesize(SPOKEN, rate_wpm=200)
    assert speech.duration < NARRATION_S
    pcm = speech.pcm + silence(NARRATION_S - speech.duration, speech.sample_rate)
    pcm = pcm[: round(NARRATION_S * speech.sample_rate) * 2]
    narration = tmp / "narration.wav"
    write_wav(narration, pcm, speech.sample_rate)
    assert wav_duration(narration) == pytest.approx(NARRATION_S, abs=1e-3)

    cues = build_cues(speech.words, max_line_chars=24, end_limit=NARRATION_S)
    write_ass(cues, tmp / ASS_NAME, width=WIDTH, height=HEIGHT, font_name="DejaVu Sans", font_size=14)

    music = tmp / "music.wav"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=frequency=220:duration=5", "-ac", "2", str(music)])
    return SimpleNamespace(path=tmp, images=images, narration=narration, music=music)


@pytest.fixture(scope="module")
def rendered(workdir) -> Path:
    output = workdir.path / "video.mp4"
    render(_plan(workdir.path, workdir.images, workdir.narration, output=output), timeout=120)
    return output


def _check_video(path: Path) -> None:
    info = probe(path)
    video, audio = info.of_kind("video"), info.of_kind("audio")
    assert [(v.codec, v.width, v.height) for v in video] == [("h264", WIDTH, HEIGHT)]
    assert [a.codec for a in audio] == ["aac"]
    assert info.duration == pytest.approx(NARRATION_S, abs=0.1)


def test_render_makes_an_h264_aac_mp4_as_long_as_the_narration(rendered):
    _check_video(rendered)
    verify_video(rendered, SimpleNamespace(size=(WIDTH, HEIGHT)), NARRATION_S)  # the stage's own check agrees


def _frame(video: Path, at: float) -> Image.Image:
    png = video.with_name(f"{video.stem}_{at}.png")
    run_ffmpeg(["-ss", f"{at}", "-i", str(video), "-frames:v", "1", str(png)])
    with Image.open(png) as image:
        return image.convert("L")


def test_render_burns_the_subtitles_in(workdir, rendered):
    plain = workdir.path / "no_subtitles.mp4"
    render(_plan(workdir.path, workdir.images, workdir.narration, output=plain, subtitles=None), timeout=120)
    with_subs, without = _frame(rendered, 1.2), _frame(plain, 1.2)
    diff = ImageChops.difference(with_subs, without)
    bottom = diff.crop((0, HEIGHT * 2 // 3, WIDTH, HEIGHT))
    top = diff.crop((0, 0, WIDTH, HEIGHT // 3))
    assert ImageStat.Stat(bottom).mean[0] > 5 * max(ImageStat.Stat(top).mean[0], 0.5)


def test_render_with_music_keeps_one_audio_stream_and_the_length(workdir):
    output = workdir.path / "with_music.mp4"
    render(_plan(workdir.path, workdir.images, workdir.narration, music=workdir.music, output=output), timeout=120)
    _check_video(output)


def test_verify_video_names_what_is_wrong(rendered):
    with pytest.raises(MediaError, match=r"frame 320x180 \(want 1280x720\)"):
        verify_video(rendered, VideoRequest(brief="x"), NARRATION_S)
    with pytest.raises(MediaError, match=r"duration 3\.\d+ s \(narration is 9\.00 s\)"):
        verify_video(rendered, SimpleNamespace(size=(WIDTH, HEIGHT)), 9.0)


@pytest.mark.parametrize("aspect", ["16:9", "9:16", "1:1"])
def test_thumbnail_is_a_jpeg_of_the_frame_size(workdir, tmp_path, aspect):
    request = VideoRequest(brief="x", aspect=aspect)
    job = ArtifactStore(str(tmp_path)).job("t1")
    write_thumbnail(Footage(workdir.images[0]), request, job)
    with Image.open(job.path("thumbnail.jpg")) as thumb:
        assert thumb.format == "JPEG"
        assert thumb.size == request.size
        # the first still's colour, not black
        assert thumb.convert("RGB").getpixel((thumb.width // 2 + 15, thumb.height // 2))[0] > 150
    assert not list(job.folder.glob(".tmp-*"))


def test_render_of_a_missing_still_fails_cleanly(workdir, tmp_path):
    images = [workdir.images[0], tmp_path / "no_such_image.png", workdir.images[2]]
    output = tmp_path / "out.mp4"
    with pytest.raises(MediaError, match="ffmpeg failed"):
        render(_plan(workdir.path, images, workdir.narration, output=output), timeout=120)
    assert _ffmpeg_children() == []
    assert not output.exists() or output.stat().st_size == 0


def test_render_timeout_kills_ffmpeg(workdir, tmp_path):
    # ten minutes of video cannot finish in half a second; ffmpeg must not outlive the call
    plan = _plan(workdir.path, workdir.images, workdir.narration, starts=[0.0, 200.0, 400.0], duration=600.0,
                 output=tmp_path / "long.mp4")
    with pytest.raises((subprocess.TimeoutExpired, MediaError)):
        render(plan, timeout=0.5)
    assert _ffmpeg_children() == []


def test_overscan_stills_are_even_and_larger_than_the_frame():
    for size in [(320, 180), (1280, 720), (720, 1280), (1080, 1080), (1920, 1080)]:
        width, height = overscan_size(*size)
        assert width % 2 == 0 and height % 2 == 0
        assert width > size[0] and height > size[1]


def test_ffmpeg_is_the_one_on_path():
    assert shutil.which("ffmpeg") and Path(ffmpeg_path()).name == "ffmpeg"
