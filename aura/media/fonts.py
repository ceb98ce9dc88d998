"""Find an installed font that can draw a given text, through fontconfig and fontTools.

Pillow draws a whole string with one font (no per-glyph fallback), so the font
must cover every character of it: coverage is read from each font's cmap.
Everything is cached: the catalog once per process, each font's cmap once.
"""

from __future__ import annotations

import functools
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from aura import processes

FC_LIST_TIMEOUT_S = 10.0
FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
# Used when fontconfig is absent: the usual places fonts are installed.
FONT_DIRS = (
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".local/share/fonts",
    Path.home() / ".fonts",
    Path("/Library/Fonts"),
    Path("/System/Library/Fonts"),
    Path("C:/Windows/Fonts"),
)
# Sans families that look good on a slide, best first, for Latin/Cyrillic/Greek.
GENERIC_SANS = ("notosans", "dejavusans", "liberationsans", "opensans", "roboto", "arial", "helvetica", "freesans")
# Scripts whose font families are named differently from the Unicode script name.
CJK_SCRIPTS = {"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "IDEOGRAPHIC", "BOPOMOFO", "HALFWIDTH", "FULLWIDTH"}
CJK_HINTS = ("cjk", "sanssc", "sanstc", "sansjp", "sanskr", "wenquanyi", "droidsansfallback", "unifont")
# Scripts any generic sans is expected to carry.
GENERIC_SCRIPTS = {"LATIN", "CYRILLIC", "GREEK"}


@dataclass(frozen=True)
class FontFile:
    path: Path
    family: str  # first family name, as fontconfig and libass know it
    style: str
    weight: int  # fontconfig scale: 80 regular, 200 bold
    italic: bool
    condensed: bool


def _norm(name: str) -> str:
    return "".join(name.lower().split())


@functools.lru_cache(maxsize=1)
def font_catalog() -> tuple[FontFile, ...]:
    """Every usable outline font on this machine (first face of collections)."""
    fonts = _catalog_from_fontconfig()
    if fonts is None:
        fonts = _catalog_from_dirs()
    # Colour emoji fonts only render at fixed sizes; they would break sizing.
    return tuple(f for f in fonts if "emoji" not in _norm(f.family))


def _catalog_from_fontconfig() -> list[FontFile] | None:
    exe = shutil.which("fc-list")
    if exe is None:
        return None
    fmt = "%{file}\t%{index}\t%{family}\t%{style}\t%{weight}\t%{width}\t%{slant}\n"
    try:
        proc = processes.run([exe, "--format", fmt], timeout=FC_LIST_TIMEOUT_S)
    except (OSError, processes.ChildTimeout):
        return None
    if proc.returncode != 0:
        return None
    fonts = []
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split("\t")
        if len(parts) != 7:
            continue
        file, index, family, style, weight, width, slant = parts
        path = Path(file)
        if path.suffix.lower() not in FONT_SUFFIXES or index not in ("", "0"):
            continue
        fonts.append(
            FontFile(
                path=path,
                family=family.split(",")[0].strip(),
                style=style.split(",")[0].strip(),
                weight=_int(weight, 80),
                italic=_int(slant, 0) != 0,
                condensed=_int(width, 100) < 100,
            )
        )
    return fonts


def _catalog_from_dirs() -> list[FontFile]:
    """Without fontconfig: guess family and style from file names like `NotoSans-Bold.ttf`."""
    fonts = []
    for folder in FONT_DIRS:
        try:
            files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in FONT_SUFFIXES)
        except OSError:
            continue
        for path in files:
            family, _, style = path.stem.partition("-")
            low = style.lower()
            fonts.append(
                FontFile(
                    path=path,
                    family=family,
                    style=style or "Regular",
                    weight=200 if "bold" in low or "black" in low else 80,
                    italic="italic" in low or "oblique" in low,
                    condensed="condensed" in low,
                )
            )
    return fonts


def _int(text: str, default: int) -> int:
    try:
        return int(float(text))
    except ValueError:
        return default


