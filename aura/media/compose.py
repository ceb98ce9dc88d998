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

import contextvars
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from pathlib import Path

from aura import processes
from aura.errors import MediaError
from aura.media import graphs
from aura.media.ffmpeg import run_ffmpeg
from aura.media.plan import CompositionPlan, Shot

SEGMENTS_DIR = "segments"
AUDIO_FILE = f"{SEGMENTS_DIR}/sound.m4a"
# Scenes per segment: a run costs ~0.2 s to start, and each clip in it holds a decoder (~40 MiB at 1080p)
MAX_SCENES_PER_SEGMENT = 6
MAX_CLIPS_PER_SEGMENT = 3
# segments encoded at once: one ffmpeg run keeps about 1.5 of 2 cores busy (the camera's filters are serial)
PARALLEL_RUNS = 2


def segment_name(index: int) -> str:
    return f"{SEGMENTS_DIR}/segment_{index:03d}.mp4"


def segments(shots: list[Shot], runs: int = 1) -> list[list[Shot]]:
    """Consecutive shots, a few at a time: at most MAX_SCENES_PER_SEGMENT, of which MAX_CLIPS_PER_SEGMENT clips,
    and at least `runs` segments of about equal length when there are that many shots (they encode side by side)."""
    size = min(MAX_SCENES_PER_SEGMENT, -(-len(shots) // max(1, min(runs, len(shots)))))
    groups: list[list[Shot]] = []
    for shot in shots:
        group = groups[-1] if groups else []
        full = len(group) >= size
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
    groups = segments(plan.shots, PARALLEL_RUNS)
    shares = [0.0] * len(groups)  # each segment's own progress

    def encode(index: int, group: list[Shot]) -> None:
        frames = sum(shot.frames for shot in group)

        def share(fraction: float) -> None:  # a segment's progress as its part of the render (the join: the last 5 %)
            shares[index] = fraction * frames
            on_progress(0.95 * sum(shares) / plan.total_frames)

        # the first run also makes the sound track: it overlaps the encoding instead of following it
        args = graphs.segment_args(plan, group, segment_name(index), ken_burns, AUDIO_FILE if index == 0 else None)
        _run(args, workdir, deadline, timeout, share if on_progress else None, frames / plan.fps)

    pool, runs = ThreadPoolExecutor(PARALLEL_RUNS, thread_name_prefix="aura-segment"), processes.Group()
    try:
        try:
            with processes.owned_by(runs):  # and, through it, the caller's stage (its deadline and cancellation)
                started = [pool.submit(contextvars.copy_context().run, encode, i, g) for i, g in enumerate(groups)]
            for run in started:
                run.result()
        except BaseException:
            runs.kill_all()  # one run failed, or the caller stops: the others stop too
            raise
        finally:
            pool.shutdown(cancel_futures=True)
        list_file = workdir / SEGMENTS_DIR / "segments.txt"
        list_file.write_text("".join(f"file '{Path(segment_name(i)).name}'\n" for i in range(len(groups))))
        join_progress = (lambda f: on_progress(0.95 + 0.05 * f)) if on_progress else None
        join = graphs.join_args(plan, f"{SEGMENTS_DIR}/{list_file.name}", AUDIO_FILE)
        _run(join, workdir, deadline, timeout, join_progress, plan.duration)
    finally:
        shutil.rmtree(workdir / SEGMENTS_DIR, ignore_errors=True)


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
