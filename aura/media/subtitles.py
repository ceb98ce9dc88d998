"""Subtitles from word timings: cue building, SRT sidecars and ASS files for libass.

Words come from the TTS engine (anything with ``.text``, ``.start``, ``.end`` in
seconds on the video timeline). ``build_cues`` groups them into readable cues
(at most two balanced lines, ending at sentence ends where it can);
``format_srt`` and ``format_ass`` write them out. ASS text is escaped so that
whatever the script says renders literally, and each word carries a ``\\kf``
karaoke tag so the spoken word lights up as it is said.
"""

from __future__ import annotations

import math
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

__all__ = [
    "Cue",
    "CueWord",
    "build_cues",
    "default_font_size",
    "display_width",
    "escape_ass_text",
    "format_ass",
    "format_srt",
    "write_ass",
    "write_srt",
]

DEFAULT_MAX_LINE_CHARS = 42

SENTENCE_END = frozenset(".!?…。！？‼⁇⁈⁉؟۔।॥")
CLAUSE_END = frozenset(",;:—–、，；：،؛")
# Trailing quotes and brackets do not hide the punctuation before them: 'he said "no."'
CLOSERS = frozenset("\"'”’»›)]}」』）】〕〉》")
# Punctuation that a TTS engine may hand over as its own "word" and that belongs to its neighbour.
ATTACH_LEFT = frozenset(",.;:!?…%)]}»”’、。，！？；：」』）】〕〉》؟،؛۔।")
ATTACH_RIGHT = frozenset("([{«“‘¿¡「『（【〔〈《")
# Dots that end an abbreviation, not a sentence.
ABBREVIATIONS = frozenset({"mr.", "mrs.", "ms.", "dr.", "prof.", "sr.", "jr.", "st.", "vs.", "e.g.", "i.e.", "approx."})
# Where a long Latin "word" (a URL, a path) may be broken: after these.
SOFT_BREAK_AFTER = frozenset("/.-_?&=#:,;@+")
# A silence this long between words is a natural place to change cues.
_PAUSE_SECONDS = 0.5
# libass font size is the line height; average Latin glyph advance is below 0.55 of it
# for DejaVu Sans Bold (0.48 measured), so 0.55 leaves room for outline and capitals.
_GLYPH_WIDTH_EM = 0.55


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class CueWord:
    """One spoken unit inside a cue: a TTS word, or a piece of a word too long for a line."""

    text: str
    start: float
    end: float
    joined: bool = False  # written without a space before it (CJK, attached punctuation, word pieces)


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]
    words: tuple[CueWord, ...]
    # how many of ``words`` sit on each line; empty means "work it out from lines"
    line_sizes: tuple[int, ...] = ()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


