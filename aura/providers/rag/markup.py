"""Markup to plain prose: what a narrator could read aloud, nothing that would be spoken as symbols."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt  # a dependency of rich, which Aura already requires

_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n(?:---|\.\.\.)\s*(?:\n|\Z)", re.DOTALL)
_LIST_OPEN = {"bullet_list_open", "ordered_list_open", "table_open", "blockquote_open"}
_LIST_CLOSE = {"bullet_list_close", "ordered_list_close", "table_close", "blockquote_close"}

# reStructuredText
_ADORNMENT = re.compile(r"^\s*([=\-~^\"'`#*+<>:._])\1{2,}\s*$")
_DIRECTIVE = re.compile(r"^\.\.\s")
_CODE_DIRECTIVE = re.compile(r"^\.\.\s+(?:code-block|code|sourcecode|literalinclude|raw|image|figure)::", re.IGNORECASE)
_RST_ROLE = re.compile(r":[\w\-]+:`([^`<]*?)(?:\s*<[^>]*>)?`")
_RST_LINK = re.compile(r"`([^`<]+?)\s*<[^>]+>`__?")
_RST_REF = re.compile(r"`([^`]+)`__?")
_RST_LITERAL = re.compile(r"``(.+?)``")
_RST_EMPHASIS = re.compile(r"(\*\*|\*)(?=\S)(.+?)(?<=\S)\1")
_WRAP_MIN_CHARS = 40
_SENTENCE_END = (".", "!", "?", ":", "…", "。", "！", "？")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)]|[a-zA-Z][.)])\s+")


def markdown_to_text(source: str) -> str:
    """Prose of a Markdown document: headings, paragraphs, list items and table rows as lines.

    Code blocks, HTML and images are dropped; links keep their text; emphasis
    and table pipes vanish. Paragraphs are separated by a blank line, the items
    of one list or table by a line break.
    """
    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(_FRONT_MATTER.sub("", source))
    lines: list[str] = []
    depth = 0  # inside a list, table or quote, items are lines of one paragraph
    row: list[str] | None = None
    for token in tokens:
        if token.type in _LIST_OPEN:
            depth += 1
        elif token.type in _LIST_CLOSE:
            depth -= 1
            if depth == 0:
                lines.append("")
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            if any(row):
                lines.append(", ".join(cell for cell in row if cell))
            row = None
        elif token.type == "inline":
            text = _inline_text(token.children or [])
            if row is not None:
                row.append(text)
            elif text:
                lines.append(text)
                if depth == 0:
                    lines.append("")
    return _paragraphs(lines)


def _inline_text(children) -> str:
    parts = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")  # a wrapped line is the same sentence
    return " ".join("".join(parts).split())


def rst_to_text(source: str) -> str:
    """Prose of a reStructuredText document, by a light cleanup (no docutils needed).

    Section adornments, comments, directives and code blocks are dropped;
    roles, links and emphasis keep their text.
    """
    lines: list[str] = []
    skip_indented = False
    for raw in source.splitlines():
        line = raw.rstrip()
        if skip_indented:
            if not line:
                lines.append("")
                continue
            if raw[:1].isspace():
                continue  # the body of a code block or comment
            skip_indented = False
        if _ADORNMENT.match(line):
            continue
        if _DIRECTIVE.match(line):
            # a code block's body is code; a note's body is prose worth keeping
            skip_indented = bool(_CODE_DIRECTIVE.match(line)) or "::" not in line
            continue
        if line.endswith("::"):
            line, skip_indented = line[:-1], True  # "Example::" opens a literal block
        lines.append(_rst_inline(line.strip()))
    return plain_to_text("\n".join(lines))


def _rst_inline(line: str) -> str:
    for pattern in (_RST_ROLE, _RST_LINK, _RST_REF, _RST_LITERAL):
        line = pattern.sub(r"\1", line)
    return _RST_EMPHASIS.sub(r"\2", line)


def plain_to_text(source: str) -> str:
    """Plain text with its hard-wrapped lines joined: paragraphs by blank lines, list items on their own lines."""
    lines: list[str] = []
    for raw in source.splitlines():
        line = " ".join(raw.split())
        if not line:
            lines.append("")
        elif _LIST_MARKER.match(line):
            lines.append(_LIST_MARKER.sub("", line))
        elif lines and _wrapped(lines[-1]):
            lines[-1] += " " + line
        else:
            lines.append(line)
    return _paragraphs(lines)


def _wrapped(previous: str) -> bool:
    # a long line that stops mid-sentence was wrapped by an editor; a short one
    # without an ending is a heading or a list item and keeps its line
    return len(previous) >= _WRAP_MIN_CHARS and not previous.endswith(_SENTENCE_END)


def _paragraphs(lines: list[str]) -> str:
    """Lines with "" as paragraph breaks, as text with single blank lines between paragraphs."""
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
