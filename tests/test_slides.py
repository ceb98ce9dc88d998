"""The offline slide provider: exact sizes, deterministic, readable, text inside the safe area."""

from __future__ import annotations

import os

import pytest
from fontTools.ttLib import TTFont
from PIL import Image, ImageChops, ImageStat

from aura.errors import ProviderError
from aura.media.fonts import font_catalog
from aura.providers.images import ImagePrompt, ImageProvider, SlideProvider, render_slide
from aura.providers.images.slides import MIN_CONTRAST, safe_box

STYLES = ("documentary", "explainer", "promo", "tutorial", "story")
ASPECTS = ((1280, 720), (720, 1280), (720, 720))
needs_fonts = pytest.mark.skipif(not font_catalog(), reason="no fonts installed on this machine")


def prompt(key_phrase="Why the ocean stores heat", style="explainer", seed=7, index=0, title="The Hidden Ocean"):
    return ImagePrompt(index=index, prompt="a calm ocean at dusk", key_phrase=key_phrase, title=title, style=style, seed=seed)


def text_layer_box(p, size):
    """Where the text layer changed pixels: the slide with text against the same slide without."""
    with_text = render_slide(p, size)
    without = render_slide(p, size, text=False)
    return with_text, ImageChops.difference(with_text.image, without.image).getbbox()


def inside(box, outer):
    return outer[0] <= box[0] and outer[1] <= box[1] and box[2] <= outer[2] and box[3] <= outer[3]


@pytest.mark.parametrize("size", [(1280, 720), (720, 1280), (720, 720), (1920, 1080)])
def test_files_have_the_exact_size_and_name(tmp_path, size):
    paths = SlideProvider().render([prompt(index=0), prompt(index=1, seed=8)], size, tmp_path / "images")
    assert [p.name for p in paths] == ["scene_000.png", "scene_001.png"]
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.size == size
    assert sorted(os.listdir(tmp_path / "images")) == ["scene_000.png", "scene_001.png"]  # no temp files left


def test_same_seed_same_bytes_other_seed_other_image(tmp_path):
    provider = SlideProvider()
    [a] = provider.render([prompt(seed=3)], (640, 360), tmp_path / "a")
    [b] = provider.render([prompt(seed=3)], (640, 360), tmp_path / "b")
    [c] = provider.render([prompt(seed=4)], (640, 360), tmp_path / "c")
    assert a.read_bytes() == b.read_bytes()
    with Image.open(a) as first, Image.open(c) as other:
        assert ImageChops.difference(first.convert("RGB"), other.convert("RGB")).getbbox() is not None


def test_scenes_of_one_video_share_a_palette_but_vary():
    slides = [render_slide(prompt(seed=seed, index=i), (320, 180)) for i, seed in enumerate(range(10, 18))]
    assert len({s.palette for s in slides}) == 1
    assert len({s.layout for s in slides}) > 1


@pytest.mark.parametrize("style", STYLES)
def test_slide_is_not_blank(style):
    image = render_slide(prompt(style=style), (640, 360)).image
    assert image.mode == "RGB"
    assert max(ImageStat.Stat(image.convert("L")).stddev) > 4
    assert len(image.getcolors(maxcolors=1 << 20)) > 500


@needs_fonts
@pytest.mark.parametrize("size", ASPECTS)
@pytest.mark.parametrize("style", STYLES)
def test_text_is_drawn_readable_and_inside_the_safe_area(style, size):
    w, h = size
    for seed in (1, 2):
        slide, changed = text_layer_box(prompt(style=style, seed=seed), size)
        assert changed is not None, "the text layer drew nothing"
        safe = safe_box(size)
        # >=10% left/right/top, clear of the bottom 28% (subtitles + Ken Burns crop)
        assert safe[0] >= 0.1 * w and safe[2] <= 0.9 * w and safe[1] >= 0.1 * h and safe[3] <= 0.72 * h
        assert inside(changed, safe), (changed, safe)
        assert inside(changed, slide.text_box)
        assert slide.contrast >= MIN_CONTRAST


