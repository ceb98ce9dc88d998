"""The offline image provider: designed title-card slides drawn with Pillow.

A slide is a soft gradient from a palette chosen per video and style, a few
decorative shapes, and the scene's key phrase set large inside the area that
survives the Ken Burns crop and stays clear of the burned-in subtitles.
Everything random comes from random.Random(prompt.seed), so a slide is
byte-identical for the same prompt, seed and size.

Speed: smooth parts (gradient, glows, vignette) are painted at a quarter of
the resolution and upscaled once; crisp shapes are drawn into small
supersampled masks of just their bounding box.
"""

from __future__ import annotations

import functools
import math
import random
import unicodedata
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import PIL
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from aura import progress
from aura.errors import ProviderError
from aura.media.fonts import covers, find_font, font_codepoints, font_family, needed_chars, scripts_of
from aura.providers.base import ProviderStatus
from aura.providers.images.base import ImagePrompt
from aura.providers.images.files import image_folder, save_scene_png
from aura.supervision import checkpoint

RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]

# Where text may go, as fractions of the frame: the compositor crops up to ~12%
# for Ken Burns and burns subtitles into the bottom ~22%.
SAFE_LEFT, SAFE_TOP, SAFE_RIGHT, SAFE_BOTTOM = 0.10, 0.10, 0.90, 0.72
MIN_CONTRAST = 4.5  # WCAG AA for body text; headline text gets at least this
LOW_RES_FACTOR = 4  # smooth layers are painted at 1/4 size


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


@dataclass(frozen=True)
class Slide:
    """A rendered slide and where its text ended up (for checks and tests)."""

    image: Image.Image
    text_box: Box | None  # everything the text layer touched: chip, phrase, shadow, bar
    safe_box: Box  # where the text layer must stay
    lines: tuple[str, ...]  # the key phrase as set, one entry per line
    font: Path | None
    font_size: int
    contrast: float  # worst WCAG contrast between the ink and what lies behind the text
    layout: str
    palette: str


def safe_box(size: tuple[int, int]) -> Box:
    """The part of a frame that text must stay inside (Ken Burns crop, subtitles)."""
    w, h = size
    return (math.ceil(w * SAFE_LEFT), math.ceil(h * SAFE_TOP), int(w * SAFE_RIGHT), int(h * SAFE_BOTTOM))


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


# ---------------------------------------------------------------- background


def _gradient_grid(size: tuple[int, int], stops: Sequence[RGB], rng: random.Random) -> Image.Image:
    """A tiny image of the background gradient (linear blended with radial), upscaled later."""
    w, h = size
    gw, gh = (72, max(2, round(72 * h / w))) if w >= h else (max(2, round(72 * w / h)), 72)
    aspect = w / h
    angle = rng.uniform(0, 2 * math.pi)
    dx, dy = math.cos(angle), math.sin(angle)
    fx, fy = rng.uniform(0.15, 0.85), rng.uniform(0.1, 0.6)  # radial light source
    radial = rng.uniform(0.25, 0.6)
    corners = [(x * aspect, y) for x in (-0.5, 0.5) for y in (-0.5, 0.5)]
    proj = [cx * dx + cy * dy for cx, cy in corners]
    pmin, pspan = min(proj), max(proj) - min(proj)
    rmax = max(math.hypot(cx - (fx - 0.5) * aspect, cy - (fy - 0.5)) for cx, cy in corners)
    lut = [_ramp(stops, i / 255) for i in range(256)]
    pixels = []
    for j in range(gh):
        y = (j + 0.5) / gh - 0.5
        for i in range(gw):
            x = ((i + 0.5) / gw - 0.5) * aspect
            t_lin = (x * dx + y * dy - pmin) / pspan
            t_rad = 1 - math.hypot(x - (fx - 0.5) * aspect, y - (fy - 0.5)) / rmax
            t = (1 - radial) * t_lin + radial * t_rad
            pixels.append(lut[max(0, min(255, int(t * 255)))])
    grid = Image.new("RGB", (gw, gh))
    grid.putdata(pixels)
    return grid


def _vignette_grid(size: tuple[int, int], strength: float) -> Image.Image:
    """A tiny L image: 255 in the middle, darker towards the corners."""
    w, h = size
    gw, gh = (48, max(2, round(48 * h / w))) if w >= h else (max(2, round(48 * w / h)), 48)
    values = []
    for j in range(gh):
        y = ((j + 0.5) / gh - 0.5) * 2
        for i in range(gw):
            x = ((i + 0.5) / gw - 0.5) * 2
            r = min(1.0, math.hypot(x, y) / math.sqrt(2))
            fall = max(0.0, (r - 0.35) / 0.65) ** 1.7
            values.append(round(255 * (1 - strength * fall)))
    grid = Image.new("L", (gw, gh))
    grid.putdata(values)
    return grid


