"""Benchmark: composition wall time and peak memory, stills against clips, and against a hand-written command.

For each row it prepares the inputs once, untimed (offline script, espeak-ng
narration, slides, and 1080p test clips made with ffmpeg's lavfi sources),
then times the compose stage's own function (`compose_video`: subtitles, one
ffmpeg run per scene, the join, the output check, the thumbnail) for the same
script and narration twice per repeat:

- stills: the slides, moved by the Ken Burns camera;
- clips: one 1920x1080 (one 1080x1920) 30 fps H.264 clip with sound per
  scene, 4 to 8 s long, so that scenes cut, slow or loop their clip;

and, for the 60 s rows, one hand-written ffmpeg command for the stills
output, written the way most scripts do it (`-loop 1 -t D -i still` per
scene, the same camera moves and fades, concat, the same subtitles and
encoder settings). The 10-minute rows (600 s asked; the script stage caps it
at 40 scenes) time stills and clips at 720p. Last, one whole 60 s run
through the Prefect flow (server already up).

A second table breaks the render down by kind of scene (still; clip cut,
slowed, looped, portrait): each segment's ffmpeg seconds per second of scene,
its ffmpeg's peak memory, and (--split) one segment of each kind rendered
again without x264, which tells the picture's cost (decode, fit, camera)
from the encoder's. The test clips take a minute or two to make: keep them
between runs with --clips-cache DIR.

Peak memory is sampled every 20 ms: this process plus its ffmpeg children
(bench.memory.PeakMemory's figure), and each part on its own. A child that
is still a fork of this process (before it execs ffmpeg) is not counted:
PeakMemory counts it as a second copy of this process (about +90 MiB when a
sample lands in that instant, which a 40-segment render makes likely).

Not a test: it prints figures and Markdown tables for README.md. Run:
    .venv/bin/python bench/compose.py --clips-cache /tmp/aura-bench-clips   # everything
    .venv/bin/python bench/compose.py --quick          # a 20 s and a 30 s ("long") video at 720p, once: smoke test
    .venv/bin/python bench/compose.py --resolutions 720p,1080p --no-long --no-e2e --repeat 3
    .venv/bin/python bench/compose.py --no-short --no-e2e       # the 10-minute rows only
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
# the same inputs whatever a .env says: the offline writer and espeak-ng
os.environ["AURA_LLM_MODEL"] = "aura/offline"
os.environ["AURA_LLM_FALLBACKS"] = ""
os.environ["AURA_TTS_PROVIDER"] = "espeak-ng"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

import aura.media.compose as compose_media  # noqa: E402
from aura.media import graphs  # noqa: E402
from aura.media.compose import segments  # noqa: E402
from aura.media.ffmpeg import run_ffmpeg  # noqa: E402
from aura.media.plan import MAX_SLOWDOWN, OVERSCAN, CompositionPlan, Shot, overscan_size, plan_shots  # noqa: E402
from aura.media.probe import probe  # noqa: E402
from aura.models import VIDEO_KEY, SceneVisual, VideoRequest, Visuals  # noqa: E402
from aura.options import PipelineOptions  # noqa: E402
from aura.settings import get_settings, reload_settings  # noqa: E402
from aura.stages.compose import ASS_KEY, FADE_S, compose_video, footage_of, motions_for  # noqa: E402
from aura.stages.script import write_script  # noqa: E402
from aura.stages.visuals import IMAGES_DIR, draw_stills  # noqa: E402
from aura.stages.voice import narrate  # noqa: E402
from aura.store import ArtifactStore, JobStore  # noqa: E402
from bench.memory import PeakMemory  # noqa: E402

BRIEF = "How volcanoes form: magma, pressure, and the eruptions that build mountains"
MIB = 2**20


# --- memory ---------------------------------------------------------------------------------------------------------


class ComposeMemory(PeakMemory):
    """PeakMemory's figure (this process + children), with this process, the children and each child on its own."""

    def __init__(self) -> None:
        super().__init__()
        self.own_peak = 0
        self.children_peak = 0  # all children at one time (one ffmpeg at a time, in practice)
        self.by_child: dict[int, list] = {}  # pid -> [label (None until known), peak rss]

    def _run(self) -> None:
        me = psutil.Process()
        my_name = me.name()
        while not self._stop.is_set():
            own = children = 0
            try:
                own = me.memory_info().rss
                kids = me.children(recursive=True)
            except psutil.Error:
                kids = []
            for proc in kids:
                try:
                    if proc.name() == my_name:  # forked, not yet ffmpeg: its RSS is this process's pages again
                        continue
                    rss = proc.memory_info().rss
                    entry = self.by_child.setdefault(proc.pid, [None, 0])
                    if entry[0] is None:  # named once its command line can be read (it is empty during exec)
                        entry[0] = _child_label(proc)
                except psutil.Error:
                    continue
                children += rss
                entry[1] = max(entry[1], rss)
            self.own_peak = max(self.own_peak, own)
            self.children_peak = max(self.children_peak, children)
            self.peak = max(self.peak, own + children)
            self._stop.wait(0.02)

    def segment_peaks(self) -> dict[int, int]:
        """Segment index -> peak RSS of the ffmpeg run that rendered it."""
        peaks: dict[int, int] = {}
        for label, rss in self.by_child.values():
            if label and label.startswith("segment "):
                index = int(label.split()[1])
                peaks[index] = max(peaks.get(index, 0), rss)
        return peaks

    def peak_of(self, label: str) -> int:
        return max((rss for name, rss in self.by_child.values() if name == label), default=0)