@functools.lru_cache(maxsize=None)
def font_codepoints(path: Path | str) -> frozenset[int]:
    """The code points a font file maps to glyphs (empty if it cannot be read)."""
    from fontTools.ttLib import TTFont

    try:
        font = TTFont(str(path), lazy=True, fontNumber=0)
        try:
            cmap = font.getBestCmap() or {}
        finally:
            font.close()
    except Exception:  # noqa: BLE001 - a broken font file is just a font that covers nothing
        return frozenset()
    return frozenset(cmap)


def needed_chars(text: str) -> frozenset[str]:
    """The characters of `text` a font must have glyphs for: no spaces or invisible controls."""
    return frozenset(ch for ch in text if unicodedata.category(ch) not in ("Zs", "Zl", "Zp", "Cc", "Cf"))


def covers(path: Path | str, text: str) -> bool:
    """Whether the font at `path` has a glyph for every visible character of `text`."""
    points = font_codepoints(path)
    return all(ord(ch) in points for ch in needed_chars(text))


def scripts_of(chars: frozenset[str]) -> frozenset[str]:
    """Unicode script names (from character names) of the letters and marks in `chars`."""
    found = set()
    for ch in chars:
        if not unicodedata.category(ch).startswith(("L", "M")):
            continue
        word = unicodedata.name(ch, "UNKNOWN").split()[0]
        found.add("CJK" if word in CJK_SCRIPTS else word)
    return frozenset(found)


def _family_rank(font: FontFile, scripts: frozenset[str]) -> int:
    """Lower is better: the script's own Noto Sans, then a generic sans, then anything."""
    family = _norm(font.family)
    special = scripts - GENERIC_SCRIPTS
    rank = 60
    for script in special:
        hints = CJK_HINTS if script == "CJK" else (_norm(script),)
        if any(hint in family for hint in hints):
            rank = min(rank, 0 if "sans" in family else 10)
    if rank == 60 and family in GENERIC_SANS:
        rank = 20 + GENERIC_SANS.index(family)
    elif rank == 60 and "sans" in family:
        rank = 40
    if "mono" in family or "math" in family or "symbol" in family:
        rank += 20
    if family.endswith("ui") or "display" in family:
        rank += 2  # tighter metrics or display cuts: fine, but the plain cut reads better
    return rank


def _style_penalty(font: FontFile, bold: bool) -> int:
    target = 200 if bold else 80
    return abs(font.weight - target) + (500 if font.italic else 0) + (300 if font.condensed else 0)


@functools.lru_cache(maxsize=1024)
def _find_for(chars: frozenset[str], bold: bool) -> Path | None:
    catalog = font_catalog()
    if not catalog:
        return None
    scripts = scripts_of(chars) or frozenset({"LATIN"})
    ranked = sorted(catalog, key=lambda f: (_family_rank(f, scripts), _style_penalty(f, bold), str(f.path)))
    if not chars:
        return ranked[0].path
    best, best_count = None, -1
    # Walk in preference order: the first full cover wins; usually one of the first few.
    for font in ranked:
        points = font_codepoints(font.path)
        count = sum(ord(ch) in points for ch in chars)
        if count == len(chars):
            return font.path
        if count > best_count:
            best, best_count = font.path, count
    return best


def find_font(text: str, bold: bool = True) -> Path | None:
    """A font file that covers every visible character of `text`, preferring a clean sans.

    Falls back to the font covering the most characters, and to None when the
    machine has no fonts (or no way to list them).
    """
    return _find_for(needed_chars(text), bold)


@functools.lru_cache(maxsize=None)
def font_family(path: Path | str) -> str:
    """The family name of a font file, as ASS subtitle styles and fontconfig spell it."""
    path = Path(path)
    for font in font_catalog():
        if font.path == path:
            return font.family
    from fontTools.ttLib import TTFont

    try:
        font = TTFont(str(path), lazy=True, fontNumber=0)
        try:
            name = font["name"]
            family = name.getDebugName(16) or name.getDebugName(1)
        finally:
            font.close()
    except Exception:  # noqa: BLE001 - unreadable: fall back to the file name
        family = None
    return family or path.stem.partition("-")[0]
