"""Stage 1, brief: check the request against this machine before any work starts."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import psutil
from prefect import task
from prefect.cache_policies import NO_CACHE

from aura import progress
from aura.errors import SystemCheckError
from aura.media.encoders import NVENC, nvenc_problem
from aura.media.ffmpeg import INSTALL_HINT, capabilities, ffprobe_path
from aura.media.fonts import find_font
from aura.models import BriefReport, VideoRequest
from aura.providers.llm.writing.packs import LANGUAGES, pack_for
from aura.settings import OFFLINE_MODEL, Settings, get_settings
from aura.stages.cost_estimate import check_budget
from aura.stages.inputs import check_inputs
from aura.stages.stage import Stage, supervised, worth_retrying
from aura.store import ArtifactStore

# rough encoded size per second of video (H.264 at our CRF on stills) and per scene of work files
_VIDEO_BYTES_PER_S = {"720p": 350_000, "1080p": 700_000}
_WORK_BYTES_PER_SCENE = {"720p": 2_500_000, "1080p": 5_000_000}
_FFMPEG_MEMORY = {"720p": 400 * 2**20, "1080p": 900 * 2**20}


def estimate_output_bytes(request: VideoRequest) -> int:
    scenes = max(2, request.duration_seconds // 6)
    video = _VIDEO_BYTES_PER_S[request.resolution] * request.duration_seconds
    audio = 48_000 * 2 * 2 * request.duration_seconds  # narration wavs, raw and normalised
    return int((video + audio + scenes * _WORK_BYTES_PER_SCENE[request.resolution]) * 1.5)


def check_output_folder(folder: Path) -> int:
    """Free bytes where the job will be written; raises when the folder cannot be written.

    The folder is created and a probe file written and removed: permissions,
    read-only mounts and paths through a file all fail here, before any work.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".tmp-probe-"):
            pass
    except OSError as exc:
        raise SystemCheckError(
            f"output folder {folder} is not writable ({exc.strerror or exc}): "
            "choose another with --out or AURA_OUTPUT, or fix its permissions"
        ) from None
    return shutil.disk_usage(folder).free


def check_llm_budget(settings: Settings, script_timeout_s: float | None) -> list[str]:
    """Warn when hanging models could outlast the script stage, so the fallback would never be reached."""
    worst = settings.llm_worst_case_s
    if script_timeout_s is None or worst <= script_timeout_s or OFFLINE_MODEL not in settings.llm_chain:
        return []
    return [
        f"the LLM chain may wait up to {worst:.0f} s on models that do not answer, but the script stage times out "
        f"after {script_timeout_s:.0f} s: lower AURA_LLM_TIMEOUT_S or AURA_LLM_RETRIES, or raise the script timeout, "
        "so the offline writer can still serve"
    ]


def check_request(
    request: VideoRequest,
    output_folder: Path,
    settings: Settings | None = None,
    script_timeout_s: float | None = None,
    store: ArtifactStore | None = None,
) -> BriefReport:
    """Everything the render needs, checked up front; each failure says what to install or free.

    `store` holds the request's uploads and store keys (default: the output folder as the store).
    """
    settings = settings or Settings(_env_file=None)
    started = time.perf_counter()
    warnings: list[str] = []
    caps = capabilities()
    missing = caps.missing()
    if missing:
        raise SystemCheckError(f"ffmpeg at {caps.path} lacks {', '.join(missing)}: {INSTALL_HINT}")
    if settings.video_encoder == NVENC and nvenc_problem():  # asked for by name: refused before any work
        raise SystemCheckError(f"AURA_VIDEO_ENCODER=h264_nvenc: {nvenc_problem()}: use auto or libx264")
    if not ffprobe_path():
        warnings.append("ffprobe not found: probing falls back to `ffmpeg -i` (apt-get install ffmpeg adds it)")
    progress.report("brief", 0.4, "ffmpeg ok")

    needed = estimate_output_bytes(request)
    free = check_output_folder(output_folder)
    reserve = settings.disk_reserve_mb * 2**20
    if free < needed + reserve:
        raise SystemCheckError(
            f"not enough disk space in {output_folder}: about {needed / 2**20:.0f} MiB needed "
            f"and {settings.disk_reserve_mb} MiB kept free (AURA_DISK_RESERVE_MB), {free / 2**20:.0f} MiB free: "
            "free some space, choose another --out folder, or lower AURA_DISK_RESERVE_MB"
        )
    available = psutil.virtual_memory().available
    if available < _FFMPEG_MEMORY[request.resolution]:
        raise SystemCheckError(
            f"not enough free memory for a {request.resolution} render: about "
            f"{_FFMPEG_MEMORY[request.resolution] / 2**20:.0f} MiB needed, {available / 2**20:.0f} MiB available: "
            "close other programs or use --resolution 720p"
        )
    warnings += check_inputs(request, settings, store or ArtifactStore(str(output_folder)))
    estimate = check_budget(request, settings)  # max_cost_usd: refused here, before the first paid call
    warnings += check_llm_budget(settings, script_timeout_s)
    if settings.llm_model == OFFLINE_MODEL and pack_for(request.language) is None:
        warnings.append(
            f"the offline writer writes {_written_languages()}: for {request.language} the narration is the brief itself, "
            "so the video may be shorter than asked; set AURA_LLM_MODEL to a real LLM for a full script"
        )
    if find_font(request.brief[:200]) is None:
        warnings.append("no font covers the brief's script: install fonts-noto-core (or fonts-noto-cjk)")
    progress.report("brief", 1.0, "checks passed")
    return BriefReport(
        ffmpeg=caps.path,
        ffmpeg_version=caps.version,
        estimated_output_bytes=needed,
        free_disk_bytes=free,
        available_memory_bytes=available,
        estimated_cost_usd=estimate.usd if estimate else None,
        warnings=warnings,
        elapsed_s=time.perf_counter() - started,
    )


def _written_languages() -> str:
    """The languages the offline writer has a pack for, by name: "English (en), Spanish (es), ..."."""
    return ", ".join(f"{pack_for(code)['name']} ({code})" for code in LANGUAGES)


def work_folder(store_url: str) -> Path:
    """Where the run's files are written on this machine: the store's folder, or the temp folder a remote store
    stages in (the disk that must have room)."""
    return Path(store_url) if "://" not in store_url else Path(tempfile.gettempdir())


# never cached: it checks this machine as it is now (disk, memory, ffmpeg), and costs a fraction of a second
@task(
    name="brief", retries=0, timeout_seconds=30, retry_condition_fn=worth_retrying, cache_policy=NO_CACHE,
    persist_result=False,
)  # fmt: skip
def brief_task(request: VideoRequest, store_url: str, script_timeout_s: float | None = None) -> BriefReport:
    with supervised():
        return check_request(request, work_folder(store_url), get_settings(), script_timeout_s, ArtifactStore(store_url))


STAGE = Stage(name="brief", label="Brief", weight=5, task=brief_task)
