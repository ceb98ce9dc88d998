"""Generated motion: a diffusers video pipeline turns a scene's still into a clip, or its visual prompt into one.

AURA_MOTION_MODEL is a pipeline folder (saved with `save_pretrained`) or a
hub id in the local cache that `DiffusionPipeline` loads. A pipeline whose
call takes an `image` (Stable Video Diffusion, LTX-Video, Wan or CogVideoX
image-to-video) animates the scene's still, whoever served it; one that
takes only a `prompt` (LTX-Video, Wan, CogVideoX text-to-video) makes the
clip from the scene's visual prompt. Frames, frame rate and size come from
the pipeline's own call defaults, the size fitted to the video's aspect at
the model's area (AURA_MOTION_FRAMES and AURA_MOTION_BASE_SIZE override);
AURA_MOTION_SCENES (`all`, `first:N`, `every:N`) bounds the cost.

On a GPU one pipeline per process (the worker's GPU), in bf16 where the card
has it else fp16, VAE tiling and slicing on, and the model's weights on the
CPU, moved in per layer group, when the card's free memory is short of
what the weights need (decided from free memory, and logged). An
out-of-memory on a scene is tried again with half the frames at a smaller
size, then that scene keeps its still with a warning. Clips are written as
H.264 and credited (`provider: motion`, the model).
"""

from __future__ import annotations

import inspect
import logging
import math
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aura import pricing, processes, progress, spend
from aura.errors import MediaError, ProviderError, ProviderUnavailable
from aura.media.ffmpeg import ffmpeg_path
from aura.models import MediaCredit
from aura.providers.base import ProviderSettings, quiet_model_libraries
from aura.providers.images.base import ImagePrompt, SceneMedia
from aura.providers.images.stable_diffusion import (
    fit_image, import_torch, is_folder_like, load_any_pipeline, model_problem, pick_device, prompt_text, short_error,
)  # fmt: skip
from aura.supervision import Interrupted, checkpoint

NAME = "motion"
STAGE_TIMEOUT_S = 3600  # the visuals stage's time limit when it animates (a clip takes a GPU tens of seconds)
OFFLOAD_MARGIN = 1.3  # weights times this must fit the card's free memory, else they stay on the CPU between layers
MIN_SIDE = 64
log = logging.getLogger("aura.providers")
_loaded: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


class MotionSettings(ProviderSettings):
    """AURA_MOTION_MODEL and what bounds the work it does."""

    model_config = SettingsConfigDict(env_prefix="AURA_MOTION_")

    model: str | None = Field(default=None, description="An image-to-video or text-to-video diffusers pipeline.")
    scenes: str = Field(default="all", pattern=r"^(all|first:[1-9][0-9]*|every:[1-9][0-9]*)$")
    steps: int = Field(default=0, ge=0, le=200, description="Denoising steps (0: the pipeline's own default).")
    frames: int = Field(default=0, ge=0, le=1000, description="Frames per clip (0: the pipeline's own default).")
    base_size: int = Field(default=0, ge=0, le=4096, description="The model's native side (0: from its call defaults).")
    device: str = "auto"

    def output_settings(self) -> dict[str, object]:
        return {"model": self.model, "scenes": self.scenes, "steps": self.steps, "frames": self.frames,
                "base_size": self.base_size}  # fmt: skip


def chosen(spec: str, count: int) -> list[int]:
    """The scenes AURA_MOTION_SCENES animates, of `count`."""
    if spec == "all":
        return list(range(count))
    kind, n = spec.split(":")
    return list(range(min(int(n), count))) if kind == "first" else list(range(0, count, int(n)))


@dataclass
class Animated:
    media: dict[int, SceneMedia]  # the scenes now clips
    warnings: list[str]