_SEGMENT = re.compile(r"segments/segment_(\d+)\.mp4$")


def _child_label(proc: psutil.Process) -> str | None:
    """What a child is doing, from its command line: a scene's segment, the join, the thumbnail, a probe."""
    cmd = proc.cmdline()
    if not cmd:
        return None
    name, last = Path(cmd[0]).name, cmd[-1]
    if "ffprobe" in name:
        return "probe"
    match = next(filter(None, (_SEGMENT.search(arg) for arg in cmd)), None)  # the first also writes the sound
    if match:
        return f"segment {int(match.group(1))}"
    if "-f" in cmd and "concat" in cmd:
        return "join"
    if last.endswith(".png"):
        return "thumbnail"
    return name


# --- test clips -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestClip:
    """A 30 fps H.264 clip with a sine on its sound track, made once from one of ffmpeg's lavfi sources."""

    name: str
    width: int
    height: int
    seconds: float
    source: str  # a lavfi video graph that already has the size and the rate
    tone_hz: int

    @property
    def file_name(self) -> str:
        return f"{self.name}_{self.width}x{self.height}_{self.seconds:.1f}s.mp4"

    @property
    def portrait(self) -> bool:
        return self.height > self.width


def _landscape(name: str, seconds: float, source: str, tone: int) -> TestClip:
    return TestClip(name, 1920, 1080, seconds, source, tone)


# Sources with detail, motion and a little grain, so the decoder, the scaler and the encoder have real work:
# 4 to 10 Mbit/s at 1080p, about 1 to 4 Mbit/s once aura re-encodes them at 720p, like stock footage. Pixel-art
# sources (life, cellauto, sierpinski) were tried and left out: scaled to 720p they cost x264 three to five
# times as much as camera footage would (18 Mbit/s at crf 21), which measures the content, not the composition.
TESTSRC = "testsrc2=s=1920x1080:r=30,noise=alls=4:allf=t"
MANDELBROT = "mandelbrot=s=960x540:r=30:maxiter=256,scale=1920:1080"
SEAHORSE = (
    "mandelbrot=s=960x540:r=30:maxiter=256:start_x=-0.743643887037151:start_y=0.13182590420533"
    ":outer=normalized_iteration_count,scale=1920:1080,noise=alls=3:allf=t"
)
GRADIENTS = "gradients=s=960x540:r=30:speed=0.05:n=4,scale=1920:1080,noise=alls=5:allf=t"
CLIP_POOL = (
    _landscape("testsrc", 4.0, TESTSRC, 220),
    _landscape("mandelbrot", 4.8, MANDELBROT, 247),
    _landscape("gradients", 5.6, GRADIENTS, 277),
    _landscape("seahorse", 6.4, SEAHORSE, 294),
    _landscape("testsrc", 7.2, TESTSRC, 330),
    _landscape("mandelbrot", 8.0, MANDELBROT, 370),
)
# short on purpose: it loops in a scene of 5 s or more
PORTRAIT = TestClip("portrait", 1080, 1920, 4.0, "testsrc2=s=1080x1920:r=30,noise=alls=4:allf=t", 392)
PORTRAIT_SCENE = 1  # the scene that gets the portrait clip


