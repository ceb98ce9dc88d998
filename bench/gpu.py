"""Benchmark: what one GPU gives Aura, in one command and a few minutes, as one table.

Weights cannot be downloaded on the machines this runs on, so every model is
built from its released architecture config with random weights (the
compute does not depend on the weights; the table says so):

- text-to-image images/s: SD 1.5 at 512 px (20 steps, guidance 7.5) and SDXL
  at 1024 px (20 steps, guidance 5), batch 1 and batch 4, through the
  provider's own sampling call (`generate_images`);
- image-to-video: Stable Video Diffusion (14 frames at 1024x576, 7 fps)
  through the motion provider's own call (`aura.providers.images.motion`):
  seconds of GPU per second of generated video;
- encoding: one 60 s 1080p composition (`compose_video`: slides, narration,
  subtitles) with libx264 against h264_nvenc at the cq measured to match
  the crf (the measurement timed apart).

fp16 on CUDA (SVD in bf16 where the card has it). --tiny runs the tests' toy
architectures at small sizes (on a CPU too): a check that the bench runs,
not figures. Run: .venv/bin/python bench/gpu.py [--tiny] [--json] [--skip sdxl,svd,encode]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aura.providers.images.stable_diffusion import generate_images, pick_device  # noqa: E402
from bench.visuals import SD15_UNET, SD15_VAE, VIT_L14_TEXT, CLIP_VOCAB, prompts  # noqa: E402
from tests.helpers.tiny_sd import TINY_TEXT_ENCODER, TINY_UNET, TINY_VAE, assemble_sd_pipeline, tiny_tokenizer  # noqa: E402

# SDXL base 1.0 as released: the UNet, OpenCLIP ViT-bigG/14 as the second text encoder, the VAE at 1024 px
SDXL_UNET = dict(
    sample_size=128, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280),
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20), cross_attention_dim=2048,
    use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816, norm_num_groups=32,
)  # fmt: skip
BIGG_TEXT = dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=20,
                 hidden_act="gelu", projection_dim=1280)  # fmt: skip
# Stable Video Diffusion (img2vid-xt) as released: diffusers' defaults are its configs; ViT-H/14 image encoder
VIT_H14_VISION = dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=16,
                      image_size=224, patch_size=14, projection_dim=1024, hidden_act="gelu")  # fmt: skip
SUBJECT = "a volcano erupting at dusk, lava flowing down the slopes into the sea"


def _quiet() -> None:
    import diffusers
    import transformers

    transformers.logging.set_verbosity_error()
    diffusers.utils.logging.set_verbosity_error()
    warnings.filterwarnings("ignore")  # random weights decode to NaN pixels; deprecations of toy pipelines


@contextlib.contextmanager
def built_on(device: str):
    """Modules made directly on the device (random init of billions of weights on a CPU takes minutes)."""
    import torch

    with torch.device(device if device == "cuda" else "cpu"):
        yield


def sd15(device: str, tiny: bool):
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = tiny_tokenizer(Path(tmp))
    text, unet, vae, vocab = (TINY_TEXT_ENCODER, TINY_UNET, TINY_VAE, None) if tiny else (VIT_L14_TEXT, SD15_UNET, SD15_VAE, CLIP_VOCAB)
    with built_on(device):
        pipe = assemble_sd_pipeline(tokenizer, text, unet, vae, vocab_size=vocab)
    return pipe.to(device, torch.float16 if device == "cuda" else torch.float32)


def sdxl(device: str, tiny: bool):
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = tiny_tokenizer(Path(tmp))
    if tiny:
        unet = dict(SDXL_UNET, sample_size=16, block_out_channels=(32, 64), layers_per_block=1,
                    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                    transformer_layers_per_block=(1, 1), attention_head_dim=(2, 4), cross_attention_dim=64,
                    addition_time_embed_dim=8, projection_class_embeddings_input_dim=80, norm_num_groups=16)  # fmt: skip
        first, second, vae = dict(TINY_TEXT_ENCODER), dict(TINY_TEXT_ENCODER, projection_dim=32), TINY_VAE
    else:
        unet, first, second, vae = SDXL_UNET, VIT_L14_TEXT, BIGG_TEXT, dict(SD15_VAE, sample_size=1024)
    ids = dict(vocab_size=len(tokenizer) if tiny else CLIP_VOCAB, max_position_embeddings=77,
               bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    blocks = len(vae["block_out_channels"])
    torch.manual_seed(0)
    with built_on(device):
        pipe = StableDiffusionXLPipeline(
            vae=AutoencoderKL(latent_channels=4, down_block_types=("DownEncoderBlock2D",) * blocks,
                              up_block_types=("UpDecoderBlock2D",) * blocks, scaling_factor=0.13025, **vae),
            text_encoder=CLIPTextModel(CLIPTextConfig(**ids, **first)),
            text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(**ids, **second)),
            tokenizer=tokenizer, tokenizer_2=tokenizer,
            unet=UNet2DConditionModel(**unet),
            scheduler=EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                             steps_offset=1, timestep_spacing="leading"),
        )  # fmt: skip
    return pipe.to(device, torch.float16 if device == "cuda" else torch.float32)


def svd(device: str, tiny: bool, folder: Path):
    """SVD built, saved and loaded back through the motion provider's own loader (its dtype and VAE choices)."""
    import torch
    from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, StableVideoDiffusionPipeline, UNetSpatioTemporalConditionModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    if tiny:
        from tests.helpers.tiny_video import save_tiny_svd

        return save_tiny_svd(folder, num_frames=6)
    torch.manual_seed(0)
    with built_on(device):
        pipe = StableVideoDiffusionPipeline(
            unet=UNetSpatioTemporalConditionModel(), vae=AutoencoderKLTemporalDecoder(),
            image_encoder=CLIPVisionModelWithProjection(CLIPVisionConfig(**VIT_H14_VISION)),
            feature_extractor=CLIPImageProcessor(crop_size=224, size=224),
            scheduler=EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                             interpolation_type="linear", num_train_timesteps=1000, prediction_type="v_prediction",
                                             sigma_max=700.0, sigma_min=0.002, steps_offset=1, timestep_spacing="leading",
                                             timestep_type="continuous", use_karras_sigmas=True),
        )  # fmt: skip
    pipe.to(torch.float16 if device == "cuda" else torch.float32).save_pretrained(folder)
    del pipe
    return folder