def animate(
    scenes: dict[int, SceneMedia], prompts: Sequence[ImagePrompt], frame: tuple[int, int], out_dir: Path,
    settings: MotionSettings, required: bool = False,
) -> Animated:  # fmt: skip
    """Clips for the chosen scenes (stills animated, or made from the prompt); what failed keeps its still."""
    if not settings.model:
        return Animated({}, [])
    try:
        pipe, device = load(settings)
    except ProviderUnavailable as exc:
        if required:
            raise
        return Animated({}, [f"motion: {exc}: the scenes keep their stills"])
    takes_image = "image" in inspect.signature(pipe.__call__).parameters
    asked = set(chosen(settings.scenes, len(prompts)))
    wanted = [p for position, p in enumerate(prompts) if position in asked]
    if takes_image:  # a clip from the stock or the user's own footage moves already
        wanted = [p for p in wanted if p.index in scenes and scenes[p.index].kind == "still"]
    made, notes = {}, []
    for done, prompt in enumerate(wanted, start=1):
        checkpoint()
        still = scenes[prompt.index].path if takes_image and prompt.index in scenes else None
        try:
            clip = _clip(pipe, device, settings, prompt, still, frame, out_dir)
        except (ProviderError, MediaError) as exc:
            if required:
                raise
            notes.append(f"motion: scene {prompt.index + 1} keeps its still ({exc})")
            continue
        before = scenes.get(prompt.index)
        made[prompt.index] = SceneMedia(index=prompt.index, path=clip, kind="clip", credit=_credit(settings.model, before))
        progress.report("visuals", 0.5 + 0.45 * done / len(wanted), f"motion {done}/{len(wanted)} ({shown(settings.model)})")
    return Animated(made, notes)


def load(settings: MotionSettings):
    """The pipeline, loaded once per process and device: dtype, VAE tiling and slicing, offload when short."""
    problem = model_problem(settings.model)
    if problem:
        raise ProviderUnavailable(f"AURA_MOTION_MODEL={settings.model}: {problem}")
    device = pick_device(settings.device)
    key = (settings.model, device)
    with _lock:
        if key in _loaded:
            return _loaded[key], device
        torch = import_torch()
        quiet_model_libraries()
        dtype = _dtype(torch, device)
        source = str(Path(settings.model).expanduser()) if is_folder_like(settings.model) else settings.model
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
                pipe = load_any_pipeline(source, dtype)
        except Exception as exc:  # noqa: BLE001 - whatever stops loading, the model is unusable as configured
            raise ProviderUnavailable(f"AURA_MOTION_MODEL={settings.model} does not load ({short_error(exc)})") from exc
        pipe.set_progress_bar_config(disable=True)
        vae = getattr(pipe, "vae", None)
        for switch in ("enable_tiling", "enable_slicing"):  # decode in tiles and frame groups: memory stays flat
            if vae is not None and hasattr(vae, switch):
                try:
                    getattr(vae, switch)()
                except Exception:  # noqa: BLE001,S112 - a VAE that cannot tile decodes whole
                    continue
        _place(pipe, device, torch)
        _loaded[key] = pipe
        return pipe, device


def unload() -> None:
    with _lock:
        _loaded.clear()


def _dtype(torch, device: str):
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float16 if device == "mps" else torch.float32


def _place(pipe, device: str, torch) -> None:
    if device != "cuda":
        pipe.to(device)
        return
    weights = sum(p.numel() * p.element_size() for m in pipe.components.values() if hasattr(m, "parameters")
                  for p in m.parameters())  # fmt: skip
    free, _total = torch.cuda.mem_get_info()
    if weights * OFFLOAD_MARGIN > free:
        log.info("motion: %.1f GiB of weights, %.1f GiB free on the GPU: the model stays on the CPU between layers",
                 weights / 2**30, free / 2**30)  # fmt: skip
        pipe.enable_model_cpu_offload()
    else:
        log.info("motion: %.1f GiB of weights on the GPU (%.1f GiB free)", weights / 2**30, free / 2**30)
        pipe.to(device)


def call_defaults(pipe) -> dict[str, Any]:
    return {k: v.default for k, v in inspect.signature(pipe.__call__).parameters.items()
            if v.default is not inspect.Parameter.empty}  # fmt: skip


def clip_size(frame: tuple[int, int], base: int) -> tuple[int, int]:
    """The video's aspect at the model's area (base x base), to multiples of 16."""
    scale = base / math.sqrt(frame[0] * frame[1])
    scale = max(scale, MIN_SIDE / min(frame))  # the short side at least MIN_SIDE, the aspect kept
    return (max(MIN_SIDE, round(frame[0] * scale / 16) * 16), max(MIN_SIDE, round(frame[1] * scale / 16) * 16))


