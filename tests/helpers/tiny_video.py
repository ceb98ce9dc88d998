"""Tiny video pipelines with random weights, built offline from configs and saved with `save_pretrained`.

The real architectures at toy widths: Stable Video Diffusion (image-to-video:
a spatio-temporal UNet, a temporal-decoder VAE, a CLIP vision encoder) and
ModelScope's text-to-video (a 3D UNet, a VAE, a CLIP text encoder). Loading
the folder runs the same `DiffusionPipeline.from_pretrained` and sampling code
as the full models; their frames are noise, so tests check frames, sizes,
motion between frames and plumbing, never content. bench/gpu.py builds the
full-size architectures the same way.
"""

from __future__ import annotations

from pathlib import Path

from .tiny_sd import tiny_tokenizer, write_tiny_tokenizer

TINY_SVD_UNET = dict(
    block_out_channels=(32, 64), layers_per_block=2, sample_size=32, in_channels=8, out_channels=4,
    down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
    up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
    cross_attention_dim=32, num_attention_heads=8, projection_class_embeddings_input_dim=96, addition_time_embed_dim=32,
)  # fmt: skip


def save_tiny_svd(folder: Path, num_frames: int = 6, unet: dict | None = None) -> Path:
    """A Stable Video Diffusion pipeline (image-to-video) of toy size, saved to `folder`."""
    import torch
    from diffusers import (
        AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, StableVideoDiffusionPipeline, UNetSpatioTemporalConditionModel,
    )  # fmt: skip
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    pipe = StableVideoDiffusionPipeline(
        unet=UNetSpatioTemporalConditionModel(**(unet or TINY_SVD_UNET), num_frames=num_frames),
        vae=AutoencoderKLTemporalDecoder(block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=4,
                                         down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"]),
        # the pipeline resizes the still to CLIP's 224 px itself: the encoder is built for that size
        image_encoder=CLIPVisionModelWithProjection(CLIPVisionConfig(
            hidden_size=32, projection_dim=32, num_hidden_layers=2, num_attention_heads=4, image_size=224,
            intermediate_size=37, patch_size=32,
        )),
        feature_extractor=CLIPImageProcessor(crop_size=224, size=224),
        scheduler=EulerDiscreteScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", interpolation_type="linear",
            num_train_timesteps=1000, prediction_type="v_prediction", sigma_max=700.0, sigma_min=0.002, steps_offset=1,
            timestep_spacing="leading", timestep_type="continuous", use_karras_sigmas=True,
        ),
    )  # fmt: skip
    pipe.save_pretrained(folder)
    return folder


def save_tiny_text_to_video(folder: Path) -> Path:
    """ModelScope's text-to-video pipeline (TextToVideoSDPipeline) of toy size, saved to `folder`."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, TextToVideoSDPipeline, UNet3DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    tokenizer = tiny_tokenizer(write_tiny_tokenizer(folder / "tokenizer-source"))
    pipe = TextToVideoSDPipeline(
        unet=UNet3DConditionModel(
            block_out_channels=(16, 32), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
            down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"), up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
            cross_attention_dim=32, attention_head_dim=4, norm_num_groups=8,
        ),
        vae=AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=8,
                          down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2),
        text_encoder=CLIPTextModel(CLIPTextConfig(
            bos_token_id=0, eos_token_id=1, hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
            pad_token_id=1, vocab_size=len(tokenizer), projection_dim=32,
        )),
        tokenizer=tokenizer,
        scheduler=DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                                set_alpha_to_one=False),
    )  # fmt: skip
    pipe.save_pretrained(folder)
    return folder
