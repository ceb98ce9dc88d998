"""A tiny Stable Diffusion pipeline with random weights, built offline from configs.

It has the real architecture (CLIP text encoder, conditional UNet, a VAE that
downsamples by 8, a DDIM scheduler) at toy widths, so `from_pretrained` on the
saved folder runs the same loading and sampling code as a real SD 1.5 model in
a few milliseconds per image. Its pictures are noise: tests check sizes,
seeds and plumbing, never content. bench/visuals.py builds the full-size
SD 1.5 architecture with the same function.
"""

from __future__ import annotations

import json
from pathlib import Path

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MAX_TOKENS = 77  # CLIP's context length, as in every SD text encoder

TINY_TEXT_ENCODER = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4)
TINY_UNET = dict(
    sample_size=8,
    layers_per_block=1,
    block_out_channels=(32, 64),
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
    cross_attention_dim=32,
    attention_head_dim=8,
    norm_num_groups=16,
)
# four blocks, so the latents are 1/8 of the image like SD's; tiny channels keep 512 px fast
TINY_VAE = dict(block_out_channels=(8, 8, 16, 16), layers_per_block=1, norm_num_groups=8, sample_size=64)


def _byte_alphabet() -> list[str]:
    """GPT-2's byte-to-unicode table: the symbols a byte-level BPE vocabulary is made of."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = [], 0
    for b in range(256):
        if b in printable:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def write_tiny_tokenizer(folder: Path) -> Path:
    """vocab.json + merges.txt for a CLIP tokenizer that spells every word byte by byte (no merges)."""
    folder.mkdir(parents=True, exist_ok=True)
    symbols = _byte_alphabet()
    tokens = [BOS, EOS, *symbols, *(s + "</w>" for s in symbols)]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return folder


def tiny_tokenizer(folder: Path):
    from transformers import CLIPTokenizer

    # model_max_length is not in vocab.json: without it the tokenizer's limit is "infinite"
    return CLIPTokenizer.from_pretrained(write_tiny_tokenizer(folder), model_max_length=MAX_TOKENS)


def assemble_sd_pipeline(tokenizer, text_encoder: dict, unet: dict, vae: dict, vocab_size: int | None = None):
    """A StableDiffusionPipeline with random weights from these component configs (no download)."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)  # the same random weights every time
    encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=vocab_size or len(tokenizer),
            max_position_embeddings=MAX_TOKENS,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            **text_encoder,
        )
    )
    blocks = len(vae["block_out_channels"])
    autoencoder = AutoencoderKL(
        latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * blocks,
        up_block_types=("UpDecoderBlock2D",) * blocks,
        **vae,
    )
    # SD 1.5's schedule; steps_offset=1 as in its released config (diffusers warns otherwise)
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    return StableDiffusionPipeline(
        vae=autoencoder,
        text_encoder=encoder,
        tokenizer=tokenizer,
        unet=UNet2DConditionModel(in_channels=4, out_channels=4, **unet),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def build_tiny_sd_pipeline(folder: Path) -> Path:
    """Build the tiny pipeline, save it with save_pretrained into `folder`, and return `folder`."""
    folder = Path(folder)
    tokenizer = tiny_tokenizer(folder.parent / f"{folder.name}-tokenizer-src")
    pipe = assemble_sd_pipeline(tokenizer, TINY_TEXT_ENCODER, TINY_UNET, TINY_VAE)
    pipe.save_pretrained(folder)
    return folder
