"""Online neural speech with Microsoft Edge's Read Aloud service (edge-tts), always bounded in time.

edge-tts is asyncio over aiohttp. Its own timeouts bound single socket operations only (and must
be whole seconds), so each call here runs in a fresh event loop on a daemon thread that the
caller waits on for at most `timeout_s`. The loop cancels its own work at the same deadline so
aiohttp closes its sockets. The MP3 stays in memory and ffmpeg decodes it through pipes: nothing
is written to disk. The service reports a WordBoundary event per word, so the word timings are
measurements, as with espeak-ng.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import os
import re
import socket
import threading
import time
import urllib.request
from typing import TYPE_CHECKING, Any, Awaitable, Callable, ClassVar, Iterable, TypeVar
from urllib.parse import unquote, urlsplit

from aura.providers.base import ProviderStatus
from aura.providers.tts.base import (
    Speech,
    TTSError,
    VoiceInfo,
    WordTiming,
    estimate_word_timings,
    non_silent_span,
    normalize_language,
    require_text,
)
from aura.providers.tts.online import SAMPLE_RATE, decode_mp3, run_with_deadline
from aura.supervision import Interrupted

if TYPE_CHECKING:
    from aura.models import VideoRequest
    from aura.settings import Settings

logger = logging.getLogger(__name__)

NAME = "edge-tts"
HOST = "speech.platform.bing.com"
DEFAULT_TIMEOUT_S = 15.0
PROBE_TIMEOUT_S = 2.0
TICKS_PER_SECOND = 10_000_000  # WordBoundary offsets and durations are in 100 ns ticks
BASE_RATE_WPM = 150  # about what the neural voices say per minute at rate "+0%"
MIN_RATE_PERCENT, MAX_RATE_PERCENT = -50, 100  # beyond this the voices turn unintelligible
INSTALL_HINT = "install it with `pip install 'edge-tts>=7,<8'`"
OFFLINE_HINT = (
    "edge-tts is an online service: check the network (or HTTPS_PROXY), raise the timeout, "
    "or use the offline espeak-ng voice"
)

# One well-known Neural voice per common language; lookups walk from "pt-br" to "pt".
DEFAULT_VOICES: dict[str, str] = {
    "en": "en-US-AriaNeural",
    "en-gb": "en-GB-SoniaNeural",
    "en-au": "en-AU-NatashaNeural",
    "en-ca": "en-CA-ClaraNeural",
    "en-in": "en-IN-NeerjaNeural",
    "fr": "fr-FR-DeniseNeural",
    "fr-ca": "fr-CA-SylvieNeural",
    "de": "de-DE-KatjaNeural",
    "es": "es-ES-ElviraNeural",
    "es-mx": "es-MX-DaliaNeural",
    "it": "it-IT-ElsaNeural",
    "pt": "pt-PT-RaquelNeural",
    "pt-br": "pt-BR-FranciscaNeural",
    "nl": "nl-NL-ColetteNeural",
    "ja": "ja-JP-NanamiNeural",
    "zh": "zh-CN-XiaoxiaoNeural",
    "zh-tw": "zh-TW-HsiaoChenNeural",
    "ko": "ko-KR-SunHiNeural",
    "hi": "hi-IN-SwaraNeural",
    "ar": "ar-SA-ZariyahNeural",
    "ru": "ru-RU-SvetlanaNeural",
    "pl": "pl-PL-ZofiaNeural",
    "tr": "tr-TR-EmelNeural",
    "sv": "sv-SE-SofieNeural",
    "da": "da-DK-ChristelNeural",
    "nb": "nb-NO-PernilleNeural",
    "fi": "fi-FI-NooraNeural",
    "cs": "cs-CZ-VlastaNeural",
    "el": "el-GR-AthinaNeural",
    "he": "he-IL-HilaNeural",
    "uk": "uk-UA-PolinaNeural",
    "id": "id-ID-GadisNeural",
    "vi": "vi-VN-HoaiMyNeural",
    "th": "th-TH-PremwadeeNeural",
}
# BCP-47 spellings that mean a language the table has under another code
_ALIASES = {"zh-hans": "zh", "zh-hant": "zh-tw", "cmn": "zh", "iw": "he", "no": "nb", "nn": "nb"}
# what edge-tts accepts as a short voice name, e.g. en-US-AriaNeural or zh-CN-liaoning-XiaobeiNeural
VOICE_NAME = re.compile(r"^[a-z]{2,}-[A-Z]{2,}-.+Neural$")

T = TypeVar("T")

_voice_cache: list[VoiceInfo] | None = None  # the service's list, once fetched, for this process
_voice_cache_lock = threading.Lock()


def _edge_tts() -> Any:
    try:
        import edge_tts
    except ImportError as exc:
        raise TTSError(f"edge-tts is not installed ({exc}): {INSTALL_HINT}") from exc
    return edge_tts


# --- pure helpers -------------------------------------------------------------------------


def edge_rate(rate_wpm: int | None) -> str:
    """Words per minute -> edge-tts's relative rate: 150 -> "+0%", 180 -> "+20%", 120 -> "-20%"."""
    if rate_wpm is None:
        return "+0%"
    if rate_wpm <= 0:
        raise TTSError(f"edge-tts rate_wpm must be positive, got {rate_wpm}")
    percent = round((rate_wpm / BASE_RATE_WPM - 1) * 100)
    percent = min(max(percent, MIN_RATE_PERCENT), MAX_RATE_PERCENT)
    return f"{percent:+d}%"