# --------------------------------------------------------------------------- text measure


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Columns a text takes on screen: wide/fullwidth East Asian chars 2, combining marks 0."""
    return sum(_char_width(ch) for ch in text)


def is_spaceless(ch: str) -> bool:
    """Scripts written without spaces between words (CJK, Thai...): words join without a space."""
    cp = ord(ch)
    return (
        0x3000 <= cp <= 0x30FF  # CJK punctuation, hiragana, katakana
        or 0x31F0 <= cp <= 0x31FF
        or 0x3400 <= cp <= 0x4DBF
        or 0x4E00 <= cp <= 0x9FFF
        or 0xF900 <= cp <= 0xFAFF
        or 0xFF00 <= cp <= 0xFFEF  # fullwidth forms, halfwidth katakana
        or 0x20000 <= cp <= 0x3FFFF
        or 0x0E00 <= cp <= 0x0EFF  # Thai, Lao
        or 0x1000 <= cp <= 0x109F  # Myanmar
        or 0x1780 <= cp <= 0x17FF  # Khmer
    )


def _clean(text: str) -> str:
    """Strip control characters; whitespace controls become one space."""
    out = []
    for ch in str(text):
        if ch.isspace():
            out.append(" ")
        elif unicodedata.category(ch) == "Cc":
            continue
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def _core(text: str) -> str:
    """The text without trailing quotes/brackets, where end punctuation is read."""
    return text.rstrip("".join(CLOSERS))


def _ends_sentence(text: str) -> bool:
    core = _core(text)
    if not core or core[-1] not in SENTENCE_END:
        return False
    return core.lower() not in ABBREVIATIONS


def _ends_clause(text: str) -> bool:
    core = _core(text)
    return bool(core) and core[-1] in CLAUSE_END


def _graphemes(text: str) -> list[str]:
    """Approximate grapheme clusters: a base char with its marks, joiners and variation selectors."""
    clusters: list[str] = []
    glue_next = False
    for ch in text:
        attaches = unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Mc") or (
            0xFE00 <= ord(ch) <= 0xFE0F or ch == "\u200d"
        )
        if clusters and (attaches or glue_next):
            clusters[-1] += ch
        else:
            clusters.append(ch)
        glue_next = ch == "\u200d"
    return clusters


# --------------------------------------------------------------------------- tokens


@dataclass
class _Token:
    text: str
    start: float
    end: float
    joined: bool  # no space before it
    piece: bool  # a continuation of a split word: breaking a line before it is a last resort
    width: int = 0

    def __post_init__(self) -> None:
        self.width = display_width(self.text)


def _spoken_units(words: Iterable) -> Iterable[tuple[str, float, float]]:
    """Cleaned (text, start, end); a "word" holding spaces is split, its time shared by width."""
    last_start = 0.0
    for word in words:
        text = _clean(word.text)
        if not text:
            continue
        start = max(float(word.start), last_start, 0.0)  # times only move forward
        end = max(float(word.end), start)
        last_start = start
        parts = text.split(" ")
        weights = [max(display_width(p), 1) for p in parts]
        total, acc = sum(weights), 0
        for part, weight in zip(parts, weights):
            part_start = start + (end - start) * acc / total
            acc += weight
            yield part, part_start, start + (end - start) * acc / total


def _tokens_from_words(words: Iterable, drop_from: float | None) -> list[_Token]:
    """Clean the words, fix odd timings, merge lone punctuation into its neighbour."""
    tokens: list[_Token] = []
    pending_open: _Token | None = None  # an opening bracket waiting for its word
    for text, start, end in _spoken_units(words):
        if display_width(text) == 0 or (drop_from is not None and start >= drop_from):
            continue  # it could never be on screen
        if pending_open is not None:
            text, start = pending_open.text + text, pending_open.start
            pending_open = None
        if tokens and all(ch in ATTACH_LEFT for ch in text):
            prev = tokens[-1]
            prev.text += text
            prev.end = max(prev.end, end)
            prev.width = display_width(prev.text)
            continue
        if all(ch in ATTACH_RIGHT for ch in text):
            pending_open = _Token(text, start, end, False, False)
            continue
        # CJK words follow each other without spaces; next to Latin text we keep the space,
        # since the engine's words do not say whether the script had one
        joined = bool(tokens) and is_spaceless(tokens[-1].text[-1]) and is_spaceless(text[0])
        tokens.append(_Token(text, start, end, joined, False))
    if pending_open is not None:  # an opening bracket with nothing after it
        tokens.append(pending_open)
    return tokens


def _split_spaceless(text: str, max_cols: int) -> list[str]:
    """Cut a CJK-style run after its internal punctuation, then into break units where too long."""
    clauses: list[str] = []
    current = ""
    for cluster in _graphemes(text):
        if cluster[0] in ATTACH_LEFT or cluster[0] in CLOSERS:
            current += cluster  # closing punctuation never starts a piece
            continue
        mark = _core(current)[-1:]
        # only full-width or typographic marks: an ASCII "." may sit inside "3.5"
        if mark and mark in SENTENCE_END | CLAUSE_END and (is_spaceless(mark) or mark in "…—"):
            clauses.append(current)
            current = ""
        current += cluster
    if current:
        clauses.append(current)

    pieces: list[str] = []
    for clause in clauses:
        if display_width(clause) <= max_cols:
            pieces.append(clause)
            continue
        # break units: each spaceless char on its own, Latin/digit runs kept whole
        units: list[str] = []
        for cluster in _graphemes(clause):
            glue = units and (
                cluster[0] in ATTACH_LEFT
                or cluster[0] in CLOSERS
                or units[-1][-1] in ATTACH_RIGHT
                or not (is_spaceless(cluster[0]) or is_spaceless(units[-1][-1]))
            )
            if glue:
                units[-1] += cluster
            else:
                units.append(cluster)
        for unit in units:
            pieces.extend(_split_latin(unit, max_cols) if display_width(unit) > max_cols else [unit])
    return pieces


def _split_latin(text: str, max_cols: int) -> list[str]:
    """Cut a long word after URL-ish separators; cut what is still too long into even chunks."""
    parts: list[str] = []
    current = ""
    for cluster in _graphemes(text):
        current += cluster
        if cluster[-1] in SOFT_BREAK_AFTER:
            parts.append(current)
            current = ""
    if current:
        parts.append(current)
    pieces: list[str] = []
    for part in parts:
        width = display_width(part)
        if width <= max_cols:
            pieces.append(part)
            continue
        clusters = _graphemes(part)
        count = math.ceil(width / max_cols)
        target = width / count
        chunk, chunk_width = "", 0
        for cluster in clusters:
            w = display_width(cluster)
            if chunk and (chunk_width + w > max_cols or chunk_width >= target):
                pieces.append(chunk)
                chunk, chunk_width = "", 0
            chunk += cluster
            chunk_width += w
        pieces.append(chunk)
    return pieces


def _split_long(token: _Token, max_cols: int) -> list[_Token]:
    """Hard-split a token wider than a line; times are shared out by width."""
    if any(is_spaceless(ch) for ch in token.text):
        texts = _split_spaceless(token.text, max_cols)
    elif token.width > max_cols:
        texts = _split_latin(token.text, max_cols)
    else:
        return [token]
    if len(texts) == 1:
        return [token]
    weights = [max(display_width(t), 1) for t in texts]
    total = sum(weights)
    span = token.end - token.start
    out, acc = [], 0
    for i, (text, weight) in enumerate(zip(texts, weights)):
        start = token.start + span * acc / total
        acc += weight
        end = token.end if i == len(texts) - 1 else token.start + span * acc / total
        out.append(_Token(text, start, end, token.joined if i == 0 else True, i > 0))
    return out


# --------------------------------------------------------------------------- line breaking


def _lines_needed(tokens: Sequence[_Token], max_cols: int) -> int:
    """Fewest lines the tokens fit on (greedy filling is optimal for this)."""
    lines, width = 0, 0
    for i, tok in enumerate(tokens):
        extra = tok.width + (0 if (i == 0 or tok.joined) else 1)
        if lines == 0 or width + extra > max_cols:
            lines += 1
            width = tok.width
        else:
            width += extra
    return lines


def _break_cost(tokens: Sequence[_Token], at: int) -> float:
    """What breaking a line before tokens[at] costs, beyond imbalance: favour punctuation."""
    prev, nxt = tokens[at - 1], tokens[at]
    if _ends_sentence(prev.text):
        return -2000.0  # outweighs any imbalance: a new sentence starts a new line
    if _ends_clause(prev.text):
        return -400.0
    if nxt.piece:
        return 40.0  # inside a word cut for being too long
    return 0.0


def _break_lines(tokens: Sequence[_Token], max_cols: int, line_count: int) -> list[int]:
    """Balanced line breaks: minimise the sum of squared line widths plus break costs.

    With a fixed number of lines the squared sum is smallest when lines are even,
    so a 40+3 split loses to 22+21 unless punctuation makes up for it.
    """
    n = len(tokens)
    if line_count <= 1 or n <= 1:
        return []
    inf = float("inf")
    # best[k][i]: cost of putting tokens[:i] on k lines; back[k][i]: where line k starts
    best = [[inf] * (n + 1) for _ in range(line_count + 1)]
    back = [[0] * (n + 1) for _ in range(line_count + 1)]
    best[0][0] = 0.0
    for k in range(1, line_count + 1):
        for i in range(1, n + 1):
            width = 0
            for j in range(i - 1, -1, -1):  # line k holds tokens[j:i]
                tok = tokens[j]
                width += tok.width + (0 if j == i - 1 or tokens[j + 1].joined else 1)
                if width > max_cols:
                    break
                if best[k - 1][j] == inf or (j == 0) != (k == 1):
                    continue
                cost = best[k - 1][j] + width * width + (_break_cost(tokens, j) if j else 0.0)
                if cost < best[k][i]:
                    best[k][i], back[k][i] = cost, j
    breaks, i = [], n
    for k in range(line_count, 1, -1):
        i = back[k][i]
        breaks.append(i)
    return sorted(breaks)


def _render_line(tokens: Sequence[_Token]) -> str:
    return "".join((t.text if (i == 0 or t.joined) else " " + t.text) for i, t in enumerate(tokens))


# --------------------------------------------------------------------------- cue segmentation


def _boundary_cost(tokens: Sequence[_Token], end: int) -> tuple[int, float]:
    """Cost of ending a cue after tokens[end-1]: (mid-sentence breaks, preference)."""
    if end >= len(tokens):
        return 0, 0.0
    last = tokens[end - 1]
    if _ends_sentence(last.text):
        return 0, 0.0
    pause = tokens[end].start - last.end >= _PAUSE_SECONDS
    if _ends_clause(last.text):
        return 1, 0.5 if pause else 1.0
    if tokens[end].piece:
        return 1, 6.0  # between two pieces of one word
    return 1, 1.5 if pause else 3.0


def _segment(tokens: Sequence[_Token], max_cols: int, max_lines: int, max_seconds: float) -> list[tuple[int, int]]:
    """Split tokens into cues by dynamic programming over cue boundaries.

    Costs compare as (mid-sentence breaks, preference): ending a cue inside a
    sentence is only done when that sentence cannot fit one cue, and then at
    clause punctuation or a pause where possible. Preference also favours one
    sentence per cue but lets very short sentences share.
    """
    n = len(tokens)
    inf = (math.inf, math.inf)
    best: list[tuple[float, float]] = [inf] * (n + 1)
    back = [0] * (n + 1)
    best[0] = (0, 0.0)
    for i in range(n):
        if best[i] == inf:
            continue
        lines, width, inner_sentences, total_width, inner_pauses = 0, 0, 0, 0, 0.0
        for j in range(i, n):  # the cue holds tokens[i:j+1]
            tok = tokens[j]
            extra = tok.width + (0 if (j == i or tok.joined) else 1)
            if lines == 0 or width + extra > max_cols:
                lines += 1
                width = tok.width
            else:
                width += extra
            too_long = tok.end - tokens[i].start > max_seconds
            if j > i and tok.start - tokens[j - 1].end >= _PAUSE_SECONDS:
                # text shown long before it is said gives the game away
                inner_pauses += 2.0 * (tok.start - tokens[j - 1].end)
            if j > i and (lines > max_lines or too_long):
                break
            total_width += tok.width
            breaks, pref = _boundary_cost(tokens, j + 1)
            short = max(0.0, 16 - total_width) / 8  # a lone "Yes." would flash by
            fill = total_width / (max_cols * max_lines)  # convex: splits a long sentence evenly
            pref += 1.0 + 1.2 * inner_sentences + inner_pauses + short + 0.5 * fill * fill
            cost = (best[i][0] + breaks, best[i][1] + pref)
            if cost < best[j + 1]:
                best[j + 1], back[j + 1] = cost, i
            if _ends_sentence(tok.text):
                inner_sentences += 1
    spans, j = [], n
    while j > 0:
        spans.append((back[j], j))
        j = back[j]
    return spans[::-1]


# --------------------------------------------------------------------------- timing


def _cs(seconds: float) -> int:
    return int(round(seconds * 100))


def build_cues(
    words: Iterable,
    *,
    max_line_chars: int = DEFAULT_MAX_LINE_CHARS,
    max_lines: int = 2,
    max_cue_seconds: float = 7.0,
    min_cue_seconds: float = 0.8,
    end_limit: float | None = None,
) -> list[Cue]:
    """Group timed words into subtitle cues.

    Each cue has at most ``max_lines`` balanced lines of at most ``max_line_chars``
    display columns, prefers to end at a sentence end, then at clause
    punctuation, and splits a word only when it is wider than a line. Cue times
    are whole centiseconds (so SRT and ASS show them exactly), strictly ordered,
    never overlapping and never past ``end_limit``; words that start at or after
    ``end_limit`` could never be seen and are left out.
    """
    if max_line_chars < 2 or max_lines < 1:
        raise ValueError("max_line_chars must be >= 2 and max_lines >= 1")
    if max_cue_seconds <= 0 or min_cue_seconds < 0:
        raise ValueError("max_cue_seconds must be > 0 and min_cue_seconds >= 0")
    limit_cs = None if end_limit is None else int(math.floor(end_limit * 100 + 1e-6))
    # a word whose start rounds onto the limit has no centisecond left to be shown in
    cleaned = _tokens_from_words(words, None if limit_cs is None else (limit_cs - 0.5) / 100)
    if limit_cs is not None:
        for tok in cleaned:  # pieces of a split word share out only the time that is on screen
            tok.end = min(tok.end, limit_cs / 100)
    tokens = [piece for tok in cleaned for piece in _split_long(tok, max_line_chars)]
    if not tokens:
        return []
    spans = _segment(tokens, max_line_chars, max_lines, max_cue_seconds)

    # Starts: first word start, strictly increasing even for zero-length words.
    starts: list[int] = []
    for a, _ in spans:
        s = max(_cs(tokens[a].start), starts[-1] + 1 if starts else 0)
        starts.append(s)
    if limit_cs is not None:
        # Degenerate timings (much text in the last centiseconds) may push starts past
        # the end: pull them back, keeping one centisecond per cue, rather than lose words.
        for k in range(len(starts) - 1, -1, -1):
            cap = limit_cs - 1 if k == len(starts) - 1 else starts[k + 1] - 1
            starts[k] = min(starts[k], cap)
        while starts and starts[0] < 0:  # more cues than centiseconds: nothing sensible left
            starts.pop(0)
            spans.pop(0)

    cues: list[Cue] = []
    min_cs = _cs(min_cue_seconds)
    for index, ((a, b), start) in enumerate(zip(spans, starts)):
        ceiling = starts[index + 1] if index + 1 < len(starts) else None
        if limit_cs is not None:
            ceiling = limit_cs if ceiling is None else min(ceiling, limit_cs)
        end = max(_cs(tokens[b - 1].end), start + min_cs)  # stay up long enough to be read
        if ceiling is not None:
            end = min(end, ceiling)
        end = max(end, start + 1)  # room is guaranteed: the next start is at least start + 1

        cue_tokens = tokens[a:b]
        line_count = _lines_needed(cue_tokens, max_line_chars)
        breaks = _break_lines(cue_tokens, max_line_chars, line_count)
        bounds = [0, *breaks, len(cue_tokens)]
        lines = tuple(_render_line(cue_tokens[x:y]) for x, y in zip(bounds, bounds[1:]))
        cue_words = tuple(
            CueWord(t.text, t.start, t.end, joined=bool(k and t.joined)) for k, t in enumerate(cue_tokens)
        )
        sizes = tuple(y - x for x, y in zip(bounds, bounds[1:]))
        cues.append(Cue(start / 100, end / 100, lines, cue_words, sizes))
    return cues


# --------------------------------------------------------------------------- SRT


def _monotone_times(cues: Sequence[Cue], unit: int) -> list[tuple[int, int]]:
    """Cue times in integer units, repaired so rounding can never reorder or overlap them."""
    out: list[tuple[int, int]] = []
    prev_end = 0
    for cue in cues:
        start = max(int(round(cue.start * unit)), prev_end, 0)
        end = max(int(round(cue.end * unit)), start + 1)
        out.append((start, end))
        prev_end = end
    return out


def _srt_time(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d},{millis:03d}"


def format_srt(cues: Sequence[Cue]) -> str:
    """SubRip text: numbered blocks, blank line between them, ending with a newline."""
    blocks = []
    for number, (cue, (start, end)) in enumerate(zip(cues, _monotone_times(cues, 1000)), start=1):
        lines = [_clean(line) for line in cue.lines]
        lines = [line for line in lines if line] or [" "]  # a blank line would end the block
        blocks.append(f"{number}\n{_srt_time(start)} --> {_srt_time(end)}\n" + "\n".join(lines))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _write_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write to a temporary name and rename: a reader never sees half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8", newline="\n")
    os.replace(tmp, path)
    return path


def write_srt(cues: Sequence[Cue], path: str | os.PathLike) -> Path:
    return _write_atomic(path, format_srt(cues))


# --------------------------------------------------------------------------- ASS

WORD_JOINER = "\u2060"


def escape_ass_text(text: str) -> str:
    """Make user text render literally in libass.

    ASS has no escape for a backslash, and libass reads ``\\N``, ``\\n``, ``\\h``,
    ``\\{`` and ``\\}`` as escapes and ``{...}`` as override tags. A backslash
    followed by an invisible WORD JOINER can never start an escape, and
    ``\\{``/``\\}`` are libass's own escapes for literal braces.
    """
    out = []
    for ch in str(text):
        if ch == "\\":
            out.append("\\" + WORD_JOINER)
        elif ch == "{":
            out.append("\\{")
        elif ch == "}":
            out.append("\\}")
        elif ch.isspace() and ch != " ":
            out.append(" ")  # a raw newline would end the Dialogue line
        elif unicodedata.category(ch) == "Cc":
            continue
        else:
            out.append(ch)
    return "".join(out)


def _ass_time(cs: int) -> str:
    hours, rest = divmod(cs, 360_000)
    minutes, rest = divmod(rest, 6000)
    seconds, centis = divmod(rest, 100)
    return f"{hours:d}:{minutes:02d}:{seconds:02d}.{centis:02d}"


def default_font_size(width: int, height: int, line_chars: int = DEFAULT_MAX_LINE_CHARS) -> int:
    """A readable size that still fits ``line_chars`` columns between the side margins."""
    size = height / 18 if width >= height else width / 16
    usable = width - 2 * _side_margin(width)
    size = min(size, usable / (line_chars * _GLYPH_WIDTH_EM))
    return max(8, int(size))


def _side_margin(width: int) -> int:
    return round(width * 0.06)


def _line_sizes(cue: Cue) -> list[int]:
    """Words per line: recorded by build_cues, or rebuilt by matching the words to the lines."""
    if cue.line_sizes and sum(cue.line_sizes) == len(cue.words):
        return list(cue.line_sizes)
    sizes, index = [], 0
    for line in cue.lines:
        target = "".join(line.split())
        count, acc = 0, ""
        while index < len(cue.words) and len(acc) < len(target):
            acc += "".join(cue.words[index].text.split())
            index += 1
            count += 1
        sizes.append(count)
    if index < len(cue.words):
        sizes[-1] += len(cue.words) - index
    return sizes


def _karaoke_text(cue: Cue, start_cs: int, end_cs: int) -> str:
    """The cue's lines with a ``\\kf`` per word; gaps get an empty ``\\k`` so all sum to the cue."""
    parts: list[str] = []
    cursor = start_cs
    index = 0
    for line_no, size in enumerate(_line_sizes(cue)):
        if line_no:
            parts.append("\\N")
        for k in range(size):
            word = cue.words[index]
            index += 1
            w_start = min(max(_cs(word.start), cursor), end_cs)
            w_end = min(max(_cs(word.end), w_start), end_cs)
            if w_start > cursor:
                parts.append(f"{{\\k{w_start - cursor}}}")  # silence: nothing fills
            sep = "" if (k == 0 or word.joined) else " "
            parts.append(f"{sep}{{\\kf{w_end - w_start}}}{escape_ass_text(word.text)}")
            cursor = w_end
    if end_cs > cursor:
        parts.append(f"{{\\k{end_cs - cursor}}}")
    return "".join(parts)


