"""The slide as a whole: where the text goes, its card and scrim, the text layer, render_slide."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from aura.errors import ProviderError
from aura.media.fonts import covers, find_font, needed_chars, scripts_of
from aura.providers.images.base import ImagePrompt
from aura.providers.images.slides.painting import _background, _decorate, _stamp
from aura.providers.images.slides.palettes import (
    DEFAULT_STYLE,
    MIN_CONTRAST,
    RGB,
    STYLES,
    Box,
    Palette,
    StyleSpec,
    _lerp,
    _mean,
    _most_contrasting,
    _pick_palette,
    _samples,
    _worst_contrast,
    contrast_ratio,
    luminance,
)
from aura.providers.images.slides.typesetting import _ellipsize, _fit, _font, _is_rtl, _prepare_phrase, _SetText

# Where text may go, as fractions of the frame: the compositor crops up to ~12%
# for Ken Burns and burns subtitles into the bottom ~22%.
SAFE_LEFT, SAFE_TOP, SAFE_RIGHT, SAFE_BOTTOM = 0.10, 0.10, 0.90, 0.72


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
