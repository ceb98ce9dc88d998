"""Files a caller sends (POST /api/uploads): checked by their content, kept once in the artifact store by sha256.

An upload is a document (for `references`), audio (for `music`), or an image
or a clip (for a scene's `media`). Its file name's extension says which it
means to be, and the bytes must agree: a PDF begins `%PDF-` and has text
pypdf can extract, a text file is text, audio has an audio stream ffprobe can
read, an image or a clip a picture it can read. It is received outside the store and
committed under its content's key only once every check has passed, so the
store never holds half an upload or a refused one.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import unicodedata
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Literal

from pydantic import BaseModel, Field

from aura.errors import AuraError, MediaError
from aura.input_rules import UPLOADS_FOLDER, upload_ref
from aura.media.pictures import PictureTooLarge, check_frame, check_picture, image_type, same_type
from aura.media.probe import probe
from aura.models import CLIP_EXTENSIONS, MUSIC_EXTENSIONS, REFERENCE_EXTENSIONS, STILL_EXTENSIONS
from aura.providers.rag.documents import MAX_FILE_BYTES, decode_text
from aura.store import ArtifactStore, JobStore

NAME_MAX_CHARS = 200
_CHUNK = 1 << 20
# the first bytes of formats that are no text, whatever their name says
_BINARY_MAGIC = (
    b"%PDF-", b"PK\x03\x04", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x7fELF", b"ID3", b"RIFF", b"OggS", b"fLaC",
    b"\x1f\x8b", b"BZh", b"7z\xbc\xaf", b"MZ", b"\xca\xfe\xba\xbe", b"SQLite format 3",
)  # fmt: skip
_MEDIA_TYPES = {
    ".pdf": "application/pdf", ".txt": "text/plain", ".md": "text/markdown", ".markdown": "text/markdown",
    ".rst": "text/x-rst", ".mp3": "audio/mpeg", ".wav": "audio/wav", ".m4a": "audio/mp4", ".aac": "audio/aac",
    ".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/opus", ".flac": "audio/flac",
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".mp4": "video/mp4",
    ".mov": "video/quicktime", ".m4v": "video/x-m4v", ".webm": "video/webm", ".mkv": "video/x-matroska",
}  # fmt: skip
Kind = Literal["document", "audio", "image", "video"]
# ffmpeg's container names and the extensions each may be kept under, the first when the name says another
_MP4 = "mov,mp4,m4a,3gp,3g2,mj2"
_AUDIO_CONTAINERS = {
    "mp3": (".mp3",), "wav": (".wav",), "ogg": (".ogg", ".oga", ".opus"), "flac": (".flac",), _MP4: (".m4a",),
    "aac": (".aac",),
}  # fmt: skip
_CLIP_CONTAINERS = {_MP4: (".mp4", ".mov", ".m4v"), "matroska,webm": (".webm", ".mkv")}
_FIELDS = {"document": "references", "audio": "music", "image": "media", "video": "media"}
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")  # control characters text files do not hold (tabs, newlines, form feeds aside)
_CONTROL_SHARE = 0.01  # text with more of them than this is binary data with a text name


class UploadRefused(AuraError):
    """An upload that is not kept; `status` is the HTTP answer (413 too large, 415 wrong type, 422 unusable)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class UploadedFile(BaseModel):
    """A file kept in the artifact store; `ref` names it in `references` or `music`."""

    ref: str = Field(description="Pass this in `references` (a document), `music` (audio) or `media` (an image or a clip).")
    name: str = Field(description="The file name it was sent with.")
    size: int = Field(description="Bytes.")
    sha256: str
    kind: Kind
    media_type: str
    field: Literal["references", "music", "media"] = Field(description="The request field it is meant for.")


def clean_name(name: str | None) -> str:
    """The file name as sent, for display only: its last part, no control characters, at most 200 characters."""
    last = re.split(r"[/\\]", name or "")[-1]  # browsers may send C:\fakepath\notes.md
    kept = "".join(ch for ch in last if unicodedata.category(ch)[0] != "C").strip()
    if len(kept) > NAME_MAX_CHARS:
        stem, suffix = kept[: -len(PurePosixPath(kept).suffix) or None], PurePosixPath(kept).suffix
        kept = stem[: NAME_MAX_CHARS - len(suffix)] + suffix
    return kept


