"""Any OpenAI-compatible speech service through litellm: OpenAI, Azure OpenAI, or a local server.

AURA_SPEECH_MODEL names the model the litellm way: `openai/tts-1` (OpenAI itself),
`azure/<deployment>`, or `openai/<name>` with AURA_SPEECH_API_BASE for a compatible server
(Kokoro-FastAPI, openedai-speech, LocalAI, ...). The calls go through a litellm Router, as the
script stage's do: it owns the retries (with backoff) and the per-attempt timeout; the SDK's
own retries are off so the waits do not multiply.

litellm 1.106's Router speaks only asynchronously (`Router.aspeech`), and its async clients and
logging worker belong to the event loop they first ran on, so every call here runs on one
event loop that lives in a daemon thread for the process; the caller waits on it for at most
the overall deadline (`run_with_deadline`) and cancels the call when that passes. A server
that hangs costs at most timeout_s * (retries + 1) plus litellm's backoff, never the run.

Speech APIs answer audio and nothing else: no word boundaries. The narration is asked for one
phrase at a time (aura.providers.tts.timing.split_phrases), so the phrase boundaries are real;
inside a phrase the words are placed from the audio (place_words).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import threading
import time
import urllib.request
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from aura import pricing, spend
from aura.providers.event_loop import process_loop
from aura.providers.base import ProviderSettings, ProviderStatus
from aura.providers.tts.base import Speech, TTSError, VoiceInfo, WordTiming, require_text
from aura.providers.tts.online import SAMPLE_RATE, decode_audio, run_with_deadline
from aura.providers.tts.timing import place_words, split_phrases
from aura.supervision import Interrupted

if TYPE_CHECKING:
    from aura.models import VideoRequest
    from aura.settings import Settings

log = logging.getLogger("aura.tts")

NAME = "speech"
ENV_PREFIX = "AURA_SPEECH_"
PROBE_TIMEOUT_S = 2.0
VOICES_TIMEOUT_S = 2.0
BASE_RATE_WPM = 150  # about what OpenAI's voices say per minute at speed 1.0
MIN_SPEED, MAX_SPEED = 0.25, 4.0  # what OpenAI's `speed` accepts
OPENAI_HOST = "api.openai.com"
OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse")
# OpenAI's own speech models, whose voices are the list above
_OPENAI_TTS_MODEL = re.compile(r"^(tts-\d|gpt-4o(-mini)?-tts)")
# the variables litellm reads a provider's key from when AURA_SPEECH_API_KEY is not set
KEY_VARIABLES: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "azure": ("AZURE_API_KEY", "AZURE_OPENAI_API_KEY"),
    "elevenlabs": ("ELEVENLABS_API_KEY",),
}
# a compatible server that takes no key still gets one: the OpenAI SDK refuses to send without
NO_KEY = "not-needed"
MODEL_HINT = f"set {ENV_PREFIX}MODEL (e.g. openai/tts-1, or openai/<model> with {ENV_PREFIX}API_BASE for a compatible server)"
SERVER_HINT = "check the server or use another engine"
# litellm's retry schedule (litellm.utils.calculate_retry_after): 0.5 s doubling, at most 8 s,
# plus up to 0.75 s of jitter per wait; 1.106 also waits once more after the last failed try
_INITIAL_RETRY_DELAY = float(os.environ.get("INITIAL_RETRY_DELAY", 0.5))
_MAX_RETRY_DELAY = float(os.environ.get("MAX_RETRY_DELAY", 8.0))
_JITTER = 0.75
_SLACK_S = 1.0  # thread hand-offs and the decoding of a short clip


class SpeechSettings(ProviderSettings):
    """The speech engine's own settings (AURA_SPEECH_*)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX)

    model: str | None = Field(
        default=None,
        description="litellm model: openai/tts-1, openai/gpt-4o-mini-tts, azure/<deployment>, or openai/<name> with api_base.",
    )
    api_base: str | None = Field(default=None, description="Base URL of an OpenAI-compatible server, e.g. http://localhost:8880/v1.")
    api_key: SecretStr | None = Field(default=None, description="API key, when the provider's own variable (OPENAI_API_KEY) is not set.")
    voice: str = Field(default="alloy", min_length=1, description="Voice when the request names none.")
    format: Literal["mp3", "wav", "opus", "aac", "flac"] = Field(default="mp3", description="Audio format asked of the service.")
    retries: int = Field(default=2, ge=0, le=10, description="Retries of a failed request (with backoff), the first try not included.")
    timeout_s: float | None = Field(default=None, gt=0, le=300, description="Time limit of one request; default AURA_TTS_TIMEOUT_S.")


