"""Text-to-speech providers: Piper then espeak-ng offline (the default chain), speech APIs, gTTS and edge-tts online."""

from aura.providers.tts.base import (
    Speech,
    TTSDeclined,
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
from aura.providers.tts.piper_provider import PiperTTS
from aura.providers.tts.registry import TTS_ENGINES, check_tts_request, tts_chain, tts_output_settings

__all__ = [
    "EdgeTTSProvider",
    "EspeakTTS",
    "GTTSProvider",
    "PiperTTS",
    "Speech",
    "TTSDeclined",
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