def _paint_glows(small: Image.Image, palette: Palette, spec: StyleSpec, rng: random.Random, text_side: str) -> None:
    """Soft coloured blobs, mostly away from the text, blurred at low resolution."""
    lw, lh = small.size
    unit = min(lw, lh)
    for k in range(rng.randint(*spec.glows)):
        # the first accent, then a blend of it into the background: glows stay mid-tone
        colour = palette.accents[0] if k == 0 else _lerp(palette.accents[k % 2], palette.stops[-1], 0.45)
        r = unit * rng.uniform(0.25, 0.5)
        # push blobs to the edges, the first one to the side opposite the text
        cx = rng.choice([rng.uniform(-0.1, 0.2), rng.uniform(0.8, 1.1)]) * lw
        if k == 0 and text_side in ("left", "right"):
            cx = (rng.uniform(0.8, 1.1) if text_side == "left" else rng.uniform(-0.1, 0.2)) * lw
        cy = rng.uniform(-0.1, 1.0) * lh
        mask = Image.new("L", (lw, lh), 0)
        ImageDraw.Draw(mask).ellipse((cx - r, cy - r, cx + r, cy + r), fill=rng.randint(*spec.glow_alpha))
        small.paste(colour, (0, 0), mask.filter(ImageFilter.GaussianBlur(r * 0.55)))
    if spec.bokeh:
        mask = Image.new("L", (lw, lh), 0)
        draw = ImageDraw.Draw(mask)
        for _ in range(rng.randint(14, 24)):
            r = unit * rng.uniform(0.015, 0.07)
            cx, cy = rng.uniform(0, lw), rng.uniform(0, lh * 0.95)
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=rng.randint(18, 55))
        small.paste(palette.accents[1], (0, 0), mask.filter(ImageFilter.GaussianBlur(unit * 0.006 + 0.6)))


