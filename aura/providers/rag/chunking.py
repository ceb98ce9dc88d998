"""Passages of a document, small enough to rank and to quote in a prompt."""

from __future__ import annotations

import re

CHUNK_CHARS = 700  # about 150 tokens: well inside MiniLM's 256-token window
# a sentence ends at . ! ? … (maybe closed by a quote or bracket) before a space; CJK marks need no space
_SENTENCE_BREAK = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"'”’)\]]))\s+|(?<=[。！？])\s*")
# a period after these does not end a sentence ("Dr. Lind", "e.g. lava", "J. Smith")
_ABBREVIATION = re.compile(
    r"(?:\b(?:dr|mr|mrs|ms|prof|st|sr|jr|vs|fig|approx|ca|mt|ft|inc|ltd|e\.g|i\.e"
    r"|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)"
    r"|(?<![\w.])[A-Z])\.$",
    re.IGNORECASE,
)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# a new paragraph starts a new passage once this share of the passage is filled
_PARAGRAPH_FILL = 0.6


def split_sentences(text: str) -> list[str]:
    """Sentences of a line or paragraph, in order (line breaks are sentence breaks too)."""
    sentences: list[str] = []
    for line in text.splitlines():
        for index, piece in enumerate(p.strip() for p in _SENTENCE_BREAK.split(line)):
            if not piece:
                continue
            if index and sentences and (_ABBREVIATION.search(sentences[-1]) or piece[0].islower()):
                sentences[-1] += " " + piece  # "Dr." or "U.S." did not end the sentence
            else:
                sentences.append(piece)
    return sentences


def chunk_text(text: str, max_chars: int = CHUNK_CHARS, overlap: int = 1) -> list[str]:
    """Passages of at most `max_chars`, in document order.

    Paragraphs stay whole when they fit; a long one is cut between sentences,
    and the next passage repeats the last `overlap` sentence(s) so a fact that
    spans the cut is found whole in one of them. A sentence longer than a
    passage is cut between words.
    """
    if max_chars < 20:
        raise ValueError(f"max_chars is {max_chars}: passages need at least 20 characters")
    chunks: list[str] = []
    current: list[tuple[str, str]] = []  # (separator before it, sentence)
    for separator, sentence in _units(text, max_chars):
        if current:
            new_paragraph = separator == "\n\n" and _length(current) >= max_chars * _PARAGRAPH_FILL
            if new_paragraph or _length([*current, (separator, sentence)]) > max_chars:
                chunks.append(_join(current))
                current = [] if new_paragraph else _carry(current, sentence, overlap, max_chars)
        current.append((separator, sentence))
    if current:
        chunks.append(_join(current))
    return chunks


def _units(text: str, max_chars: int):
    """(separator, sentence) pairs: the separator says whether a paragraph, a line or a sentence begins."""
    separator = ""
    for paragraph in _PARAGRAPH_BREAK.split(text.strip()):
        for line in paragraph.splitlines():
            for sentence in split_sentences(line):
                for piece in _fit(sentence, max_chars):
                    yield separator, piece
                    separator = " "
            separator = "\n" if separator else separator
        separator = "\n\n" if separator else separator


def _fit(sentence: str, max_chars: int) -> list[str]:
    """A sentence in pieces of at most max_chars, cut between words (inside a word only if it must)."""
    pieces, current = [], ""
    for word in sentence.split():
        while len(word) > max_chars:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(word[:max_chars])
            word = word[max_chars:]
        if current and len(current) + 1 + len(word) > max_chars:
            pieces.append(current)
            current = ""
        current = f"{current} {word}" if current else word
    return [*pieces, current] if current else pieces


def _carry(previous: list[tuple[str, str]], upcoming: str, overlap: int, max_chars: int) -> list[tuple[str, str]]:
    """The last sentences of a passage that open the next one: short ones only, and never a whole passage."""
    if overlap <= 0 or len(previous) <= overlap:
        return []
    carried = [("", previous[-overlap][1]), *previous[len(previous) - overlap + 1 :]]
    if _length(carried) > max_chars // 3 or _length([*carried, (" ", upcoming)]) > max_chars:
        return []
    return carried


def _length(units: list[tuple[str, str]]) -> int:
    return sum(len(sentence) for _, sentence in units) + sum(len(separator) for separator, _ in units[1:])


def _join(units: list[tuple[str, str]]) -> str:
    return "".join(sentence if i == 0 else separator + sentence for i, (separator, sentence) in enumerate(units))
