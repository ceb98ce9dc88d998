"""Writing a provider's stills: the scene file names, and PNGs that appear whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from aura.errors import ProviderError

PNG_COMPRESS_LEVEL = 1  # fast: the PNG is an intermediate that ffmpeg reads once


def image_folder(out_dir: Path) -> Path:
    """The folder the stills go to, created if needed."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProviderError(f"cannot create the image folder {out_dir}: {exc}") from exc
    return out_dir


def save_scene_png(image: Image.Image, out_dir: Path, index: int) -> Path:
    """scene_NNN.png, written next to its place and renamed: a reader never sees half a file."""
    target = out_dir / f"scene_{index:03d}.png"
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        image.save(tmp, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ProviderError(f"cannot write image {target}: {exc}") from exc
    return target