def _prefixes(language: str) -> list[str]:
    """"pt-BR" -> ["pt-br", "pt"], with aliases applied at each step."""
    parts = normalize_language(language or "").split("-")
    tags = []
    while parts and parts[0]:
        tag = "-".join(parts)
        tags.append(_ALIASES.get(tag, tag))
        parts.pop()
    return tags


def edge_voice_for(language: str, known: Iterable[VoiceInfo] = ()) -> str:
    """The default Edge voice for a BCP-47 tag: the built-in table first, then the service's list.

    The table wins so that the same language gets the same voice whether or not the list was
    fetched (the list's first voice for a locale can be an odd one, such as a child's voice).
    """
    tags = _prefixes(language)
    for tag in tags:
        if tag in DEFAULT_VOICES:
            return DEFAULT_VOICES[tag]
    known = list(known)
    for tag in tags:
        for voice in known:
            locale = voice.languages[0] if voice.languages else ""
            if locale == tag or locale.startswith(tag + "-"):
                return voice.id
    raise TTSError(
        f"edge-tts has no default voice for language {language!r}: pass a voice such as "
        "en-US-AriaNeural (`aura voices` lists them) or a language such as en, en-GB, fr, pt-BR, zh"
    )


def word_timings(boundaries: Iterable[dict], clip_s: float) -> list[WordTiming]:
    """WordBoundary events (100 ns ticks) -> word timings in seconds, in order, inside [0, clip_s].

    The decoded MP3 can be a few ms shorter than the service's clock says, hence the clamp; a
    boundary that starts before the previous one (never seen, but cheap to guard) is moved up.
    """
    words: list[WordTiming] = []
    previous_start = 0.0
    for event in boundaries:
        text = str(event.get("text", "")).strip()
        # punctuation comes as boundaries of its own: a subtitle wants only the words
        if event.get("type") != "WordBoundary" or not any(c.isalnum() for c in text):
            continue
        start = min(max(event["offset"] / TICKS_PER_SECOND, previous_start), clip_s)
        end = min(max((event["offset"] + event["duration"]) / TICKS_PER_SECOND, start), clip_s)
        words.append(WordTiming(text, start, end))
        previous_start = start
    return words


def _voice_info(raw: dict) -> VoiceInfo:
    short_name = raw["ShortName"]
    locale = normalize_language(raw.get("Locale") or short_name.rsplit("-", 1)[0])
    return VoiceInfo(short_name, raw.get("FriendlyName") or short_name, (locale,), NAME)


# --- network ------------------------------------------------------------------------------


def proxy_url(host: str = HOST) -> str | None:
    """The proxy for https://host from HTTPS_PROXY / ALL_PROXY (lower case first), honouring NO_PROXY.

    aiohttp (under edge-tts) would only look for WSS_PROXY for the websocket, so it is passed explicitly.
    """
    proxies = urllib.request.getproxies_environment()
    if urllib.request.proxy_bypass_environment(host, proxies):
        return None
    proxy = proxies.get("https") or proxies.get("all")
    if not proxy:
        return None
    return proxy if "://" in proxy else "http://" + proxy  # a bare host:port means plain HTTP


def _route(proxy: str | None) -> str:
    """Where the request goes, for messages: never shows the proxy's password."""
    if not proxy:
        return f"{HOST}:443"
    parts = urlsplit(proxy)
    return f"{HOST}:443 via proxy {parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def _run_async(factory: Callable[[], Awaitable[T]], timeout_s: float) -> T:
    """Run the coroutine from `factory` in its own event loop on a daemon thread, for at most timeout_s.

    The caller never waits past timeout_s (the thread bound also covers a DNS lookup that hangs);
    the loop's own timeout cancels the coroutine so aiohttp closes its session and sockets.
    """

    def work() -> T:
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(asyncio.wait_for(factory(), timeout_s))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    return run_with_deadline(work, timeout_s)


