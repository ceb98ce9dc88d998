"""Benchmark: Stable Diffusion images per second, one image at a time against batches.

Builds the SD 1.5 architecture (the 860M-parameter UNet, the full VAE, a CLIP
ViT-L/14 text encoder) from configs in memory with random weights: the
compute does not depend on the weights, so nothing is downloaded. Each row
times the provider's own sampling call (`generate_images`: per-image
generators, classifier-free guidance with negative prompts, VAE decode to
PIL) at a square size, in two settings:

- sd15: --steps steps, guidance 7.5 (two UNet passes per step);
- turbo: 1 step, guidance 0 (what SD-turbo runs at).

fp16 on CUDA, float32 elsewhere. Peak memory is the CUDA allocator's peak on
a GPU, the process's resident memory elsewhere; both include the weights.
--arch tiny runs the test suite's toy pipeline instead (plumbing, not speed).

Not a test: it prints figures. Run: .venv/bin/python bench/visuals.py [--device cuda] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from aura.providers.images import ImagePrompt  # noqa: E402
from bench.memory import peak_memory  # noqa: E402
from aura.providers.images.stable_diffusion import dtype_name, generate_images, pick_device  # noqa: E402
from tests.helpers.tiny_sd import TINY_TEXT_ENCODER, TINY_UNET, TINY_VAE, assemble_sd_pipeline, tiny_tokenizer  # noqa: E402

# SD 1.5 as released (runwayml/stable-diffusion-v1-5): UNet, VAE and text encoder configs
SD15_UNET = dict(
    sample_size=64,
    layers_per_block=2,
    block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=768,
    attention_head_dim=8,
    norm_num_groups=32,
)
SD15_VAE = dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, norm_num_groups=32, sample_size=512)
VIT_L14_TEXT = dict(
    hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12, hidden_act="quick_gelu"
)
CLIP_VOCAB = 49408  # the real vocabulary size: the embedding table is part of the memory figure
ARCHS = {"full": (VIT_L14_TEXT, SD15_UNET, SD15_VAE, CLIP_VOCAB), "tiny": (TINY_TEXT_ENCODER, TINY_UNET, TINY_VAE, None)}
MODES = {"sd15": 7.5, "turbo": 0.0}  # guidance per mode
SUBJECT = "a volcano erupting at dusk, lava flowing down the slopes into the sea"


def build(arch: str, device: str, dtype: str):
    import torch

    text, unet, vae, vocab = ARCHS[arch]
    with tempfile.TemporaryDirectory(prefix="aura-bench-tok-") as tmp:
        tokenizer = tiny_tokenizer(Path(tmp))  # byte-level; prompts are padded to 77 tokens either way
    pipe = assemble_sd_pipeline(tokenizer, text, unet, vae, vocab_size=vocab)
    pipe = pipe.to(device, getattr(torch, dtype))
    pipe.set_progress_bar_config(disable=True)
    pipe.vae.enable_slicing()  # as the provider does
    return pipe


def prompts(count: int, start: int = 0) -> list[ImagePrompt]:
    return [
        ImagePrompt(index=i, prompt=SUBJECT, key_phrase="", title="Volcanoes", style="documentary", seed=1000 + i)
        for i in range(start, start + count)
    ]


def time_row(pipe, device: str, size: int, steps: int, guidance: float, batch: int, images: int) -> dict:
    """Draw `images` images (rounded up to whole batches) `batch` at a time; seconds and peak memory."""
    calls = math.ceil(images / batch)
    # the first call at a new shape pays for allocations (and kernel selection on a GPU): one untimed step
    generate_images(pipe, device, prompts(batch), (size, size), 1, guidance)
    with peak_memory(device) as memory:
        started = time.perf_counter()
        for call in range(calls):
            generate_images(pipe, device, prompts(batch, call * batch), (size, size), steps, guidance)
        seconds = time.perf_counter() - started
    done = calls * batch
    return {"batch": batch, "images": done, "seconds": seconds, "images_per_s": done / seconds,
            "s_per_image": seconds / done, "peak_mib": memory.peak / 2**20}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    parser.add_argument("--arch", default="full", choices=sorted(ARCHS), help="full: SD 1.5 sized; tiny: the tests' toy")
    parser.add_argument("--size", type=int, help="square image side in pixels (default 512 on a GPU, 256 on CPU)")
    parser.add_argument("--steps", type=int, help="sd15 mode steps (default 20 on a GPU, 2 on CPU)")
    parser.add_argument("--batch", type=int, help="the batch compared with batch 1 (default 4 on a GPU, 2 on CPU)")
    parser.add_argument("--images", type=int, help="images per row (default 8 on a GPU, 2 on CPU)")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    args = parser.parse_args()

    import diffusers
    import torch
    import transformers

    # byte-level prompts run past 77 tokens (truncation is expected); casting random weights is fine
    transformers.logging.set_verbosity_error()
    diffusers.utils.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=RuntimeWarning)  # random weights can decode to NaN pixels

    device = pick_device(args.device)
    gpu = device != "cpu"
    size = args.size or (512 if gpu else 256)
    steps = args.steps or (20 if gpu else 2)
    batch = args.batch or (4 if gpu else 2)
    images = args.images or (8 if gpu else 2)
    dtype = dtype_name(device)
    where = torch.cuda.get_device_name() if device == "cuda" else f"{os.cpu_count()} cores"

    started = time.perf_counter()
    pipe = build(args.arch, device, dtype)
    built_s = time.perf_counter() - started

    rows = []
    for mode in args.modes:
        mode_steps = steps if mode == "sd15" else 1
        for b in sorted({1, batch}):
            row = time_row(pipe, device, size, mode_steps, MODES[mode], b, images)
            rows.append({"device": device, "dtype": dtype, "arch": args.arch, "mode": mode, "size": size,
                         "steps": mode_steps, **row})  # fmt: skip

    if args.json:
        print(json.dumps({"machine": where, "torch": torch.__version__, "build_s": built_s, "rows": rows}, indent=2))
        return
    print(f"machine: {where}, torch {torch.__version__}; pipeline built in {built_s:.1f} s")
    print(f"{'device':6} {'dtype':8} {'arch':4} {'mode':5} {'size':>4} {'steps':>5} {'batch':>5} {'images':>6} "
          f"{'seconds':>8} {'img/s':>7} {'s/img':>7} {'peak MiB':>9}")  # fmt: skip
    for r in rows:
        print(f"{r['device']:6} {r['dtype']:8} {r['arch']:4} {r['mode']:5} {r['size']:4d} {r['steps']:5d} {r['batch']:5d} "
              f"{r['images']:6d} {r['seconds']:8.2f} {r['images_per_s']:7.3f} {r['s_per_image']:7.2f} {r['peak_mib']:9.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
