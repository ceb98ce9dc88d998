"""Reference documents from paths: files (.txt, .md, .markdown, .rst, .pdf) or folders of them, as plain text.

Which paths a run may read is decided before (aura.input_rules); here a
document is read and a folder walked.
"""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

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
class DocumentFile:
    """A document to read, and how the script and metadata name it."""

    path: Path
    source: str  # the file name, its path inside the folder it was found in, or an upload's name
    origin: str = "request"  # request: the caller supplied it; operator: AURA_REFERENCE_DIR
    shown: str = ""  # how errors name it, when not by its path (an upload: by its ref and name)


@dataclass(frozen=True)
class Document:
    source: str  # the file name, or its path relative to the folder it was found in
    text: str
    origin: str = "request"
    # a PDF's pages: (page number, where its text starts in `text`), so a passage can be credited to its page
    pages: tuple[tuple[int, int], ...] = ()


def load_documents(entries: list[str | os.PathLike | DocumentFile]) -> list[Document]:
    """Every document of `entries` (files found already, or paths: folders sorted, recursively), in order."""
    files: list[DocumentFile] = []
    for entry in entries:
        files.extend([entry] if isinstance(entry, DocumentFile) else document_files(Path(entry).expanduser()))
    seen, unique = set(), []
    for file in files:  # a file named twice (itself and in its folder) is read once, where first named
        if file.path.resolve() not in seen:
            seen.add(file.path.resolve())
            unique.append(file)
    if len(unique) > MAX_FILES:
        raise ReferenceDocumentError(
            f"reference documents: {len(unique)} files found, the limit is {MAX_FILES}; "
            "pass fewer files or a smaller folder"
        )
    documents, total = [], 0
    for file in unique:
        text, pages = read_document_pages(file.path, file.shown or None)
        document = Document(file.source, text, file.origin, pages)
        total += len(document.text)
        if total > MAX_TOTAL_CHARS:
            raise ReferenceDocumentError(
                f"reference documents hold more than {MAX_TOTAL_CHARS:,} characters of text (reached at {file.source}); "
                "pass fewer or shorter documents"
            )
        documents.append(document)
    return documents


def document_files(path: Path, origin: str = "request") -> list[DocumentFile]:
    """Every document at `path`: the file itself, or a folder's documents."""
    if path.is_dir():
        found = [DocumentFile(file, file.relative_to(path).as_posix(), origin) for file in _walk(path)]
        if not found:
            raise ReferenceDocumentError(f"reference folder {path} holds no documents: accepted are {ACCEPTED} files")
        return found
    if not path.exists():
        raise ReferenceDocumentError(f"reference {path} does not exist: give a {ACCEPTED} file or a folder of them")
    check_document_name(path.name, str(path))
    return [DocumentFile(path, path.name, origin)]


def check_document_name(name: str, shown: str | None = None) -> None:
    """A file name the reader knows how to read (by its extension)."""
    if PurePosixPath(name).suffix.lower() not in REFERENCE_EXTENSIONS:
        raise ReferenceDocumentError(
            f"reference {shown or name} is not a supported document: accepted are {ACCEPTED} files or folders"
        )


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


def read_document(path: Path, shown: str | None = None) -> str:
    """The document's plain text; errors name it as `shown` (its path by default)."""
    return read_document_pages(path, shown)[0]


def read_document_pages(path: Path, shown: str | None = None) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The document's plain text, and for a PDF where each page's text starts in it."""
    shown = shown or str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReferenceDocumentError(f"reference {shown} cannot be read: {exc.strerror or exc}") from exc
    if size > MAX_FILE_BYTES:
        limit = MAX_FILE_BYTES // 2**20
        raise ReferenceDocumentError(f"reference {shown} is {size / 2**20:.0f} MiB: the limit is {limit} MiB")
    suffix = path.suffix.lower()
    text, pages = _pdf_text(path, shown) if suffix == ".pdf" else (_tidy(_markup_text(suffix, _decode(path, shown))), ())
    if not text:
        raise ReferenceDocumentError(f"reference {shown} holds no text")
    return text, pages


def decode_text(data: bytes) -> str:
    """Bytes of a text file as text: UTF-16 with a byte-order mark, UTF-8, then Windows-1252, then Latin-1."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    for encoding in _TEXT_ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _decode(path: Path, shown: str) -> str:
    try:
        return decode_text(path.read_bytes())
    except OSError as exc:
        raise ReferenceDocumentError(f"reference {shown} cannot be read: {exc.strerror or exc}") from exc


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


def _pdf_text(path: Path, shown: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Text of each page as one paragraph (PDF line breaks are layout, not structure), and where each page starts."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):  # an owner password alone still lets it be read
            raise ReferenceDocumentError(f"reference {shown} is an encrypted PDF: remove its password or give its text")
        pages = [page.extract_text() or "" for page in reader.pages]
    except ReferenceDocumentError:
        raise
    except Exception as exc:  # pypdf raises many types on a damaged file: all mean "not a readable PDF"
        raise ReferenceDocumentError(f"reference {shown} is not a readable PDF: {str(exc)[:200]}") from exc
    starts, parts, offset = [], [], 0
    for number, page in enumerate(pages, 1):
        if page.strip():
            starts.append((number, offset))
            parts.append(_unwrap_page(page))
            offset += len(parts[-1]) + 2
    text = "\n\n".join(parts)
    if not text:
        raise ReferenceDocumentError(
            f"reference {shown} is a PDF without extractable text (a scan?): give a PDF with a text layer or a .txt file"
        )
    return text, tuple(starts)


def _unwrap_page(page: str) -> str:
    text = clean_text(page)
    text = _HYPHEN_BREAK.sub("", text)
    return " ".join(text.split())
