"""Font lookup: the font found must really carry every character of the text."""

from __future__ import annotations

import time

import pytest
from fontTools.ttLib import TTFont

from aura.media import fonts

SAMPLES = {
    "russian": "Три простых шага к лучшему сну",
    "arabic": "مرحبا بكم في عالم الذكاء الاصطناعي",
    "hindi": "स्वस्थ जीवन के लिए तीन आदतें",
}

needs_fonts = pytest.mark.skipif(not fonts.font_catalog(), reason="no fonts installed on this machine")


def _cmap(path) -> set[int]:
    font = TTFont(str(path), lazy=True, fontNumber=0)
    try:
        return set(font.getBestCmap())
    finally:
        font.close()


@needs_fonts
def test_latin_gets_a_bold_sans():
    path = fonts.find_font("Hello, world")
    assert path is not None and path.is_file()
    assert "sans" in fonts.font_family(path).lower()
    assert "bold" in path.name.lower()


@needs_fonts
@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_non_latin_text_gets_a_covering_font(language):
    text = SAMPLES[language]
    path = fonts.find_font(text)
    assert path is not None
    cmap = _cmap(path)
    missing = [ch for ch in text if not ch.isspace() and ord(ch) not in cmap]
    assert missing == []
    assert fonts.covers(path, text)


@needs_fonts
def test_script_specific_font_is_preferred_when_installed():
    arabic = [f for f in fonts.font_catalog() if f.family == "Noto Sans Arabic"]
    assert arabic, "Noto Sans Arabic missing: scripts/setup.sh installs fonts-noto-core"
    assert fonts.font_family(fonts.find_font(SAMPLES["arabic"])) == "Noto Sans Arabic"


@needs_fonts
def test_partial_cover_falls_back_to_the_best_font():
    # a private-use character no font has: the font must still carry the rest
    path = fonts.find_font("Hello \ue000")
    assert path is not None
    assert fonts.covers(path, "Hello")


@needs_fonts
def test_family_name_matches_the_font_file():
    path = fonts.find_font("Hello")
    font = TTFont(str(path), lazy=True)
    try:
        names = {font["name"].getDebugName(1), font["name"].getDebugName(16)}
    finally:
        font.close()
    assert fonts.font_family(path) in names


def test_later_calls_are_cached_and_fast():
    fonts.find_font("Warm up the cache")
    start = time.perf_counter()
    for _ in range(100):
        fonts.find_font("Warm up the cache")
    assert (time.perf_counter() - start) / 100 < 0.001


def test_no_fonts_at_all_gives_none(monkeypatch):
    monkeypatch.setattr(fonts, "font_catalog", lambda: ())
    fonts._find_for.cache_clear()
    try:
        assert fonts.find_font("Hello") is None
    finally:
        fonts._find_for.cache_clear()


def test_no_fontconfig_falls_back_to_font_folders(monkeypatch, tmp_path):
    monkeypatch.setattr(fonts.shutil, "which", lambda name: None)
    assert fonts._catalog_from_fontconfig() is None
    monkeypatch.setattr(fonts, "FONT_DIRS", (tmp_path,))
    (tmp_path / "Example-Bold.ttf").write_bytes(b"not really a font")
    [found] = fonts._catalog_from_dirs()
    assert (found.family, found.weight) == ("Example", 200)
    assert fonts.font_codepoints(found.path) == frozenset()  # unreadable: covers nothing, no crash