def synchronize(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def text_to_image(name: str, pipe, device: str, size: int, steps: int, guidance: float, batch: int) -> dict:
    generate_images(pipe, device, prompts(batch), (size, size), 1, guidance)  # the first call at a shape allocates
    synchronize(device)
    started = time.perf_counter()
    images = 0
    for call in range(2 if batch == 1 else 1):
        generate_images(pipe, device, prompts(batch, call * batch), (size, size), steps, guidance)
        images += batch
    synchronize(device)
    seconds = time.perf_counter() - started
    return {"test": f"text-to-image {name}", "size": f"{size}x{size}", "batch": batch, "steps": steps,
            "result": f"{images / seconds:.2f} images/s", "seconds": seconds}  # fmt: skip


def image_to_video(folder: Path, device: str, tiny: bool, out: Path) -> dict:
    from PIL import Image

    from aura.providers.images import motion
    from aura.providers.images.base import ImagePrompt, SceneMedia

    settings = motion.MotionSettings(model=str(folder), steps=2 if tiny else 25, frames=6 if tiny else 14,
                                     base_size=64 if tiny else 768, device=device)  # fmt: skip
    frame = (1024, 576)
    still = out / "still.png"
    Image.new("RGB", frame, (180, 60, 30)).save(still)
    scene = ImagePrompt(index=0, prompt=SUBJECT, key_phrase="", title="Volcanoes", style="documentary", seed=1)
    pipe, _ = motion.load(settings)
    motion.animate({0: SceneMedia(0, still)}, [scene], frame, out / "warm", settings)  # loads, allocates
    synchronize(device)
    started = time.perf_counter()
    done = motion.animate({0: SceneMedia(0, still)}, [scene], frame, out / "timed", settings)
    synchronize(device)
    seconds = time.perf_counter() - started
    from aura.media.probe import probe

    info = probe(done.media[0].path)
    video = info.of_kind("video")[0]
    return {"test": "image-to-video SVD", "size": f"{video.width}x{video.height}", "batch": 1, "steps": settings.steps,
            "result": f"{seconds / info.duration:.1f} s per generated second ({info.duration:.1f} s clip in {seconds:.1f} s)",
            "seconds": seconds}  # fmt: skip


def encoders(tiny: bool, root: Path) -> list[dict]:
    """One composition with libx264 and with NVENC (at its measured cq), the measurement timed apart."""
    from aura.media import encoders as enc
    from aura.options import PipelineOptions
    from aura.settings import reload_settings
    from aura.stages.compose import compose_video
    from bench.compose import prepare

    duration, resolution = (10, "720p") if tiny else (60, "1080p")
    inputs = prepare(duration, resolution, root / "compose", root / "clips")
    rows = []
    for name in ("libx264", "h264_nvenc"):
        os.environ["AURA_VIDEO_ENCODER"] = name
        settings = reload_settings()
        if name == "h264_nvenc":
            problem = enc.nvenc_problem()
            if problem:
                rows.append({"test": "encode h264_nvenc", "size": resolution, "batch": "", "steps": "",
                             "result": f"not run: {problem[:80]}", "seconds": 0.0})  # fmt: skip
                continue
            started = time.perf_counter()
            cq = enc.matched_cq(settings.crf, settings.x264_preset, Path(tempfile.mkdtemp(prefix="aura-cq-")))
            rows.append({"test": "measure NVENC cq", "size": "720p test picture", "batch": "", "steps": "",
                         "result": f"cq {cq} matches crf {settings.crf}", "seconds": time.perf_counter() - started})  # fmt: skip
        started = time.perf_counter()
        compose_video(inputs.request, inputs.script, inputs.narration, inputs.stills, inputs.job, PipelineOptions())
        seconds = time.perf_counter() - started
        size_mb = inputs.job.path("video.mp4").stat().st_size / 2**20
        rows.append({"test": f"encode {name}", "size": f"{duration} s {resolution}", "batch": "", "steps": "",
                     "result": f"{seconds:.1f} s ({duration / seconds:.1f}x real time, {size_mb:.1f} MiB)", "seconds": seconds})  # fmt: skip
    os.environ.pop("AURA_VIDEO_ENCODER", None)
    reload_settings()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="the tests' toy architectures at small sizes (a smoke run)")
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out: sd15, sdxl, svd, encode")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    _quiet()
    import torch

    device = pick_device(args.device)
    card = torch.cuda.get_device_name() if device == "cuda" else f"CPU ({os.cpu_count()} cores)"
    rows, started = [], time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="aura-bench-gpu-") as tmp:
        root = Path(tmp)
        if "sd15" not in skip:
            pipe = sd15(device, args.tiny)
            for batch in (1, 4):
                rows.append(text_to_image("SD 1.5", pipe, device, 64 if args.tiny else 512, 2 if args.tiny else 20, 7.5, batch))
            del pipe
        if "sdxl" not in skip:
            pipe = sdxl(device, args.tiny)
            for batch in (1, 4):
                rows.append(text_to_image("SDXL", pipe, device, 128 if args.tiny else 1024, 2 if args.tiny else 20, 5.0, batch))
            del pipe
        if device == "cuda":
            torch.cuda.empty_cache()
        if "svd" not in skip:
            rows.append(image_to_video(svd(device, args.tiny, root / "svd"), device, args.tiny, root))
            shutil.rmtree(root / "svd", ignore_errors=True)
        if "encode" not in skip:
            rows.extend(encoders(args.tiny, root))
    total = time.perf_counter() - started
    if args.json:
        print(json.dumps({"machine": card, "torch": torch.__version__, "tiny": args.tiny, "seconds": total, "rows": rows}, indent=2))
        return
    weights = "toy architectures (--tiny)" if args.tiny else "released architectures, random weights"
    print(f"\n{card}, torch {torch.__version__}, {weights}, {time.strftime('%Y-%m-%d')}, {total:.0f} s in all\n")
    print("| test | size | batch | steps | result |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['test']} | {row['size']} | {row['batch']} | {row['steps']} | {row['result']} |")


if __name__ == "__main__":
    main()