def load_settings() -> SpeechSettings:
    """AURA_SPEECH_* from the environment and .env; a bad value is a TTSError naming its variable."""
    try:
        return SpeechSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        message = first["msg"].removeprefix("Value error, ")
        raise TTSError(f"invalid {ENV_PREFIX}{field.upper()}: {message}") from None


# --- pure helpers -------------------------------------------------------------------------


def speech_speed(rate_wpm: int | None) -> float | None:
    """Words per minute -> OpenAI's speed: 150 -> 1.0, 225 -> 1.5; None leaves the service's pace."""
    if rate_wpm is None:
        return None
    if rate_wpm <= 0:
        raise TTSError(f"speech rate_wpm must be positive, got {rate_wpm}")
    return round(min(max(rate_wpm / BASE_RATE_WPM, MIN_SPEED), MAX_SPEED), 2)


def provider_of(model: str) -> str:
    """litellm's provider prefix: openai/tts-1 -> openai; a bare OpenAI model name -> openai."""
    if "/" in model:
        return model.split("/", 1)[0].lower()
    return "openai" if _OPENAI_TTS_MODEL.match(model) else ""


def model_name(model: str) -> str:
    """What the service is asked for: openai/tts-1 -> tts-1."""
    return model.split("/", 1)[1] if "/" in model else model


def is_openai_itself(model: str, api_base: str | None) -> bool:
    """OpenAI's own service (its voices, its key), not a compatible server."""
    return provider_of(model) == "openai" and not api_base


def backoff_bound(retries: int) -> float:
    """The most litellm's Router sleeps between (and after) `retries` retries."""
    if retries <= 0:
        return 0.0
    return sum(min(_INITIAL_RETRY_DELAY * 2**k, _MAX_RETRY_DELAY) + _JITTER for k in range(retries + 1))


def _phrases(text: str) -> list[str]:
    """The phrases to ask for, one request each; a phrase of punctuation only joins its neighbour."""
    phrases: list[str] = []
    for phrase in split_phrases(text):
        if phrases and not any(c.isalnum() for c in phrase):
            phrases[-1] = f"{phrases[-1]} {phrase}"
        elif phrases and not any(c.isalnum() for c in phrases[-1]):
            phrases[-1] = f"{phrases[-1]} {phrase}"
        else:
            phrases.append(phrase)
    return phrases


# --- litellm: one event loop and one Router per configuration, for the process ---------------

_lock = threading.Lock()
_routers: dict[tuple, Any] = {}  # by loop too: a fork's new loop gets new clients


