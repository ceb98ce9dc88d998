"""Online speech with gTTS (Google Translate's voice), always bounded in time.

gTTS 2.2.4 sends its HTTP requests with no timeout, so on a dead network `gTTS.save()` hangs
forever (and leaves a 0-byte file). Here gTTS only builds the requests; they are sent with
timeouts from a daemon thread that the caller waits on for at most `timeout_s`, the MP3 stays
in memory and ffmpeg decodes it through pipes. Nothing is written to disk.
"""

from __future__ import annotations

import base64
import re
import socket
import time
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

from aura.providers.base import ProviderStatus
from aura.providers.tts.base import (
    Speech,
    TTSError,
    VoiceInfo,
    normalize_language,
    require_text,
)
from aura.providers.tts.online import SAMPLE_RATE, decode_mp3, run_with_deadline
from aura.providers.tts.timing import place_words
from aura.supervision import Interrupted

if TYPE_CHECKING:
    from aura.models import VideoRequest
    from aura.settings import Settings

NAME = "gtts"
DEFAULT_TIMEOUT_S = 10.0
PROBE_TIMEOUT_S = 2.0
SLOW_BELOW_WPM = 120  # gTTS has two speeds: a rate under this picks its "slow" one
OFFLINE_HINT = "check the network (or HTTPS_PROXY), raise the timeout, or use the offline espeak-ng voice"

# Regional accents: gTTS picks them by the Google host (tld), not by the language code.
_REGIONAL: dict[str, tuple[str, str]] = {
    "en-us": ("en", "com"),
    "en-gb": ("en", "co.uk"),
    "en-au": ("en", "com.au"),
    "en-ca": ("en", "ca"),
    "en-in": ("en", "co.in"),
    "en-ie": ("en", "ie"),
    "en-za": ("en", "co.za"),
    "fr-fr": ("fr", "fr"),
    "fr-ca": ("fr", "ca"),
    "pt-br": ("pt", "com.br"),
    "pt-pt": ("pt", "pt"),
    "es-es": ("es", "es"),
    "es-mx": ("es", "com.mx"),
    "es-us": ("es", "com"),
}
# BCP-47 codes that gTTS spells differently
_ALIASES = {
    "zh": "zh-cn",
    "zh-hans": "zh-cn",
    "zh-hant": "zh-tw",
    "cmn": "zh-cn",
    "he": "iw",
    "jv": "jw",
    "fil": "tl",
    "nb": "no",
    "nn": "no",
}
# how gTTS 2.2.4 finds the audio (base64 MP3) in Google's batchexecute answer
_AUDIO_PATTERN = re.compile(r'jQ1olc","\[\\"(.*)\\"]')



INSTALL_HINT = "install it with `pip install 'gTTS>=2.2.4,<2.5'`"


def _gtts_table() -> dict[str, str]:
    """{gTTS code: language name} from gTTS's bundled table (2.2.4 makes no request for it)."""
    try:
        from gtts.lang import tts_langs
    except ImportError as exc:
        raise TTSError(f"gTTS is not installed ({exc}): {INSTALL_HINT}") from exc
    return tts_langs()


def _gtts_languages() -> dict[str, str]:
    """{lower-case code: gTTS code}."""
    return {code.lower(): code for code in _gtts_table()}


def gtts_voice_for(language: str, default_tld: str = "com") -> tuple[str, str, str]:
    """(voice id, gTTS lang, tld) for a BCP-47 tag: en-US -> en on .com, pt-BR -> pt on .com.br, zh -> zh-CN."""
    languages = _gtts_languages()
    parts = normalize_language(language or "").split("-")
    while parts and parts[0]:
        tag = "-".join(parts)
        code = _ALIASES.get(tag, tag)
        if code in _REGIONAL:
            lang, tld = _REGIONAL[code]
            return code, lang, tld
        if code in languages:
            return code, languages[code], default_tld
        parts.pop()
    raise TTSError(
        f"gTTS does not support language {language!r}: pass a supported BCP-47 code "
        "(e.g. en, en-GB, fr, pt-BR, zh) or a voice from `aura voices`"
    )


def _fetch_mp3(text: str, lang: str, tld: str, slow: bool, deadline: float) -> bytes:
    """The MP3 for `text`, with every request bounded by what is left of the deadline."""
    import requests
    from gtts import gTTS

    # gTTS splits long text and builds one request per part; we only borrow that. Its own
    # stream() sends them without a timeout (and with TLS verification off).
    tts = gTTS(text, lang=lang, tld=tld, slow=slow, lang_check=False)
    prepared = tts._prepare_requests()
    host = urlsplit(prepared[0].url).hostname or tld
    audio = bytearray()
    with requests.Session() as session:
        for request in prepared:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("ran out of time between requests")
            # session.send() skips the environment; this applies HTTPS_PROXY, NO_PROXY, CA bundles
            settings = session.merge_environment_settings(request.url, {}, False, None, None)
            try:
                response = session.send(request, timeout=(remaining, remaining), **settings)
                response.raise_for_status()
                body = response.text
            except requests.HTTPError as exc:
                raise TTSError(f"gTTS request refused by {host}: {exc}; wait and retry, or use espeak-ng") from exc
            except requests.RequestException as exc:  # refused, reset, proxy, TLS, timeouts
                raise TTSError(f"gTTS unreachable ({host}{_route(host)}): {exc}; {OFFLINE_HINT}") from exc
            found = False
            for line in body.splitlines():
                match = _AUDIO_PATTERN.search(line) if "jQ1olc" in line else None
                if match:
                    audio += base64.b64decode(match.group(1).encode("ascii"))
                    found = True
            if not found:
                raise TTSError(f"gTTS got an answer with no audio from {host}: Google may have changed its API")
    return bytes(audio)


