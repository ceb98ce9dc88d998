"""One settings object, read from AURA_* environment variables (or a .env file)."""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

OFFLINE_MODEL = "aura/offline"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AURA_", env_file=".env", extra="ignore")

    output: str = Field(
        default="./out",
        description="Artifact store: a folder (or fsspec URL) that holds one sub-folder per job.",
    )
    llm_model: str = Field(
        default=OFFLINE_MODEL,
        description="Any litellm model string (openai/gpt-4o-mini, ollama/llama3, ...); aura/offline is the built-in writer.",
    )
    llm_api_base: str | None = Field(default=None, description="Base URL for the LLM (e.g. a local Ollama).")
    llm_api_key: str | None = Field(default=None, description="API key, when the provider's own variable is not set.")
    llm_timeout_s: float = Field(default=60.0, gt=0, description="Timeout of one LLM call.")
    words_per_minute: int = Field(default=150, ge=60, le=260, description="Narration pace used to size scripts.")
    tts_provider: Literal["espeak-ng", "gtts"] = Field(
        default="espeak-ng", description="gtts uses Google's online TTS and falls back to espeak-ng when unreachable."
    )
    gtts_timeout_s: float = Field(default=10.0, gt=0, le=120)
    gtts_tld: str = Field(default="com", description="Google domain for gTTS accents (com, co.uk, com.au, ...).")
    image_provider: str = Field(default="slides", description="Visuals backend; slides is the offline default.")
    x264_preset: str = Field(default="veryfast", description="libx264 preset for the final encode.")
    crf: int = Field(default=21, ge=0, le=51, description="libx264 quality (lower is better, larger).")


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reload_settings() -> Settings:
    """Re-read the environment (tests change AURA_* variables)."""
    get_settings.cache_clear()
    return get_settings()
