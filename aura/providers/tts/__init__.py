"""Text-to-speech providers: espeak-ng offline (the default), gTTS and edge-tts online."""

from aura.providers.tts.base import (
    Speech,
    TTSError,
    TTSProvider,
    VoiceInfo,
    WordTiming,
    estimate_word_timings,
    non_silent_span,
)
from aura.providers.tts.edge_provider import EdgeTTSProvider
from aura.providers.tts.espeak import EspeakTTS
from aura.providers.tts.gtts_provider import GTTSProvider

__all__ = [
    "EdgeTTSProvider",
    "EspeakTTS",
    "GTTSProvider",
    "Speech",
    "TTSError",
    "TTSProvider",
    "VoiceInfo",
    "WordTiming",
    "estimate_word_timings",
    "non_silent_span",
]