def _https_proxy(url: str) -> tuple[str, int] | None:
    """(host, port) of the proxy requests would use for url, from HTTPS_PROXY/ALL_PROXY/NO_PROXY."""
    import requests.utils

    proxy = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))
    if not proxy:
        return None
    if "://" not in proxy:
        proxy = "http://" + proxy  # requests' reading of a bare host:port
    parts = urlsplit(proxy)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _route(host: str) -> str:
    proxy = _https_proxy(f"https://{host}/")
    return f" via proxy {proxy[0]}:{proxy[1]}" if proxy else ""


class GTTSProvider:
    """Google Translate's TTS: needs the internet; never waits longer than timeout_s."""

    name: ClassVar[str] = NAME
    rate_controlled: ClassVar[bool] = False  # two speeds only: normal and slow

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S, tld: str = "com") -> None:
        if timeout_s <= 0:
            raise TTSError(f"gTTS timeout_s must be positive, got {timeout_s}")
        self.timeout_s = float(timeout_s)
        self.tld = tld

    @classmethod
    def from_settings(cls, settings: Settings) -> GTTSProvider:
        return cls(timeout_s=settings.online_tts_timeout_s, tld=settings.gtts_tld)

    @classmethod
    def output_settings(cls, settings: Settings) -> dict[str, object]:
        return {"tld": settings.gtts_tld}  # the Google domain picks the accent

    @classmethod
    def check_request(cls, request: VideoRequest, settings: Settings) -> list[str]:
        gtts_voice_for(request.voice or request.language)
        return []

    def _host(self, tld: str | None = None) -> str:
        return f"translate.google.{tld or self.tld}"

    def status(self) -> ProviderStatus:
        try:
            _gtts_table()
        except TTSError as exc:
            return ProviderStatus(NAME, "tts", False, str(exc))
        host = self._host()
        proxy = _https_proxy(f"https://{host}/")
        target = proxy or (host, 443)
        route = f"{host}:443" + (f" via proxy {proxy[0]}:{proxy[1]}" if proxy else "")

        def probe() -> None:
            socket.create_connection(target, timeout=PROBE_TIMEOUT_S).close()

        try:
            # the thread bound also covers a DNS lookup that hangs
            run_with_deadline(probe, PROBE_TIMEOUT_S + 0.5)
        except (OSError, TimeoutError) as exc:
            detail = f"cannot reach {route} ({exc}): gTTS needs the internet; {OFFLINE_HINT}"
            return ProviderStatus(NAME, "tts", False, detail)
        return ProviderStatus(NAME, "tts", True, f"{route} reachable (TCP); timeout {self.timeout_s:g} s")

    def voices(self) -> list[VoiceInfo]:
        names = {code.lower(): name for code, name in _gtts_table().items()}
        voices = [VoiceInfo(code, names[code], (code,), NAME) for code in sorted(names)]
        for tag, (lang, tld) in _REGIONAL.items():
            voices.append(VoiceInfo(tag, f"{names[lang]} ({self._host(tld)})", (tag,), NAME))
        return voices

    def synthesize(
        self, text: str, language: str = "en", voice: str | None = None, rate_wpm: int | None = None
    ) -> Speech:
        deadline = time.monotonic() + self.timeout_s
        require_text(text)
        if voice:
            try:
                voice_id, lang, tld = gtts_voice_for(voice, self.tld)
            except TTSError:
                raise TTSError("gTTS has no such voice: run `aura voices` to list them") from None
        else:
            voice_id, lang, tld = gtts_voice_for(language, self.tld)
        slow = rate_wpm is not None and rate_wpm < SLOW_BELOW_WPM

        host = self._host(tld)
        try:
            mp3 = run_with_deadline(
                lambda: _fetch_mp3(text, lang, tld, slow, deadline), deadline - time.monotonic()
            )
        except Interrupted:
            raise  # the stage's timeout or a cancellation, not gTTS being slow
        except TimeoutError as exc:
            raise TTSError(
                f"gTTS unreachable ({host}{_route(host)}): "
                f"no answer within timeout_s={self.timeout_s:g} s; {OFFLINE_HINT}"
            ) from exc
        except AssertionError as exc:  # gTTS asserts when its text cleanup leaves nothing to say
            raise TTSError(f"gTTS found nothing to say in {text[:40]!r}: {exc}") from exc

        pcm = decode_mp3(mp3, deadline - time.monotonic(), source="gTTS")
        # gTTS reports no word timings: placed by their phonemes and the audio's pauses (aura.providers.tts.timing)
        words = place_words(text.split(), pcm, SAMPLE_RATE, lang)
        return Speech(pcm=pcm, sample_rate=SAMPLE_RATE, words=words, provider=NAME, voice=voice_id)
