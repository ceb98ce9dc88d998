"""One settings object, read from AURA_* environment variables (or a .env file)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

OFFLINE_MODEL = "aura/offline"
RESULTS_FOLDER = ".prefect-results"  # stage checkpoints, inside the artifact store by default
# litellm's Router waits about 1.5 to 2.5 s between retries here (measured); rounded up
LLM_BACKOFF_ESTIMATE_S = 3.0
PUBLISH_TARGETS = ("youtube", "webhook")


# USD per million characters of the paid speech models (OpenAI's list price); free engines cost nothing
SPEECH_PRICES = {"openai/tts-1": 15.0, "openai/tts-1-hd": 30.0, "openai/gpt-4o-mini-tts": 12.0}


class LlmPrice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input_per_million: float = Field(ge=0, description="USD per million prompt tokens.")
    output_per_million: float = Field(ge=0, description="USD per million completion tokens.")


class Prices(BaseModel):
    """The price table (AURA_PRICES, JSON): each part given replaces or adds entries of the built-in one."""

    model_config = ConfigDict(extra="forbid")
    llm: dict[str, LlmPrice] = Field(default_factory=dict, description="By litellm model; litellm's own prices otherwise.")
    speech: dict[str, float] = Field(
        default_factory=lambda: dict(SPEECH_PRICES), description="USD per million characters, by speech model."
    )
    stock_per_call: dict[str, float] = Field(default_factory=dict, description="USD per search call: pexels, pixabay (free).")
    gpu_per_hour: float = Field(default=0.0, ge=0, description="USD per GPU hour (0: a GPU of your own).")

    @field_validator("speech")
    @classmethod
    def _over_the_list_prices(cls, value: dict[str, float]) -> dict[str, float]:
        negative = [name for name, price in value.items() if price < 0]
        if negative:
            raise ValueError(f"speech price of {negative[0]} is negative")
        return {**SPEECH_PRICES, **value}


def _absolute(location: str) -> str:
    """A URL as it is, a folder as an absolute path."""
    return location if "://" in location else str(Path(location).expanduser().resolve())


def _comma_list(value: object) -> object:
    """'a, b' from the environment as ['a', 'b']; lists pass through."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AURA_", env_file=".env", extra="ignore")

    output: str = Field(
        default="./out",
        description="Artifact store: a folder (or fsspec URL) that holds one sub-folder per job.",
    )
    result_storage: str | None = Field(
        default=None,
        description="Where stage checkpoints (Prefect results) are kept: a folder or fsspec URL; "
        "default .prefect-results inside the artifact store.",
    )
    disk_reserve_mb: int = Field(
        default=200, ge=0, description="Disk space a run must leave free where it writes, besides its own files (MiB)."
    )

    # --- script writer (litellm) ---
    llm_model: str = Field(
        default=OFFLINE_MODEL,
        description="Any litellm model string (openai/gpt-4o-mini, ollama/llama3, ...); aura/offline is the built-in writer.",
    )
    llm_fallbacks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated litellm models tried in order when the main model fails.",
    )
    llm_offline_fallback: bool = Field(
        default=True, description="Close the model chain with the offline writer, so a script is always written."
    )
    llm_api_base: str | None = Field(default=None, description="Base URL for the LLM (e.g. a local Ollama).")
    llm_api_key: str | None = Field(default=None, description="API key, when the provider's own variable is not set.")
    llm_timeout_s: float = Field(
        default=50.0, gt=0, description="Timeout of one LLM call (two attempts fit the script stage's 120 s)."
    )
    llm_retries: int = Field(default=1, ge=0, le=10, description="Retries per model (with backoff) before the next model.")
    llm_routing: Literal["order", "cost"] = Field(
        default="order",
        description="order: the models in the order given; cost: the cheapest that answers first (litellm's cost-based "
        "routing over the online models), the offline writer last.",
    )
    prices: Prices = Field(
        default_factory=Prices,
        description='Price table as JSON, over the built-in one: {"llm": {"openai/gpt-4o-mini": {"input_per_million": '
        '0.15, "output_per_million": 0.6}}, "speech": {"openai/tts-1": 15}, "stock_per_call": {"pexels": 0}, '
        '"gpu_per_hour": 1.2}. Runs record their spending priced with it.',
    )
    words_per_minute: int = Field(default=150, ge=60, le=260, description="Narration pace used to size scripts.")

    # --- reference documents (RAG) ---
    reference_dir: str | None = Field(
        default=None, description="A folder of .txt/.md/.pdf documents used as reference for every script."
    )
    reference_top_k: int = Field(default=4, ge=1, le=20, description="Reference passages put into the script prompt.")

    # --- voice ---
    tts_provider: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["piper", "espeak-ng"],
        description="Comma-separated TTS chain, best first (speech, edge-tts, gtts, piper, espeak-ng); unless it names "
        "espeak-ng, piper then espeak-ng close it; espeak-ng is always last.",
    )
    tts_timeout_s: float = Field(default=10.0, gt=0, le=120, description="Time limit of one online TTS request.")
    tts_failures_to_open: int = Field(
        default=2, ge=1, le=20, description="Consecutive failures after which a TTS provider is skipped for the cool-down."
    )
    tts_cooldown_s: float = Field(default=300.0, ge=0, le=86400, description="How long a failing TTS provider is skipped.")
    state_dir: str | None = Field(
        default=None,
        description="Where this machine's processes share state: circuit breakers, NVENC's measured quality "
        "(default ~/.cache/aura/breakers).",
    )
    gtts_timeout_s: float | None = Field(default=None, gt=0, le=120, description="Deprecated name of AURA_TTS_TIMEOUT_S.")
    gtts_tld: str = Field(default="com", description="Google domain for gTTS accents (com, co.uk, com.au, ...).")

    # --- visuals ---
    image_provider: str = Field(
        default="auto",
        description="Visuals providers, in order (comma-separated): auto (stable-diffusion when AURA_SD_MODEL is set), "
        "pexels, pixabay, library, stable-diffusion, slides; each serves the scenes it can, slides the rest.",
    )
    sd_model: str | None = Field(
        default=None, description="Stable Diffusion pipeline: a folder saved with save_pretrained, or a Hugging Face hub id."
    )
    sd_device: Literal["auto", "cuda", "mps", "cpu"] = Field(default="auto", description="auto picks cuda, then mps, then cpu.")
    sd_steps: int = Field(default=25, ge=1, le=150, description="Denoising steps (1 to 4 for turbo models).")
    sd_guidance: float = Field(default=7.5, ge=0, le=30, description="Classifier-free guidance scale (0 for turbo models).")
    sd_batch_size: int = Field(default=0, ge=0, le=64, description="Images per batch; 0 sizes it from free GPU memory.")
    sd_base_size: int = Field(
        default=512, ge=128, le=2048, description="The model's native square size (512 for SD 1.5, 1024 for SDXL)."
    )

    # --- deployments ---
    visuals_deployment: str | None = Field(
        default=None,
        description="The render-visuals deployment ('render-visuals/render-visuals'): when set, generate-video "
        "draws its images there (on the gpu pool); unset, in its own process.",
    )
    visuals_queue_timeout_s: float = Field(
        default=600.0, gt=0, le=86400,
        description="How long a run waits for a gpu worker to start its visuals before it draws slides itself.",
    )  # fmt: skip
    video_deployment: str = Field(
        default="generate-video/generate-video", description="The deployment batch-generate starts one run of per request."
    )

    # --- processes ---
    render_nice: int = Field(
        default=10, ge=0, le=19,
        description="CPU niceness of render work (ffmpeg, the gateway's job processes): below the servers that answer requests.",
    )  # fmt: skip

    # --- the Prefect server ---
    prefect_start_timeout_s: float | None = Field(
        default=None, gt=0, le=3600,
        description="Seconds a temporary Prefect server may take to start; unset: 90 s, more on a busy machine.",
    )  # fmt: skip

    # --- inputs a run may read ---
    input_roots: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated folders whose files any run may name by path (gateway, Prefect UI and API, "
        "batches); unset, only the local `aura` command reads paths, every other run reads uploads and store keys.",
    )
    upload_max_mb: int = Field(default=50, ge=1, le=4096, description="Largest file POST /api/uploads accepts (MiB).")
    max_image_pixels: int = Field(
        default=50_000_000, ge=1_000_000, le=268_435_456,
        description="Most pixels (width x height) of a picture any input may have: an upload, a scene's media, "
        "the media library (read from its header, before it is decoded).",
    )  # fmt: skip

    # --- REST gateway (aura serve) ---
    api_token: SecretStr | None = Field(
        default=None,
        description="Bearer token the gateway requires on every endpoint (unset: no auth, for loopback use only).",
    )
    api_tokens: Path | None = Field(
        default=None,
        description="A TOML file of tenants (name, token_sha256, jobs_at_once, videos_per_day, video_minutes_per_day): "
        "each sees only its own jobs and uploads, within its limits (aura.api.tenants). AURA_API_TOKEN, if set too, "
        "is the operator's token: it sees every job.",
    )
    gateway_deployment: str | None = Field(
        default=None,
        description="The deployment the gateway starts runs of ('generate-video/generate-video'); unset, the "
        "gateway runs them itself, in worker processes of its own.",
    )
    gateway_local_runs: int = Field(
        default=2, ge=1, le=64, description="Runs the gateway's own worker makes at once (the rest wait, Scheduled)."
    )
    gateway_keepalive_s: float = Field(
        default=15.0, gt=0, le=300, description="Seconds between SSE keep-alive comments on an idle stream."
    )
    public_url: str | None = Field(
        default=None, pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$",
        description="The gateway's address as its callers reach it (https://videos.example.com): links in answers "
        "are built from it; unset, they are relative to the gateway (/api/videos/...). Never from the Host header.",
    )  # fmt: skip
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated Host names the gateway answers to (*.example.com for subdomains) besides "
        "loopback's (localhost, 127.0.0.1, ::1), AURA_PUBLIC_URL's and the address `aura serve --host` binds to.",
    )
    gateway_header_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="Seconds a client has to send a request's headers, whole."
    )
    gateway_body_timeout_s: float = Field(
        default=30.0, gt=0, le=3600, description="Seconds a request's body may go without a byte arriving."
    )
    gateway_client_connections: int = Field(
        default=32, ge=1, le=10000, description="Connections one client address may hold open at once."
    )
    review_timeout_s: float = Field(
        default=86400, gt=0, le=30 * 86400,
        description="How long a run asked to review its script (review_script) waits for the review before it ends.",
    )  # fmt: skip
    gateway_link_ttl_s: int = Field(
        default=3600, ge=60, le=7 * 86400,
        description="Lifetime of the signed links (stream, download, metadata) answers carry when a token is set.",
    )  # fmt: skip

    # --- publishing (aura.stages.publish, aura.publishing) ---
    publish: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Where finished videos go, comma-separated: youtube (an upload), webhook (a signed POST for "
        "every ending). Empty: nowhere. A request's `publish: false` turns it off for that video.",
    )
    webhook_url: str | None = Field(
        default=None, pattern=r"^https?://[^\s]+$", description="Where the webhook POSTs its events (publish: webhook)."
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="The HMAC-SHA256 key of X-Aura-Signature (at least 16 characters), shared with the receiver.",
    )  # fmt: skip
    youtube_client_id: str | None = Field(default=None, description="OAuth 2.0 client id of a Google Cloud app.")
    youtube_client_secret: SecretStr | None = Field(default=None, description="Its client secret.")
    youtube_refresh_token: SecretStr | None = Field(
        default=None, description="A refresh token of the channel's account with the youtube.upload scope."
    )
    youtube_api_url: str = Field(
        default="https://www.googleapis.com", pattern=r"^https?://[^\s]+$",
        description="Base URL of the YouTube Data API (a stand-in or a proxy).",
    )  # fmt: skip
    youtube_token_url: str = Field(
        default="https://oauth2.googleapis.com/token", pattern=r"^https?://[^\s]+$",
        description="Google's OAuth 2.0 token endpoint (a stand-in or a proxy).",
    )  # fmt: skip
    youtube_privacy: Literal["private", "unlisted", "public"] = Field(
        default="private", description="Who sees an uploaded video."
    )
    youtube_category_id: str = Field(
        default="27", pattern=r"^[0-9]{1,3}$", description="YouTube's category of uploads (27: Education)."
    )

    # --- composition ---
    x264_preset: str = Field(default="veryfast", description="libx264 preset for the final encode.")
    crf: int = Field(default=21, ge=0, le=51, description="libx264 quality (lower is better, larger).")
    video_encoder: Literal["auto", "libx264", "h264_nvenc"] = Field(
        default="auto",
        description="auto: NVIDIA's h264_nvenc where it opens (at a cq measured to match the crf), else libx264.",
    )

    @field_validator("llm_fallbacks", "tts_provider", "input_roots", "allowed_hosts", "publish", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return _comma_list(value)

    @field_validator("tts_provider")
    @classmethod
    def _offline_engines_close_the_chain(cls, value: list[str]) -> list[str]:
        # the names are checked by aura.providers.tts.registry (settings know no engines)
        named = list(dict.fromkeys(value))
        chain = [name for name in named if name != "espeak-ng"]
        if "espeak-ng" not in named and "piper" not in chain:
            chain.append("piper")  # the offline neural voice, unless the list chose its engines to the end
        return [*chain, "espeak-ng"]  # the robot voice that works everywhere always closes the chain

    @field_validator("publish")
    @classmethod
    def _known_targets(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in PUBLISH_TARGETS]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is no publish target: use {', '.join(PUBLISH_TARGETS)}")
        return list(dict.fromkeys(value))

    @field_validator("webhook_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError(f"it is {len(value.get_secret_value())} characters: use at least 16 (openssl rand -hex 32)")
        return value

    @model_validator(mode="after")
    def _publishing_is_configured(self) -> Settings:
        """A publish target without what it needs is refused when the settings are read, before any run."""
        needs = {"webhook": ("webhook_url", "webhook_secret"),
                 "youtube": ("youtube_client_id", "youtube_client_secret", "youtube_refresh_token")}  # fmt: skip
        missing = [f"AURA_{name.upper()}" for target in self.publish for name in needs[target] if not getattr(self, name)]
        if missing:
            raise ValueError(f"AURA_PUBLISH names {', '.join(self.publish)}, which needs "
                             f"{' and '.join(missing)}: set {'them' if len(missing) > 1 else 'it'}")  # fmt: skip
        return self

    def store_url(self, output: str | None = None) -> str:
        """The artifact store of a run: `output` if given, else AURA_OUTPUT.

        A URL (s3://, gcs://, file://...) is used as it is; a plain folder is made
        absolute so every task and worker resolves it the same way.
        """
        return _absolute(output or self.output)

    def result_storage_location(self, store_url: str) -> str:
        """Where stage checkpoints are persisted: AURA_RESULT_STORAGE, else a folder inside the artifact store."""
        if self.result_storage:
            return _absolute(self.result_storage)
        return f"{store_url.rstrip('/')}/{RESULTS_FOLDER}"

    @property
    def breaker_dir(self) -> Path:
        if self.state_dir:
            return Path(self.state_dir).expanduser()
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aura" / "breakers"

    @property
    def online_tts_timeout_s(self) -> float:
        return self.gtts_timeout_s or self.tts_timeout_s

    @property
    def llm_worst_case_s(self) -> float:
        """The longest the chain can wait on models that hang before the offline writer serves."""
        online = [m for m in self.llm_chain if m != OFFLINE_MODEL]
        attempts = self.llm_retries + 1
        return len(online) * (attempts * self.llm_timeout_s + self.llm_retries * LLM_BACKOFF_ESTIMATE_S)

    @property
    def llm_chain(self) -> list[str]:
        """Models in the order they are tried; the offline writer last unless forbidden."""
        chain = list(dict.fromkeys([self.llm_model, *self.llm_fallbacks]))
        if self.llm_offline_fallback and OFFLINE_MODEL not in chain:
            chain.append(OFFLINE_MODEL)
        return chain


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reload_settings() -> Settings:
    """Re-read the environment (tests change AURA_* variables)."""
    get_settings.cache_clear()
    return get_settings()
