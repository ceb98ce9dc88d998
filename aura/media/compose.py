"""Render a video: a few scenes per ffmpeg run into segments, then one run that joins them by stream copy.

ffmpeg does every pixel. A still is converted to yuv420p once, repeated by the
`loop` filter and moved (Ken Burns: a pan is a moving crop of an over-sized
still, a zoom a per-frame rescale). A clip is fitted to its scene: cut, or
slowed a little, or looped when short; scaled and cropped to the frame;
converted to the video's fps; its sound dropped unless kept. Each scene dips
through black at its cuts and gets its subtitles burned in by libass on the
video's own timeline. The first run also mixes the audio: the (already
normalised) narration, music and kept clip sound ducked under it. The join
copies the segments' H.264 and that sound track into the MP4.

A few scenes per ffmpeg run keep memory flat however many scenes a video has
(a single run would hold a decoder for every clip at once), and share one
process start and encoder warm-up among them. The graphs are
built with ffmpeg-python's graph API (`aura.media.graphs`); they run under
aura's own supervision (aura.media.ffmpeg.run_ffmpeg: process group,
deadline, -progress). No frame passes through Python.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aura.errors import MediaError
from aura.media import graphs
from aura.media.ffmpeg import run_ffmpeg
from aura.media.graphs import OVERSCAN, overscan_size  # noqa: F401  (the stills' size, for the visuals stage)

MOTIONS = ("zoom_in", "pan_right", "zoom_out", "pan_left", "pan_up", "pan_down")
# A clip up to this much shorter than its scene is slowed down; a shorter one loops.
MAX_SLOWDOWN = 1.25
SEGMENTS_DIR = "segments"
AUDIO_FILE = f"{SEGMENTS_DIR}/sound.m4a"
# Scenes per segment: a run costs ~0.2 s to start, and each clip in it holds a decoder (~40 MiB at 1080p)
MAX_SCENES_PER_SEGMENT = 6
MAX_CLIPS_PER_SEGMENT = 3


@dataclass(frozen=True)
class Footage:
    """A scene's source file: a still, or a clip of `seconds` (with a sound track to keep or drop)."""

    path: Path
    kind: Literal["still", "clip"] = "still"
    seconds: float = 0.0
    keep_audio: bool = False


@dataclass(frozen=True)
class Shot:
    """A scene's footage on the output timeline: frames [first_frame, first_frame + frames)."""

    footage: Footage
    first_frame: int
    frames: int
    motion: str

    @property
    def source(self) -> Path:
        return self.footage.path

    def seconds(self, fps: int) -> float:
        return self.frames / fps

    def fit(self, fps: int) -> ClipFit:
        """How a clip fills the scene: cut to length, slowed a little, or looped."""
        scene, own = self.seconds(fps), self.footage.seconds
        if own <= 0 or own >= scene:
            return ClipFit(loop=False, stretch=1.0, read_s=scene)
        if scene / own <= MAX_SLOWDOWN:
            return ClipFit(loop=False, stretch=scene / own, read_s=own)
        return ClipFit(loop=True, stretch=1.0, read_s=scene)


@dataclass(frozen=True)
class ClipFit:
    loop: bool  # read the clip over and over (-stream_loop)
    stretch: float  # timestamps times this: 1.2 plays the clip at 1/1.2 speed
    read_s: float  # seconds of the (looped) clip read: ffmpeg decodes no more than that


@dataclass
class CompositionPlan:
    width: int
    height: int
    fps: int
    total_frames: int
    shots: list[Shot]
    narration: Path
    output: Path
    fade_frames: int = 0  # dip through black at each cut, this many frames on each side
    subtitles_ass: str | None = None  # file name relative to `workdir` (keeps it out of filter escaping)
    workdir: Path | None = None
    music: Path | None = None
    music_gain_db: float = -12.0
    clip_audio_gain_db: float = -8.0  # kept clip sound, before the ducking under the narration
    x264_preset: str = "veryfast"
    crf: int = 21
    audio_bitrate: str = "160k"

    @property
    def duration(self) -> float:
        return self.total_frames / self.fps

    def start_of(self, shot: Shot) -> float:
        return shot.first_frame / self.fps