def _background(size: tuple[int, int], palette: Palette, spec: StyleSpec, rng: random.Random, text_side: str) -> Image.Image:
    w, h = size
    lw, lh = max(2, -(-w // LOW_RES_FACTOR)), max(2, -(-h // LOW_RES_FACTOR))
    small = _gradient_grid(size, palette.stops, rng).resize((lw, lh), Image.Resampling.BICUBIC)
    _paint_glows(small, palette, spec, rng, text_side)
    if spec.vignette > 0:
        shade = _vignette_grid(size, spec.vignette).resize((lw, lh), Image.Resampling.BICUBIC)
        small.paste((0, 0, 0), (0, 0), shade.point(lambda v: 255 - v))
    return small.resize((w, h), Image.Resampling.BICUBIC)


# ---------------------------------------------------------------- crisp shapes

Painter = Callable[[ImageDraw.ImageDraw, Callable[[float, float], tuple[float, float]], int], None]


def _stamp(image: Image.Image, colour: RGB, opacity: float, box: Sequence[float], paint: Painter, supersample: int = 2) -> None:
    """Draw antialiased shapes in `colour` at `opacity`, touching only the pixels of `box`."""
    x0, y0 = max(0, int(box[0]) - 2), max(0, int(box[1]) - 2)
    x1, y1 = min(image.width, math.ceil(box[2]) + 2), min(image.height, math.ceil(box[3]) + 2)
    if x1 <= x0 or y1 <= y0 or opacity <= 0:
        return
    s = supersample
    mask = Image.new("L", ((x1 - x0) * s, (y1 - y0) * s), 0)
    paint(ImageDraw.Draw(mask), lambda x, y: ((x - x0) * s, (y - y0) * s), s)
    if s > 1:
        mask = mask.reduce(s)
    if opacity < 1:
        mask = mask.point(lambda v: round(v * opacity))
    image.paste(colour, (x0, y0, x1, y1), mask)


def _ring(image: Image.Image, colour: RGB, opacity: float, cx: float, cy: float, r: float, width: float) -> None:
    def paint(draw, to, s):
        a, b = to(cx - r, cy - r), to(cx + r, cy + r)
        draw.ellipse((*a, *b), outline=255, width=max(1, round(width * s)))

    _stamp(image, colour, opacity, (cx - r, cy - r, cx + r, cy + r), paint)


def _circle_hits(cx: float, cy: float, r: float, box: Sequence[float]) -> bool:
    """Whether a circle's outline crosses a box."""
    nearest = math.hypot(max(box[0] - cx, 0, cx - box[2]), max(box[1] - cy, 0, cy - box[3]))
    farthest = max(math.hypot(x - cx, y - cy) for x in (box[0], box[2]) for y in (box[1], box[3]))
    return nearest <= r <= farthest


def _overlap(a: Sequence[float], b: Sequence[float]) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _place(propose: Callable[[], tuple], cost: Callable[[tuple], float], tries: int = 10) -> tuple:
    """Propose placements until one keeps clear of the text; else the one that intrudes least."""
    best, best_cost = None, math.inf
    for _ in range(tries):
        candidate = propose()
        c = cost(candidate)
        if c < best_cost:
            best, best_cost = candidate, c
        if c <= 0:
            break
    return best


def _decorate(image: Image.Image, kind: str, palette: Palette, rng: random.Random, text_side: str, avoid: Box) -> None:
    """One family of crisp decorative shapes, towards the edges and clear of the text (`avoid`)."""
    w, h = image.size
    u = min(w, h)
    accent, second = palette.accents if rng.random() < 0.6 else palette.accents[::-1]

    def side_x() -> float:
        """An x on the side the text leaves free (either side when it is centred)."""
        if text_side == "left":
            return w * rng.uniform(0.78, 1.05)
        if text_side == "right":
            return w * rng.uniform(-0.05, 0.22)
        return w * rng.choice([rng.uniform(-0.08, 0.15), rng.uniform(0.85, 1.08)])

    def rings_cost(c):
        cx, cy, *radii = c
        return sum(_circle_hits(cx, cy, r, avoid) for r in radii)

    if kind == "rings":
        def propose():
            r = u * rng.uniform(0.22, 0.42)
            return side_x(), h * rng.uniform(-0.1, 1.0), r, r * rng.uniform(0.55, 0.75)

        cx, cy, r, inner = _place(propose, rings_cost)
        _ring(image, accent, 0.55, cx, cy, r, u * 0.006)
        _ring(image, second, 0.35, cx, cy, inner, u * 0.003)
    elif kind == "arc":
        def propose():
            r = u * rng.uniform(0.25, 0.45)
            return side_x(), h * rng.uniform(0.5, 1.05), r, r * 1.18

        cx, cy, r, outer = _place(propose, rings_cost)
        start, sweep = rng.choice([180, 200, 240]), rng.choice([100, 140])

        def paint(draw, to, s):
            a, b = to(cx - r, cy - r), to(cx + r, cy + r)
            draw.arc((*a, *b), start, start + sweep, fill=255, width=max(1, round(u * 0.022 * s)))

        _stamp(image, accent, 0.8, (cx - r, cy - r, cx + r, cy + r), paint)
        _ring(image, second, 0.3, cx, cy, outer, u * 0.003)
    elif kind == "dots":
        cols, rows = rng.randint(5, 8), rng.randint(4, 6)
        gap, dot = u * 0.035, u * 0.0055

        def propose():
            x0 = min(max(side_x() - cols * gap / 2, w * 0.02), w * 0.98 - cols * gap)
            return x0, h * rng.uniform(0.03, 0.85 - rows * gap / h)

        x0, y0 = _place(propose, lambda c: _overlap((c[0] - gap, c[1] - gap, c[0] + cols * gap, c[1] + rows * gap), avoid))

        def paint(draw, to, s):
            for i in range(cols):
                for j in range(rows):
                    x, y = to(x0 + i * gap, y0 + j * gap)
                    draw.ellipse((x - dot * s, y - dot * s, x + dot * s, y + dot * s), fill=255)

        _stamp(image, accent, 0.7, (x0 - gap, y0 - gap, x0 + cols * gap, y0 + rows * gap), paint, supersample=3)
        cx, cy, r = _place(lambda: (side_x(), h * rng.uniform(0.6, 1.05), u * rng.uniform(0.2, 0.3)), rings_cost)
        _ring(image, second, 0.3, cx, cy, r, u * 0.004)
    elif kind == "confetti":
        def paint(draw, to, s):
            for _ in range(rng.randint(7, 11)):
                x = rng.choice([rng.uniform(0.02, 0.1), rng.uniform(0.9, 0.98)]) * w
                y, r = rng.uniform(0.05, 0.95) * h, u * rng.uniform(0.008, 0.02)
                if _overlap((x - r, y - r, x + r, y + r), avoid):
                    continue
                a, b = to(x - r, y - r), to(x + r, y + r)
                if rng.random() < 0.6:
                    draw.ellipse((*a, *b), fill=255)
                else:
                    draw.ellipse((*a, *b), outline=255, width=max(1, round(u * 0.004 * s)))

        _stamp(image, accent, 0.85, (0, 0, w, h), paint)
        cx, cy, r = _place(lambda: (side_x(), h * rng.uniform(-0.1, 0.3), u * rng.uniform(0.25, 0.35)), rings_cost)
        _ring(image, second, 0.35, cx, cy, r, u * 0.005)
    elif kind == "bands":
        # promo energy: broad translucent diagonals that may run behind the text
        slope = rng.choice([-1, 1]) * rng.uniform(0.35, 0.7)
        for colour, opacity in ((accent, 0.22), (second, 0.14), (accent, 0.1)):
            thick = u * rng.uniform(0.05, 0.14)
            offset = h * rng.uniform(-0.2, 1.2)

            def paint(draw, to, s, thick=thick, offset=offset):
                left, right = (-0.1 * w, offset), (1.1 * w, offset + slope * 1.2 * w)
                poly = [left, right, (right[0], right[1] + thick), (left[0], left[1] + thick)]
                draw.polygon([to(x, y) for x, y in poly], fill=255)

            _stamp(image, colour, opacity, (0, 0, w, h), paint)
    elif kind == "lines":
        # a few thin parallel strokes, like light streaks
        length, slope, count = u * rng.uniform(0.3, 0.5), rng.uniform(-0.4, 0.4), rng.randint(3, 5)

        def streak_box(c):
            x, y = c
            ys = (y, y + slope * length, y + (count - 1) * u * 0.03, y + slope * length + (count - 1) * u * 0.03)
            return (x - length / 2, min(ys), x + length / 2, max(ys))

        x, y = _place(lambda: (side_x(), h * rng.uniform(0.03, 0.8)), lambda c: _overlap(streak_box(c), avoid))

        def paint(draw, to, s):
            for k in range(count):
                yk = y + k * u * 0.03
                a, b = to(x - length / 2, yk), to(x + length / 2, yk + slope * length)
                draw.line((*a, *b), fill=255, width=max(1, round(u * 0.003 * s)))

        _stamp(image, accent, 0.55, streak_box((x, y)), paint)
        cx, cy, r = _place(lambda: (side_x(), h * rng.uniform(0.5, 1.0), u * rng.uniform(0.15, 0.25)), rings_cost)
        _ring(image, second, 0.25, cx, cy, r, u * 0.003)
    elif kind == "grid":
        step = u * 0.06

        def paint(draw, to, s):
            x = 0.0
            while x < w:
                draw.line((*to(x, 0), *to(x, h)), fill=255, width=1)
                x += step
            y = 0.0
            while y < h:
                draw.line((*to(0, y), *to(w, y)), fill=255, width=1)
                y += step

        _stamp(image, accent, 0.09, (0, 0, w, h), paint, supersample=1)
        cx, cy, r = _place(lambda: (side_x(), h * rng.uniform(-0.05, 1.0), u * rng.uniform(0.12, 0.2)), rings_cost)
        _ring(image, second, 0.45, cx, cy, r, u * 0.005)


# ---------------------------------------------------------------- text


@functools.lru_cache(maxsize=256)
def _font(path: Path | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is None:
        return ImageFont.load_default(size)
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        return ImageFont.load_default(size)


def _clusters(word: str) -> list[str]:
    """Split a word into pieces that may be broken between: never before a combining mark."""
    pieces: list[str] = []
    for ch in word:
        if pieces and (unicodedata.category(ch).startswith("M") or ch in "\u200c\u200d" or pieces[-1][-1] in "\u200c\u200d"):
            pieces[-1] += ch
        else:
            pieces.append(ch)
    return pieces


def _wrap(text: str, font, max_width: float) -> list[str]:
    """Greedy word wrap; words (or unspaced scripts) wider than a line break between characters."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
            current = ""
        if font.getlength(word) <= max_width:
            current = word
            continue
        for piece in _clusters(word):
            if current and font.getlength(current + piece) > max_width:
                lines.append(current)
                current = ""
            current += piece
    if current:
        lines.append(current)
    return lines


def _line_height(font, size: int, generic: bool) -> int:
    # Latin headlines read best tight; scripts with marks above and below need more room
    return round(size * 1.16) if generic else round(size * 1.38)


def _ink_box(lines: Sequence[str], font, line_height: int) -> tuple[int, int, int, int]:
    """Union of the glyph boxes of lines set on baselines 0, lh, 2lh... (x from the line start)."""
    boxes = [font.getbbox(line, anchor="ls") for line in lines]
    return (
        min(b[0] for b in boxes),
        min(b[1] + i * line_height for i, b in enumerate(boxes)),
        max(b[2] for b in boxes),
        max(b[3] + i * line_height for i, b in enumerate(boxes)),
    )


def _ellipsize(line: str, font, max_width: float, ellipsis: str) -> str:
    words = line.split()
    while words:
        candidate = " ".join(words) + ellipsis
        if font.getlength(candidate) <= max_width:
            return candidate
        if len(words) > 1:
            words.pop()
        else:
            pieces = _clusters(words[0])
            words = ["".join(pieces[:-1])] if len(pieces) > 1 else []
    return ellipsis


@dataclass(frozen=True)
class _SetText:
    lines: tuple[str, ...]
    font: object
    size: int
    line_height: int
    ink: tuple[int, int, int, int]  # ink box relative to the first line's start and baseline


def _fit(text: str, path: Path | None, generic: bool, max_w: int, max_h: int, sizes: tuple[int, int]) -> _SetText:
    """The largest size at which `text` wraps inside max_w x max_h; truncated at the smallest."""
    lo, hi = sizes
    words = text.split()
    if not words:
        return _SetText((), _font(path, lo), lo, _line_height(_font(path, lo), lo, generic), (0, 0, 0, 0))

    def attempt(size: int, split_words: bool) -> _SetText | None:
        font = _font(path, size)
        if not split_words and max(font.getlength(word) for word in words) > max_w:
            return None  # breaking inside a word is for text with no spaces, or a last resort
        lines = _wrap(text, font, max_w)
        lh = _line_height(font, size, generic)
        ink = _ink_box(lines, font, lh)
        if ink[2] - ink[0] <= max_w and ink[3] - ink[1] <= max_h:
            return _SetText(tuple(lines), font, size, lh, ink)
        return None

    for split_words in (False, True):
        best = attempt(lo, split_words)
        if best is None:
            continue
        floor = lo
        while lo < hi:  # binary search for the largest size that fits
            mid = (lo + hi + 1) // 2
            got = attempt(mid, split_words)
            if got is not None:
                best, lo = got, mid
            else:
                hi = mid - 1
        # One line fewer is worth up to ~14% of size: fewer, fuller lines read as designed.
        for size in range(best.size - 1, max(floor, int(best.size * 0.86)) - 1, -1):
            got = attempt(size, split_words)
            if got is not None and len(got.lines) < len(best.lines):
                best = got
                break
        return _balance(text, best, max_w)
    # Even the smallest size overflows: keep the lines that fit and end with an ellipsis.
    font = _font(path, lo)
    lh = _line_height(font, lo, generic)
    lines = _wrap(text, font, max_w)
    keep = max(1, (max_h - lo) // lh + 1)
    while keep > 1 and _ink_box(lines[:keep], font, lh)[3] - _ink_box(lines[:keep], font, lh)[1] > max_h:
        keep -= 1
    ellipsis = "…" if path is None or covers(path, "…") else "..."
    lines = lines[: keep - 1] + [_ellipsize(lines[keep - 1], font, max_w, ellipsis)]
    return _SetText(tuple(lines), font, lo, lh, _ink_box(lines, font, lh))


def _balance(text: str, fitted: _SetText, max_w: int) -> _SetText:
    """Re-wrap to the narrowest width that keeps the same line count: no lonely last word."""
    if len(fitted.lines) < 2 or not text.split():
        return fitted
    font, count = fitted.font, len(fitted.lines)
    widest = math.ceil(max(font.getlength(word) for word in text.split()))
    lo, hi = max(int(max_w * 0.4), min(widest, max_w) - 1), max_w  # never narrower than a whole word
    while hi - lo > 4:
        mid = (lo + hi) // 2
        if len(_wrap(text, font, mid)) <= count:
            hi = mid
        else:
            lo = mid
    lines = _wrap(text, font, hi)
    if len(lines) != count:
        return fitted
    return _SetText(tuple(lines), font, fitted.size, fitted.line_height, _ink_box(lines, font, fitted.line_height))


def _prepare_phrase(prompt: ImagePrompt, spec: StyleSpec) -> tuple[str, Path | None]:
    """The phrase to set and its font: whitespace collapsed, characters without a glyph dropped.

    Dropping beats drawing boxes (emoji, or a script with no font installed); when that
    loses most of the phrase, the video's title stands in if it can be drawn whole.
    """
    phrase, path = _drawable(prompt.key_phrase or prompt.title or "", spec)
    wanted = len(needed_chars(prompt.key_phrase or ""))
    if wanted and len(needed_chars(phrase)) < wanted / 2 and prompt.title:
        title, title_path = _drawable(prompt.title, spec)
        if title_path is not None and covers(title_path, title) and len(needed_chars(title)) >= len(needed_chars(phrase)):
            return title, title_path
    return phrase, path


def _drawable(text: str, spec: StyleSpec) -> tuple[str, Path | None]:
    text = " ".join(text.split())
    if spec.upper and len(text) <= 48:
        text = text.upper()
    path = find_font(text)
    if path is not None:
        points = font_codepoints(path)
        text = " ".join("".join(ch for ch in text if ord(ch) in points or ch.isspace()).split())
    return text, path


def _is_rtl(text: str) -> bool:
    strong = [unicodedata.bidirectional(ch) for ch in text if unicodedata.bidirectional(ch) in ("L", "R", "AL")]
    return bool(strong) and sum(b != "L" for b in strong) > len(strong) / 2


def _rounded(image: Image.Image, box: Sequence[float], radius: float, colour: RGB, opacity: float) -> None:
    def paint(draw, to, s):
        (ax, ay), (bx, by) = to(box[0], box[1]), to(box[2], box[3])
        draw.rounded_rectangle((ax, ay, bx - 1, by - 1), radius=radius * s, fill=255)  # PIL boxes include their end

    _stamp(image, colour, opacity, box, paint)


def _soft_panel(image: Image.Image, box: Sequence[float], radius: float, colour: RGB, opacity: float, feather: float, ellipse: bool = False) -> None:
    """A rounded panel (or ellipse) with feathered edges: built at 1/4 size, blurred, scaled up."""
    x0, y0, x1, y1 = box
    pad = math.ceil(feather * 2)
    region = (max(0, int(x0) - pad), max(0, int(y0) - pad), min(image.width, math.ceil(x1) + pad), min(image.height, math.ceil(y1) + pad))
    rw, rh = region[2] - region[0], region[3] - region[1]
    if rw <= 0 or rh <= 0:
        return
    k = 4
    mask = Image.new("L", (max(1, rw // k), max(1, rh // k)), 0)
    shape = ((x0 - region[0]) / k, (y0 - region[1]) / k, (x1 - region[0]) / k, (y1 - region[1]) / k)
    if ellipse:
        ImageDraw.Draw(mask).ellipse(shape, fill=round(255 * opacity))
    else:
        ImageDraw.Draw(mask).rounded_rectangle(shape, radius=radius / k, fill=round(255 * opacity))
    mask = mask.filter(ImageFilter.GaussianBlur(max(0.5, feather / k / 2))).resize((rw, rh), Image.Resampling.BICUBIC)
    image.paste(colour, region, mask)


def _card(image: Image.Image, box: Box, radius: float, palette: Palette, frosted: bool) -> None:
    """A panel behind the text: soft drop shadow, optional frosted blur, tint, hairline edge."""
    u = min(image.size)
    shadow = (box[0], box[1] + round(u * 0.012), box[2], box[3] + round(u * 0.012))
    _soft_panel(image, shadow, radius, (0, 0, 0), 0.28, u * 0.02)
    if frosted:
        region = image.crop(box)
        small = region.reduce(4) if min(region.size) >= 16 else region
        blurred = small.filter(ImageFilter.GaussianBlur(6)).resize(region.size, Image.Resampling.BICUBIC)
        mask = Image.new("L", region.size, 0)
        ImageDraw.Draw(mask).rounded_rectangle((0, 0, region.width - 1, region.height - 1), radius=radius, fill=255)
        image.paste(blurred, box[:2], mask)
    _rounded(image, box, radius, palette.card, palette.card_alpha)
    edge = (255, 255, 255) if luminance(palette.card) < 0.5 else palette.accents[0]

    def paint(draw, to, s):
        draw.rounded_rectangle((*to(box[0], box[1]), *to(box[2], box[3])), radius=radius * s, outline=255, width=max(1, round(s * u * 0.0015)))

    _stamp(image, edge, 0.22, box, paint)


def _draw_lines(draw: ImageDraw.ImageDraw, setting: _SetText, origin: tuple[float, float], width: int, align: str, fill) -> Box | None:
    """Draw lines with the first baseline at origin[1], aligned in [origin[0], origin[0]+width]; returns the ink box."""
    x0, y0 = origin
    drawn = []
    for i, line in enumerate(setting.lines):
        left, _, right, _ = setting.font.getbbox(line, anchor="ls")
        if align == "center":
            x = x0 + (width - (right - left)) / 2 - left
        elif align == "right":
            x = x0 + width - right
        else:
            x = x0 - left
        xy = (round(x), round(y0 + i * setting.line_height))
        draw.text(xy, line, font=setting.font, fill=fill, anchor="ls")
        drawn.append(draw.textbbox(xy, line, font=setting.font, anchor="ls"))
    return _union(*drawn)


def _union(*boxes: Box | None) -> Box | None:
    real = [b for b in boxes if b is not None]
    if not real:
        return None
    return (min(b[0] for b in real), min(b[1] for b in real), max(b[2] for b in real), max(b[3] for b in real))


# ---------------------------------------------------------------- the slide


def _pick_palette(prompt: ImagePrompt, style: str) -> Palette:
    # One palette per video: keyed on title and style, not on the scene's seed.
    family = PALETTES[style]
    return family[zlib.crc32(f"{style}\x00{prompt.title}".encode()) % len(family)]


@dataclass(frozen=True)
class _Plan:
    """Where everything of the text layer goes: computed before any pixel is painted."""

    layout: str
    align: str  # left | center | right
    card: bool
    phrase_font: Path | None
    setting: _SetText
    text_x: tuple[int, int]  # the column the phrase lines align in
    baseline: int  # of the first line
    phrase_box: Box
    chip_box: Box
    badge_w: int
    number: str
    badge_font: object
    title: str
    title_font: object
    bar_box: Box | None  # a vertical rule (left/right) or a short bar under the phrase (centre)
    text_box: Box  # chip, phrase and bar together
    panel_box: Box  # text_box with padding, inside the safe box


def _plan(prompt: ImagePrompt, size: tuple[int, int], spec: StyleSpec, layout: str) -> _Plan:
    w, h = size
    u = min(w, h)
    portrait, landscape = h > w * 1.2, w > h * 1.2
    phrase, path = _prepare_phrase(prompt, spec)
    card = layout.startswith("card")
    align = "center" if layout in ("center", "card") else ("right" if _is_rtl(phrase) else "left")

    # The column: inside the safe box, leaving room for a card's padding and the text shadow.
    safe = safe_box(size)
    inset_x = round(w * (0.045 if card else 0.03))
    inset_y = round(h * (0.035 if portrait else 0.04))
    col = [safe[0] + inset_x, safe[1] + inset_y, safe[2] - inset_x, safe[3] - inset_y]
    if portrait and not card:
        col[0], col[2] = safe[0] + round(w * 0.015), safe[2] - round(w * 0.015)  # tall frames: use the width
    if landscape and align != "center" and len(phrase) <= 90:
        # aligned text in a wide frame: a narrower column leaves the other side to the decoration
        narrow = round((col[2] - col[0]) * 0.78)
        col = [col[0], col[1], col[0] + narrow, col[3]] if align == "left" else [col[2] - narrow, col[1], col[2], col[3]]

    rule = align != "center"
    rule_w, rule_gap = max(2, round(u * 0.008)), round(u * 0.028)
    text_x0 = col[0] + (rule_w + rule_gap if align == "left" else 0)
    text_x1 = col[2] - (rule_w + rule_gap if align == "right" else 0)

    chip_size = max(10, round(u * 0.026))
    chip_h, chip_gap = round(chip_size * 1.9), round(u * 0.04)
    bar_h, bar_gap = (0, 0) if rule else (max(2, round(u * 0.009)), round(u * 0.035))
    max_phrase_h = (col[3] - col[1]) - chip_h - chip_gap - bar_h - bar_gap
    generic = not (scripts_of(needed_chars(phrase)) - {"LATIN", "CYRILLIC", "GREEK"})
    biggest = round(u * (0.115 if landscape else 0.12 if portrait else 0.105))
    smallest = max(8, round(u * 0.032))
    setting = _fit(phrase, path, generic, text_x1 - text_x0, max(smallest, max_phrase_h), (smallest, max(smallest, biggest)))

    # Vertically: centre the block (chip, phrase ink, bar) in the column; a little high in tall frames.
    ink_w, ink_h = setting.ink[2] - setting.ink[0], setting.ink[3] - setting.ink[1]
    block_h = chip_h + chip_gap + ink_h + bar_gap + bar_h
    top = col[1] + max(0, round(((col[3] - col[1]) - block_h) * (0.42 if portrait else 0.5)))
    phrase_top = top + chip_h + chip_gap

    def aligned_x(width: int) -> int:
        if align == "center":
            return text_x0 + ((text_x1 - text_x0) - width) // 2
        return text_x1 - width if align == "right" else text_x0

    phrase_box = (aligned_x(ink_w), phrase_top, aligned_x(ink_w) + ink_w, phrase_top + ink_h)

    # The chip: a numbered badge, then the video's title.
    number = f"{prompt.index + 1:02d}"
    badge_font = _font(find_font(number), chip_size)
    badge_w = round(badge_font.getlength(number) + chip_size * 1.3)
    title = " ".join(prompt.title.split())
    title = title.upper() if len(title) <= 60 else title
    title_path = find_font(title, bold=False) if title else None
    title_font = _font(title_path, chip_size)
    room = (text_x1 - text_x0) - badge_w - chip_size
    if title and title_font.getlength(title) > room:
        title = _ellipsize(title, title_font, room, "…" if title_path is None or covers(title_path, "…") else "...")
    chip_w = badge_w + (round(title_font.getlength(title)) + chip_size if title else 0)
    chip_box = (aligned_x(chip_w), top, aligned_x(chip_w) + chip_w, top + chip_h)

    if rule:
        rx = col[0] if align == "left" else col[2] - rule_w
        bar_box = (rx, top, rx + rule_w, phrase_box[3])
    else:
        bar_w = max(bar_h * 4, round(min(w * 0.09, ink_w * 0.35)))
        bx = phrase_box[0] + (ink_w - bar_w) // 2
        bar_box = (bx, phrase_box[3] + bar_gap, bx + bar_w, phrase_box[3] + bar_gap + bar_h)

    text_box = _union(chip_box, phrase_box, bar_box)
    pad = round(u * 0.035)
    panel_box = (
        max(safe[0], text_box[0] - pad),
        max(safe[1], text_box[1] - pad),
        min(safe[2], text_box[2] + pad),
        min(safe[3], text_box[3] + pad),
    )
    return _Plan(
        layout, align, card, path, setting, (text_x0, text_x1), phrase_top - setting.ink[1], phrase_box,
        chip_box, badge_w, number, badge_font, title, title_font, bar_box, text_box, panel_box,
    )


def render_slide(prompt: ImagePrompt, size: tuple[int, int], *, text: bool = True) -> Slide:
    """Draw one slide. With text=False the very same slide is drawn without its text layer."""
    w, h = int(size[0]), int(size[1])
    if w < 16 or h < 16:
        raise ProviderError(f"slide size {w}x{h} is too small: use at least 16x16 pixels")
    style = prompt.style if prompt.style in STYLES else DEFAULT_STYLE
    spec, palette = STYLES[style], _pick_palette(prompt, style)
    rng = random.Random(prompt.seed)
    u = min(w, h)

    plan = _plan(prompt, (w, h), spec, rng.choice(spec.layouts))
    image = _background((w, h), palette, spec, rng, plan.align)
    clearance = round(u * 0.03)
    avoid = (plan.panel_box[0] - clearance, plan.panel_box[1] - clearance, plan.panel_box[2] + clearance, plan.panel_box[3] + clearance)
    _decorate(image, rng.choice(spec.decor), palette, rng, plan.align, avoid)
    if plan.card:
        _card(image, plan.panel_box, u * 0.025, palette, frosted=luminance(palette.card) < 0.5)
    ink = palette.ink
    image, behind = _ensure_contrast(image, ink, plan)
    contrast = _worst_contrast(ink, behind)

    text_box = None
    if text:
        text_box = _draw_text_layer(image, plan, palette, ink, behind)
    setting = plan.setting
    return Slide(image, text_box, safe_box((w, h)), setting.lines, plan.phrase_font, setting.size, contrast, plan.layout, palette.name)


def _ensure_contrast(image: Image.Image, ink: RGB, plan: _Plan) -> tuple[Image.Image, list[RGB]]:
    """Keep the palette's ink (it carries the look); where what lies behind the text is too
    close to it, lay a scrim: a wide, heavily feathered ellipse that reads as light falling off."""
    reading = _union(plan.chip_box, plan.phrase_box)
    behind = _samples(image, reading)
    if _worst_contrast(ink, behind) >= MIN_CONTRAST:
        return image, behind
    u = min(image.size)
    scrim = (0, 0, 0) if luminance(ink) > 0.4 else (255, 255, 255)
    box = plan.text_box
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    rx = (box[2] - box[0]) / 2 * 1.3 + u * 0.06
    ry = (box[3] - box[1]) / 2 * 1.45 + u * 0.06
    opacity = 0.25
    for _ in range(4):
        while opacity < 0.85 and _worst_contrast(ink, [_lerp(s, scrim, opacity) for s in behind]) < MIN_CONTRAST:
            opacity += 0.05
        trial = image.copy()
        _soft_panel(trial, (cx - rx, cy - ry, cx + rx, cy + ry), 0, scrim, opacity, u * 0.12, ellipse=True)
        trial_behind = _samples(trial, reading)
        if _worst_contrast(ink, trial_behind) >= MIN_CONTRAST or opacity >= 0.85:
            break
        opacity += 0.1  # the feathered edge let some of the background through: go darker
    return trial, trial_behind


def _draw_text_layer(image: Image.Image, plan: _Plan, palette: Palette, ink: RGB, behind: Sequence[RGB]) -> Box:
    """Phrase (with a soft shadow when light on dark), accent bar and chip; returns the box touched."""
    draw = ImageDraw.Draw(image)
    x0, x1 = plan.text_x
    shadow_box = None
    if luminance(ink) > 0.4 and not plan.card:
        shadow_box = _text_shadow(image, plan.setting, (x0, plan.baseline), x1 - x0, plan.align)
    drawn = _draw_lines(draw, plan.setting, (x0, plan.baseline), x1 - x0, plan.align, ink)
    accent = _most_contrasting(palette.accents, behind)
    bar = plan.bar_box
    _rounded(image, bar, min(bar[2] - bar[0], bar[3] - bar[1]) / 2, accent, 1.0)
    chip = plan.chip_box
    chip_h = chip[3] - chip[1]
    _rounded(image, (chip[0], chip[1], chip[0] + plan.badge_w, chip[3]), chip_h / 2, accent, 1.0)
    badge_ink = max(((255, 255, 255), (17, 17, 20)), key=lambda c: contrast_ratio(c, accent))
    mid = chip[1] + chip_h / 2
    draw.text((chip[0] + plan.badge_w / 2, mid), plan.number, font=plan.badge_font, fill=badge_ink, anchor="mm")
    if plan.title:
        title_x = chip[0] + plan.badge_w + chip_h * 0.37
        draw.text((title_x, mid), plan.title, font=plan.title_font, fill=_lerp(ink, _mean(behind), 0.15), anchor="lm")
    # what was planned and what was drawn (glyph boxes can round a pixel differently)
    return _union(plan.text_box, shadow_box, drawn)


def _mean(colours: Sequence[RGB]) -> RGB:
    n = max(1, len(colours))
    return (sum(c[0] for c in colours) // n, sum(c[1] for c in colours) // n, sum(c[2] for c in colours) // n)


def _most_contrasting(accents: Sequence[RGB], behind: Sequence[RGB]) -> RGB:
    background = _mean(behind)
    return max(accents, key=lambda a: contrast_ratio(a, background))


def _text_shadow(image: Image.Image, setting: _SetText, origin: tuple[int, int], width: int, align: str) -> Box:
    """A soft dark shadow under the phrase; returns the box it touched."""
    blur = max(1.0, setting.size * 0.06)
    offset = max(1, round(setting.size * 0.035))
    spread = math.ceil(blur * 3)
    x0, y0 = origin
    ink = setting.ink
    # the phrase spans at most [x0 - |ink left|, x0 + width] horizontally
    box = (
        max(0, x0 + min(0, ink[0]) - spread),
        max(0, y0 + ink[1] - spread),
        min(image.width, x0 + width + max(0, ink[2] - width) + spread),
        min(image.height, y0 + ink[3] + offset + spread),
    )
    mask = Image.new("L", (box[2] - box[0], box[3] - box[1]), 0)
    _draw_lines(ImageDraw.Draw(mask), setting, (x0 - box[0], y0 - box[1] + offset), width, align, 150)
    mask = mask.filter(ImageFilter.GaussianBlur(blur))
    image.paste((0, 0, 0), box[:2], mask)
    touched = mask.getbbox()
    return (box[0] + touched[0], box[1] + touched[1], box[0] + touched[2], box[1] + touched[3]) if touched else None


class SlideProvider:
    """Title-card slides drawn with Pillow: needs no network, no GPU and no model."""

    name = "slides"

    def status(self) -> ProviderStatus:
        path = find_font("Aa")
        font = f"font {font_family(path)} ({path})" if path else "no system fonts found, using Pillow's built-in font"
        return ProviderStatus(self.name, "images", True, f"Pillow {PIL.__version__} title cards; {font}")

    def render(self, prompts: Sequence[ImagePrompt], size: tuple[int, int], out_dir: Path) -> list[Path]:
        out_dir = image_folder(out_dir)
        paths = []
        for done, prompt in enumerate(prompts, start=1):
            checkpoint()  # between slides: a timeout or a cancellation stops here
            slide = render_slide(prompt, size)
            paths.append(save_scene_png(slide.image, out_dir, prompt.index))
            progress.report("visuals", 0.05 + 0.9 * done / len(prompts), f"slide {done}/{len(prompts)}")
        return paths
