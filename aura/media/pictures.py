"""A picture is judged by its header before anything decodes it.

A PNG of 30000x30000 pixels is 875 KB on disk and 3.6 GB once decoded (a
decompression bomb): its width and height are read from the header alone
(imagesize, no pixel decoded), and a picture beyond AURA_MAX_IMAGE_PIXELS, or
a side beyond MAX_SIDE, is refused where it comes in (an upload, a scene's
own media, the media library) with its size and the limit named. Its type
is told by its first bytes, never by its name.
"""

from __future__ import annotations

from pathlib import Path

import imagesize

from aura.errors import MediaError

MAX_SIDE = 16384  # pixels on either side: beyond what any frame or Ken Burns move can use
# (magic bytes, media type, extension): the still formats a scene takes
_IMAGE_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)
_SAME_TYPE = {".jpeg": ".jpg"}  # names of one type that are kept as they were sent


class PictureTooLarge(MediaError):
    """A picture whose width, height or pixels are beyond the limits."""


def image_type(path: Path) -> tuple[str, str] | None:
    """(media type, extension) of a PNG, JPEG or WebP by its first bytes; None for anything else."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", ".webp"
    for magic, media_type, suffix in _IMAGE_TYPES:
        if head.startswith(magic):
            return media_type, suffix
    return None


def same_type(suffix: str, content_suffix: str) -> bool:
    """Whether a file name's extension names the content's type (.jpeg is a JPEG as .jpg is)."""
    return _SAME_TYPE.get(suffix, suffix) == content_suffix


def check_frame(width: int | None, height: int | None, shown: str, max_pixels: int) -> None:
    """A picture's (or a clip's frame's) size is within the limits; PictureTooLarge naming both otherwise."""
    if not width or not height or width <= 0 or height <= 0:
        raise MediaError(f"{shown} has no readable width and height")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > max_pixels:
        raise PictureTooLarge(
            f"{shown} is {width}x{height} pixels ({width * height / 1e6:.1f} megapixels): the limit is "
            f"{max_pixels / 1e6:g} megapixels (AURA_MAX_IMAGE_PIXELS) and {MAX_SIDE} pixels a side; scale it down"
        )


def check_picture(path: Path, shown: str, max_pixels: int) -> tuple[int, int]:
    """A still's width and height from its header, within the limits; MediaError when it is no picture."""
    if image_type(path) is None:
        raise MediaError(f"{shown} is not a PNG, JPEG or WebP image")
    width, height = imagesize.get(str(path))
    check_frame(width, height, shown, max_pixels)
    return width, height
