"""What a request names must exist where the run is, and the providers that serve it must take it.

No Prefect in here: the `aura` command runs these before it starts anything
(a typo costs a fraction of a second, not a server start), and the brief
stage runs them again on the machine that does the work. The files are
found here too, for the stages that read them: uploads and store keys in the
artifact store, paths only where aura.input_rules lets this run read them.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from aura.errors import AuraError, MediaError, ProviderError, SystemCheckError
from aura.input_rules import InputRefused, InputSource, allowed_path, check, shown_entry
from aura.media.pictures import PictureTooLarge, check_frame, check_picture
from aura.media.probe import probe
from aura.models import STILL_EXTENSIONS, VideoRequest
from aura.providers.images.registry import check_images_request
from aura.providers.rag.documents import DocumentFile, ReferenceDocumentError, check_document_name, document_files
from aura.providers.tts import TTSError, check_tts_request
from aura.settings import Settings
from aura.store import ArtifactStore
from aura.uploads import upload_name


def _stored_file(store: ArtifactStore, source: InputSource) -> Path:
    """The local copy of an upload or a store key's file; the error names the ref, never a server path."""
    try:
        return store.job(source.folder).fetch(source.key)
    except AuraError:
        raise InputRefused(not_stored_message(source)) from None


def not_stored_message(source: InputSource) -> str:
    shown = shown_entry(source.text)
    if source.kind == "upload":
        return f"{shown} is no upload of this artifact store: upload the file (POST /api/uploads) and pass the ref it answers"
    return f"{shown} is not in the artifact store: name a file that a job holds"


def stored_inputs(request: VideoRequest) -> list[tuple[str, InputSource]]:
    """(field, source) of every upload and store key the request names."""
    named = [
        ("music", request.music),
        *((f"references[{i}]", entry) for i, entry in enumerate(request.references)),
        *((f"media[{i}]", entry) for i, entry in enumerate(request.media)),
    ]
    sources = [(field, check(entry)) for field, entry in named if entry]
    return [(field, source) for field, source in sources if source.path is None]


def check_stored_inputs(request: VideoRequest, store: ArtifactStore) -> None:
    """The uploads and store keys the request names are in the store (nothing is fetched: the gateway asks this)."""
    for field, source in stored_inputs(request):
        if not store.job(source.folder).stored(source.key):
            raise SystemCheckError(f"{field}: {not_stored_message(source)}")


def music_file(request: VideoRequest, store: ArtifactStore) -> Path | None:
    """The request's music as a local file this run may read (None without music)."""
    if not request.music:
        return None
    try:
        source = check(request.music)
        if source.path is not None:
            return allowed_path(source.path, request.music)
        return _stored_file(store, source)
    except InputRefused as exc:
        raise SystemCheckError(f"music: {exc}") from None


def media_files(request: VideoRequest, store: ArtifactStore) -> dict[int, Path]:
    """The request's own picture or clip per scene, as local files this run may read (scene index -> file)."""
    files = {}
    for index, entry in enumerate(request.media):
        if not entry:
            continue
        try:
            source = check(entry)
            files[index] = allowed_path(source.path, entry) if source.path is not None else _stored_file(store, source)
        except InputRefused as exc:
            raise SystemCheckError(f"media[{index}]: {exc}") from None
    return files


def check_media(index: int, path: Path, shown: str, max_pixels: int) -> None:
    """A scene's own file is a picture or a clip ffmpeg can read, its size within the limits (from the header,
    before anything decodes it)."""
    field = f"media[{index}]"
    if not path.is_file() or not os.access(path, os.R_OK):
        raise SystemCheckError(f"{field}: {shown} does not exist or is not a readable file")
    try:
        if path.suffix.lower() in STILL_EXTENSIONS:
            check_picture(path, shown, max_pixels)
        info = probe(path)
    except PictureTooLarge as exc:
        raise SystemCheckError(f"{field}: {exc}") from None
    except MediaError:
        raise SystemCheckError(f"{field}: {shown} is not a picture or a clip ffmpeg can read") from None
    pictures = info.of_kind("video")
    if not pictures:
        raise SystemCheckError(f"{field}: {shown} has no picture (no video stream)")
    try:
        check_frame(pictures[0].width, pictures[0].height, shown, max_pixels)
    except MediaError as exc:
        raise SystemCheckError(f"{field}: {exc}") from None


def reference_files(request: VideoRequest, settings: Settings, store: ArtifactStore) -> list[DocumentFile]:
    """Every document the script may read: the request's (by ref or allowed path), then AURA_REFERENCE_DIR's."""
    files: list[DocumentFile] = []
    for index, entry in enumerate(request.references):
        try:
            files += _documents_of(entry, store)
        except (InputRefused, ReferenceDocumentError) as exc:
            raise SystemCheckError(f"references[{index}]: {exc}") from None
    if settings.reference_dir:  # the operator's own folder: read as configured
        try:
            files += document_files(Path(settings.reference_dir).expanduser(), origin="operator")
        except ReferenceDocumentError as exc:
            raise SystemCheckError(f"AURA_REFERENCE_DIR: {exc}") from None
    return files


def _documents_of(entry: str, store: ArtifactStore) -> list[DocumentFile]:
    source = check(entry)
    if source.path is None:
        check_document_name(source.key, source.text)
        path = _stored_file(store, source)
        name = upload_name(store.job(source.folder), source.key) if source.kind == "upload" else source.key
        return [DocumentFile(path, name, shown=f"{name!r} ({source.text})")]
    # a folder's files one by one (a link inside a root may lead out of it), each then read by its real path
    return [replace(file, path=allowed_path(file.path, str(file.path))) for file in document_files(source.path)]


def check_music(path: Path, shown: str) -> None:
    if not path.is_file():
        raise SystemCheckError(f"music: file {shown} does not exist or is not a file")
    if not os.access(path, os.R_OK):
        raise SystemCheckError(f"music: file {shown} is not readable")
    try:
        info = probe(path)
    except MediaError:
        raise SystemCheckError(f"music: {shown} is not a readable audio file (ffprobe cannot read it)") from None
    if not info.of_kind("audio"):
        raise SystemCheckError(f"music: {shown} has no audio stream")


def check_voice(request: VideoRequest, settings: Settings) -> list[str]:
    """The narration's language and voice exist in the engine that will speak first, before any work; its warnings."""
    field = "voice" if request.voice else "language"
    try:
        return check_tts_request(request, settings)
    except TTSError as exc:
        raise SystemCheckError(f"{field}: {exc}") from None
    except ProviderError as exc:  # AURA_TTS_PROVIDER names no engine: the setting is wrong, not the request
        raise SystemCheckError(str(exc)) from None


def check_visuals(request: VideoRequest, settings: Settings) -> list[str]:
    """The chosen image provider's check: warnings about the images to come; an error when AURA_IMAGE_PROVIDER
    names none, or when generated images are required and cannot be made."""
    if settings.visuals_deployment:
        return []  # drawn by the workers of the visuals deployment: they check their own model and device
    return check_images_request(request, settings)


def check_inputs(request: VideoRequest, settings: Settings, store: ArtifactStore) -> list[str]:
    """What the request names must be there: its voice or language, its music, its scenes' media, its documents;
    and the providers that will serve it must take it. Returns their warnings for the run."""
    warnings = check_voice(request, settings)
    music = music_file(request, store)
    if music is not None:
        check_music(music, request.music or "")
    for index, path in media_files(request, store).items():
        check_media(index, path, request.media[index], settings.max_image_pixels)
    reference_files(request, settings, store)
    return warnings + check_visuals(request, settings)
