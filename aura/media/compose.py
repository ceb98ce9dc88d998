"""Build and run the one ffmpeg command that renders a video.

ffmpeg does every pixel: each scene's still is converted to yuv420p once,
repeated by the `loop` filter, moved (Ken Burns: a pan is a moving crop of
an over-sized still, a zoom a per-frame rescale), joined with short dips
through black at the cuts, and subtitles are burned in by libass. Audio is
the (already normalised) narration plus optional music ducked under it. No
frame passes through Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aura.errors import MediaError
from aura.media.audio import LOUDNESS_TARGET
from aura.media.ffmpeg import run_ffmpeg

# How much larger than the frame each still is rendered, so the camera can move.
OVERSCAN = 1.12
MOTIONS = ("zoom_in", "pan_right", "zoom_out", "pan_left", "pan_up", "pan_down")


def overscan_size(width: int, height: int) -> tuple[int, int]:
    """Even size of the stills, OVERSCAN times the frame."""
    return (int(width * OVERSCAN) // 2 * 2, int(height * OVERSCAN) // 2 * 2)


@dataclass(frozen=True)
class Clip:
    image: Path
    first_frame: int  # on the output timeline
    frames: int
    motion: str


@dataclass
class CompositionPlan:
    width: int
    height: int
    fps: int
    total_frames: int
    clips: list[Clip]
    narration: Path
    output: Path
    fade_frames: int = 0  # dip through black at each cut, this many frames on each side
    subtitles_ass: str | None = None  # file name relative to `workdir` (keeps it out of filter escaping)
    workdir: Path | None = None
    music: Path | None = None
    music_gain_db: float = -12.0
    x264_preset: str = "veryfast"
    crf: int = 21
    audio_bitrate: str = "160k"

    @property
    def duration(self) -> float:
        return self.total_frames / self.fps


def plan_clips(
    images: list[Path],
    scene_starts: list[float],
    duration: float,
    fps: int,
    motions: list[str],
) -> tuple[list[Clip], int]:
    """Frame ranges per scene so that scene i fills [start_i, start_i+1).

    Returns (clips, total_frames). Boundaries are rounded to whole frames once,
    cumulatively, so the video's length equals the audio's to within half a
    frame whatever the number of scenes.
    """
    if len(images) != len(scene_starts) or not images:
        raise MediaError("composition needs one image per scene")
    total = max(len(images), round(duration * fps))
    bounds = [min(round(s * fps), total) for s in scene_starts] + [total]
    bounds[0] = 0
    for i in range(1, len(bounds)):  # every scene keeps at least one frame
        bounds[i] = max(bounds[i], bounds[i - 1] + 1) if i < len(bounds) - 1 else bounds[i]
    for i in range(len(bounds) - 2, 0, -1):  # ...and leaves at least one frame for each scene after it
        bounds[i] = min(bounds[i], bounds[i + 1] - 1)
    clips = [
        Clip(image=image, first_frame=bounds[i], frames=bounds[i + 1] - bounds[i], motion=motions[i % len(motions)])
        for i, image in enumerate(images)
    ]
    return clips, total


def _motion_filter(clip: Clip, width: int, height: int) -> str:
    """Per-frame camera move over an over-sized still (n = frame number)."""
    last = max(1, clip.frames - 1)
    p = f"(n/{last})"
    if clip.motion in ("zoom_in", "zoom_out"):
        grow = p if clip.motion == "zoom_in" else f"(1-{p})"
        # rescale each frame between the frame size and the overscan size, crop the centre
        scale = (
            f"scale=w='trunc({width}*(1+{OVERSCAN - 1:.4f}*{grow})/2)*2':"
            f"h='trunc({height}*(1+{OVERSCAN - 1:.4f}*{grow})/2)*2':eval=frame:flags=bilinear"
        )
        return f"{scale},crop={width}:{height}"
    x, y = "(iw-ow)/2", "(ih-oh)/2"
    if clip.motion == "pan_right":
        x = f"(iw-ow)*{p}"
    elif clip.motion == "pan_left":
        x = f"(iw-ow)*(1-{p})"
    elif clip.motion == "pan_down":
        y = f"(ih-oh)*{p}"
    elif clip.motion == "pan_up":
        y = f"(ih-oh)*(1-{p})"
    else:  # still
        return f"crop={width}:{height}"
    return f"crop={width}:{height}:x='{x}':y='{y}'"


def _still_filter(clip: Clip, width: int, height: int, ken_burns: bool, fade_frames: int) -> str:
    ow, oh = overscan_size(width, height)
    # fit any input image to the over-sized canvas once, then convert once: the
    # loop repeats the converted frame instead of converting every frame
    fit = f"scale={ow}:{oh}:force_original_aspect_ratio=increase,crop={ow}:{oh},setsar=1,format=yuv420p"
    repeat = f"loop=loop={clip.frames - 1}:size=1:start=0,setpts=N/FRAME_RATE/TB"
    motion = _motion_filter(clip, width, height) if ken_burns else f"crop={width}:{height}"
    chain = f"{fit},{repeat},{motion},setsar=1"
    fade = min(fade_frames, clip.frames // 4)
    if fade:
        # fades touch only the frames in their window, unlike xfade, which made
        # the whole render twice as slow in measurements
        chain += f",fade=t=in:s=0:n={fade},fade=t=out:s={clip.frames - fade}:n={fade}"
    return chain


def build_filtergraph(plan: CompositionPlan, ken_burns: bool = True) -> str:
    parts = []
    n = len(plan.clips)
    for i, clip in enumerate(plan.clips):
        still = _still_filter(clip, plan.width, plan.height, ken_burns, plan.fade_frames)
        parts.append(f"[{i}:v]{still}[s{i}]")
    if n > 1:
        parts.append("".join(f"[s{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0[joined]")
        current = "joined"
    else:
        current = "s0"
    video_tail = f"trim=end_frame={plan.total_frames}"
    if plan.subtitles_ass:
        video_tail += f",ass={plan.subtitles_ass}"
    parts.append(f"[{current}]{video_tail},format=yuv420p[vout]")
    parts.append(_audio_graph(plan, narration_index=n, music_index=n + 1 if plan.music else None) + "[aout]")
    return ";".join(parts)


def _audio_graph(plan: CompositionPlan, narration_index: int, music_index: int | None) -> str:
    """Narration (+ ducked music), cut to the video's length.

    The voice stage already normalised the narration to -16 LUFS; only a mix
    with music needs loudnorm again (one pass: the narration dominates).
    """
    chain = f"[{narration_index}:a]aresample=48000"
    if music_index is not None:
        chain += (
            ",aformat=channel_layouts=stereo,asplit=2[narr][key];"
            f"[{music_index}:a]aresample=48000,aformat=channel_layouts=stereo,volume={plan.music_gain_db}dB[bed];"
            # the narration is the side-chain key: the music dips while someone speaks
            "[bed][key]sidechaincompress=threshold=0.03:ratio=8:attack=15:release=350[ducked];"
            "[narr][ducked]amix=inputs=2:duration=first:normalize=0,"
            f"loudnorm=I={LOUDNESS_TARGET['I']}:TP={LOUDNESS_TARGET['TP']}:LRA={LOUDNESS_TARGET['LRA']},"
            # loudnorm works at 192 kHz and leaves the layout open: pin both for the encoder
            "aresample=48000,aformat=channel_layouts=stereo"
        )
    chain += f",apad,atrim=end={plan.duration:.6f}"
    return chain


def _inputs(plan: CompositionPlan) -> list[str]:
    args: list[str] = []
    for clip in plan.clips:
        # one decoded frame per still; -framerate sets the link rate the loop filter inherits
        args += ["-framerate", str(plan.fps), "-i", str(clip.image)]
    args += ["-i", str(plan.narration)]
    if plan.music:
        args += ["-stream_loop", "-1", "-i", str(plan.music)]
    return args


def build_command(plan: CompositionPlan, ken_burns: bool = True) -> list[str]:
    graph = build_filtergraph(plan, ken_burns=ken_burns)
    return [
        *_inputs(plan),
        "-filter_complex", graph,
        "-map", "[vout]", "-map", "[aout]",
        "-map_metadata", "-1",  # no tags of any input (a music file's title, comments) travel into the video
        "-c:v", "libx264", "-preset", plan.x264_preset, "-crf", str(plan.crf),
        "-pix_fmt", "yuv420p", "-r", str(plan.fps), "-g", str(plan.fps * 2),
        "-c:a", "aac", "-b:a", plan.audio_bitrate, "-ar", "48000",
        "-movflags", "+faststart",
        "-f", "mp4", str(plan.output),
    ]  # fmt: skip


def render(
    plan: CompositionPlan,
    ken_burns: bool = True,
    timeout: float | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> None:
    """Run the composition; the output path should be a temporary name the caller renames."""
    run_ffmpeg(
        build_command(plan, ken_burns=ken_burns), cwd=plan.workdir, timeout=timeout,
        on_progress=on_progress, total_seconds=plan.total_frames / plan.fps,
    )  # fmt: skip
