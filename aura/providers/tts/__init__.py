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
from aura.providers.tts.registry import TTS_ENGINES, check_tts_request, tts_chain, tts_output_settings

__all__ = [
    "EdgeTTSProvider",
    "EspeakTTS",
    "GTTSProvider",
    "Speech",
    "TTS_ENGINES",
    "TTSError",
    "TTSProvider",
    "VoiceInfo",
    "WordTiming",
    "check_tts_request",
    "estimate_word_timings",
    "non_silent_span",
    "tts_chain",
    "tts_output_settings",
]
