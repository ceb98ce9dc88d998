"""Stage 5, compose: subtitles, the ffmpeg render, a thumbnail and metadata.json, each renamed into place."""

from __future__ import annotations

import json
import random
import shutil
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from PIL import Image
from prefect import task

from aura import __version__, progress, spend, usage
from aura.errors import MediaError
from aura.media.compose import render
from aura.media.encoders import NVENC, choose_encoder, nvenc_problem
from aura.media.plan import MOTIONS, CompositionPlan, Footage, plan_shots
from aura.media.ffmpeg import capabilities, run_ffmpeg, short_version
from aura.media.fonts import find_font, font_family
from aura.media.probe import probe
from aura.media.subtitles import build_cues, default_font_size, write_ass, write_srt
from aura.media.timeline import build_timeline, write_as
from aura.models import (
    META_KEY, SRT_KEY, THUMB_KEY, TIMELINE_KEY, VIDEO_KEY, BriefReport, Composition, Narration, Publication, RenderedVideo, Script, StageReport,
    VideoRequest, Visuals,
)
from aura.options import PipelineOptions
from aura.settings import Settings, get_settings
from aura.spend import Spend
from aura.stages.checkpoints import PERSISTED, StageCachePolicy, music_digest, narration_text
from aura.stages.stage import Stage, open_job, supervised, worth_retrying
from aura.stages.inputs import music_file
from aura.stages.visuals import base_seed
from aura.store import JobStore

WORK_DIR = "work"
ASS_KEY = f"{WORK_DIR}/subtitles.ass"
DURATION_TOLERANCE_S = 0.1
FADE_S = 0.15


# at most 42 characters a line (the broadcast rule); narrower frames get shorter lines and bigger text
LINE_CHARS = {"16:9": 42, "1:1": 32, "9:16": 26}


def write_subtitles(narration: Narration, request: VideoRequest, job: JobStore, karaoke: bool) -> list:
    """The burn-in subtitles (work/subtitles.ass); returns the cues, for subtitles.srt once the video exists."""
    words = [w for scene in narration.scenes for w in scene.words]
    line_chars = LINE_CHARS[request.aspect]
    cues = build_cues(words, max_line_chars=line_chars, end_limit=narration.duration)
    text = " ".join(w.text for w in words)
    font = find_font(text)
    width, height = request.size
    with job.writing(ASS_KEY) as tmp:
        write_ass(
            cues,
            tmp,
            width=width,
            height=height,
            font_name=font_family(font) if font else "DejaVu Sans",
            font_size=default_font_size(width, height, line_chars),
            karaoke=karaoke,
        )
    return cues


def motions_for(request: VideoRequest, scene_count: int) -> list[str]:
    """A varied but reproducible camera move per scene, never the same move twice in a row."""
    rng = random.Random(base_seed(request))
    moves: list[str] = []
    for _ in range(scene_count):
        choices = [m for m in MOTIONS if not moves or m != moves[-1]]
        moves.append(rng.choice(choices))
    return moves


def verify_video(path: Path, request: VideoRequest, expected_duration: float) -> None:
    """The file a user gets is checked the way a user would check it."""
    info = probe(path)
    video, audio = info.of_kind("video"), info.of_kind("audio")
    width, height = request.size
    problems = []
    if len(video) != 1 or video[0].codec != "h264":
        problems.append(f"video streams {[v.codec for v in video]} (want one h264)")
    elif (video[0].width, video[0].height) != (width, height):
        problems.append(f"frame {video[0].width}x{video[0].height} (want {width}x{height})")
    if len(audio) != 1 or audio[0].codec != "aac":
        problems.append(f"audio streams {[a.codec for a in audio]} (want one aac)")
    if abs(info.duration - expected_duration) > DURATION_TOLERANCE_S:
        problems.append(f"duration {info.duration:.2f} s (narration is {expected_duration:.2f} s)")
    if problems:
        raise MediaError("the rendered video is wrong: " + "; ".join(problems))


