"""The edit as a timeline any editor opens: the composition's plan as OpenTimelineIO.

One clip per scene on the video track, with the part of its source the
render used: a still held for the scene, a clip cut to the scene, a clip
slowed a little (a LinearTimeWarp), or a clip looped (as many clips of it as
the loop took, the last one cut). The Ken Burns move and the fade at each cut
are kept as metadata (editors have no common effect for them). The narration
and the music are audio tracks, and the subtitles are markers with their text
on the video track. Media are named by paths relative to the job folder, so a
bundle of the job opens on another machine. OTIO's adapters write the other
formats (FCP 7 XML, FCPXML, CMX 3600 EDL, MLT); none is written by hand here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import opentimelineio as otio

from aura.media.plan import CompositionPlan, Shot
from aura.media.subtitles import Cue

FORMATS = {"otio": "otio_json", "fcp7": "fcp_xml", "fcpxml": "fcpx_xml", "edl": "cmx_3600", "mlt": "mlt_xml"}
SUFFIXES = {"otio": ".otio", "fcp7": ".xml", "fcpxml": ".fcpxml", "edl": ".edl", "mlt": ".mlt"}


def build_timeline(
    plan: CompositionPlan, cues: Sequence[Cue], folder: Path, title: str, music: Path | None = None
) -> otio.schema.Timeline:
    """The plan's timeline; `folder` is the job folder every media path is made relative to."""
    fps = plan.fps
    timeline = otio.schema.Timeline(name=title, global_start_time=otio.opentime.RationalTime(0, fps))
    timeline.metadata["aura"] = {"width": plan.width, "height": plan.height, "fps": fps, "fade_frames": plan.fade_frames}
    video = otio.schema.Track(name="Video", kind=otio.schema.TrackKind.Video)
    for index, shot in enumerate(plan.shots):
        video.extend(_scene_clips(shot, index, fps, folder))
    for cue in cues:  # the subtitles, where they show
        start = otio.opentime.RationalTime(round(cue.start * fps), fps)
        length = otio.opentime.RationalTime(max(1, round((cue.end - cue.start) * fps)), fps)
        marker = otio.schema.Marker(name=" ".join(cue.lines), marked_range=otio.opentime.TimeRange(start, length),
                                    color=otio.schema.MarkerColor.YELLOW, metadata={"aura": {"subtitle": cue.text}})  # fmt: skip
        video.markers.append(marker)
    timeline.tracks.append(video)
    total = otio.opentime.RationalTime(plan.total_frames, fps)
    timeline.tracks.append(_audio_track("Narration", plan.narration, total, folder))
    if music is not None:
        track = _audio_track("Music", music, total, folder)
        track[0].metadata["aura"] = {"gain_db": plan.music_gain_db, "ducked_under_narration": True}
        timeline.tracks.append(track)
    return timeline


def _scene_clips(shot: Shot, index: int, fps: int, folder: Path) -> list[otio.schema.Clip]:
    """A scene's clip or clips: a still held, a clip cut or slowed, or a loop as repeated clips."""
    frames = shot.frames
    aura = {"scene": index, "kind": shot.footage.kind, "motion": shot.motion if shot.footage.kind == "still" else None}
    if shot.footage.kind == "still":  # a still is as long as the scene holds it (editors need a length)
        held = otio.opentime.TimeRange(otio.opentime.RationalTime(0, fps), otio.opentime.RationalTime(frames, fps))
        ref = otio.schema.ExternalReference(target_url=_relative(shot.source, folder), available_range=held)
        return [_clip(f"Scene {index + 1}", ref, 0, frames, fps, {**aura, "ken_burns": shot.motion})]
    own = max(1, math.floor(shot.footage.seconds * fps + 1e-6))
    available = otio.opentime.TimeRange(otio.opentime.RationalTime(0, fps), otio.opentime.RationalTime(own, fps))
    ref = otio.schema.ExternalReference(target_url=_relative(shot.source, folder), available_range=available)
    fit = shot.fit(fps)
    if fit.loop:  # the clip again and again, the last time cut to what is left
        clips, left, turn = [], frames, 0
        while left > 0:
            take = min(own, left)
            clips.append(_clip(f"Scene {index + 1}" + (f" (loop {turn + 1})" if turn else ""), ref.clone(), 0, take, fps,
                               {**aura, "loop": turn}))  # fmt: skip
            left, turn = left - take, turn + 1
        return clips
    if fit.stretch > 1.0:  # slowed to fill the scene: the source frames it reads, played at 1/stretch speed
        read = min(own, max(1, round(frames / fit.stretch)))
        clip = _clip(f"Scene {index + 1}", ref, 0, frames, fps, {**aura, "slowed": round(fit.stretch, 4), "source_frames": read})
        clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=read / frames))
        return [clip]
    return [_clip(f"Scene {index + 1}", ref, 0, frames, fps, aura)]