async def _stream_speech(
    text: str, voice: str, rate: str, proxy: str | None, socket_timeout_s: int
) -> tuple[bytes, list[dict]]:
    """(MP3 bytes, WordBoundary events) for `text` from the service."""
    edge_tts = _edge_tts()
    # edge-tts 7 reports sentences unless asked for words; its timeouts must be ints
    communicate = edge_tts.Communicate(
        text,
        voice,
        rate=rate,
        boundary="WordBoundary",
        proxy=proxy,
        connect_timeout=socket_timeout_s,
        receive_timeout=socket_timeout_s,
    )
    audio = bytearray()
    boundaries: list[dict] = []
    async for chunk in communicate.stream():
        if chunk["type"] == "audio":
            audio += chunk["data"]
        else:
            boundaries.append(chunk)
    return bytes(audio), boundaries


async def _list_voices(proxy: str | None) -> list[dict]:
    return await _edge_tts().list_voices(proxy=proxy)


def _os_reason(error: OSError) -> str:
    """'Connection refused' rather than asyncio's "Connect call failed ('127.0.0.1', 9)"."""
    if error.errno and error.errno > 0:  # DNS errors have negative numbers and their own text
        return os.strerror(error.errno)
    return error.strerror or str(error)


def _reason(exc: BaseException, timeout_s: float, voice: str | None = None) -> str:
    """What went wrong, in words, for an exception from edge-tts, aiohttp or asyncio."""
    import aiohttp

    edge_errors = _edge_tts().exceptions
    if isinstance(exc, TimeoutError):  # asyncio's, aiohttp's socket timeouts and our deadline
        return f"timeout: no answer within {timeout_s:g} s"
    if isinstance(exc, aiohttp.ClientConnectorError):  # refused, DNS, TLS, the proxy's included
        return f"could not connect to {exc.host}:{exc.port}: {_os_reason(exc.os_error)}"
    if isinstance(exc, aiohttp.ClientResponseError):  # the handshake or the proxy said no
        return f"the request was refused (HTTP {exc.status} {exc.message}); wait and retry"
    if isinstance(exc, edge_errors.NoAudioReceived):
        return f"no audio received: is {voice!r} a valid voice? `aura voices` lists them"
    if isinstance(exc, edge_errors.EdgeTTSException):
        return f"unexpected answer from the service ({type(exc).__name__}: {exc}); edge-tts may need an update"
    return f"{type(exc).__name__}: {exc}"


def _probe(proxy: str | None, timeout_s: float) -> None:
    """Open a TLS session with the service, through the proxy's CONNECT tunnel if there is one.

    A bare TCP connect would call a proxy that accepts and never answers "reachable".
    """
    import ssl

    import certifi  # edge-tts verifies against certifi's roots: so does the probe

    if proxy:
        parts = urlsplit(proxy)
        sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout_s)
        try:
            _open_tunnel(sock, parts.username, parts.password)
        except BaseException:
            sock.close()
            raise
    else:
        sock = socket.create_connection((HOST, 443), timeout=timeout_s)
    context = ssl.create_default_context(cafile=certifi.where())
    with context.wrap_socket(sock, server_hostname=HOST):
        pass


def _open_tunnel(sock: socket.socket, user: str | None, password: str | None) -> None:
    request = f"CONNECT {HOST}:443 HTTP/1.1\r\nHost: {HOST}:443\r\n"
    if user:
        token = base64.b64encode(f"{unquote(user)}:{unquote(password or '')}".encode()).decode()
        request += f"Proxy-Authorization: Basic {token}\r\n"
    sock.sendall((request + "\r\n").encode())
    reply = b""
    while b"\r\n\r\n" not in reply and len(reply) < 8192:
        data = sock.recv(4096)
        if not data:
            break
        reply += data
    status = reply.split(b"\r\n", 1)[0].decode("latin-1").strip()
    if not re.match(r"HTTP/1\.[01] 200\b", status):
        raise OSError(f"the proxy did not open a tunnel ({status or 'connection closed'})")


# --- the provider -------------------------------------------------------------------------