def write_thumbnail(first: Footage, request: VideoRequest, job: JobStore) -> None:
    """The opening frame without subtitles: the first still or the clip's first frame, centre-cropped to the frame."""
    width, height = request.size
    picture = first.path
    if first.kind == "clip":
        picture = job.path(f"{WORK_DIR}/first_frame.png")
        run_ffmpeg(["-i", str(first.path), "-frames:v", "1", "-update", "1", str(picture)], timeout=60)
    with Image.open(picture) as image, _removed_after(picture if first.kind == "clip" else None):
        image = image.convert("RGB")
        scale = max(width / image.width, height / image.height)
        resized = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
        left, top = (resized.width - width) // 2, (resized.height - height) // 2
        with job.writing(THUMB_KEY) as tmp:
            resized.crop((left, top, left + width, top + height)).save(tmp, "JPEG", quality=88)


@contextmanager
def _removed_after(path: Path | None):
    try:
        yield
    finally:
        if path is not None:
            path.unlink(missing_ok=True)


def encoder_for(settings: Settings, preset: str, crf: int):
    """AURA_VIDEO_ENCODER for this machine: libx264, or NVENC at a cq measured to match the crf."""
    return choose_encoder(settings.video_encoder, preset, crf, settings.breaker_dir)


def encoder_name(settings: Settings) -> str:
    """The encoder `auto` means here (the checkpoint key's: an NVENC video is another video), without measuring."""
    return NVENC if settings.video_encoder != "libx264" and nvenc_problem() is None else "libx264"  # libx264: no probe


def scene_credits(visuals: Visuals) -> list[dict]:
    """For every scene: who served it, still or clip, and the found media's id, page and author."""
    rows = []
    for scene in visuals.scenes:
        credit = scene.credit.model_dump(mode="json", exclude={"provider"}) if scene.credit else {}
        credit = {field: value for field, value in credit.items() if value}  # what the source did not say is left out
        rows.append({"scene": scene.index, "provider": scene.provider, "kind": scene.kind, **credit})
    return rows


def compose_video(
    request: VideoRequest,
    script: Script,
    narration: Narration,
    visuals: Visuals,
    job: JobStore,
    options: PipelineOptions,
    timeout_s: float | None = None,
) -> tuple[Path, Path, Path]:
    """Render video.mp4, subtitles.srt and thumbnail.jpg into the job folder."""
    settings = get_settings()
    width, height = request.size
    progress.report("compose", 0.05, "subtitles")
    cues = write_subtitles(narration, request, job, karaoke=options.karaoke)
    footage = footage_of(visuals, job)
    shots, total_frames = plan_shots(
        footage, [s.start for s in narration.scenes], narration.duration, request.fps, motions_for(request, len(footage))
    )
    music = _music_in_job(music_file(request, job.store), job)
    progress.report("compose", 0.15, f"rendering {total_frames} frames at {width}x{height}")
    with job.writing(VIDEO_KEY) as tmp:
        plan = CompositionPlan(
            width=width,
            height=height,
            fps=request.fps,
            total_frames=total_frames,
            shots=shots,
            narration=job.local(narration.audio),
            output=tmp,
            fade_frames=round(FADE_S * request.fps),
            subtitles_ass=Path(ASS_KEY).name,
            workdir=job.path(ASS_KEY).parent,
            music=music,
            x264_preset=options.x264_preset or settings.x264_preset,
            crf=options.crf if options.crf is not None else settings.crf,
        )
        plan.encoder = encoder_for(settings, plan.x264_preset, plan.crf).options
        render(plan, ken_burns=options.ken_burns, timeout=timeout_s, on_progress=_render_progress(total_frames, request.fps))
        progress.report("compose", 0.9, "checking the result")
        verify_video(tmp, request, narration.duration)
    # the files beside the video appear only once it exists: a failed render leaves no orphan subtitles
    with job.writing(SRT_KEY) as tmp:
        write_srt(cues, tmp)
    write_thumbnail(footage[0], request, job)
    timeline = build_timeline(plan, cues, job.folder, script.title, music)  # the same plan, for any editor
    with job.writing(TIMELINE_KEY) as tmp:
        tmp.write_text(write_as(timeline, "otio"), encoding="utf-8")
    return job.path(VIDEO_KEY), job.path(SRT_KEY), job.path(THUMB_KEY)


