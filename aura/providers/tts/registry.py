"""TTS engines by name: AURA_TTS_PROVIDER chooses a chain of them, best first.

Adding an engine is a new file with a class of TTSProvider's shape and one line here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aura.errors import AuraError
from aura.providers.base import Registry
from aura.providers.tts.base import TTSDeclined, TTSProvider, VoiceInfo
from aura.providers.tts.edge_provider import EdgeTTSProvider
from aura.providers.tts.espeak import EspeakTTS
from aura.providers.tts.gtts_provider import GTTSProvider
from aura.providers.tts.speech_provider import SpeechTTSProvider
from aura.providers.tts.piper_provider import PiperTTS

if TYPE_CHECKING:
    from aura.models import VideoRequest
    from aura.settings import Settings

TTS_ENGINES: Registry[TTSProvider] = Registry(
    "tts",
    "AURA_TTS_PROVIDER",
    [
        SpeechTTSProvider,
        EdgeTTSProvider,
        GTTSProvider,
        PiperTTS,
        EspeakTTS,
    ],
)


def _chain_classes(settings: Settings) -> list[type[TTSProvider]]:
    # every name is checked, not only the first: a typo further down would otherwise surface
    # only on the day the first engine fails
    return [TTS_ENGINES.get(name) for name in settings.tts_provider]


def tts_chain(settings: Settings) -> list[TTSProvider]:
    """The engines of AURA_TTS_PROVIDER, in order, as the settings configure them.

    ProviderError naming AURA_TTS_PROVIDER and the known engines for a name no engine has.
    """
    return [engine.from_settings(settings) for engine in _chain_classes(settings)]


def tts_output_settings(settings: Settings) -> dict[str, object]:
    """What about the chain changes the narration, for the voice stage's checkpoint key (JSON-able)."""
    engines = _chain_classes(settings)
    return {"chain": [e.name for e in engines], **{e.name: e.output_settings(settings) for e in engines}}


def check_tts_request(request: VideoRequest, settings: Settings) -> list[str]:
    """Warnings for the request from the engine that will speak it; TTSError when it cannot.

    That engine is the first one that does not decline the request (TTSDeclined: piper with no
    voice for the language, or not installed): the voice stage's chain passes over the same ones.
    ProviderError (not TTSError) when AURA_TTS_PROVIDER names an unknown engine.
    """
    engines = _chain_classes(settings)
    for engine in engines[:-1]:
        try:
            return engine.check_request(request, settings)
        except TTSDeclined:
            continue
    return engines[-1].check_request(request, settings)


def list_voices(settings: Settings, engine: str = "all", language: str | None = None) -> tuple[list[VoiceInfo], list[str]]:
    """Every engine's voices (or one engine's), those for `language` only (a prefix) when it is given, and a
    note for each engine that could not list its own (not installed, not configured, offline)."""
    wanted = language.lower() if language else None
    voices: list[VoiceInfo] = []
    notes: list[str] = []
    for name in TTS_ENGINES.names():
        if engine not in ("all", name):
            continue
        try:
            found = TTS_ENGINES.make(name, settings).voices()
        except AuraError as exc:  # one engine not installed: the others are still listed
            notes.append(f"{name}: {exc}")
            continue
        if not found:
            notes.append(f"{name}: the voice list could not be fetched (an online engine needs the internet)")
        voices += [v for v in found if not wanted or any(lang.lower().startswith(wanted) for lang in v.languages)]
    return voices, notes
