"""The composition's plan: each scene's footage on the output timeline, and what one render needs.

Its own module so that both the graphs (aura.media.graphs) and the render
(aura.media.compose) import it, and neither imports the other's caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aura.errors import MediaError

# How much larger than the frame each still is rendered, so the camera can move.
OVERSCAN = 1.12


def overscan_size(width: int, height: int) -> tuple[int, int]:
    """Even size of the stills, OVERSCAN times the frame."""
    return (int(width * OVERSCAN) // 2 * 2, int(height * OVERSCAN) // 2 * 2)


MOTIONS = ("zoom_in", "pan_right", "zoom_out", "pan_left", "pan_up", "pan_down")
# A clip up to this much shorter than its scene is slowed down; a shorter one loops.
MAX_SLOWDOWN = 1.25


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
    encoder: dict[str, object] | None = None  # the video encoder's ffmpeg options (aura.media.encoders); None: libx264
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