def _music_in_job(music: Path | None, job: JobStore) -> Path | None:
    """The music, copied into the job's work folder: the timeline names every file inside the job."""
    if music is None:
        return None
    key = f"{WORK_DIR}/music{music.suffix.lower()}"
    if not job.path(key).exists() or job.path(key).stat().st_size != music.stat().st_size:
        with job.writing(key) as tmp:
            shutil.copyfile(music, tmp)
    return job.path(key)


def footage_of(visuals: Visuals, job: JobStore) -> list[Footage]:
    """Each scene's file on this machine, still or clip, with what the composition needs to fit it."""
    return [
        Footage(job.local(scene.media), scene.kind, scene.seconds, keep_audio=scene.keep_audio and scene.has_audio)
        for scene in visuals.scenes
    ]


def _render_progress(total_frames: int, fps: int):
    """ffmpeg's own position, as the compose stage's 15 to 90 %."""
    seconds = total_frames / fps

    def report(fraction: float) -> None:
        progress.report("compose", 0.15 + 0.75 * fraction, f"ffmpeg {fraction * seconds:.0f}/{seconds:.0f} s encoded")

    return report


def providers_of(script: Script, narration: Narration, visuals: Visuals, composition: Composition) -> dict[str, str]:
    """Who served each stage, in words."""
    return {
        "llm": script.writer,
        "tts": narration.provider,
        "voice": narration.voice,
        "images": visuals.provider,
        "images_reason": visuals.reason,
        "ffmpeg": composition.ffmpeg,
    }


def run_spend(
    outputs: dict[str, Script | Narration | Visuals], stages: dict[str, StageReport], flow_run_id: str | None = None
) -> Spend:
    """What the stages that ran in this run spent, their failed attempts included, and what its stages that
    failed for good spent here (images that fell back to slides): a reused checkpoint's spending was the run's
    that made it."""
    total = spend.kept(usage.task_runs_of([flow_run_id]), delivered=False) if flow_run_id else Spend()
    for name, output in outputs.items():
        report = stages.get(name)
        if report is None or not report.cached:
            total = total.plus(output.spend)
    return total


def write_metadata(
    job: JobStore,
    request: VideoRequest,
    script: Script,
    narration: Narration,
    visuals: Visuals,
    composition: Composition,
    brief: BriefReport,
    stages: dict[str, StageReport],
    flow_run_id: str | None,
    preset: str,
    published: Publication | None = None,
) -> RenderedVideo:
    """metadata.json last: its presence says the job is complete."""
    published = published or Publication()
    warnings = [*brief.warnings, *script.warnings, *narration.warnings, *visuals.warnings, *published.warnings]
    refs = {VIDEO_KEY: composition.video, SRT_KEY: composition.subtitles, THUMB_KEY: composition.thumbnail,
            **({TIMELINE_KEY: composition.timeline} if composition.timeline else {})}  # fmt: skip
    width, height = request.size
    outputs = {key: ref.model_dump() for key, ref in refs.items()}
    providers = providers_of(script, narration, visuals, composition)
    stage_seconds = {name: report.seconds for name, report in stages.items()}
    spent = run_spend({"script": script, "voice": narration, "visuals": visuals}, stages, flow_run_id)
    metadata = {
        "aura_version": __version__,
        "job_id": job.job_id,
        "flow_run_id": flow_run_id,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "preset": preset,
        "request": request.model_dump(mode="json"),
        "script": script.model_dump(mode="json"),
        "timings": {
            "duration": narration.duration,
            "scenes": [s.model_dump(mode="json", exclude={"words"}) for s in narration.scenes],
            "words": [[w.model_dump(mode="json") for w in s.words] for s in narration.scenes],
        },
        "providers": providers,
        "credits": scene_credits(visuals),
        "references": [source.model_dump(mode="json") for source in script.sources],
        "stage_seconds": stage_seconds,
        "stages": {name: report.model_dump(mode="json") for name, report in stages.items()},
        "outputs": outputs,
        "published": published.urls,
        "spend": spent.model_dump(mode="json"),
        "video": {"width": width, "height": height, "fps": request.fps, "duration": narration.duration},
        "warnings": warnings,
    }
    meta = job.write_bytes(META_KEY, json.dumps(metadata, ensure_ascii=False, indent=2).encode("utf-8"))
    return RenderedVideo(
        job_id=job.job_id,
        folder=str(job.folder),
        video=refs[VIDEO_KEY],
        subtitles=refs[SRT_KEY],
        thumbnail=refs[THUMB_KEY],
        metadata=meta,
        duration=narration.duration,
        width=width,
        height=height,
        flow_run_id=flow_run_id,
        stage_seconds=stage_seconds,
        stages=stages,
        providers=providers,
        published=published.urls,
        spend=spent,
        warnings=warnings,
    )


