"""Subtitle cues, SRT and ASS: limits a viewer would check, and real libass rendering through ffmpeg."""

from __future__ import annotations

import random
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from aura.media.ffmpeg import ffmpeg_path
from aura.media.subtitles import (
    Cue,
    build_cues,
    display_width,
    escape_ass_text,
    format_ass,
    format_srt,
    write_ass,
    write_srt,
)


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float


def timed(text: str, *, start: float = 0.0, step: float = 0.32, seed: int = 0) -> list[Word]:
    """Words of ``text`` spoken one after another with slightly varied pace and pauses at full stops."""
    rng = random.Random(seed)
    words, t = [], start
    for token in text.split():
        length = step * rng.uniform(0.6, 1.4)
        words.append(Word(token, round(t, 3), round(t + length, 3)))
        t += length + (0.4 if token[-1] in ".!?" else rng.uniform(0.0, 0.08))
    return words


def squash(text: str) -> str:
    return "".join(text.split())


def assert_valid(cues: list[Cue], words: list[Word], *, end_limit: float | None = None, max_cue: float = 7.0):
    assert cues, "no cues"
    for cue in cues:
        assert 1 <= len(cue.lines) <= 2, cue
        for line in cue.lines:
            assert line and line == line.strip(), cue
            assert display_width(line) <= 42, (line, display_width(line))
        assert cue.start < cue.end, cue
        assert squash("".join(cue.lines)) == squash("".join(w.text for w in cue.words)), cue
        if len(cue.words) > 1:
            assert cue.words[-1].end - cue.words[0].start <= max_cue + 1e-6, cue
    for a, b in zip(cues, cues[1:]):
        assert a.end <= b.start, (a, b)
        assert a.start < b.start
    assert cues[0].start >= 0
    if end_limit is not None:
        assert cues[-1].end <= end_limit + 1e-9
    # every (non-empty) input word is there exactly once, in order
    spoken = squash("".join(w.text for w in words))
    shown = squash("".join(w.text for cue in cues for w in cue.words))
    assert shown == spoken


# --------------------------------------------------------------------------- cue building

VOCAB = (
    "the a of narration video quickly explains how engines render every frame while "
    "subtitles follow, carefully; timing matters: really? yes! absolutely. "
    "Donaudampfschifffahrtsgesellschaftskapitänsmützenhalterin "
    "https://example.com/a/really/long/path/to/some/resource?query=1&other=2 "
    "naïve café e\u0301te\u0301 Привет, как дела? مرحبا بالعالم، كيف حالك؟ "
    "नमस्ते दुनिया। 東京 こんにちは、世界！ 😀 👍🏽 "
    "今天天气很好我们一起去公园散步然后去吃饭吃完饭以后再回家休息明天还要上班呢这是一个很长的没有空格的句子。 "
    "日本語の文章はスペースを使わないので、とても長い単語が来るかもしれません。 "
    "— … (aside) «quoted» \"said\" 'it' , . ; : ! ?"
).split()


@pytest.mark.parametrize("seed", range(60))
def test_random_word_lists_respect_every_limit(seed):
    rng = random.Random(seed)
    words, t = [], rng.uniform(0, 3)
    for _ in range(rng.randint(1, 160)):
        text = rng.choice(VOCAB)
        if rng.random() < 0.1:
            text += rng.choice([".", ",", "!", "?", "。", "，", ";", "…"])
        if rng.random() < 0.03:
            text = rng.choice(["", "   ", "\x07", "\t"])  # empty after cleaning: ignored
        length = rng.choice([0.0, rng.uniform(0.05, 0.6), rng.uniform(0.5, 9.0)])
        start = t - rng.uniform(0, 0.1) if rng.random() < 0.1 else t  # sometimes overlapping
        words.append(Word(text, start, start + length))
        t = start + length + rng.choice([0.0, 0.05, rng.uniform(0, 2.5)])
    end_limit = max(w.start for w in words) + rng.choice([0.02, 0.5, 5.0])
    cues = build_cues(words, end_limit=end_limit)
    kept = [w for w in words if w.text.strip() and w.text != "\x07"]
    assert_valid(cues, kept, end_limit=end_limit)


