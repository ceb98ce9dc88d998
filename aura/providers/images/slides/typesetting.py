"""The slides' text: fonts, wrapping, fitting and balancing the key phrase, ellipses, right-to-left."""

from __future__ import annotations

import functools
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

from aura.media.fonts import covers, find_font, font_codepoints, needed_chars
from aura.providers.images.base import ImagePrompt
from aura.providers.images.slides.palettes import StyleSpec


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