def make_clip(clip: TestClip, folder: Path) -> Path:
    """The clip's file in the cache folder, encoded now if it is not there yet."""
    path = folder / clip.file_name
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".part-{path.name}")
    started = time.perf_counter()
    run_ffmpeg(
        [
            "-f", "lavfi", "-i", clip.source,
            "-f", "lavfi", "-i", f"sine=f={clip.tone_hz}:r=48000",
            "-t", f"{clip.seconds:.3f}",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-maxrate", "10M", "-bufsize", "20M",
            "-pix_fmt", "yuv420p", "-g", "60",
            "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-movflags", "+faststart", "-f", "mp4", str(partial),
        ],
        timeout=900,
    )  # fmt: skip
    os.replace(partial, path)
    print(f"  made {clip.file_name} ({path.stat().st_size / MIB:.1f} MiB) in {time.perf_counter() - started:.1f} s", flush=True)
    return path


def fit_of(own: float, scene: float) -> str:
    """How the composition fills a scene with a clip of `own` seconds (aura.media.plan.Shot.fit)."""
    if own <= 0 or own >= scene:
        return "cut"
    return "slowed" if scene / own <= MAX_SLOWDOWN else "looped"


def pick_clips(scene_seconds: list[float]) -> list[TestClip]:
    """A clip per scene, so that scenes cut, slow and loop in turn (as far as the scenes' lengths allow)."""
    wanted = ("cut", "slowed", "looped")
    picks, turn = [], 0
    for index, seconds in enumerate(scene_seconds):
        if index == PORTRAIT_SCENE:
            picks.append(PORTRAIT)
            continue
        for k in range(len(wanted)):
            fit = wanted[(turn + k) % len(wanted)]
            candidates = [c for c in CLIP_POOL if fit_of(c.seconds, seconds) == fit]
            if candidates:
                picks.append(candidates[turn % len(candidates)])
                break
        turn += 1
    return [at_height(clip, CLIP_HEIGHT) for clip in picks]


CLIP_HEIGHT = 1080  # --clip-height: the short side of the test clips


def at_height(clip: TestClip, short_side: int) -> TestClip:
    """The clip made with `short_side` pixels on its short side (720: what a stock provider fetches for 720p)."""
    if min(clip.width, clip.height) == short_side:
        return clip
    scale = short_side / min(clip.width, clip.height)
    width, height = round(clip.width * scale) // 2 * 2, round(clip.height * scale) // 2 * 2
    return replace(clip, width=width, height=height, source=f"{clip.source},scale={width}:{height}")