def test_sentences_that_fit_are_never_split():
    sentences = [
        "The engine speaks each word.",
        "Subtitles follow the voice closely, line by line.",
        "Short.",
        "A longer sentence has to fit into two lines of forty-two characters.",
        "Does it work?",
        "Yes!",
        "Every cue should end where a sentence ends when that sentence fits.",
        "Mr. Smith agrees with this.",
    ]
    for seed in range(10):
        rng = random.Random(seed)
        text = " ".join(rng.choice(sentences) for _ in range(25))
        words = timed(text, seed=seed)
        cues = build_cues(words)
        assert_valid(cues, words)
        for cue in cues:
            assert cue.words[-1].text[-1] in ".!?", cue.lines
            assert cue.words[-1].text != "Mr."


def test_long_sentence_splits_at_clause_punctuation():
    text = (
        "When the narration runs far longer than a single subtitle can hold on screen, "
        "the builder has to split it somewhere sensible for the viewer."
    )
    cues = build_cues(timed(text, step=0.2))
    assert len(cues) == 2
    assert cues[0].words[-1].text == "screen,"


def test_lines_are_balanced():
    text = "This sentence is a little too long to fit one single line of text"
    cue = build_cues(timed(text, step=0.2))[0]
    assert len(cue.lines) == 2
    widths = [display_width(line) for line in cue.lines]
    assert abs(widths[0] - widths[1]) <= 8, cue.lines


def test_line_break_follows_a_sentence_end():
    cue = build_cues(timed("Wait. The ship sails at dawn for the islands."))[0]
    assert cue.lines == ("Wait.", "The ship sails at dawn for the islands.")


def test_long_words_and_spaceless_runs_are_hard_split():
    url = "https://example.com/" + "/".join(["segment"] * 12) + "?key=value"
    cjk = "我们一起去公园散步然后去吃饭吃完饭以后再回家休息明天还要上班呢这是一个很长的没有空格的句子" * 2
    words = [Word("See", 0, 0.3), Word(url, 0.3, 3.0), Word(cjk, 3.2, 12.0), Word("done.", 12.0, 12.4)]
    cues = build_cues(words)
    assert_valid(cues, words)
    # the CJK run is cut into pieces and written without spaces
    lines = [line for cue in cues for line in cue.lines]
    assert not any(re.search("[\u4e00-\u9fff] [\u4e00-\u9fff]", line) for line in lines)
    assert any("句子 done." in line for line in lines)  # Latin next to CJK keeps its space
    assert len(cues) >= 3


def test_spaceless_run_ends_cues_at_its_own_sentence_ends():
    words = [Word("今天天气很好。我们一起去公园散步吧！然后我们去吃饭，吃完饭以后再回家休息，明天还要上班呢。", 0, 9)]
    cues = build_cues(words)
    assert_valid(cues, words)
    assert all(cue.lines[-1][-1] in "。！" for cue in cues)


def test_timing_rules():
    words = [Word("Hi.", 1.0, 1.2), Word("Second", 3.0, 3.3), Word("cue.", 3.3, 3.5), Word("Tight.", 3.6, 3.7)]
    cues = build_cues(words, end_limit=4.0)
    assert cues[0].start == 1.0 and cues[0].end == pytest.approx(1.8)  # stretched to min_cue_seconds
    assert cues[-1].end <= 4.0
    for a, b in zip(cues, cues[1:]):
        assert a.end <= b.start
    # a word that starts after the limit could never be seen
    assert build_cues([Word("late", 5.0, 5.5)], end_limit=4.0) == []


def test_long_cues_split_at_max_seconds():
    words = [Word(f"w{i}", i * 1.0, i * 1.0 + 0.9) for i in range(12)]
    cues = build_cues(words, max_cue_seconds=4.0)
    assert len(cues) >= 3
    assert_valid(cues, words, max_cue=4.0)


