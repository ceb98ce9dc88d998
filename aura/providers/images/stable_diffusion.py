"""The generative image provider: Stable Diffusion (1.5, turbo, XL) run locally with diffusers.

The model is a folder saved with `save_pretrained` or a Hugging Face hub id
already in the local cache (the network is tried last, never when
HF_HUB_OFFLINE is set). It is loaded once per process and reused by every
scene and every run. All scenes of a video are drawn in batches; each image
has its own generator seeded from the scene's seed, so an image does not
depend on the batch it landed in.

torch and diffusers (the `sd` extra) are imported only when a model is
loaded or a device is picked: importing this module, the registry and
`aura doctor` work without them.
"""

from __future__ import annotations

import gc
import importlib.util
import math
import os
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from aura import pricing, progress, spend
from aura.errors import ProviderError, ProviderUnavailable, SystemCheckError
from aura.providers.base import ProviderStatus, quiet_model_libraries
from aura.providers.images.base import DrawsStills, ImagePrompt
from aura.providers.images.files import image_folder, save_scene_png
from aura.supervision import Interrupted, RunCancelled, checkpoint

NAME = "stable-diffusion"
INSTALL_HINT = "install it with pip install torch && pip install 'aura-video[sd]'"

# What the prompt adds per style: a look to aim for and what to steer away from.
STYLE_SUFFIX = {
    "documentary": "documentary photograph, natural light, realistic, detailed",
    "explainer": "clean flat illustration, bright friendly colours, simple shapes",
    "promo": "cinematic advertising shot, bold colours, dramatic lighting, sharp focus",
    "tutorial": "clear instructional photo, plain background, even lighting, sharp focus",
    "story": "cinematic film still, warm golden light, atmospheric, storybook mood",
}
STYLE_NEGATIVE = {
    "documentary": "cartoon, illustration, oversaturated",
    "explainer": "photorealistic, cluttered, dark, gloomy",
    "promo": "dull, washed out, amateur",
    "tutorial": "cluttered, dramatic shadows, dark",
    "story": "flat lighting, clinical, harsh",
}
# Stills carry no text of their own (the key phrase and subtitles are added later).
NEGATIVE_ALWAYS = "text, letters, watermark, logo, signature, lowres, blurry, deformed, jpeg artifacts"
DEFAULT_STYLE = "explainer"

# Batch sizing when AURA_SD_BATCH_SIZE is 0 (auto).
# On CUDA: activation memory of one SD 1.5 image at 512x512 in fp16 with classifier-free
# guidance (the UNet runs on 2 latents per image) plus its share of the VAE decode,
# rounded up; it grows with the pixel area and doubles in float32. The weights are
# already on the GPU when free memory is read, so they are not counted again.
GPU_BYTES_PER_IMAGE_512 = int(1.25 * 2**30)
GPU_MEMORY_SHARE = 0.8  # leave room for the allocator's fragmentation and other processes
MAX_BATCH = 16
# On CPU and MPS one image at a time: one image's convolutions already keep every core
# busy, so batches gain little (bench/visuals.py, SD 1.5 at 256 px on 2 cores: batch 2
# is 6% faster with guidance, 1% at 1 step) while activation memory grows with each
# image; MPS shares memory with the whole system and cannot say how much is free.
CPU_BATCH = 1
# more steps than this on a CPU take minutes per image (bench/visuals.py: ~5 s a step at 256 px)
CPU_FRIENDLY_STEPS = 4

_cache: dict[tuple[str, str, str], Any] = {}
_cache_lock = threading.Lock()
# A pipeline keeps its scheduler's state between steps, so two threads must not sample
# with it at once; one accelerator runs one batch at a time anyway.
_sampling_lock = threading.Lock()


# ---------------------------------------------------------------- pure helpers


def generation_size(size: tuple[int, int], base_size: int) -> tuple[int, int]:
    """(w, h) in multiples of 8 with the aspect of `size` and an area of about base_size**2.

    SD models draw well only near the pixel count they were trained at; the
    still is then fitted to the exact requested size.
    """
    w, h = size
    if w <= 0 or h <= 0:
        raise ProviderError(f"image size {w}x{h} is not a size: both sides must be positive")
    aspect = w / h
    return (_multiple_of_8(base_size * math.sqrt(aspect)), _multiple_of_8(base_size / math.sqrt(aspect)))