def format_ass(
    cues: Sequence[Cue],
    *,
    width: int,
    height: int,
    font_name: str = "DejaVu Sans",
    font_size: int | float | None = None,
    karaoke: bool = True,
) -> str:
    """An ASS script for ffmpeg's ``ass`` filter: bold white text, black outline, bottom centre.

    With ``karaoke`` each word fills from white (secondary colour) to a warm
    yellow (primary colour) while it is spoken.
    """
    if width <= 0 or height <= 0:
        raise ValueError("width and height must be positive")
    longest = max((display_width(line) for cue in cues for line in cue.lines), default=0)
    size = font_size if font_size is not None else default_font_size(width, height, max(DEFAULT_MAX_LINE_CHARS, longest))
    outline = max(1.0, round(size / 12, 1))
    shadow = max(1.0, round(size / 24, 1))
    white, highlight = "&H00FFFFFF", "&H0033D7FF"  # ASS colours are &HAABBGGRR
    primary = highlight if karaoke else white
    font = font_name.replace(",", " ").strip() or "DejaVu Sans"  # a comma would shift the style fields
    size_text = f"{size:g}" if isinstance(size, float) else str(size)
    header = "\n".join(
        [
            "[Script Info]",
            "; written by aura.media.subtitles",
            "ScriptType: v4.00+",
            f"PlayResX: {width}",
            f"PlayResY: {height}",
            "WrapStyle: 2",  # no automatic wrapping: build_cues already broke the lines
            "ScaledBorderAndShadow: yes",
            "",
            "[V4+ Styles]",
            "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, "
            "Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, "
            "Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
            f"Style: Default,{font},{size_text},{primary},{white},&H00000000,&H80000000,"
            f"-1,0,0,0,100,100,0,0,1,{outline:g},{shadow:g},2,"
            f"{_side_margin(width)},{_side_margin(width)},{round(height * 0.07)},1",
            "",
            "[Events]",
            "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
        ]
    )
    events = []
    for cue, (start, end) in zip(cues, _monotone_times(cues, 100)):
        if karaoke and cue.words:
            text = _karaoke_text(cue, start, end)
        else:
            text = "\\N".join(escape_ass_text(line) for line in cue.lines)
        events.append(f"Dialogue: 0,{_ass_time(start)},{_ass_time(end)},Default,,0,0,0,,{text}")
    return header + "\n" + "".join(e + "\n" for e in events)


def write_ass(cues: Sequence[Cue], path: str | os.PathLike, **kwargs) -> Path:
    return _write_atomic(path, format_ass(cues, **kwargs))