def _litellm() -> Any:
    """litellm, imported on first use (it costs seconds), without a network fetch and quiet."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no download of the price list
    try:
        import litellm
    except ImportError as exc:
        raise TTSError(f"litellm is not installed ({exc}): install it with `pip install 'litellm>=1.106,<1.107'`") from exc
    # litellm logs every failed try at ERROR with a dump; Aura reports failures itself, once
    for name in ("LiteLLM Router", "LiteLLM", "LiteLLM Proxy"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    litellm.suppress_debug_info = True
    return litellm


def _router(model: str, api_base: str | None, api_key: str | None, timeout_s: float, retries: int) -> Any:
    """One Router per configuration and process, so its clients (and connections) are reused."""
    litellm = _litellm()
    loop = process_loop()
    key = (model, api_base, api_key, timeout_s, retries, id(loop))
    with _lock:
        router = _routers.get(key)
        if router is None:
            params: dict[str, Any] = {"model": model, "max_retries": 0}  # the Router retries, not the SDK
            if api_base:
                params["api_base"] = api_base
            if api_key:
                params["api_key"] = api_key
            router = litellm.Router(
                model_list=[{"model_name": NAME, "litellm_params": params}],
                num_retries=retries,
                timeout=timeout_s,
                retry_after=0,  # backoff comes from litellm's exponential schedule
            )
            _routers[key] = router
        return router


async def _speak_phrases(router: Any, phrases: list[str], voice: str, fmt: str, speed: float | None) -> list[bytes]:
    """The audio of each phrase, asked for one after the other."""
    audio = []
    for phrase in phrases:
        kwargs: dict[str, Any] = {"response_format": fmt}
        if speed is not None:
            kwargs["speed"] = speed
        response = await router.aspeech(model=NAME, input=phrase, voice=voice, **kwargs)
        audio.append(await _content(response))
    return audio


async def _content(response: Any) -> bytes:
    """The bytes of litellm's HttpxBinaryResponseContent (or anything with .content / .read())."""
    try:
        data = response.content
    except Exception:  # noqa: BLE001 - an unread httpx body: read it on the loop
        raw = getattr(response, "response", None)
        data = await raw.aread() if raw is not None else response.read()
    if isinstance(data, str):
        data = data.encode("latin-1")
    return bytes(data or b"")


# --- messages -------------------------------------------------------------------------------

# key-looking tokens a message may quote, masked or not ("Incorrect API key provided: sk-ab***yz")
_TOKEN = re.compile(r"\b(sk-|Bearer\s+)[\w\-*.]{4,}")


def _os_reason(exc: BaseException) -> str | None:
    """The socket-level cause ('Connection refused') in an exception's chain, if there is one."""
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno and current.errno > 0:
            return os.strerror(current.errno)
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        current = current.__cause__ or current.__context__
    return None


def _litellm_text(exc: BaseException) -> str:
    """litellm's message without its class names repeated, its model-group note or retry counts."""
    text = " ".join(str(exc).split())
    text = re.split(r"\s*(LiteLLM: model group|Received Model Group|LiteLLM Retried)", text)[0]
    name = type(exc).__name__
    text = re.sub(rf"^(litellm\.)?{name}:\s*({name}:\s*)?", "", text)
    text = re.sub(r"^\w*Exception - ", "", text)  # "OpenAIException - ..."
    return text.strip()[:240]


# --- the provider -------------------------------------------------------------------------