def clip_visuals(request: VideoRequest, job: JobStore, narration, cache: Path) -> Visuals:
    """A Visuals whose every scene is a clip, published into the job under work/images/ as a provider would."""
    starts = [s.start for s in narration.scenes]
    shots, _ = plan_shots([Path("x")] * len(starts), starts, narration.duration, request.fps, ["still"])
    picks = pick_clips([shot.seconds(request.fps) for shot in shots])
    folder = job.path(IMAGES_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    scenes = []
    for index, clip in enumerate(picks):
        source = make_clip(clip, cache)
        key = f"{IMAGES_DIR}/bench_clip_{index:03d}.mp4"
        target = job.path(key)
        target.unlink(missing_ok=True)
        try:
            os.link(source, target)  # the same bytes as a copy, without the disk
        except OSError:
            shutil.copyfile(source, target)
        info = probe(target)
        scenes.append(
            SceneVisual(
                index=index, media=job.publish(key), kind="clip", seconds=info.duration,
                has_audio=bool(info.of_kind("audio")), keep_audio=False, provider="bench",
            )
        )  # fmt: skip
    return Visuals(job_id=job.job_id, scenes=scenes, size=request.size, provider="bench", reason="bench clips")


# --- inputs and the reference command ---------------------------------------------------------------------------------


@dataclass
class Inputs:
    request: VideoRequest
    job: JobStore
    script: object
    narration: object
    stills: Visuals
    clips: Visuals


def prepare(duration: int, resolution: str, root: Path, cache: Path) -> Inputs:
    """Script, narration, slides and clips for one video, made once (not timed)."""
    request = VideoRequest(brief=BRIEF, duration_seconds=duration, resolution=resolution, seed=1)
    settings = get_settings()
    job = ArtifactStore(str(root)).job(f"bench-{duration}s-{resolution}")
    started = time.perf_counter()
    script = write_script(request, settings)
    narration = narrate(script, request, job, settings)
    stills = draw_stills(script, request, job, "slides")
    clips = clip_visuals(request, job, narration, cache)
    print(
        f"  prepared {duration} s at {resolution}: {len(script.scenes)} scenes, {narration.duration:.1f} s of "
        f"{narration.provider} narration, in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return Inputs(request, job, script, narration, stills, clips)


def shots_of(inputs: Inputs, visuals: Visuals) -> list[Shot]:
    """The shots compose_video plans for these visuals (the same call, the same footage)."""
    request, narration = inputs.request, inputs.narration
    footage = footage_of(visuals, inputs.job)
    shots, _ = plan_shots(
        footage, [s.start for s in narration.scenes], narration.duration, request.fps, motions_for(request, len(footage))
    )
    return shots


def motion_filter(motion: str, frames: int, width: int, height: int) -> str:
    """The camera move over an over-sized still as filter text (the same expressions as aura.media.graphs._motion)."""
    p = f"(n/{max(1, frames - 1)})"
    if motion in ("zoom_in", "zoom_out"):
        grow = p if motion == "zoom_in" else f"(1-{p})"
        w = f"trunc({width}*(1+{OVERSCAN - 1:.4f}*{grow})/2)*2"
        h = f"trunc({height}*(1+{OVERSCAN - 1:.4f}*{grow})/2)*2"
        return f"scale=w={w}:h={h}:eval=frame:flags=bilinear,crop={width}:{height}"
    x, y = "(iw-ow)/2", "(ih-oh)/2"
    if motion == "pan_right":
        x = f"(iw-ow)*{p}"
    elif motion == "pan_left":
        x = f"(iw-ow)*(1-{p})"
    elif motion == "pan_down":
        y = f"(ih-oh)*{p}"
    elif motion == "pan_up":
        y = f"(ih-oh)*(1-{p})"
    else:
        return f"crop={width}:{height}"
    return f"crop={width}:{height}:x={x}:y={y}"


def check_reference_moves(inputs: Inputs, shots: list[Shot]) -> None:
    """Warn when the reference's camera moves are no longer the ones aura's segment graphs carry."""
    width, height = inputs.request.size
    plan = CompositionPlan(width, height, inputs.request.fps, sum(s.frames for s in shots), shots, Path("n.wav"), Path("o.mp4"))
    for shot in shots:
        args = graphs.segment_args(plan, [shot], "check.mp4", ken_burns=True)
        graph = args[args.index("-filter_complex") + 1]
        chain = ",".join(re.sub(r"\[[^\]]*\]", "", part) for part in graph.split(";"))
        # ffmpeg-python writes keyword options sorted; compare each filter's options as a set
        ours = motion_filter(shot.motion, shot.frames, width, height)
        if not all(_has_filter(chain, f) for f in ours.split(",")):
            print(f"  WARNING: the reference's {shot.motion} is not aura's: {ours!r} not in {chain!r}")
            return


def _has_filter(chain: str, text: str) -> bool:
    name, _, options = text.partition("=")
    want = _options(options)
    return any(f.partition("=")[0] == name and _options(f.partition("=")[2]) == want for f in chain.split(","))


def _options(text: str) -> tuple[frozenset, tuple]:
    parts = text.split(":")
    return frozenset(p for p in parts if "=" in p), tuple(p for p in parts if "=" not in p)


def reference_command(inputs: Inputs, shots: list[Shot], output: Path) -> list[str]:
    """The hand-written way: loop each still as a timed input, move it, fade it, concat, burn subtitles."""
    request, job, settings = inputs.request, inputs.job, get_settings()
    width, height = request.size
    ow, oh = overscan_size(width, height)
    fps = request.fps
    fade_frames = round(FADE_S * fps)
    args, chains = [], []
    for i, shot in enumerate(shots):
        args += ["-loop", "1", "-framerate", str(fps), "-t", f"{shot.frames / fps:.6f}", "-i", str(shot.source)]
        fade = min(fade_frames, shot.frames // 4)
        fades = f",fade=t=in:s=0:n={fade},fade=t=out:s={shot.frames - fade}:n={fade}" if fade else ""
        chains.append(
            f"[{i}:v]scale={ow}:{oh}:force_original_aspect_ratio=increase,crop={ow}:{oh},setsar=1,"
            f"{motion_filter(shot.motion, shot.frames, width, height)},setsar=1{fades},format=yuv420p[v{i}]"
        )
    n = len(shots)
    graph = ";".join(chains) + ";" + "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0,ass={Path(ASS_KEY).name}[v]"
    args += ["-i", str(job.path(inputs.narration.audio.key)), "-filter_complex", graph, "-map", "[v]", "-map", f"{n}:a"]
    args += ["-c:v", "libx264", "-preset", settings.x264_preset, "-crf", str(settings.crf), "-pix_fmt", "yuv420p"]
    args += ["-g", str(fps * 2), "-r", str(fps)]
    args += ["-c:a", "aac", "-b:a", "160k", "-ar", "48000", "-shortest", "-movflags", "+faststart", str(output)]
    return args


# --- measuring --------------------------------------------------------------------------------------------------------


@dataclass
class Run:
    wall: float
    ffmpeg: list[float]  # seconds of each ffmpeg run of the render: the segments in scene order, then the join
    memory: ComposeMemory
    python_before: int
    python_after: int
    out_bytes: int = 0  # the video's size, for its bitrate: x264's work follows the picture's detail


class FfmpegTimes:
    """Times each ffmpeg run of aura.media.compose.render (segments, then the join) while it is in use."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._real = compose_media._run

    def __enter__(self) -> FfmpegTimes:
        def timed_run(*args, **kwargs):
            started = time.perf_counter()
            try:
                return self._real(*args, **kwargs)
            finally:
                self.seconds.append(time.perf_counter() - started)

        compose_media._run = timed_run
        return self

    def __exit__(self, *exc) -> None:
        compose_media._run = self._real


def measure(fn) -> Run:
    me = psutil.Process()
    before = me.memory_info().rss
    with ComposeMemory() as memory, FfmpegTimes() as times:
        started = time.perf_counter()
        fn()
        wall = time.perf_counter() - started
    return Run(wall, times.seconds, memory, before, me.memory_info().rss)


@dataclass
class Row:
    duration: int  # asked
    resolution: str
    fps: int
    scenes: int
    video_seconds: float
    stills: list[Run]
    clips: list[Run]
    reference: list[Run] = field(default_factory=list)
    stills_shots: list[Shot] = field(default_factory=list)
    clips_shots: list[Shot] = field(default_factory=list)
    clips_used: list[TestClip] = field(default_factory=list)
    split: dict[str, tuple[float, float]] = field(default_factory=dict)  # kind -> (with x264, without) s per s


def encoder_split(inputs: Inputs, shots: list[Shot], clips: list[TestClip] | None) -> dict[str, tuple[float, float]]:
    """Per kind of scene, its first segment rendered as compose renders it, then without x264 (seconds per second).

    The second run is the same graph (decode, fit, camera, fades, subtitles) into a null output: what is left
    is the picture's own cost; the difference is what encoding that picture costs.
    """
    request, settings = inputs.request, get_settings()
    width, height = request.size
    workdir = inputs.job.path(ASS_KEY).parent
    plan = CompositionPlan(
        width=width, height=height, fps=request.fps, total_frames=sum(s.frames for s in shots), shots=shots,
        narration=inputs.job.path(inputs.narration.audio.key), output=workdir / "unused.mp4",
        fade_frames=round(FADE_S * request.fps), subtitles_ass=Path(ASS_KEY).name, workdir=workdir,
        x264_preset=settings.x264_preset, crf=settings.crf,
    )  # fmt: skip
    split: dict[str, tuple[float, float]] = {}
    for i, shot in enumerate(shots):
        kind = shot_kind(shot, request.fps, clips[i] if clips else None)
        if kind in split:
            continue
        full = graphs.segment_args(plan, [shot], "bench_split.mp4", ken_burns=True)
        bare = list(full[:-1]) + ["-"]
        bare[bare.index("-vcodec") + 1] = "rawvideo"
        bare[len(bare) - 1 - bare[::-1].index("-f") + 1] = "null"
        for option in ("-crf", "-preset", "-g"):
            at = bare.index(option)
            del bare[at : at + 2]
        seconds = []
        for args in (full, bare):
            started = time.perf_counter()
            run_ffmpeg(args, cwd=workdir, timeout=600)
            seconds.append((time.perf_counter() - started) / shot.seconds(request.fps))
        (workdir / "bench_split.mp4").unlink(missing_ok=True)
        split[kind] = (seconds[0], seconds[1])
    return split


def bench_video(
    duration: int, resolution: str, root: Path, cache: Path, repeat: int, reference: bool, split: bool = False
) -> Row:
    """One video: compose_video with stills and with clips (and the reference command), `repeat` times each.

    The 60 s rows and the 10-minute rows both come from here; only the duration differs.
    """
    inputs = prepare(duration, resolution, root, cache)
    options = PipelineOptions()
    stills_shots, clips_shots = shots_of(inputs, inputs.stills), shots_of(inputs, inputs.clips)
    if reference:
        check_reference_moves(inputs, stills_shots)
    row = Row(
        duration, resolution, inputs.request.fps, len(stills_shots), inputs.narration.duration, [], [],
        stills_shots=stills_shots, clips_shots=clips_shots,
        clips_used=pick_clips([s.seconds(inputs.request.fps) for s in clips_shots]),
    )  # fmt: skip
    args = (inputs.request, inputs.script, inputs.narration)
    for attempt in range(repeat):
        # stills, clips and the reference in turn, so that a change in the machine's load touches all three
        row.stills.append(measure(lambda: compose_video(*args, inputs.stills, inputs.job, options)))
        row.stills[-1].out_bytes = inputs.job.path(VIDEO_KEY).stat().st_size
        row.clips.append(measure(lambda: compose_video(*args, inputs.clips, inputs.job, options)))
        row.clips[-1].out_bytes = inputs.job.path(VIDEO_KEY).stat().st_size
        if reference:
            out = inputs.job.path("work/reference.mp4")
            cmd = reference_command(inputs, stills_shots, out)
            row.reference.append(measure(lambda: run_ffmpeg(cmd, cwd=inputs.job.path(ASS_KEY).parent)))
        print(
            f"  {duration} s {resolution} run {attempt + 1}/{repeat}: stills {row.stills[-1].wall:.1f} s, "
            f"clips {row.clips[-1].wall:.1f} s" + (f", reference {row.reference[-1].wall:.1f} s" if reference else ""),
            flush=True,
        )
    if split:
        row.split = encoder_split(inputs, stills_shots, None) | encoder_split(inputs, clips_shots, row.clips_used)
    shutil.rmtree(inputs.job.folder, ignore_errors=True)  # the next row's disk
    return row


def bench_end_to_end(root: Path) -> float:
    """One 60 s 720p run through the Prefect flow, timed after the server is up."""
    from prefect.testing.utilities import prefect_test_harness

    from flows.generate_video import generate_video

    with prefect_test_harness(server_startup_timeout=120):
        request = VideoRequest(brief=BRIEF, duration_seconds=60)
        started = time.perf_counter()
        generate_video(request, output=str(root / "e2e"))
        return time.perf_counter() - started


# --- report -----------------------------------------------------------------------------------------------------------


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def wall(runs: list[Run]) -> float:
    return median([r.wall for r in runs])


def render_s(runs: list[Run]) -> float:
    return median([sum(r.ffmpeg) for r in runs])


def peak(runs: list[Run], what: str = "peak") -> float:
    return max(getattr(r.memory, what) for r in runs) / MIB


def size_label(resolution: str) -> str:
    width, height = VideoRequest(brief="x", resolution=resolution).size
    return f"{resolution} ({width}x{height})"


def main_table(rows: list[Row]) -> str:
    lines = [
        "| video | scenes | resolution | visuals | compose | per second of video | of which ffmpeg | clips / stills "
        "| peak memory | Python's peak | ffmpeg's peak | reference command | aura / reference |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        stills = wall(row.stills)
        for label, runs in (("stills", row.stills), ("clips", row.clips)):
            seconds = wall(runs)
            ratio = f"{seconds / stills:.2f}" if label == "clips" else ""
            ref = wall(row.reference) if row.reference and label == "stills" else None
            lines.append(
                f"| {row.video_seconds:.1f} s | {row.scenes} | {size_label(row.resolution)} | {label} | {seconds:.1f} s "
                f"| {seconds / row.video_seconds:.3f} s | {render_s(runs):.1f} s | {ratio} | {peak(runs):.0f} MiB "
                f"| {peak(runs, 'own_peak'):.0f} MiB | {peak(runs, 'children_peak'):.0f} MiB "
                f"| {f'{ref:.1f} s ({peak(row.reference):.0f} MiB)' if ref else ''} "
                f"| {f'{seconds / ref:.2f}' if ref else ''} |"
            )
    return "\n".join(lines)


def shot_kind(shot: Shot, fps: int, clip: TestClip | None) -> str:
    if shot.footage.kind != "clip":
        return "still"
    fit = shot.fit(fps)
    kind = "looped" if fit.loop else "slowed" if fit.stretch != 1.0 else "cut"
    return f"{kind}, portrait" if clip is not None and clip.portrait else kind


def segment_table(rows: list[Row]) -> str:
    """Per kind of scene: the segment runs' seconds per second of scene (median over repeats) and their peak memory."""
    lines = [
        "| video | resolution | scenes in the segment | segments | scene seconds | ffmpeg s per s of scene | slowest segment "
        "| segment peak memory (min to max) | one segment again: s per s, of which x264 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        fps = row.fps
        joins = []
        for runs, shots, clips in ((row.stills, row.stills_shots, None), (row.clips, row.clips_shots, row.clips_used)):
            groups: dict[str, list[tuple[float, float, int]]] = {}
            # a segment holds a few consecutive scenes (aura.media.compose.segments): label it by their kinds
            position = 0
            segment_groups = segments(shots)
            for i, group in enumerate(segment_groups):
                secs = median([r.ffmpeg[i] for r in runs if len(r.ffmpeg) > i])
                mem = max(r.memory.segment_peaks().get(i, 0) for r in runs)
                kinds = {shot_kind(shot, fps, clips[position + k] if clips else None) for k, shot in enumerate(group)}
                position += len(group)
                frames = sum(shot.frames for shot in group)
                groups.setdefault(" + ".join(sorted(kinds)), []).append((secs, frames / fps, mem))
            joins.append(median([r.ffmpeg[-1] for r in runs if len(r.ffmpeg) == len(segment_groups) + 1]))
            for kind, items in groups.items():
                total_s, total_video = sum(s for s, _, _ in items), sum(v for _, v, _ in items)
                slowest = max(s / v for s, v, _ in items)
                mems = [m for _, _, m in items if m]
                memory = f"{min(mems) / MIB:.0f} to {max(mems) / MIB:.0f} MiB" if mems else "not sampled"
                again = row.split.get(kind)
                again = f"{again[0]:.3f}, {again[0] - again[1]:.3f}" if again else ""
                lines.append(
                    f"| {row.video_seconds:.1f} s | {row.resolution} | {kind} | {len(items)} | {total_video:.1f} s "
                    f"| {total_s / total_video:.3f} | {slowest:.3f} | {memory} | {again} |"
                )
        lines.append(
            f"| {row.video_seconds:.1f} s | {row.resolution} | join (stills / clips) | 1 | {row.video_seconds:.1f} s "
            f"| {joins[0] / row.video_seconds:.3f} / {joins[1] / row.video_seconds:.3f} | | | |"
        )
    return "\n".join(lines)


def notes(rows: list[Row]) -> list[str]:
    out = []
    for row in rows:
        for label, runs in (("stills", row.stills), ("clips", row.clips)):
            growth = max(r.python_after - r.python_before for r in runs) / MIB
            peaks = [runs[-1].memory.segment_peaks()[i] for i in sorted(runs[-1].memory.segment_peaks())]
            quarter = max(1, len(peaks) // 4)
            trend = (
                f"segment peaks first quarter {median(peaks[:quarter]) / MIB:.0f} MiB, last quarter "
                f"{median(peaks[-quarter:]) / MIB:.0f} MiB" if peaks else "no segment sampled"
            )
            thumb = max(r.memory.peak_of("thumbnail") for r in runs) / MIB
            join = max(r.memory.peak_of("join") for r in runs) / MIB
            overhead = median([r.wall - sum(r.ffmpeg) for r in runs])
            mbit = runs[-1].out_bytes * 8 / row.video_seconds / 1e6
            out.append(
                f"{row.video_seconds:.0f} s {row.resolution} {label}: video {mbit:.1f} Mbit/s; "
                f"stage work around the render {overhead:.2f} s; "
                f"Python RSS grew {growth:+.0f} MiB over a run; {trend}; "
                + (f"join {join:.0f} MiB" if join else "join too short to sample")
                + (f"; thumbnail ffmpeg {thumb:.0f} MiB" if thumb else "")
            )
        fits = {}
        for shot, clip in zip(row.clips_shots, row.clips_used):
            kind = shot_kind(shot, row.fps, clip)
            fits[kind] = fits.get(kind, 0) + 1
        out.append(f"{row.video_seconds:.0f} s {row.resolution} clip scenes: " + ", ".join(f"{n} {k}" for k, n in fits.items()))
    return out


def _resolutions(values: list[str]) -> list[str]:
    return [r for value in values for r in value.split(",") if r]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", "--repeats", type=int, default=3, help="runs per measurement; the median is reported")
    parser.add_argument("--resolutions", nargs="+", default=["720p,1080p"], help="e.g. 720p,1080p")
    parser.add_argument("--duration", type=int, default=60, help="seconds asked of the stills/clips rows")
    parser.add_argument("--short", action=argparse.BooleanOptionalAction, default=True, help="the 60 s rows")
    parser.add_argument("--long", action=argparse.BooleanOptionalAction, default=True, help="the 10-minute rows")
    parser.add_argument("--long-duration", type=int, default=600)
    parser.add_argument("--long-repeat", type=int, default=1, help="runs per 10-minute measurement")
    parser.add_argument("--long-resolution", default="720p")
    parser.add_argument("--reference", action=argparse.BooleanOptionalAction, default=True, help="the hand-written command")
    parser.add_argument(
        "--split", action=argparse.BooleanOptionalAction, default=True,
        help="time one segment of each kind again without x264 (not for the 10-minute rows)",
    )  # fmt: skip
    parser.add_argument("--e2e", action=argparse.BooleanOptionalAction, default=True, help="one run through the flow")
    parser.add_argument("--clips-cache", type=Path, default=None, help="keep the test clips here between runs")
    parser.add_argument("--quick", action="store_true", help="smoke test: 20 s (and a 30 s 'long' row) at 720p, once")
    parser.add_argument("--clip-height", type=int, default=1080, help="short side of the test clips (1080, or 720)")
    args = parser.parse_args()
    global CLIP_HEIGHT
    CLIP_HEIGHT = args.clip_height
    resolutions = _resolutions(args.resolutions)
    if args.quick:
        resolutions, args.duration, args.long_duration, args.repeat, args.long_repeat = ["720p"], 20, 30, 1, 1
        args.e2e = False
    reload_settings()
    settings = get_settings()
    print(
        f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
        f"x264 preset {settings.x264_preset}, crf {settings.crf}; load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    print("command: " + " ".join([Path(sys.executable).name, *sys.argv]), flush=True)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="aura-bench-") as tmp:
        root = Path(tmp)
        cache = args.clips_cache or root / "clips"
        plan = [(args.duration, r, args.repeat, args.reference, args.split) for r in resolutions if args.short]
        if args.long:
            plan.append((args.long_duration, args.long_resolution, args.long_repeat, False, False))
        for duration, resolution, repeat, reference, split in plan:
            rows.append(bench_video(duration, resolution, root / "store", cache, repeat, reference, split))
        e2e = bench_end_to_end(root) if args.e2e else None
    print(f"\nmedian of {args.repeat} runs (10-minute rows: {args.long_repeat}); peak memory is the highest of the runs\n")
    print(main_table(rows))
    print()
    print(segment_table(rows))
    print()
    for line in notes(rows):
        print(f"- {line}")
    if e2e is not None:
        print(f"- end to end, 60 s 720p through the Prefect flow (server up): {e2e:.1f} s")


if __name__ == "__main__":
    main()