def receive(
    store: ArtifactStore, name: str | None, stream: BinaryIO, max_bytes: int, max_pixels: int | None = None
) -> UploadedFile:
    """Check an upload and keep it under its content's key; UploadRefused says why not.

    The kind its name says must be what its content is; within that kind the content decides the type it is
    recorded as (a PNG sent as .mp4 is kept as an image, .png)."""
    if max_pixels is None:
        from aura.settings import get_settings

        max_pixels = get_settings().max_image_pixels
    shown = clean_name(name)
    if not shown:
        raise UploadRefused("file: the upload has no file name: send it as multipart form field `file` with its name", 422)
    suffix = PurePosixPath(shown).suffix.lower()
    kind = _kind_of(suffix)
    with tempfile.TemporaryDirectory(prefix="aura-upload-") as folder:  # outside the store until it passes
        staged = Path(folder) / f"upload{suffix}"
        size, sha256 = _copy_limited(stream, staged, max_bytes)
        if size == 0:
            raise UploadRefused("file: the upload is empty", 422)
        if kind == "document":
            _confirm_document(staged, suffix)
        elif kind == "audio":
            suffix = _confirm_audio(staged, suffix)
        else:
            kind, suffix = _confirm_picture(staged, suffix, max_pixels)
        uploads = store.job(UPLOADS_FOLDER)
        key = f"{sha256}{suffix}"
        if not uploads.stored(key, size):  # the same bytes sent again are kept once (the key is their sha256)
            uploads.commit_file(staged, key)
    record = UploadedFile(
        ref=upload_ref(sha256, suffix), name=shown, size=size, sha256=sha256, kind=kind,
        media_type=_MEDIA_TYPES[suffix], field=_FIELDS[kind],
    )  # fmt: skip
    # the name it was last sent with: how a script's sources and the metadata name it
    uploads.write_bytes(_record_key(key), record.model_dump_json().encode("utf-8"))
    return record


def _kind_of(suffix: str) -> Kind:
    if suffix in REFERENCE_EXTENSIONS:
        return "document"
    if suffix in MUSIC_EXTENSIONS:
        return "audio"
    if suffix in STILL_EXTENSIONS:
        return "image"
    if suffix in CLIP_EXTENSIONS:
        return "video"
    raise UploadRefused(
        f"file: the file name's extension is not a type uploads take: documents ({', '.join(REFERENCE_EXTENSIONS)}) for references, "
        f"audio ({', '.join(MUSIC_EXTENSIONS)}) for music, images ({', '.join(STILL_EXTENSIONS)}) and clips "
        f"({', '.join(CLIP_EXTENSIONS)}) for media",
        415,
    )


def upload_name(uploads: JobStore, key: str) -> str:
    """The name an upload was sent with (its key when the record is gone)."""
    try:
        return json.loads(uploads.fetch(_record_key(key)).read_text(encoding="utf-8"))["name"] or key
    except (AuraError, OSError, ValueError, KeyError, TypeError):
        return key


def _record_key(key: str) -> str:
    return f"{key}.json"


def _copy_limited(stream: BinaryIO, target: Path, max_bytes: int) -> tuple[int, str]:
    """Copy and hash; more than `max_bytes` stops the copy at once with a 413."""
    digest, size = hashlib.sha256(), 0
    with open(target, "wb") as out:
        while block := stream.read(_CHUNK):
            size += len(block)
            if size > max_bytes:
                raise UploadRefused(
                    f"file: the upload is larger than the upload limit of {max_bytes / 2**20:g} MiB (AURA_UPLOAD_MAX_MB)", 413
                )
            digest.update(block)
            out.write(block)
    return size, digest.hexdigest()


