"""The slides' pictures: background gradient, glows, vignette, and the crisp decorative shapes."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

from PIL import Image, ImageDraw, ImageFilter

from aura.providers.images.slides.palettes import RGB, Box, Palette, StyleSpec, _lerp, _ramp

LOW_RES_FACTOR = 4  # smooth layers are painted at 1/4 size


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
