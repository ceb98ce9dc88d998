"""Reference documents from paths: files (.txt, .md, .markdown, .rst, .pdf) or folders of them, as plain text."""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass
from pathlib import Path

from aura.errors import ProviderError
from aura.models import REFERENCE_EXTENSIONS, clean_text
from aura.providers.rag.markup import markdown_to_text, plain_to_text, rst_to_text

# bounds that keep one script's retrieval to seconds: about 1,500 passages to embed at most
MAX_FILES = 200
MAX_FILE_BYTES = 20 * 2**20
MAX_TOTAL_CHARS = 1_000_000
ACCEPTED = ", ".join(REFERENCE_EXTENSIONS)
_TEXT_ENCODINGS = ("utf-8-sig", "cp1252")  # latin-1 closes the chain: it decodes any byte


# a word hyphenated at a line end ("vol-\ncanoes"); a capital after the break is a real hyphen
_HYPHEN_BREAK = re.compile(r"(?<=\w)-\n(?=[a-z])")


class ReferenceDocumentError(ProviderError):
    """A reference path that cannot be used; the message names it and what is accepted."""


@dataclass(frozen=True)
class Document:
    source: str  # the file name, or its path relative to the folder it was found in
    text: str


def load_documents(paths: list[str | os.PathLike]) -> list[Document]:
    """Every document under `paths`, in the order given (folders: sorted, recursively)."""
    files: list[tuple[Path, str]] = []
    for entry in paths:
        files.extend(document_files(Path(entry).expanduser()))
    seen, unique = set(), []
    for path, source in files:  # a file named twice (itself and in its folder) is read once, where first named
        if path.resolve() not in seen:
            seen.add(path.resolve())
            unique.append((path, source))
    if len(unique) > MAX_FILES:
        raise ReferenceDocumentError(
            f"reference documents: {len(unique)} files found, the limit is {MAX_FILES}; "
            "pass fewer files or a smaller folder"
        )
    documents, total = [], 0
    for path, source in unique:
        document = Document(source, _read(path))
        total += len(document.text)
        if total > MAX_TOTAL_CHARS:
            raise ReferenceDocumentError(
                f"reference documents hold more than {MAX_TOTAL_CHARS:,} characters of text (reached at {path}); "
                "pass fewer or shorter documents"
            )
        documents.append(document)
    return documents


def document_files(path: Path) -> list[tuple[Path, str]]:
    """(file, source name) of every document at `path`: the file itself, or a folder's documents."""
    if path.is_dir():
        found = [(file, file.relative_to(path).as_posix()) for file in _walk(path)]
        if not found:
            raise ReferenceDocumentError(f"reference folder {path} holds no documents: accepted are {ACCEPTED} files")
        return found
    if not path.exists():
        raise ReferenceDocumentError(f"reference {path} does not exist: give a {ACCEPTED} file or a folder of them")
    if path.suffix.lower() not in REFERENCE_EXTENSIONS:
        raise ReferenceDocumentError(
            f"reference {path} is not a supported document: accepted are {ACCEPTED} files or folders"
        )
    return [(path, path.name)]


def _walk(folder: Path) -> list[Path]:
    """Supported files under a folder, sorted; hidden files and folders (.git, .venv) are skipped."""
    files = []
    for root, dirs, names in os.walk(folder):  # does not follow symlinked folders: no cycles
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(
            Path(root, name) for name in sorted(names)
            if not name.startswith(".") and Path(name).suffix.lower() in REFERENCE_EXTENSIONS
        )  # fmt: skip
    return files


def _read(path: Path) -> str:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReferenceDocumentError(f"reference {path} cannot be read: {exc.strerror or exc}") from exc
    if size > MAX_FILE_BYTES:
        limit = MAX_FILE_BYTES // 2**20
        raise ReferenceDocumentError(f"reference {path} is {size / 2**20:.0f} MiB: the limit is {limit} MiB")
    suffix = path.suffix.lower()
    text = _pdf_text(path) if suffix == ".pdf" else _tidy(_markup_text(suffix, _decode(path)))
    if not text:
        raise ReferenceDocumentError(f"reference {path} holds no text")
    return text


def _decode(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReferenceDocumentError(f"reference {path} cannot be read: {exc.strerror or exc}") from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    for encoding in _TEXT_ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _markup_text(suffix: str, source: str) -> str:
    if suffix in (".md", ".markdown"):
        return markdown_to_text(source)
    if suffix == ".rst":
        return rst_to_text(source)
    return plain_to_text(source)


def _tidy(text: str) -> str:
    """Control characters and terminal escapes out, one blank line between paragraphs.

    Done after the markup is read: Markdown and reST need their indentation.
    """
    lines = [clean_text(line) for line in text.splitlines()]
    return "\n".join(line for i, line in enumerate(lines) if line or (i and lines[i - 1])).strip()


def _pdf_text(path: Path) -> str:
    """Text of each page as one paragraph: PDF line breaks are layout, not structure."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):  # an owner password alone still lets it be read
            raise ReferenceDocumentError(f"reference {path} is an encrypted PDF: remove its password or give its text")
        pages = [page.extract_text() or "" for page in reader.pages]
    except ReferenceDocumentError:
        raise
    except Exception as exc:  # pypdf raises many types on a damaged file: all mean "not a readable PDF"
        raise ReferenceDocumentError(f"reference {path} is not a readable PDF: {str(exc)[:200]}") from exc
    text = "\n\n".join(_unwrap_page(page) for page in pages if page.strip())
    if not text:
        raise ReferenceDocumentError(
            f"reference {path} is a PDF without extractable text (a scan?): give a PDF with a text layer or a .txt file"
        )
    return text


def _unwrap_page(page: str) -> str:
    text = clean_text(page)
    text = _HYPHEN_BREAK.sub("", text)
    return " ".join(text.split())