class SpeechTTSProvider:
    """An OpenAI-compatible speech service through litellm; never waits past its deadline."""

    name: ClassVar[str] = NAME
    rate_controlled: ClassVar[bool] = True  # speech_speed()

    def __init__(
        self,
        model: str | None,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        voice: str = "alloy",
        fmt: str = "mp3",
        retries: int = 2,
        timeout_s: float = 10.0,
    ) -> None:
        if timeout_s <= 0:
            raise TTSError(f"speech timeout_s must be positive, got {timeout_s}")
        if retries < 0:
            raise TTSError(f"speech retries must be 0 or more, got {retries}")
        self.model = model.strip() if model and model.strip() else None
        self.api_base = api_base.strip().rstrip("/") if api_base and api_base.strip() else None
        self._api_key = api_key or None
        self.voice = voice
        self.format = fmt
        self.retries = int(retries)
        self.timeout_s = float(timeout_s)

    def __repr__(self) -> str:  # never the key
        return f"SpeechTTSProvider(model={self.model!r}, api_base={self.api_base!r}, voice={self.voice!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> SpeechTTSProvider:
        own = load_settings()
        return cls(
            own.model,
            api_base=own.api_base,
            api_key=own.api_key.get_secret_value() if own.api_key else None,
            voice=own.voice,
            fmt=own.format,
            retries=own.retries,
            timeout_s=own.timeout_s or settings.online_tts_timeout_s,
        )

    @classmethod
    def output_settings(cls, settings: Settings) -> dict[str, object]:
        own = load_settings()
        return {"model": own.model, "api_base": own.api_base, "voice": own.voice, "format": own.format}

    @classmethod
    def check_request(cls, request: VideoRequest, settings: Settings) -> list[str]:
        """Offline: a model, a key where one is needed, and OpenAI's voice names for OpenAI itself."""
        engine = cls.from_settings(settings)
        engine._check_configured()
        engine._check_voice(request.voice or engine.voice)
        return []

    # --- configuration ------------------------------------------------------------------

    @property
    def provider(self) -> str:
        return provider_of(self.model or "")

    def _resolved_key(self) -> str | None:
        """The key the service gets: AURA_SPEECH_API_KEY, then the provider's own variable.

        An OpenAI-compatible server of its own (openai/<name> with an api_base) gets only
        AURA_SPEECH_API_KEY: the user's OPENAI_API_KEY is never sent to another host.
        """
        if self._api_key:
            return self._api_key
        if self.api_base and self.provider == "openai":
            return None
        for variable in KEY_VARIABLES.get(self.provider, ()):
            if os.environ.get(variable):
                return os.environ[variable]
        return None

    def _missing_key(self) -> str | None:
        """Which variables to set when a key is needed and there is none; None when all is well."""
        if self._resolved_key() or (self.api_base and self.provider == "openai"):
            return None  # a compatible server may take no key (NO_KEY is sent)
        variables = KEY_VARIABLES.get(self.provider)
        if not variables:
            return None  # a provider litellm knows and we do not: it says what it misses
        return " or ".join((*variables, f"{ENV_PREFIX}API_KEY"))

    def _check_configured(self) -> None:
        if not self.model:
            raise TTSError(f"the speech engine has no model: {MODEL_HINT}")
        missing = self._missing_key()
        if missing:
            raise TTSError(f"the speech engine needs an API key for {self.model}: set {missing}")

    def _check_voice(self, voice: str) -> str:
        """The voice to send; for OpenAI's own models one of OpenAI's voices, any name for other servers."""
        voice = voice.strip()
        if not voice:
            raise TTSError("the speech engine got an empty voice name")
        if self.model and is_openai_itself(self.model, self.api_base) and _OPENAI_TTS_MODEL.match(model_name(self.model)):
            if voice.lower() not in OPENAI_VOICES:
                raise TTSError(
                    f"OpenAI has no such voice for {model_name(self.model)}: use one of {', '.join(OPENAI_VOICES)}"
                )
            return voice.lower()
        return voice

    def _address(self) -> tuple[str, int] | None:
        """(host, port) the requests go to, where it is known without asking litellm."""
        base = self.api_base
        if not base and self.provider == "azure":
            base = os.environ.get("AZURE_API_BASE")
        if base:
            parts = urlsplit(base if "://" in base else f"https://{base}")
            return parts.hostname or base, parts.port or (443 if parts.scheme == "https" else 80)
        if self.provider == "openai":
            return OPENAI_HOST, 443
        return None

    def _host(self) -> str:
        address = self._address()
        if address is None:
            return self.provider or "the service"
        host, port = address
        return host if port == 443 else f"{host}:{port}"

    def _where(self) -> str:
        return f"{self.model} at {self._host()}"

    def _scrub(self, text: str) -> str:
        """A message without the key (ours or the environment's), even a partly masked one."""
        for secret in {self._api_key, self._resolved_key()}:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return _TOKEN.sub(lambda m: f"{m.group(1)}***", text)

    def _call_bound(self) -> float:
        """The longest one phrase's request may take: every try timing out, and the backoff between."""
        return self.timeout_s * (self.retries + 1) + backoff_bound(self.retries) + _SLACK_S

    # --- status and voices ----------------------------------------------------------------

    def status(self) -> ProviderStatus:
        try:
            self._check_configured()
        except TTSError as exc:
            return ProviderStatus(NAME, "tts", False, str(exc))
        address = self._address()
        key = "a key" if self._resolved_key() else "no key"
        if address is None:
            return ProviderStatus(NAME, "tts", True, f"{self.model} via litellm ({key}; not contacted by this check)")
        proxy = _proxy_for(address[0], self.api_base)
        target = proxy or address
        route = f"{address[0]}:{address[1]}" + (f" via proxy {proxy[0]}:{proxy[1]}" if proxy else "")

        def probe() -> None:
            socket.create_connection(target, timeout=PROBE_TIMEOUT_S).close()

        try:
            run_with_deadline(probe, PROBE_TIMEOUT_S + 0.5)  # the thread bound covers a DNS lookup that hangs
        except (OSError, TimeoutError) as exc:
            return ProviderStatus(NAME, "tts", False, f"cannot reach {route} for {self.model} ({exc}): {SERVER_HINT}")
        retries = f"{self.retries} {'retry' if self.retries == 1 else 'retries'}"
        detail = f"{self.model}: {route} reachable (TCP), {key}; timeout {self.timeout_s:g} s, {retries}"
        return ProviderStatus(NAME, "tts", True, detail)

    def voices(self) -> list[VoiceInfo]:
        """OpenAI's voices for OpenAI; a compatible server's own list (GET {api_base}/audio/voices) where it has one."""
        if not self.model:
            raise TTSError(f"the speech engine has no model: {MODEL_HINT}")  # `aura voices` says so and lists the others
        if (self.model and is_openai_itself(self.model, self.api_base)) or (self.provider == "azure" and not self.api_base):
            return [VoiceInfo(v, v.capitalize(), ("multilingual",), NAME) for v in OPENAI_VOICES]
        if self.api_base:
            try:
                names = run_with_deadline(self._fetch_voices, VOICES_TIMEOUT_S + 0.5)
            except Interrupted:
                raise
            except Exception as exc:  # noqa: BLE001 - a listing is optional: say why, show the configured voice
                log.info("speech voice list unavailable from %s: %s", self._host(), self._scrub(f"{type(exc).__name__}: {exc}"))
            else:
                if names:
                    return [VoiceInfo(n, n, ("multilingual",), NAME) for n in names]
        return [VoiceInfo(self.voice, self.voice, ("multilingual",), NAME)]

    def _fetch_voices(self) -> list[str]:
        import httpx

        key = self._resolved_key()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = httpx.get(f"{self.api_base}/audio/voices", headers=headers, timeout=VOICES_TIMEOUT_S)
        response.raise_for_status()
        payload = response.json()
        raw = payload.get("voices", []) if isinstance(payload, dict) else payload
        names = []
        for item in raw if isinstance(raw, list) else []:
            if isinstance(item, dict):
                item = item.get("id") or item.get("voice_id") or item.get("name")
            if isinstance(item, str) and item.strip():
                names.append(item.strip())
        return names

    # --- speech -------------------------------------------------------------------------

    def synthesize(
        self, text: str, language: str = "en", voice: str | None = None, rate_wpm: int | None = None
    ) -> Speech:
        started = time.monotonic()
        require_text(text)
        self._check_configured()
        voice_id = self._check_voice(voice or self.voice)
        speed = speech_speed(rate_wpm)
        phrases = _phrases(text)
        key = self._resolved_key() or (NO_KEY if self.api_base else None)
        router = _router(self.model, self.api_base, key, self.timeout_s, self.retries)
        # one phrase may use every try; each further phrase gets one more timeout's worth
        budget = self._call_bound() + self.timeout_s * (len(phrases) - 1)
        deadline = started + budget

        loop = process_loop()
        work = asyncio.wait_for(_speak_phrases(router, phrases, voice_id, self.format, speed), budget)
        future = asyncio.run_coroutine_threadsafe(work, loop)
        try:
            audio = run_with_deadline(future.result, max(deadline - time.monotonic(), 0.0) + 0.5)
        except Interrupted:
            future.cancel()
            raise  # the stage's timeout or a cancellation, not the service failing
        except Exception as exc:  # noqa: BLE001 - the library boundary: no raw litellm/httpx error leaks
            future.cancel()
            log.debug("speech request failed: %s", self._scrub(repr(exc)))
            # `from None`: the chained litellm error may quote the key, and tracebacks are shown
            raise TTSError(self._scrub(f"speech failed ({self._where()}): {self._reason(exc, budget)}; {SERVER_HINT}")) from None
        # speech APIs bill the characters they were sent (every phrase answered)
        spend.charge_speech(self.model, sum(len(phrase) for phrase in phrases), pricing.speech_price(self.model))

        pcm = bytearray()
        words: list[WordTiming] = []
        for phrase, data in zip(phrases, audio):
            clip = self._decode(data, deadline)
            offset = len(pcm) // 2 / SAMPLE_RATE
            words += [
                WordTiming(w.text, w.start + offset, w.end + offset) for w in place_words(phrase.split(), clip, SAMPLE_RATE, language)
            ]
            pcm += clip
        return Speech(pcm=bytes(pcm), sample_rate=SAMPLE_RATE, words=words, provider=NAME, voice=voice_id)

    def _decode(self, data: bytes, deadline: float) -> bytes:
        source = f"speech ({self._where()})"
        if not data:
            raise TTSError(f"{source} answered no audio: {SERVER_HINT}")
        timeout = max(deadline - time.monotonic(), 2.0)  # a short clip decodes in milliseconds
        try:
            return decode_audio(data, timeout, source=source)  # ffmpeg probes the container
        except TTSError:
            # a container ffmpeg cannot recognise from a pipe: say what was asked for
            return decode_audio(data, timeout, source=source, fmt=self.format)

    def _reason(self, exc: BaseException, budget: float) -> str:
        """What went wrong, in words, for an exception from litellm, the SDK, httpx or asyncio."""
        litellm = _litellm()
        if isinstance(exc, litellm.Timeout):
            tries = self.retries + 1
            return f"timeout: no answer within {self.timeout_s:g} s ({tries} {'try' if tries == 1 else 'tries'})"
        if isinstance(exc, TimeoutError):  # our overall deadline
            return f"timeout: no audio within {budget:.1f} s"
        if isinstance(exc, litellm.AuthenticationError):
            own = () if self.api_base and self.provider == "openai" else KEY_VARIABLES.get(self.provider, ())
            variables = " or ".join((*own, f"{ENV_PREFIX}API_KEY"))
            return f"the key was refused (HTTP 401): set {variables} to a valid key"
        if isinstance(exc, litellm.APIConnectionError):
            cause = _os_reason(exc)
            return f"could not connect: {cause or _litellm_text(exc)}"
        status = getattr(exc, "status_code", None)
        if isinstance(exc, litellm.NotFoundError):
            return f"HTTP 404 {_litellm_text(exc)}: is the model name right, and does the api_base end in /v1?"
        if isinstance(status, int):
            return f"HTTP {status}: {_litellm_text(exc)}"
        return f"{type(exc).__name__}: {_litellm_text(exc)}"


def _proxy_for(host: str, api_base: str | None) -> tuple[str, int] | None:
    """(host, port) of the proxy httpx would use for the service, from HTTPS_PROXY/HTTP_PROXY/ALL_PROXY/NO_PROXY."""
    scheme = urlsplit(api_base).scheme if api_base and "://" in api_base else "https"
    proxies = urllib.request.getproxies_environment()
    if urllib.request.proxy_bypass_environment(host, proxies):
        return None
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy:
        return None
    parts = urlsplit(proxy if "://" in proxy else "http://" + proxy)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