def _clip(name: str, ref, first: int, frames: int, fps: int, aura: dict) -> otio.schema.Clip:
    span = otio.opentime.TimeRange(otio.opentime.RationalTime(first, fps), otio.opentime.RationalTime(frames, fps))
    return otio.schema.Clip(name=name, media_reference=ref, source_range=span, metadata={"aura": aura})


def _audio_track(name: str, path: Path, length: otio.opentime.RationalTime, folder: Path) -> otio.schema.Track:
    track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Audio)
    span = otio.opentime.TimeRange(otio.opentime.RationalTime(0, length.rate), length)
    ref = otio.schema.ExternalReference(target_url=_relative(path, folder), available_range=span)
    # named by its file: a clip named as its track makes one id of both in MLT's XML
    track.append(otio.schema.Clip(name=Path(path).name, media_reference=ref, source_range=span))
    return track


def _relative(path: Path, folder: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(folder).resolve()).as_posix()
    except ValueError:
        return Path(path).name  # outside the job: the bundle puts it beside the timeline


def media_of(timeline: otio.schema.Timeline) -> list[str]:
    """The relative paths of every file the timeline names, once each."""
    names = []
    for clip in timeline.find_clips():
        ref = clip.media_reference
        if isinstance(ref, otio.schema.ExternalReference) and ref.target_url not in names:
            names.append(ref.target_url)
    return names


def write_as(timeline: otio.schema.Timeline, fmt: str) -> str:
    """The timeline in one of FORMATS, as text (ValueError naming the formats for another)."""
    if fmt not in available_formats():
        raise ValueError(f"the timeline cannot be written as {fmt!r} here: the formats that work are "
                         f"{', '.join(available_formats())}")  # fmt: skip
    return otio.adapters.write_to_string(timeline, adapter_name=FORMATS[fmt])


def read_timeline(path: Path) -> otio.schema.Timeline:
    return otio.adapters.read_from_file(str(path), adapter_name="otio_json")


def available_formats() -> list[str]:
    """The formats whose OTIO adapter is installed here."""
    names = set(otio.adapters.available_adapter_names())
    return [fmt for fmt, adapter in FORMATS.items() if adapter in names]


def bundle(timeline: otio.schema.Timeline, fmt: str, fetch, target) -> None:
    """A zip (`target`: a path or a binary file) of the timeline in `fmt` and every file it names, at the
    paths it names them by; `fetch(relative path) -> local Path`."""
    import zipfile

    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"timeline{SUFFIXES[fmt]}", write_as(timeline, fmt))
        for name in media_of(timeline):
            archive.write(fetch(name), arcname=name, compress_type=zipfile.ZIP_STORED)  # media are compressed already


def relocated(timeline: otio.schema.Timeline, folder: Path) -> otio.schema.Timeline:
    """A copy whose media are named by absolute paths under `folder` (for an export kept outside the job)."""
    moved = timeline.deepcopy()
    for clip in moved.find_clips():
        ref = clip.media_reference
        if isinstance(ref, otio.schema.ExternalReference):
            ref.target_url = str((Path(folder) / ref.target_url).resolve())
    return moved