def _clip(pipe, device: str, settings: MotionSettings, prompt: ImagePrompt, still: Path | None, frame, out_dir: Path) -> Path:
    torch = import_torch()
    defaults = call_defaults(pipe)
    native = settings.base_size or int(math.sqrt((defaults.get("height") or 512) * (defaults.get("width") or 512)))
    frames = settings.frames or defaults.get("num_frames") or getattr(getattr(pipe, "unet", None), "config", {}).get("num_frames", 16)
    fps = int(defaults.get("fps") or defaults.get("frame_rate") or 8)
    size = clip_size(frame, native)
    for attempt in range(3):  # as asked; then half the frames, 3/4 the size; then a quarter of the frames, half the size
        try:
            pictures = _generate(pipe, device, torch, settings, prompt, still, size, frames, fps, defaults)
            return write_clip(pictures, fps, out_dir / f"scene_{prompt.index:03d}.mp4")
        except torch.cuda.OutOfMemoryError:
            if device == "cuda":
                torch.cuda.empty_cache()
            if attempt == 2:
                raise ProviderError(f"out of {device} memory even at {size[0]}x{size[1]}, {frames} frames") from None
            frames, size = max(2, frames // 2), clip_size(frame, int(native * (0.75 if attempt == 0 else 0.5)))
            log.warning("motion: scene %d ran out of %s memory: trying %d frames at %dx%d", prompt.index + 1, device,
                        frames, size[0], size[1])  # fmt: skip
    raise AssertionError("unreachable")


def _generate(pipe, device, torch, settings, prompt, still, size, frames, fps, defaults) -> list[Image.Image]:
    options: dict[str, Any] = {"height": size[1], "width": size[0], "num_frames": frames, "output_type": "pil",
                               "generator": torch.Generator("cpu").manual_seed(prompt.seed)}  # fmt: skip
    if settings.steps:
        options["num_inference_steps"] = settings.steps
    if "fps" in defaults:
        options["fps"] = fps
    if "frame_rate" in defaults:
        options["frame_rate"] = fps
    if "decode_chunk_size" in defaults:
        options["decode_chunk_size"] = min(8, frames)
    if "callback_on_step_end" in defaults:
        options["callback_on_step_end"] = lambda pipe, step, timestep, tensors: (checkpoint(), tensors)[1]
    if still is not None:
        options["image"] = fit_image(Image.open(still).convert("RGB"), size)
    if "prompt" in inspect.signature(pipe.__call__).parameters:  # text-to-video, and image-to-video models that read one
        options["prompt"] = prompt_text(prompt)
    started = time.perf_counter()
    try:
        result = pipe(**options)
    except (Interrupted, torch.cuda.OutOfMemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - a sampling failure names the model
        raise ProviderError(f"{settings.model} failed ({short_error(exc)})") from exc
    if device != "cpu":  # the GPU's time, as a cloud GPU bills it
        spend.charge_gpu(time.perf_counter() - started, pricing.gpu_price())
    return list(result.frames[0])


def write_clip(pictures: list[Image.Image], fps: int, target: Path) -> Path:
    """The frames as an H.264 mp4 (piped to ffmpeg as raw RGB), written next to its place and renamed."""
    if not pictures:
        raise ProviderError("the model made no frames")
    width, height = (side - side % 2 for side in pictures[0].size)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part.mp4")
    raw = b"".join(p.convert("RGB").crop((0, 0, width, height)).tobytes() for p in pictures)
    done = processes.run([ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-", "-c:v", "libx264",
                          "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
                          str(partial)], input=raw, timeout=300)  # fmt: skip
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise MediaError("ffmpeg could not write the clip: " + " ".join(done.stderr.decode("utf-8", "replace").split())[:200])
    partial.replace(target)
    return target


def shown(model: str) -> str:
    """The model as callers see it: a hub id, or a folder's name (never the server's path)."""
    return Path(model).name if is_folder_like(model) else model


def _credit(model: str, before: SceneMedia | None) -> MediaCredit:
    """The model that animated it (a folder by its name: no server path is shown); a found still's author and page
    stay credited."""
    found = before.credit if before is not None and before.credit is not None else None
    return MediaCredit(
        provider=NAME, media_id=shown(model), author=found.author if found else "", author_url=found.author_url if found else "",
        page_url=found.page_url if found else "", license=f"generated from {found.provider}'s {found.media_id}" if found else "generated",
    )  # fmt: skip


def status_detail(settings: MotionSettings) -> str:
    """What `aura doctor` says of the motion model (checked without loading it)."""
    if not settings.model:
        return "AURA_MOTION_MODEL is not set: scenes are stills moved by the camera"
    problem = model_problem(settings.model)
    return f"AURA_MOTION_MODEL={settings.model}: {problem}" if problem else f"{settings.model} animates {settings.scenes} scenes"