def test_control_characters_and_empty_words():
    words = [Word("\x00he\x1bllo", 0, 0.4), Word("", 0.4, 0.5), Word(" \n", 0.5, 0.6), Word("wor\tld", 0.6, 1.0)]
    cues = build_cues(words)
    assert cues[0].lines == ("hello wor ld",)


# --------------------------------------------------------------------------- SRT

SRT_TIME = re.compile(r"^(\d\d):(\d\d):(\d\d),(\d\d\d) --> (\d\d):(\d\d):(\d\d),(\d\d\d)$")


def parse_srt(text: str) -> list[tuple[int, float, float, list[str]]]:
    entries = []
    for block in text.strip("\n").split("\n\n"):
        lines = block.split("\n")
        match = SRT_TIME.match(lines[1])
        assert match, lines[1]
        h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, match.groups())
        start = h1 * 3600 + m1 * 60 + s1 + ms1 / 1000
        end = h2 * 3600 + m2 * 60 + s2 + ms2 / 1000
        entries.append((int(lines[0]), start, end, lines[2:]))
    return entries


def test_srt_round_trip(tmp_path):
    text = " ".join(
        ["Привет, мир. مرحبا بالعالم. The long road home winds through valleys and hills, slowly."] * 30
    )
    cues = build_cues(timed(text, start=3595.0))  # crosses the one-hour mark
    path = write_srt(cues, tmp_path / "out.srt")
    assert [p.name for p in tmp_path.iterdir()] == ["out.srt"]  # no temporary file left behind
    raw = path.read_bytes()
    assert raw.endswith(b"\n") and not raw.endswith(b"\n\n\n")
    entries = parse_srt(raw.decode("utf-8"))
    assert [e[0] for e in entries] == list(range(1, len(cues) + 1))
    for (number, start, end, lines), cue in zip(entries, cues):
        assert start < end
        assert start == pytest.approx(cue.start, abs=0.0005) and end == pytest.approx(cue.end, abs=0.0005)
        assert tuple(lines) == cue.lines
    for a, b in zip(entries, entries[1:]):
        assert a[2] <= b[1]
    assert any(e[1] >= 3600 for e in entries)


def test_srt_rounding_keeps_order_for_hand_made_cues():
    cues = [
        Cue(0.0004, 0.0006, ("a",), ()),  # shorter than a millisecond
        Cue(0.0006, 1.0004, ("b",), ()),
        Cue(1.0005, 2.0, ("c",), ()),
    ]
    entries = parse_srt(format_srt(cues))
    for _, start, end, _ in entries:
        assert start < end
    for a, b in zip(entries, entries[1:]):
        assert a[2] <= b[1]


# --------------------------------------------------------------------------- ASS

NASTY = "' : \\ % [ ] , ; { } \\N \\h {\\b1} Привет مرحبا नमस्ते 你好"


def test_escape_ass_text():
    assert escape_ass_text("a{b}c") == "a\\{b\\}c"
    assert escape_ass_text("\\N") == "\\\u2060N"
    assert escape_ass_text("x\ny\tz\r\n") == "x y z  "
    assert escape_ass_text("Привет مرحبا 你好") == "Привет مرحبا 你好"


def karaoke_sums(ass: str) -> list[tuple[int, int]]:
    """(sum of \\k/\\kf durations, cue length) per Dialogue line, in centiseconds."""
    out = []
    for line in ass.splitlines():
        if not line.startswith("Dialogue:"):
            continue
        fields = line.split(",", 9)

        def cs(stamp: str) -> int:
            h, m, s = stamp.split(":")
            return round((int(h) * 3600 + int(m) * 60 + float(s)) * 100)

        total = sum(int(v) for v in re.findall(r"\{\\kf?(\d+)\}", fields[9]))
        out.append((total, cs(fields[2]) - cs(fields[1])))
    return out


def test_karaoke_durations_sum_to_cue_length():
    words = timed("One two three. " * 20 + NASTY, seed=3)
    words.insert(5, Word("overlap", words[4].start - 0.1, words[4].end + 0.5))
    ass = format_ass(build_cues(words), width=1280, height=720)
    sums = karaoke_sums(ass)
    assert sums
    for total, length in sums:
        assert abs(total - length) <= 1


