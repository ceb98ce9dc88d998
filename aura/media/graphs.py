"""The composition's ffmpeg graphs, built with ffmpeg-python's graph API.

ffmpeg-python composes the filter chains and escapes their arguments;
`get_args()` gives the argument list, which aura.media.ffmpeg.run_ffmpeg runs
as an owned process (ffmpeg-python's own `run()` has no process group,
deadline or progress). Paths are always inputs or outputs, never filter
arguments: user text (a folder name, a narration) never enters a graph.
"""

from __future__ import annotations

from collections import Counter

import ffmpeg

from aura.media.audio import LOUDNESS_TARGET
from aura.media.plan import OVERSCAN, CompositionPlan, Shot, overscan_size

SAMPLE_RATE = 48000


class Sources:
    """A graph's inputs. A file read twice with the same options is one input split in two: ffmpeg-python
    merges equal nodes, and ffmpeg wants a split filter where one stream feeds two chains."""

    def __init__(self, uses: list[tuple[str, str, dict]]):
        self._uses = Counter(_use_key(*use) for use in uses)
        self._splits: dict[tuple, object] = {}
        self._taken: Counter = Counter()

    def take(self, path: str, selector: str, options: dict):
        key = _use_key(path, selector, options)
        if self._uses[key] <= 1:
            return ffmpeg.input(path, **options)[selector]
        if key not in self._splits:
            stream = ffmpeg.input(path, **options)[selector]
            self._splits[key] = stream.split() if selector == "v" else stream.asplit()
        self._taken[key] += 1
        return self._splits[key][self._taken[key] - 1]


def _use_key(path: str, selector: str, options: dict) -> tuple:
    return (path, selector, tuple(sorted(options.items())))


def _picture_use(plan: CompositionPlan, shot: Shot) -> tuple[str, str, dict]:
    if shot.footage.kind == "clip":
        return (str(shot.source), "v", _clip_options(plan, shot))
    # -framerate sets the link rate the loop filter inherits: one decoded frame, repeated
    return (str(shot.source), "v", {"framerate": plan.fps})


def segment_args(
    plan: CompositionPlan, shots: list[Shot], output: str, ken_burns: bool, audio_output: str | None = None
) -> list[str]:
    """Consecutive scenes, video only, exactly their frames, encoded as the final video will carry them.

    With `audio_output`, the same run also mixes and encodes the whole sound track there: the audio
    work then overlaps the encoder's threads instead of running alone after the last scene.
    """
    sources = Sources([_picture_use(plan, shot) for shot in shots])
    pictures = []
    for shot in shots:
        source = sources.take(*_picture_use(plan, shot))
        picture = _clip(plan, shot, source) if shot.footage.kind == "clip" else _still(plan, shot, source, ken_burns)
        pictures.append(_fades(picture, shot, plan.fade_frames))
    picture = pictures[0] if len(pictures) == 1 else ffmpeg.concat(*pictures, v=1, a=0)
    if plan.subtitles_ass:
        # on the video's own timeline while libass draws, so each segment shows its own cues
        start = plan.start_of(shots[0])
        picture = picture.filter("setpts", f"PTS+{start:.6f}/TB").filter("ass", plan.subtitles_ass)
        picture = picture.filter("setpts", "PTS-STARTPTS")
    picture = picture.filter("format", "yuv420p")
    out = ffmpeg.output(
        picture, output,
        **(plan.encoder or {"vcodec": "libx264", "preset": plan.x264_preset, "crf": plan.crf}), pix_fmt="yuv420p",
        r=plan.fps, g=plan.fps * 2, an=None, map_metadata=-1, f="mp4",
        **{"frames:v": sum(shot.frames for shot in shots)},
    )  # fmt: skip
    if audio_output:
        sound = ffmpeg.output(
            _audio(plan), audio_output, acodec="aac", audio_bitrate=plan.audio_bitrate, ar=SAMPLE_RATE,
            map_metadata=-1, f="mp4",
        )  # fmt: skip
        out = ffmpeg.merge_outputs(out, sound)
    return out.get_args()


def _still(plan: CompositionPlan, shot: Shot, still, ken_burns: bool):
    ow, oh = overscan_size(plan.width, plan.height)
    # fit any image to the over-sized canvas once, then convert once: the loop repeats the converted frame
    still = (
        still.filter("scale", ow, oh, force_original_aspect_ratio="increase")
        .filter("crop", ow, oh)
        .filter("setsar", 1)
        .filter("format", "yuv420p")
        .filter("loop", loop=shot.frames - 1, size=1, start=0)
        .filter("setpts", "N/FRAME_RATE/TB")
    )
    still = _motion(still, shot, plan.width, plan.height) if ken_burns else still.filter("crop", plan.width, plan.height)
    return still.filter("setsar", 1)


def _motion(stream, shot: Shot, width: int, height: int):
    """Per-frame camera move over an over-sized still (n = frame number)."""
    last = max(1, shot.frames - 1)
    p = f"(n/{last})"
    if shot.motion in ("zoom_in", "zoom_out"):
        grow = p if shot.motion == "zoom_in" else f"(1-{p})"
        # rescale each frame between the frame size and the overscan size, crop the centre
        w = f"trunc({width}*(1+{OVERSCAN - 1:.4f}*{grow})/2)*2"
        h = f"trunc({height}*(1+{OVERSCAN - 1:.4f}*{grow})/2)*2"
        return stream.filter("scale", w=w, h=h, eval="frame", flags="bilinear").filter("crop", width, height)
    x, y = "(iw-ow)/2", "(ih-oh)/2"
    if shot.motion == "pan_right":
        x = f"(iw-ow)*{p}"
    elif shot.motion == "pan_left":
        x = f"(iw-ow)*(1-{p})"
    elif shot.motion == "pan_down":
        y = f"(ih-oh)*{p}"
    elif shot.motion == "pan_up":
        y = f"(ih-oh)*(1-{p})"
    else:  # still
        return stream.filter("crop", width, height)
    return stream.filter("crop", width, height, x=x, y=y)