def _confirm_document(path: Path, suffix: str) -> None:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:  # the script stage reads no larger document: refused now, not when a video is made
        raise UploadRefused("file: the upload is {size / 2**20:.0f} MiB: a reference document may be {MAX_FILE_BYTES >> 20} MiB", 413)
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if suffix == ".pdf":
        if b"%PDF-" not in head[:1024]:  # the PDF header may follow a little junk, never much
            raise UploadRefused("file: the upload is named .pdf but is not a PDF", 415)
        _confirm_pdf_text(path)
    else:
        _confirm_text(path, head)


def _confirm_text(path: Path, head: bytes) -> None:
    binary = UploadRefused("file: the upload is named as text but holds binary data", 415)
    if head.startswith(_BINARY_MAGIC):
        raise binary
    data = path.read_bytes()
    if b"\x00" in data and not data.startswith((b"\xff\xfe", b"\xfe\xff")):  # NUL bytes: only UTF-16 has them
        raise binary
    text = decode_text(data)
    if len(text) - len(_CONTROL.sub("", text)) > _CONTROL_SHARE * len(text):
        raise binary
    if not re.search(r"\w", text):
        raise UploadRefused("file: the upload holds no text", 422)


def _confirm_pdf_text(path: Path) -> None:
    """A PDF the reader can open, with text on some page (the first that has any ends the search)."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise UploadRefused("file: the upload is an encrypted PDF: remove its password or send its text", 422)
        if any((page.extract_text() or "").strip() for page in reader.pages):
            return
    except UploadRefused:
        raise
    except Exception:  # pypdf raises many types on a damaged file: all mean "not a readable PDF"
        raise UploadRefused("file: the upload is not a readable PDF", 422) from None
    raise UploadRefused(
        "file: the upload is a PDF without extractable text (a scan?): send a PDF with a text layer or a .txt file", 422
    )


def _confirm_audio(path: Path, suffix: str) -> str:
    """Audio ffprobe reads, in a format music takes; the extension its content has."""
    try:
        info = probe(path)
    except MediaError:
        info = None
    if info is None or not info.of_kind("audio") or info.duration <= 0:
        raise UploadRefused("file: the upload is not audio: ffprobe finds no audio stream in it", 415)
    return _content_suffix(info.container, suffix, _AUDIO_CONTAINERS, "audio (MP3, WAV, M4A, AAC, Ogg, Opus, FLAC)")


def _confirm_picture(path: Path, suffix: str, max_pixels: int) -> tuple[Kind, str]:
    """A still (PNG, JPEG, WebP) or a clip, by content, its size within the limits read before any decoding."""
    found = image_type(path)
    if found is not None:
        try:
            check_picture(path, "the image", max_pixels)
        except PictureTooLarge as exc:
            raise UploadRefused(f"file: {exc}", 413) from None
        except MediaError as exc:
            raise UploadRefused(f"file: {exc}", 415) from None
        return "image", suffix if same_type(suffix, found[1]) else found[1]
    try:
        info = probe(path)
    except MediaError:
        info = None
    pictures = info.of_kind("video") if info is not None else []
    if info is None or not pictures or info.duration <= 0:
        raise UploadRefused("file: the upload is not an image (PNG, JPEG, WebP) or a clip: ffprobe finds no picture in it", 415)
    try:
        check_frame(pictures[0].width, pictures[0].height, "the clip's frame", max_pixels)
    except PictureTooLarge as exc:
        raise UploadRefused(f"file: {exc}", 413) from None
    except MediaError as exc:
        raise UploadRefused(f"file: {exc}", 415) from None
    return "video", _content_suffix(info.container, suffix, _CLIP_CONTAINERS, "a clip (MP4, MOV, M4V, WebM, MKV)")


def _content_suffix(container: str, suffix: str, known: dict[str, tuple[str, ...]], wanted: str) -> str:
    """The sent extension when the container is one it names, else the container's own; 415 for others."""
    suffixes = known.get(container)
    if suffixes is None:
        raise UploadRefused("file: the upload's content is not {wanted}", 415)
    return suffix if suffix in suffixes else suffixes[0]