@needs_fonts
def test_text_area_has_high_contrast_pixels():
    slide = render_slide(prompt(key_phrase="Readable"), (1280, 720))
    region = slide.image.crop(slide.text_box).convert("L")
    low, high = region.getextrema()
    assert high - low > 120


def test_portrait_text_block_is_wider_relative_to_the_frame():
    def width_share(size):
        slide = render_slide(prompt(key_phrase="Three simple steps to sleep better tonight", style="story", seed=5), size)
        return (slide.text_box[2] - slide.text_box[0]) / size[0]

    assert width_share((720, 1280)) > width_share((1280, 720))


@needs_fonts
@pytest.mark.parametrize(
    "phrase",
    ["Три простых шага к лучшему сну", "مرحبا بكم في عالم الذكاء الاصطناعي", "स्वस्थ जीवन के लिए तीन आदतें"],
)
def test_non_latin_phrase_uses_a_covering_font(phrase):
    slide, changed = text_layer_box(prompt(key_phrase=phrase), (1280, 720))
    assert slide.font is not None
    font = TTFont(str(slide.font), lazy=True)
    try:
        cmap = font.getBestCmap()
    finally:
        font.close()
    assert all(ord(ch) in cmap for ch in phrase if not ch.isspace())
    assert " ".join(slide.lines) == phrase  # nothing dropped, nothing truncated
    assert changed is not None and inside(changed, slide.safe_box)


@needs_fonts
@pytest.mark.parametrize("size", [(1280, 720), (720, 1280)])
def test_very_long_phrase_shrinks_and_still_fits(size):
    words = "the quick brown fox jumps over a lazy dog while the narrator explains why".split()
    long_phrase = " ".join(words[i % len(words)] for i in range(80))[:300].strip()
    short = render_slide(prompt(key_phrase="Short"), size)
    slide, changed = text_layer_box(prompt(key_phrase=long_phrase), size)
    assert slide.font_size < short.font_size
    assert inside(changed, slide.safe_box)
    shown = " ".join(slide.lines)
    assert shown == long_phrase or shown.endswith(("…", "..."))


@needs_fonts
def test_a_phrase_too_long_for_any_size_ends_with_an_ellipsis():
    slide, changed = text_layer_box(prompt(key_phrase="far too many words " * 120), (640, 360))
    assert slide.lines[-1].endswith(("…", "..."))
    assert inside(changed, slide.safe_box)


@needs_fonts
def test_an_unbreakable_word_longer_than_a_line_still_fits():
    slide, changed = text_layer_box(prompt(key_phrase="Pneumonoultramicroscopicsilicovolcanoconiosis" * 3), (720, 720))
    assert inside(changed, slide.safe_box)


@pytest.mark.parametrize("phrase", ["It's 100% done: [really] {ok}; a\\b, c", "'\":\\%[],;{}", "", "🚀🚀", "日本語"])
def test_metacharacters_and_odd_phrases_render(tmp_path, phrase):
    [path] = SlideProvider().render([prompt(key_phrase=phrase)], (640, 360), tmp_path)
    assert path.stat().st_size > 0


@needs_fonts
def test_metacharacters_are_kept_in_the_phrase():
    phrase = "It's 100% done: [really] {ok}; a\\b, c"
    slide = render_slide(prompt(key_phrase=phrase), (1280, 720))
    assert " ".join(slide.lines) == phrase


def test_unknown_style_still_renders():
    assert render_slide(prompt(style="vaporwave"), (320, 180)).image.size == (320, 180)


def test_too_small_a_size_is_a_clear_error():
    with pytest.raises(ProviderError, match="too small"):
        render_slide(prompt(), (8, 8))


def test_status_and_protocol():
    provider = SlideProvider()
    assert isinstance(provider, ImageProvider)
    status = provider.status()
    assert (status.name, status.kind, status.usable) == ("slides", "images", True)
    assert "font" in status.detail