def plan_shots(
    footage: Sequence[Footage | Path],
    scene_starts: list[float],
    duration: float,
    fps: int,
    motions: list[str],
) -> tuple[list[Shot], int]:
    """Frame ranges per scene so that scene i fills [start_i, start_i+1); a bare path is a still.

    Returns (shots, total_frames). Boundaries are rounded to whole frames once,
    cumulatively, so the video's length equals the audio's to within half a
    frame whatever the number of scenes.
    """
    if len(footage) != len(scene_starts) or not footage:
        raise MediaError("composition needs one image or clip per scene")
    total = max(len(footage), round(duration * fps))
    bounds = [min(round(s * fps), total) for s in scene_starts] + [total]
    bounds[0] = 0
    for i in range(1, len(bounds)):  # every scene keeps at least one frame
        bounds[i] = max(bounds[i], bounds[i - 1] + 1) if i < len(bounds) - 1 else bounds[i]
    for i in range(len(bounds) - 2, 0, -1):  # ...and leaves at least one frame for each scene after it
        bounds[i] = min(bounds[i], bounds[i + 1] - 1)
    shots = [
        Shot(
            footage=item if isinstance(item, Footage) else Footage(Path(item)),
            first_frame=bounds[i],
            frames=bounds[i + 1] - bounds[i],
            motion=motions[i % len(motions)],
        )
        for i, item in enumerate(footage)
    ]
    return shots, total


def segment_name(index: int) -> str:
    return f"{SEGMENTS_DIR}/segment_{index:03d}.mp4"


def segments(shots: list[Shot]) -> list[list[Shot]]:
    """Consecutive shots, a few at a time: at most MAX_SCENES_PER_SEGMENT, of which MAX_CLIPS_PER_SEGMENT clips."""
    groups: list[list[Shot]] = []
    for shot in shots:
        group = groups[-1] if groups else []
        full = len(group) >= MAX_SCENES_PER_SEGMENT
        clips_full = shot.footage.kind == "clip" and sum(s.footage.kind == "clip" for s in group) >= MAX_CLIPS_PER_SEGMENT
        if not group or full or clips_full:
            groups.append([shot])
        else:
            group.append(shot)
    return groups


def render(
    plan: CompositionPlan,
    ken_burns: bool = True,
    timeout: float | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> None:
    """Render every scene's segment, then join them with the audio into `plan.output`.

    The output path should be a temporary name the caller renames. The
    segments live in the workdir only while this runs.
    """
    workdir = Path(plan.workdir or plan.output.parent)
    (workdir / SEGMENTS_DIR).mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout if timeout else None
    done = 0
    groups = segments(plan.shots)
    try:
        for index, group in enumerate(groups):
            frames = sum(shot.frames for shot in group)
            # the first run also makes the sound track: it overlaps the encoding instead of following it
            args = graphs.segment_args(plan, group, segment_name(index), ken_burns, AUDIO_FILE if index == 0 else None)
            _run(args, workdir, deadline, timeout, _share(on_progress, done, frames, plan), frames / plan.fps)
            done += frames
        list_file = workdir / SEGMENTS_DIR / "segments.txt"
        list_file.write_text("".join(f"file '{Path(segment_name(i)).name}'\n" for i in range(len(groups))))
        join_progress = (lambda f: on_progress(0.95 + 0.05 * f)) if on_progress else None
        join = graphs.join_args(plan, f"{SEGMENTS_DIR}/{list_file.name}", AUDIO_FILE)
        _run(join, workdir, deadline, timeout, join_progress, plan.duration)
    finally:
        shutil.rmtree(workdir / SEGMENTS_DIR, ignore_errors=True)


def _share(on_progress, done: int, frames: int, plan: CompositionPlan):
    """A segment's own progress as its share of the whole render (the join takes the last 5 %)."""
    if on_progress is None:
        return None
    return lambda fraction: on_progress(0.95 * (done + fraction * frames) / plan.total_frames)


def _run(args: list[str], workdir: Path, deadline: float | None, timeout: float | None, on_progress, seconds: float) -> None:
    """One ffmpeg run inside the render's time limit; running past it names the whole limit."""
    left = None if deadline is None else deadline - time.monotonic()
    if left is not None and left <= 0:
        raise MediaError(f"ffmpeg ran past its {timeout:.0f} s limit and was stopped")
    try:
        run_ffmpeg(args, cwd=workdir, timeout=left, on_progress=on_progress, total_seconds=seconds)
    except MediaError:
        if deadline is not None and time.monotonic() >= deadline:
            raise MediaError(f"ffmpeg ran past its {timeout:.0f} s limit and was stopped") from None
        raise
