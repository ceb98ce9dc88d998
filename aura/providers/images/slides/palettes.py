"""The slides' colours: palettes and looks per style, and the WCAG colour maths that keeps text readable."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from aura.providers.images.base import ImagePrompt

RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]

MIN_CONTRAST = 4.5  # WCAG AA for body text; headline text gets at least this


def _hex(code: str) -> RGB:
    code = code.lstrip("#")
    return (int(code[0:2], 16), int(code[2:4], 16), int(code[4:6], 16))


@dataclass(frozen=True)
class Palette:
    name: str
    stops: tuple[RGB, ...]  # background gradient, in order
    accents: tuple[RGB, RGB]
    ink: RGB  # key phrase colour
    card: RGB  # panel colour behind text in card layouts
    card_alpha: float


def _palette(name: str, stops: str, accents: str, ink: str, card: str, card_alpha: float) -> Palette:
    a, b = accents.split()
    return Palette(name, tuple(_hex(s) for s in stops.split()), (_hex(a), _hex(b)), _hex(ink), _hex(card), card_alpha)


PALETTES: dict[str, tuple[Palette, ...]] = {
    # deep, muted tones with a warm metallic accent
    "documentary": (
        _palette("deep sea", "#0b1a24 #12303d #1f4d55", "#c8a25c #5fa8a0", "#f3ede2", "#07131a", 0.45),
        _palette("moss", "#0f1712 #1c2e24 #35523f", "#d6b16a #8fb39a", "#f1ede3", "#0a110d", 0.45),
        _palette("slate dusk", "#14151e #262a3b #3f4863", "#d7a86e #8aa4c8", "#f2efe9", "#0d0e15", 0.45),
        _palette("oxide", "#1a110f #3a2119 #5e3727", "#e0b27a #b07a58", "#f6eee4", "#120b09", 0.45),
    ),
    # bright, friendly colour with a white card and dark ink
    "explainer": (
        _palette("sky", "#2f7fd6 #4fa9ee #8ad8f2", "#ffd166 #ff7b9c", "#14213d", "#ffffff", 0.9),
        _palette("mint", "#139c85 #3cc39b #9fe6bf", "#ffcf5c #2f6fde", "#0f2a2a", "#ffffff", 0.9),
        _palette("lavender", "#5b5bd6 #8380ee #bdb2fa", "#ffc75f #ff8fab", "#1d1b4b", "#ffffff", 0.9),
        _palette("peach", "#f4774f #ff9f6e #ffd08f", "#4f8cff #ffe66d", "#3a1d12", "#ffffff", 0.9),
    ),
    # dark, saturated, neon accents: high contrast
    "promo": (
        _palette("neon night", "#07070c #161233 #3a1266", "#ff2e88 #00e0ff", "#ffffff", "#05050a", 0.55),
        _palette("crimson", "#0b0b0b #3b0714 #8f1030", "#ffcc00 #ff4d6d", "#ffffff", "#070707", 0.55),
        _palette("electric", "#000814 #001d3d #00407a", "#ffc300 #00f5d4", "#ffffff", "#00040a", 0.55),
        _palette("sunburst", "#e63900 #ff6d00 #ffab00", "#141414 #fff3d6", "#111111", "#fff3e0", 0.85),
    ),
    # clean: near-white paper or graphite, one crisp accent
    "tutorial": (
        _palette("paper", "#f7f8fb #eef1f6 #dfe6ef", "#2563eb #f59e0b", "#111827", "#ffffff", 0.85),
        _palette("graphite", "#14161b #1c2028 #282e39", "#22c55e #38bdf8", "#f3f4f6", "#0c0e12", 0.5),
        _palette("cloud", "#fbfbf8 #f1efe9 #e3ded2", "#0d9488 #e11d48", "#1c1917", "#ffffff", 0.85),
        _palette("ink blue", "#0d1526 #162036 #22304a", "#f97316 #60a5fa", "#f8fafc", "#080d18", 0.5),
    ),
    # warm, cinematic dusk tones
    "story": (
        _palette("ember", "#170d0c #461d18 #a4472d", "#f4a259 #ffd6a5", "#fff4e6", "#0f0808", 0.45),
        _palette("golden hour", "#21121c #64293a #cf7447", "#ffc078 #ffe8cc", "#fff7ed", "#140a10", 0.45),
        _palette("dusk rose", "#151024 #44264a #9a4d5b", "#f6b98a #ffd3b4", "#fff1e8", "#0c0915", 0.45),
        _palette("amber film", "#110c07 #3a2612 #8c5a24", "#ffce7a #f08a4b", "#fff6e5", "#0b0804", 0.45),
    ),
}


@dataclass(frozen=True)
class StyleSpec:
    layouts: tuple[str, ...]  # drawn from per scene: center, left, card, card-left
    decor: tuple[str, ...]  # crisp shapes drawn from per scene
    glows: tuple[int, int]  # how many soft blobs
    glow_alpha: tuple[int, int]
    bokeh: bool
    vignette: float  # 0..1 darkening at the corners
    upper: bool  # set short phrases in capitals


STYLES: dict[str, StyleSpec] = {
    "documentary": StyleSpec(("left", "left", "center", "card-left"), ("rings", "arc", "dots", "lines"), (2, 3), (60, 110), False, 0.55, False),
    "explainer": StyleSpec(("card", "card-left", "card", "center"), ("dots", "rings", "arc", "confetti"), (3, 4), (110, 170), False, 0.12, False),
    "promo": StyleSpec(("center", "left", "center"), ("bands", "rings", "arc"), (2, 3), (110, 170), False, 0.45, True),
    "tutorial": StyleSpec(("left", "card-left", "left"), ("grid", "dots", "arc"), (1, 2), (40, 80), False, 0.12, False),
    "story": StyleSpec(("center", "left", "center"), ("rings", "lines", "arc"), (2, 3), (80, 130), True, 0.6, False),
}
DEFAULT_STYLE = "explainer"


def _pick_palette(prompt: ImagePrompt, style: str) -> Palette:
    # One palette per video: keyed on title and style, not on the scene's seed.
    family = PALETTES[style]
    return family[zlib.crc32(f"{style}\x00{prompt.title}".encode()) % len(family)]


# ---------------------------------------------------------------- colour maths


def _lerp(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def _ramp(stops: Sequence[RGB], t: float) -> RGB:
    t = min(1.0, max(0.0, t)) * (len(stops) - 1)
    i = min(int(t), len(stops) - 2)
    return _lerp(stops[i], stops[i + 1], t - i)


_LINEAR = [((c / 255) / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4) for c in range(256)]


def luminance(rgb: Sequence[int]) -> float:
    """WCAG relative luminance of an sRGB colour."""
    return 0.2126 * _LINEAR[rgb[0]] + 0.7152 * _LINEAR[rgb[1]] + 0.0722 * _LINEAR[rgb[2]]


def contrast_ratio(a: Sequence[int], b: Sequence[int]) -> float:
    """WCAG contrast ratio (1..21) between two sRGB colours."""
    la, lb = luminance(a), luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def _samples(image: Image.Image, box: Box) -> list[RGB]:
    """A coarse grid of the colours inside `box` (backgrounds are smooth, so this is enough)."""
    region = image.crop(box)
    cols = max(1, min(32, region.width // 8))
    rows = max(1, min(16, region.height // 8))
    return list(region.resize((cols, rows), Image.Resampling.BOX).get_flattened_data())


def _worst_contrast(ink: RGB, samples: Sequence[RGB]) -> float:
    return min(contrast_ratio(ink, s) for s in samples) if samples else 21.0


def _mean(colours: Sequence[RGB]) -> RGB:
    n = max(1, len(colours))
    return (sum(c[0] for c in colours) // n, sum(c[1] for c in colours) // n, sum(c[2] for c in colours) // n)


def _most_contrasting(accents: Sequence[RGB], behind: Sequence[RGB]) -> RGB:
    background = _mean(behind)
    return max(accents, key=lambda a: contrast_ratio(a, background))