def _clip_options(plan: CompositionPlan, shot: Shot) -> dict:
    """A clip's input options: decode no more than the scene needs (looped when short)."""
    fit = shot.fit(plan.fps)
    options: dict = {"t": f"{fit.read_s + 0.25:.3f}"}  # a little over: fps conversion may want one more frame
    if fit.loop:
        options["stream_loop"] = -1
    return options


def _clip(plan: CompositionPlan, shot: Shot, clip):
    fit = shot.fit(plan.fps)
    video = clip.filter("setpts", f"{fit.stretch:.6f}*(PTS-STARTPTS)")
    return (
        video.filter("fps", plan.fps)
        # cover the frame, crop the centre: a portrait clip in a 16:9 video keeps its middle
        .filter("scale", plan.width, plan.height, force_original_aspect_ratio="increase")
        .filter("crop", plan.width, plan.height)
        .filter("setsar", 1)
        .filter("format", "yuv420p")
        # a clip that ends a frame early holds its last frame; every segment has exactly its frames
        .filter("tpad", stop_mode="clone", stop=-1)
        .filter("trim", end_frame=shot.frames)
        .filter("setpts", "PTS-STARTPTS")
    )


def _fades(stream, shot: Shot, fade_frames: int):
    fade = min(fade_frames, shot.frames // 4)
    if not fade:
        return stream
    # fades touch only the frames in their window, unlike xfade, which made the whole render twice as slow
    return stream.filter("fade", t="in", s=0, n=fade).filter("fade", t="out", s=shot.frames - fade, n=fade)


def join_args(plan: CompositionPlan, segment_list: str, audio_file: str) -> list[str]:
    """The segments' video and the mixed sound track, both copied as they are, into the final MP4."""
    video = ffmpeg.input(segment_list, f="concat", safe=0)["v"]
    sound = ffmpeg.input(audio_file)["a"]
    out = ffmpeg.output(
        video, sound, str(plan.output), vcodec="copy", acodec="copy",
        # no tags of any input (a music file's title, comments) travel into the video
        map_metadata=-1, movflags="+faststart", f="mp4",
    )  # fmt: skip
    return out.get_args()


def _audio(plan: CompositionPlan):
    """Narration (+ music and kept clip sound, ducked under it), cut to the video's length.

    The voice stage already normalised the narration to -16 LUFS; only a mix
    with other sound needs loudnorm again (one pass: the narration dominates).
    """
    narration = ffmpeg.input(str(plan.narration))["a"].filter("aresample", SAMPLE_RATE)
    beds = _music(plan) + _clip_sounds(plan)

    if beds:
        narration = narration.filter("aformat", channel_layouts="stereo")
        split = narration.filter_multi_output("asplit", 2)
        narr, key = split[0], split[1]
        bed = beds[0] if len(beds) == 1 else ffmpeg.filter(beds, "amix", inputs=len(beds), duration="longest", normalize=0)
        # the narration is the side-chain key: the bed dips while someone speaks
        ducked = ffmpeg.filter([bed, key], "sidechaincompress", threshold=0.03, ratio=8, attack=15, release=350)
        narration = (
            ffmpeg.filter([narr, ducked], "amix", inputs=2, duration="first", normalize=0)
            .filter("loudnorm", I=LOUDNESS_TARGET["I"], TP=LOUDNESS_TARGET["TP"], LRA=LOUDNESS_TARGET["LRA"])
            # loudnorm works at 192 kHz and leaves the layout open: pin both for the encoder
            .filter("aresample", SAMPLE_RATE)
            .filter("aformat", channel_layouts="stereo")
        )
    return narration.filter("apad").filter("atrim", end=f"{plan.duration:.6f}")


def _music(plan: CompositionPlan) -> list:
    if not plan.music:
        return []
    music = ffmpeg.input(str(plan.music), stream_loop=-1)["a"]
    return [_stereo(music).filter("volume", f"{plan.music_gain_db}dB")]


def _clip_sounds(plan: CompositionPlan) -> list:
    """Each kept clip's sound, fitted like its picture and placed at its scene's start."""
    kept = [shot for shot in plan.shots if shot.footage.kind == "clip" and shot.footage.keep_audio]
    uses = [(str(shot.source), "a", _clip_options(plan, shot)) for shot in kept]
    sources = Sources(uses)
    sounds = []
    for shot, use in zip(kept, uses):
        fit = shot.fit(plan.fps)
        sound = sources.take(*use).filter("asetpts", "PTS-STARTPTS")
        if fit.stretch != 1.0:
            sound = sound.filter("atempo", f"{1 / fit.stretch:.6f}")  # slowed with its picture
        delay_ms = round(plan.start_of(shot) * 1000)
        sound = (
            _stereo(sound)
            .filter("atrim", end=f"{shot.seconds(plan.fps):.6f}")
            .filter("afade", t="out", st=f"{max(0.0, shot.seconds(plan.fps) - 0.1):.6f}", d=0.1)
            .filter("adelay", f"{delay_ms}|{delay_ms}")
            .filter("volume", f"{plan.clip_audio_gain_db}dB")
        )
        sounds.append(sound)
    return sounds


def _stereo(stream):
    return stream.filter("aresample", SAMPLE_RATE).filter("aformat", channel_layouts="stereo")