def test_ass_header_and_sizes():
    ass = format_ass(build_cues(timed("Hello world.")), width=1080, height=1920)
    assert "PlayResX: 1080" in ass and "PlayResY: 1920" in ass and "WrapStyle: 2" in ass
    style = next(line for line in ass.splitlines() if line.startswith("Style:")).split(",")
    size, margin_l, margin_v = float(style[2]), int(style[19]), int(style[21])
    assert style[18] == "2"
    # two lines of 42 columns at 0.55 em must fit between the side margins
    assert 42 * 0.55 * size <= 1080 - 2 * margin_l
    assert 120 <= margin_v <= 150


def render(tmp_path: Path, ass: str, *, at: float = 0.5) -> Image.Image:
    """Burn the ASS over black with ffmpeg's ass filter and return the frame at ``at`` seconds."""
    (tmp_path / "subs.ass").write_text(ass, encoding="utf-8")
    cmd = [
        ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", "color=c=black:s=640x360:d=2",
        "-vf", "ass=subs.ass", "-ss", str(at), "-frames:v", "1", "frame.png",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return Image.open(tmp_path / "frame.png").convert("RGB")


def ink(image: Image.Image) -> tuple[int, tuple[int, int, int, int] | None]:
    """White-ish pixel count and their bounding box."""
    mask = image.convert("L").point(lambda v: 255 if v > 170 else 0)
    return sum(1 for v in mask.tobytes() if v), mask.getbbox()


def one_cue(*lines: str) -> list[Cue]:
    return [Cue(0.0, 2.0, tuple(lines), ())]


def test_ass_renders_nasty_text_literally(tmp_path):
    cues = build_cues([Word(t, i * 0.1, i * 0.1 + 0.1) for i, t in enumerate(NASTY.split())])
    path = write_ass(cues, tmp_path / "check.ass", width=640, height=360)
    written = path.read_text(encoding="utf-8")
    for script in ("Привет", "مرحبا", "नमस्ते", "你好"):
        assert script in written  # passed through untouched
    assert sum(1 for line in written.splitlines() if line.startswith("Dialogue:")) == len(cues)
    count, _ = ink(render(tmp_path, format_ass(one_cue(NASTY), width=640, height=360, karaoke=False)))
    assert count > 500


def test_escaped_override_block_is_drawn_not_swallowed(tmp_path):
    escaped = format_ass(one_cue("a {\\b1} c"), width=640, height=360, karaoke=False)
    assert "{\\b1}" not in escaped
    unescaped = escaped.replace(escape_ass_text("{\\b1}"), "{\\b1}")
    assert unescaped != escaped
    literal, _ = ink(render(tmp_path, escaped))
    swallowed, _ = ink(render(tmp_path, unescaped))
    assert literal > swallowed * 1.5, (literal, swallowed)


def test_backslash_n_in_user_text_stays_on_one_line(tmp_path):
    _, one = ink(render(tmp_path, format_ass(one_cue("top\\Nbottom"), width=640, height=360, karaoke=False)))
    _, two = ink(render(tmp_path, format_ass(one_cue("top", "bottom"), width=640, height=360, karaoke=False)))
    one_height, two_height = one[3] - one[1], two[3] - two[1]
    assert one_height < two_height * 0.7, (one, two)
    assert one[2] - one[0] > two[2] - two[0]  # and it is wider: "\N" is drawn as text


def test_karaoke_highlights_the_spoken_words(tmp_path):
    words = [Word("first", 0.0, 0.5), Word("second", 0.5, 1.0), Word("third", 1.5, 1.9)]
    ass = format_ass(build_cues(words), width=640, height=360)
    frame = render(tmp_path, ass, at=1.2)  # "first second" spoken, "third" not yet
    raw = frame.tobytes()
    pixels = list(zip(raw[0::3], raw[1::3], raw[2::3]))
    yellow = sum(1 for r, g, b in pixels if r > 200 and g > 170 and b < 120)
    white = sum(1 for r, g, b in pixels if r > 200 and g > 200 and b > 200)
    assert yellow > 100 and white > 50, (yellow, white)
