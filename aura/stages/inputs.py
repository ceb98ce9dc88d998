"""What a request names must exist where the run is: its voice or language, its music, its documents.

No Prefect in here: the `aura` command runs these before it starts anything
(a typo costs a fraction of a second, not a server start), and the brief
stage runs them again on the machine that does the work.
"""

from __future__ import annotations

import os
from pathlib import Path

from aura.errors import MediaError, SystemCheckError
from aura.media.probe import probe
from aura.models import VideoRequest
from aura.providers.rag.documents import ReferenceDocumentError, document_files
from aura.providers.tts import EspeakTTS, TTSError
from aura.providers.tts.edge_provider import VOICE_NAME as EDGE_VOICE_NAME
from aura.providers.tts.edge_provider import edge_voice_for
from aura.providers.tts.gtts_provider import gtts_voice_for
from aura.settings import Settings


def check_music(music: str) -> None:
    path = Path(music).expanduser()
    if not path.is_file():
        raise SystemCheckError(f"music: file {music} does not exist or is not a file")
    if not os.access(path, os.R_OK):
        raise SystemCheckError(f"music: file {music} is not readable")
    try:
        info = probe(path)
    except MediaError as exc:
        raise SystemCheckError(f"music: {music} is not a readable audio file ({exc})") from exc
    if not info.of_kind("audio"):
        raise SystemCheckError(f"music: {music} has no audio stream")


def check_voice(request: VideoRequest, tts_engine: str = "espeak-ng") -> None:
    """The narration's language and voice exist in the engine that will speak first, before any work."""
    field = "voice" if request.voice else "language"
    try:
        if tts_engine == "gtts":
            gtts_voice_for(request.voice or request.language)
        elif tts_engine == "edge-tts":
            if request.voice and not EDGE_VOICE_NAME.match(request.voice):
                raise TTSError(f"edge-tts voices look like en-US-AriaNeural, not {request.voice!r} (`aura voices`)")
            if not request.voice:
                edge_voice_for(request.language)
        else:
            # one word costs milliseconds and exercises exactly the lookup the voice stage will do
            EspeakTTS().synthesize("ok", language=request.language, voice=request.voice)
    except TTSError as exc:
        raise SystemCheckError(f"{field}: {exc}") from None


def check_references(references: list[str]) -> None:
    """Every reference document exists and is a kind the script stage can read (nothing is read yet)."""
    for index, entry in enumerate(references):
        try:
            document_files(Path(entry).expanduser())
        except ReferenceDocumentError as exc:
            raise SystemCheckError(f"references[{index}]: {exc}") from None


def check_inputs(request: VideoRequest, settings: Settings) -> None:
    """What the request names must be there: its voice or language, its music, its reference documents."""
    check_voice(request, settings.tts_provider[0])
    if request.music:
        check_music(request.music)
    check_references([*request.references, *([settings.reference_dir] if settings.reference_dir else [])])