class EdgeTTSProvider:
    """Microsoft Edge's neural voices: needs the internet; never waits longer than timeout_s."""

    name: ClassVar[str] = NAME
    rate_controlled: ClassVar[bool] = True  # edge_rate()

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if timeout_s <= 0:
            raise TTSError(f"edge-tts timeout_s must be positive, got {timeout_s}")
        self.timeout_s = float(timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgeTTSProvider:
        return cls(timeout_s=settings.online_tts_timeout_s)

    @classmethod
    def output_settings(cls, settings: Settings) -> dict[str, object]:
        return {}  # the voice comes with the request; the timeout and proxy change no audio

    @classmethod
    def check_request(cls, request: VideoRequest, settings: Settings) -> list[str]:
        """Offline: the voice's spelling or the language's default voice (the service's list may be out of reach)."""
        if request.voice and not VOICE_NAME.match(request.voice):
            raise TTSError("edge-tts voices look like en-US-AriaNeural (`aura voices`, GET /api/voices)")
        if not request.voice:
            edge_voice_for(request.language)
        return []

    def status(self) -> ProviderStatus:
        try:
            _edge_tts()
        except TTSError as exc:
            return ProviderStatus(NAME, "tts", False, str(exc))
        proxy = proxy_url()
        route = _route(proxy)
        try:
            run_with_deadline(lambda: _probe(proxy, PROBE_TIMEOUT_S), PROBE_TIMEOUT_S + 0.5)
        except (OSError, TimeoutError) as exc:
            return ProviderStatus(NAME, "tts", False, f"cannot reach {route} ({exc}); {OFFLINE_HINT}")
        return ProviderStatus(
            NAME, "tts", True, f"{route} reachable (TLS); an online service; timeout {self.timeout_s:g} s"
        )

    def voices(self) -> list[VoiceInfo]:
        """The service's voices, fetched once per process; [] when it cannot be reached."""
        global _voice_cache
        with _voice_cache_lock:
            if _voice_cache is not None:
                return list(_voice_cache)
        proxy = proxy_url()
        try:
            raw = _run_async(lambda: _list_voices(proxy), self.timeout_s)
            voices = sorted((_voice_info(v) for v in raw), key=lambda v: (v.languages, v.id))
        except Exception as exc:  # noqa: BLE001 - a listing is optional: say why and show none
            logger.info("edge-tts voice list unavailable from %s: %s", _route(proxy), _reason(exc, self.timeout_s))
            return []
        with _voice_cache_lock:
            _voice_cache = voices
        return list(voices)

    def _cached_voices(self) -> list[VoiceInfo]:
        with _voice_cache_lock:
            return list(_voice_cache or [])

    def _choose_voice(self, language: str, voice: str | None) -> str:
        known = self._cached_voices()
        if not voice:
            return edge_voice_for(language, known)
        by_id = {v.id.lower(): v.id for v in known}
        if known and voice.lower() not in by_id:
            raise TTSError("edge-tts has no such voice: run `aura voices` to list them")
        voice = by_id.get(voice.lower(), voice)
        if not VOICE_NAME.match(voice):
            raise TTSError(
                "edge-tts has no such voice: pass a short name such as en-US-AriaNeural "
                "(`aura voices` lists them)"
            )
        return voice

    def synthesize(
        self, text: str, language: str = "en", voice: str | None = None, rate_wpm: int | None = None
    ) -> Speech:
        deadline = time.monotonic() + self.timeout_s
        require_text(text)
        voice_id = self._choose_voice(language, voice)
        rate = edge_rate(rate_wpm)
        _edge_tts()  # a missing package is an install hint, not a network failure

        proxy = proxy_url()
        socket_timeout = max(1, math.ceil(self.timeout_s))
        try:
            mp3, boundaries = _run_async(
                lambda: _stream_speech(text, voice_id, rate, proxy, socket_timeout), deadline - time.monotonic()
            )
        except Interrupted:
            raise  # the stage's timeout or a cancellation, not the service failing
        except Exception as exc:  # noqa: BLE001 - the library boundary: no raw aiohttp/asyncio error leaks
            reason = _reason(exc, self.timeout_s, voice_id)
            raise TTSError(f"edge-tts failed ({_route(proxy)}): {reason}; {OFFLINE_HINT}") from exc
        if not mp3:
            raise TTSError(f"edge-tts failed ({_route(proxy)}): no audio received for voice {voice_id!r}")

        pcm = decode_mp3(mp3, deadline - time.monotonic(), source="edge-tts")
        clip_s = len(pcm) // 2 / SAMPLE_RATE
        words = word_timings(boundaries, clip_s)
        if not words:  # no word events (none came, or only punctuation): fall back to an estimate
            span = non_silent_span(pcm, SAMPLE_RATE) or (0.0, clip_s)
            words = estimate_word_timings(text.split(), *span)
        return Speech(pcm=pcm, sample_rate=SAMPLE_RATE, words=words, provider=NAME, voice=voice_id)