def _cache_inputs(inputs: dict, settings: Settings) -> dict:
    """What makes the video: the whole request, the music, the narration and stills by content, the encoder."""
    request, options = inputs["request"], inputs["options"]
    return {
        "request": request.model_dump(mode="json", exclude={"fresh", "references", "review_script", "publish"}),
        "music": music_digest(request, settings, inputs.get("store_url")),
        "script": narration_text(inputs["script"]),
        "narration": inputs["narration"].model_dump(mode="json", exclude={"job_id", "elapsed_s", "warnings", "provider", "voice"}),
        "visuals": [inputs["visuals"].size, [
            [scene.media.sha256, scene.kind, scene.keep_audio and scene.has_audio] for scene in inputs["visuals"].scenes
        ]],
        "render": {
            "x264_preset": options.x264_preset or settings.x264_preset,
            "crf": options.crf if options.crf is not None else settings.crf,
            "encoder": encoder_name(settings),
            "ken_burns": options.ken_burns,
            "karaoke": options.karaoke,
        },
    }


CHECKPOINT = StageCachePolicy(stage="compose", inputs=_cache_inputs, sources=("aura.stages.compose", "aura.media"))


@task(
    name="compose", retries=0, timeout_seconds=600, retry_condition_fn=worth_retrying,
    cache_policy=CHECKPOINT, **PERSISTED,
)  # fmt: skip
def compose_task(
    request: VideoRequest,
    script: Script,
    narration: Narration,
    visuals: Visuals,
    store_url: str,
    job_id: str,
    options: PipelineOptions,
) -> Composition:
    started = time.perf_counter()
    job = open_job(store_url, job_id)
    with supervised() as scope:
        try:
            compose_video(request, script, narration, visuals, job, options, timeout_s=scope.timeout_s)
        finally:
            job.remove_temporaries()
        composition = Composition(
            job_id=job_id,
            video=job.ref(VIDEO_KEY),
            subtitles=job.ref(SRT_KEY),
            thumbnail=job.ref(THUMB_KEY),
            timeline=job.ref(TIMELINE_KEY),
            ffmpeg=capabilities().version,
            elapsed_s=time.perf_counter() - started,
        )
    progress.report("compose", 1.0, f"{narration.duration:.1f} s video ready")
    return composition


STAGE = Stage(name="compose", label="Compose", weight=20, task=compose_task, served_by=lambda c: short_version(c.ffmpeg))


def remove_work_files(job: JobStore) -> None:
    """Drop work/ after the render (keep_work_files=False); later runs then redo voice and visuals."""
    shutil.rmtree(job.path(WORK_DIR), ignore_errors=True)