def _multiple_of_8(value: float) -> int:
    return max(8, round(value / 8) * 8)


def pick_device(requested: str = "auto", available: Sequence[str] | None = None) -> str:
    """cuda, mps or cpu: the best available for "auto", else the one asked for if it is there.

    `available` lists the devices this machine has; by default torch is asked.
    """
    available = list(available) if available is not None else _available_devices()
    if requested == "auto":
        return next(d for d in ("cuda", "mps", "cpu") if d in available or d == "cpu")
    if requested not in ("cuda", "mps", "cpu"):
        raise ProviderUnavailable(f"AURA_SD_DEVICE={requested!r} is not a device: use auto, cuda, mps or cpu")
    if requested != "cpu" and requested not in available:
        raise ProviderUnavailable(
            f"AURA_SD_DEVICE={requested} but torch finds no {requested} device here: set AURA_SD_DEVICE=auto or cpu"
        )
    return requested


def dtype_name(device: str) -> str:
    """fp16 on CUDA halves memory and time; elsewhere fp16 is slow or unsupported."""
    return "float16" if device == "cuda" else "float32"


def auto_batch_size(device: str, gen_size: tuple[int, int], free_bytes: int | None = None, dtype: str = "float16") -> int:
    """Images per batch: from free GPU memory on CUDA, CPU_BATCH elsewhere."""
    if device != "cuda" or free_bytes is None:
        return CPU_BATCH
    area = gen_size[0] * gen_size[1] / (512 * 512)
    per_image = GPU_BYTES_PER_IMAGE_512 * area * (1 if dtype == "float16" else 2)
    return max(1, min(MAX_BATCH, int(free_bytes * GPU_MEMORY_SHARE // per_image)))


def prompt_text(prompt: ImagePrompt) -> str:
    style = prompt.style if prompt.style in STYLE_SUFFIX else DEFAULT_STYLE
    subject = prompt.prompt.strip() or prompt.key_phrase.strip() or prompt.title.strip()
    return f"{subject}, {STYLE_SUFFIX[style]}"


def negative_text(prompt: ImagePrompt) -> str:
    style = prompt.style if prompt.style in STYLE_NEGATIVE else DEFAULT_STYLE
    return f"{NEGATIVE_ALWAYS}, {STYLE_NEGATIVE[style]}"


def fit_image(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Cover `size` exactly: scale until both sides fill it (LANCZOS), crop the centre."""
    return ImageOps.fit(image.convert("RGB"), size, Image.Resampling.LANCZOS, centering=(0.5, 0.5))


# ---------------------------------------------------------------- the model


def is_folder_like(model: str) -> bool:
    """A path rather than a hub id ("org/name"): it exists, or it is written like a path."""
    if Path(model).expanduser().exists():
        return True
    return model.startswith((".", "/", "~", "\\")) or model.count("/") > 1 or "\\" in model or ":" in model


def _how_to_provide(model: str) -> str:
    # `hf` is the Hub's CLI since huggingface_hub 0.34; `huggingface-cli` no longer works in 1.x
    if is_folder_like(model):
        return (
            "set AURA_SD_MODEL to a folder saved with `pipe.save_pretrained(folder)` "
            "or fetched with `hf download <hub id> --local-dir folder` (e.g. stable-diffusion-v1-5/stable-diffusion-v1-5)"
        )
    return (
        f"download it on a connected machine with `hf download {model} --local-dir folder` "
        f"(or `pipe.save_pretrained(folder)`) and set AURA_SD_MODEL to that folder"
    )


def _unavailable(model: str, reason: str) -> ProviderUnavailable:
    return ProviderUnavailable(f"Stable Diffusion model {model!r} could not be loaded ({reason}): {_how_to_provide(model)}")


def _hf_offline() -> bool:
    """HF_HUB_OFFLINE as it is now (huggingface_hub reads it once, at its import)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _missing_packages() -> str | None:
    """What of the `sd` extra is not installed, said with how to install it; None when all is there."""
    missing = [name for name in ("torch", "diffusers", "transformers") if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return f"Stable Diffusion needs {', '.join(missing)}, not installed (the `sd` extra): {INSTALL_HINT}"


def _available_devices() -> list[str]:
    torch = import_torch()
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def import_torch():
    try:
        import torch
    except ImportError as exc:
        raise ProviderUnavailable(f"Stable Diffusion needs torch, which is not installed ({exc}): {INSTALL_HINT}") from exc
    return torch


def model_problem(model: str) -> str | None:
    """Why `model` is certainly not loadable, checked without loading it; None when it may be."""
    if is_folder_like(model):
        folder = Path(model).expanduser()
        if not folder.is_dir():
            return f"folder {folder} does not exist"
        if not (folder / "model_index.json").is_file():
            return f"folder {folder} has no model_index.json, so it is not a pipeline saved with save_pretrained"
        return None
    if not _in_hf_cache(model) and _hf_offline():
        return "not in the Hugging Face cache, and HF_HUB_OFFLINE is set"
    return None


def _in_hf_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        return isinstance(try_to_load_from_cache(repo_id, "model_index.json"), str)
    except ValueError:  # not a valid repo id
        return False


def _cache_key(model: str, device: str, dtype: str) -> tuple[str, str, str]:
    # one entry per folder however it is written (./m, /abs/m, ~/m)
    if is_folder_like(model):
        model = str(Path(model).expanduser().resolve())
    return (model, device, dtype)


def get_pipeline(model: str, device: str, dtype: str):
    """The loaded pipeline for (model, device, dtype): loaded on first use, then shared."""
    key = _cache_key(model, device, dtype)
    with _cache_lock:  # held while loading: two threads never load the same model twice
        if key not in _cache:
            _cache[key] = _load_pipeline(model, device, dtype)
        return _cache[key]


def clear_pipeline_cache() -> None:
    """Forget every loaded pipeline (tests; or to free GPU memory)."""
    with _cache_lock:
        _cache.clear()


def _load_pipeline(model: str, device: str, dtype: str):
    problem = model_problem(model)
    if problem:
        raise _unavailable(model, problem)
    torch = import_torch()
    quiet_model_libraries()
    source = str(Path(model).expanduser()) if is_folder_like(model) else model
    try:
        pipe = _from_pretrained(source, getattr(torch, dtype)).to(device)
    except ProviderUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever stops loading, the model is unusable as configured
        raise _unavailable(model, short_error(exc)) from exc
    pipe.set_progress_bar_config(disable=True)
    if hasattr(pipe, "vae") and hasattr(pipe.vae, "enable_slicing"):
        pipe.vae.enable_slicing()  # decode one image at a time: VAE memory does not grow with the batch
    return pipe


def _from_pretrained(source: str, dtype, load=None):
    """Local files first (the folder, or the HF cache) so an offline machine fails fast; then the network."""
    load = load or _load_from
    try:
        return load(source, dtype, local_files_only=True)
    except OSError:
        if is_folder_like(source) or _hf_offline():
            raise
    return load(source, dtype, local_files_only=False)


def load_any_pipeline(source: str, dtype):
    """Any pipeline DiffusionPipeline knows (a video model's too), found as `_from_pretrained` finds one."""

    def load(source: str, dtype, local_files_only: bool):
        try:
            from diffusers import DiffusionPipeline
        except ImportError as exc:
            raise ProviderUnavailable(f"diffusers is not installed ({exc}): {INSTALL_HINT}") from exc
        return DiffusionPipeline.from_pretrained(source, torch_dtype=dtype, local_files_only=local_files_only)

    return _from_pretrained(source, dtype, load)


def _load_from(source: str, dtype, local_files_only: bool):
    try:
        from diffusers import AutoPipelineForText2Image, DiffusionPipeline
    except ImportError as exc:
        raise ProviderUnavailable(f"Stable Diffusion needs diffusers, which is not installed ({exc}): {INSTALL_HINT}") from exc
    options: dict[str, Any] = {"torch_dtype": dtype, "local_files_only": local_files_only}
    config = DiffusionPipeline.load_config(source, local_files_only=local_files_only)
    if "safety_checker" in config:  # SD 1.x/2.x: do not load the ~1 GB checker; SDXL and turbo have none
        options.update(safety_checker=None, requires_safety_checker=False)
    with warnings.catch_warnings():
        # diffusers 0.42 prefers `dtype`; `torch_dtype` works in every version the `sd` extra allows
        warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
        return AutoPipelineForText2Image.from_pretrained(source, **options)


def short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


# ---------------------------------------------------------------- the provider


class StableDiffusionProvider(DrawsStills):
    """Scene stills from a local Stable Diffusion pipeline (diffusers)."""

    name = NAME

    def __init__(
        self,
        model: str | None,
        device: str = "auto",
        steps: int = 25,
        guidance: float = 7.5,
        batch_size: int = 0,
        base_size: int = 512,
    ) -> None:
        self.model = model
        self.device = device
        self.steps = steps
        self.guidance = guidance
        self.batch_size = batch_size
        self.base_size = base_size

    @classmethod
    def from_settings(cls, settings) -> StableDiffusionProvider:
        return cls(
            model=settings.sd_model,
            device=settings.sd_device,
            steps=settings.sd_steps,
            guidance=settings.sd_guidance,
            batch_size=settings.sd_batch_size,
            base_size=settings.sd_base_size,
        )

    @classmethod
    def output_settings(cls, settings) -> dict[str, object]:
        return {"model": settings.sd_model, "steps": settings.sd_steps, "guidance": settings.sd_guidance,
                "base_size": settings.sd_base_size}  # fmt: skip

    @classmethod
    def check_request(cls, request, settings) -> list[str]:
        """A warning when the images will be slides or slow; an error when they are required and cannot be made."""
        status = cls.from_settings(settings).status()
        if not status.usable:
            if request.visuals_required:
                raise SystemCheckError(f"visuals_required: {status.detail}")
            return [f"{cls.name} is not usable ({status.detail}): the visuals will be slides"]
        if pick_device(settings.sd_device) == "cpu" and settings.sd_steps > CPU_FRIENDLY_STEPS:
            return [
                f"Stable Diffusion runs on the CPU here: {settings.sd_steps} steps take minutes per image; "
                "use a turbo model with AURA_SD_STEPS=1 to 4 and AURA_SD_GUIDANCE=0, or a GPU worker"
            ]
        return []

    def status(self) -> ProviderStatus:
        """Whether render() can work here, checked without loading the model."""
        return ProviderStatus(self.name, "images", *self._usable())

    def _usable(self) -> tuple[bool, str]:
        if not self.model:
            return False, "AURA_SD_MODEL is not set: set it to a saved pipeline folder or a hub id"
        missing = _missing_packages()
        if missing:
            return False, missing
        problem = model_problem(self.model)
        if problem is None and not is_folder_like(self.model) and not _in_hf_cache(self.model):
            problem = "not in the Hugging Face cache (it would be downloaded on first use)"
        if problem:
            return False, f"AURA_SD_MODEL={self.model}: {problem}: {_how_to_provide(self.model)}"
        try:
            device = pick_device(self.device)
        except ProviderUnavailable as exc:
            return False, str(exc)
        batch = self.batch_size or "auto"
        return True, (
            f"{self.model} on {device} ({dtype_name(device)}), {self.steps} steps, guidance {self.guidance:g}, "
            f"{self.base_size} px, batch {batch}"
        )

    def _pipeline(self):
        if not self.model:
            raise ProviderUnavailable("AURA_SD_MODEL is not set: set it to a saved pipeline folder or a hub id")
        missing = _missing_packages()
        if missing:
            raise ProviderUnavailable(missing)
        device = pick_device(self.device)
        dtype = dtype_name(device)
        return get_pipeline(self.model, device, dtype), device, dtype

    def render(self, prompts: Sequence[ImagePrompt], size: tuple[int, int], out_dir: Path) -> list[Path]:
        size = (int(size[0]), int(size[1]))
        gen_w, gen_h = generation_size(size, self.base_size)
        if not prompts:
            return []
        progress.report("visuals", 0.05, f"loading Stable Diffusion {self.model}")
        pipe, device, dtype = self._pipeline()
        out_dir = image_folder(out_dir)
        batch = self.batch_size or auto_batch_size(device, (gen_w, gen_h), _free_gpu_bytes(device), dtype)
        paths: list[Path] = []
        pending = list(prompts)
        while pending:
            group = pending[:batch]
            try:
                images = self._generate(pipe, device, group, (gen_w, gen_h))
            except _OutOfMemory:
                if batch == 1:
                    raise ProviderError(
                        f"Stable Diffusion ran out of {device} memory on one {gen_w}x{gen_h} image: "
                        "lower AURA_SD_BASE_SIZE or set AURA_SD_DEVICE=cpu"
                    ) from None
                batch = max(1, batch // 2)  # same generators per image: a smaller batch gives the same images
                continue
            for prompt, image in zip(group, images):
                paths.append(save_scene_png(fit_image(image, size), out_dir, prompt.index))
            pending = pending[len(group) :]
            done = len(paths)
            progress.report("visuals", 0.05 + 0.9 * done / len(prompts), f"image {done}/{len(prompts)} ({NAME})")
        return paths

    def _generate(self, pipe, device: str, group: Sequence[ImagePrompt], gen_size: tuple[int, int]) -> list[Image.Image]:
        torch = import_torch()
        try:
            return generate_images(pipe, device, group, gen_size, self.steps, self.guidance)
        except Interrupted as stop:
            release_device_memory(device, unload=isinstance(stop, RunCancelled))
            raise
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            raise _OutOfMemory from None
        except Exception as exc:  # noqa: BLE001 - a sampling failure names the model and the size
            raise ProviderError(
                f"Stable Diffusion model {self.model!r} failed on {len(group)} image(s) of {gen_size[0]}x{gen_size[1]} "
                f"on {device} ({short_error(exc)}): check AURA_SD_MODEL is a text-to-image pipeline"
            ) from exc


def generate_images(
    pipe, device: str, prompts: Sequence[ImagePrompt], gen_size: tuple[int, int], steps: int, guidance: float
) -> list[Image.Image]:
    """One pipeline call for a batch of scenes, at the generation size (bench/visuals.py times this)."""
    torch = import_torch()
    # one generator per image, seeded by its scene: batching does not change any image
    gen_device = "cuda" if device == "cuda" else "cpu"
    generators = [torch.Generator(gen_device).manual_seed(p.seed) for p in prompts]
    guided = guidance > 1  # without guidance diffusers ignores the negative prompt
    with _sampling_lock:
        checkpoint()
        started = time.perf_counter()
        result = pipe(
            prompt=[prompt_text(p) for p in prompts],
            negative_prompt=[negative_text(p) for p in prompts] if guided else None,
            width=gen_size[0],
            height=gen_size[1],
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=generators,
            output_type="pil",
            callback_on_step_end=_check_in,  # a timeout or a cancellation stops sampling at the next step
        )
        if device != "cpu":  # the GPU's time, as a cloud GPU bills it
            spend.charge_gpu(time.perf_counter() - started, pricing.gpu_price())
    return list(result.images)


def _check_in(pipe, step: int, timestep, tensors: dict) -> dict:
    checkpoint()
    return tensors


def release_device_memory(device: str, unload: bool = False) -> None:
    """After sampling was stopped: hand the GPU's cached blocks back, and with `unload` the weights too."""
    if unload:
        clear_pipeline_cache()
    gc.collect()
    if device == "cuda":
        torch = import_torch()
        torch.cuda.empty_cache()


class _OutOfMemory(Exception):
    """The batch did not fit on the GPU."""


def _free_gpu_bytes(device: str) -> int | None:
    if device != "cuda":
        return None
    torch = import_torch()
    free, _total = torch.cuda.mem_get_info()
    return free
