"""What the stock-media providers (Pexels, Pixabay) share: search, choice, download, cache.

A provider here only says how its API is asked and how its answer reads
(`hits`); the rest is common: a scene's queries are its search terms, best
first, then its key phrase; per media kind (clips first when both are
searched) the first query with an unused hit that fits the frame wins, a clip
long enough for the scene before a shorter one. The rendition downloaded is
the smallest that covers the frame, so a 720p video never fetches a 4K file.

Search answers are kept on disk for 24 hours and media files in a cache
shared by this machine's runs, so a second run asks the service nothing.
Every request has a time limit and a few tries; the API key never appears in
an error, a log line or the output settings.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from aura import pricing, progress, spend
from aura.errors import ProviderError, ProviderUnavailable
from aura.media.graphs import OVERSCAN
from aura.providers.base import ProviderSettings, ProviderStatus
from aura.providers.images.base import Credit, ImagePrompt, SceneMedia
from aura.providers.images.files import image_folder
from aura.supervision import call_interruptibly, checkpoint

if TYPE_CHECKING:
    from aura.models import VideoRequest
    from aura.settings import Settings

log = logging.getLogger("aura.images.stock")

Kind = Literal["clip", "still"]
Orientation = Literal["landscape", "portrait", "square"]
MEDIA_KINDS: dict[str, tuple[Kind, ...]] = {"videos": ("clip",), "photos": ("still",), "both": ("clip", "still")}

SEARCH_TTL_S = 24 * 3600  # Pixabay asks that answers be kept for 24 h; Pexels' quota gains from it too
BACKOFF_S = 0.5  # first wait between tries, doubled each time
RETRY_AFTER_CAP_S = 10.0  # a longer Retry-After (a spent monthly quota) is not worth holding the stage for
DOWNLOAD_LIMIT_S = 240.0  # one file, all of it: inside the visuals stage's 300 s
CHUNK_BYTES = 1 << 16
STALE_TMP_S = 2 * DOWNLOAD_LIMIT_S  # a temp file this old was left by a process that died
MB = 1024 * 1024
T = TypeVar("T")


class StockSettings(ProviderSettings):
    """What every stock provider shares (AURA_STOCK_*): its cache and how patient it is."""

    model_config = SettingsConfigDict(env_prefix="AURA_STOCK_")

    cache_dir: str = Field(default="~/.cache/aura/stock", description="Downloaded media and search answers, shared by runs.")
    cache_mb: float = Field(default=2048, ge=0, description="Cache size; least recently used files are evicted beyond it (MiB).")
    max_file_mb: float = Field(default=200, gt=0, description="A rendition larger than this is refused (MiB).")
    timeout_s: float = Field(default=20, gt=0, le=300, description="Time limit of one API request; downloads: per read.")
    retries: int = Field(default=3, ge=1, le=10, description="Tries per request, the first included.")


class StockProviderSettings(ProviderSettings):
    """One stock provider's own settings; a subclass sets the env prefix and the API's URL."""

    api_key: SecretStr | None = None
    url: str
    media: Literal["videos", "photos", "both"] = "both"  # both: clips first, photos where no clip fits


# ---------------------------------------------------------------- what a search finds


@dataclass(frozen=True)
class Rendition:
    """One downloadable file of a hit."""

    url: str
    width: int
    height: int
    size: int = 0  # bytes, when the API says


@dataclass(frozen=True)
class Hit:
    """One search result: a clip or a photo, its renditions and whom to credit."""

    kind: Kind
    media_id: str
    width: int
    height: int
    renditions: tuple[Rendition, ...]
    credit: Credit
    duration: float = 0.0  # seconds, clips only

    @property
    def key(self) -> str:
        """Unique within a provider: a photo and a video may share a number."""
        return f"{self.kind}:{self.media_id}"


def orientation(size: tuple[int, int]) -> Orientation:
    width, height = size
    return "landscape" if width > height else "portrait" if height > width else "square"


def queries(prompt: ImagePrompt) -> list[str]:
    """What to search for a scene, best first: its search terms, then its key phrase."""
    words = [" ".join(term.split()) for term in (*prompt.search_terms, prompt.key_phrase)]
    return list(dict.fromkeys(term for term in words if term))


def fits(hit: Hit, size: tuple[int, int]) -> bool:
    """Not of the other orientation: a landscape clip cropped to a portrait frame loses two thirds."""
    frame = orientation(size)
    return frame == "square" or orientation((hit.width, hit.height)) in (frame, "square")


def covers(rendition: Rendition, size: tuple[int, int]) -> bool:
    """Fills the frame without upscaling: max(W/w, H/h) <= 1."""
    return rendition.width >= size[0] and rendition.height >= size[1]


def frame_for(hit: Hit, size: tuple[int, int]) -> tuple[int, int]:
    """What the rendition must cover: a still the over-sized canvas the camera moves over, a clip only the frame
    (a 720p video then decodes a 720p file, not a 1080p one: half the download, a third of the decoding)."""
    if hit.kind == "still":
        return size
    return (round(size[0] / OVERSCAN), round(size[1] / OVERSCAN))


def choose_rendition(renditions: Sequence[Rendition], size: tuple[int, int], max_bytes: int = 0) -> Rendition | None:
    """The smallest rendition that covers the frame; if none does, the largest (within max_bytes when known)."""
    usable = [r for r in renditions if r.url and r.width > 0 and r.height > 0 and not (max_bytes and r.size > max_bytes)]
    covering = [r for r in usable if covers(r, size)]
    if covering:
        return min(covering, key=lambda r: r.width * r.height)
    return max(usable, key=lambda r: r.width * r.height, default=None)


def rank_hits(hits: Sequence[Hit], seconds: float) -> list[Hit]:
    """Clips long enough for the scene first, in the API's order (its relevance), then the rest longest first."""
    long_enough = [h for h in hits if h.kind == "still" or h.duration >= seconds]
    short = sorted((h for h in hits if h.kind == "clip" and h.duration < seconds), key=lambda h: -h.duration)
    return long_enough + short


def read_hits(items: object, parse: Callable[[Any], Hit]) -> list[Hit]:
    """The items of an answer that parse as hits; one odd item does not lose the others."""
    hits = []
    for item in items if isinstance(items, list) else []:
        try:
            hits.append(parse(item))
        except (KeyError, TypeError, ValueError, AttributeError):
            log.debug("an item of the answer is not a hit: %r", item)
    return hits


def extension(url: str, default: str) -> str:
    """The file's extension from its URL (".jpeg", ".mp4"), else the default."""
    suffix = Path(urlsplit(url).path).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{2,5}", suffix) else default


# ---------------------------------------------------------------- the cache on disk


class StockCache:
    """<root>/<provider>/<id>-<w>x<h>.<ext> media and <root>/<provider>/search/*.json answers.

    Shared by this machine's processes: every file appears whole (temp name,
    then rename); a file in use is marked recent (its mtime) so the eviction,
    least recently used first, takes the others.
    """

    def __init__(self, root: Path, max_bytes: int):
        self.root = root
        self.max_bytes = max_bytes

    def media_path(self, provider: str, hit: Hit, rendition: Rendition) -> Path:
        default = ".mp4" if hit.kind == "clip" else ".jpg"
        media_id = re.sub(r"[^\w-]", "_", hit.media_id)  # an id is a number, but it comes from the network
        return self.root / provider / f"{media_id}-{rendition.width}x{rendition.height}{extension(rendition.url, default)}"

    def answer_path(self, provider: str, key: object) -> Path:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
        return self.root / provider / "search" / f"{digest}.json"

    def read_answer(self, path: Path) -> dict | None:
        """A search answer younger than SEARCH_TTL_S, else None."""
        try:
            if time.time() - path.stat().st_mtime > SEARCH_TTL_S:
                return None
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # absent, or half-written by an older version: ask again
            return None

    def keep_answer(self, path: Path, answer: dict) -> None:
        tmp = temp_name(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(answer), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:  # a cache that cannot be written only costs a search next time
            log.warning("cannot keep the search answer in %s: %s", path.parent, exc)
        finally:
            tmp.unlink(missing_ok=True)

    def evict(self, keep: Path) -> None:
        """Delete least recently used files until the cache fits its size (never `keep`)."""
        files = []
        for path in self.root.rglob("*"):
            try:
                stat = path.stat()
            except OSError:  # deleted meanwhile by another run
                continue
            if not path.is_file():
                continue
            if path.name.endswith(".tmp"):  # another run's download in progress, unless it is long dead
                if time.time() - stat.st_mtime > STALE_TMP_S:
                    path.unlink(missing_ok=True)
                continue
            files.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files, key=lambda f: f[0]):
            if total <= self.max_bytes:
                return
            if path != keep:
                path.unlink(missing_ok=True)
                total -= size


def temp_name(path: Path) -> Path:
    """A name next to `path` no other process or thread uses."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


def place(source: Path, target: Path) -> None:
    """`target` as a hard link to `source` (a copy across file systems), appearing whole.

    FileNotFoundError means `source` is gone (another run evicted it).
    """
    tmp = temp_name(target)
    try:
        try:
            os.link(source, tmp)
        except FileNotFoundError:
            raise
        except OSError:  # another file system, or links not allowed
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------- HTTP


class MediaRefused(ProviderError):
    """One file cannot be used (too large, gone, not media): the scene tries its next hit."""


class _Status(Exception):
    """A non-2xx answer, as the retry loop needs it."""

    def __init__(self, response: httpx.Response):
        super().__init__(response.status_code)
        self.status = response.status_code
        self.reason = response.reason_phrase
        self.retry_after = retry_after(response.headers.get("Retry-After"))
        self.body = response.text[:200]  # read by then: a streamed answer is read before it is raised


def retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: a number or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class _Redact(logging.Filter):
    """httpx logs each request's URL at INFO: a key passed as a query parameter must not go with it."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: frozenset[str] = frozenset()  # replaced, never changed: other threads log meanwhile

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


_REDACT = _Redact()


def hide_in_logs(secret: str) -> None:
    _REDACT.secrets = _REDACT.secrets | {secret, quote(secret, safe="")}
    httpx_log = logging.getLogger("httpx")
    if _REDACT not in httpx_log.filters:
        httpx_log.addFilter(_REDACT)


def _pause(seconds: float) -> None:
    """Sleep, but stop at once when the stage is cancelled or out of time."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        checkpoint()
        time.sleep(min(left, 0.1))


def _transport_reason(exc: Exception, timeout_s: float) -> str:
    if isinstance(exc, httpx.TimeoutException):  # a socket's limit; a TimeoutError says its own
        return f"no answer within {timeout_s:g} s"
    return re.sub(r"^\[Errno -?\d+\]\s*", "", str(exc)) or type(exc).__name__


class StockClient:
    """One provider's HTTP to its API and media hosts: bounded in time, retried, cached; a context manager."""

    def __init__(self, provider: StockProvider):
        self.provider = provider
        self.settings = provider.stock
        self.cache = StockCache(Path(self.settings.cache_dir).expanduser(), int(self.settings.cache_mb * MB))
        self.max_bytes = int(self.settings.max_file_mb * MB)
        timeout = self.settings.timeout_s
        self._http = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=True)
        if provider.api_key:
            hide_in_logs(provider.api_key)

    def __enter__(self) -> StockClient:
        return self

    def __exit__(self, *exc) -> None:
        self._http.close()

    # --- search

    def search(self, endpoint: str, params: dict[str, object]) -> dict:
        """The API's JSON answer to a search, from the 24 h cache when it has it."""
        path = self.cache.answer_path(self.provider.name, [endpoint, params])
        answer = self.cache.read_answer(path)
        if answer is None:
            answer = self._retrying(lambda: self._get_json(endpoint, params), self.settings.timeout_s, endpoint)
            self.cache.keep_answer(path, answer)
        return answer

    def _get_json(self, endpoint: str, params: dict[str, object]) -> dict:
        response = self._http.get(
            endpoint, params={**params, **self.provider.auth_params()}, headers=self.provider.auth_headers()
        )
        spend.charge_stock(self.provider.name, pricing.stock_price(self.provider.name))  # every answered call counts
        if response.status_code >= 300:
            raise _Status(response)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ProviderError(
                f"{self.provider.name}: the search answer is not a JSON object: check {self.provider.url_setting}"
            )
        return answer

    # --- media

    def fetch(self, hit: Hit, rendition: Rendition, target: Path) -> None:
        """`target` holds the rendition: from the cache, else downloaded into it first."""
        cached = self.cache.media_path(self.provider.name, hit, rendition)
        try:
            place(cached, target)
            os.utime(cached)  # recently used: the eviction takes others first
            return
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise ProviderError(f"{self.provider.name}: cannot write {target}: {exc}") from exc
        # a little past the try's own deadline, so that its clearer error arrives first
        self._retrying(lambda: self._download(rendition.url, cached, target), DOWNLOAD_LIMIT_S + 5, rendition.url)
        self.cache.evict(keep=cached)

    def _download(self, url: str, cached: Path, target: Path) -> None:
        """One try: stream into a temp file, refused past max_bytes, then made the scene's and the cache's."""
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProviderError(f"{self.provider.name}: cannot create the cache folder {cached.parent}: {exc}") from exc
        tmp = temp_name(cached)
        try:
            self._stream(url, tmp)
            place(tmp, target)
            os.replace(tmp, cached)
        except OSError as exc:
            raise ProviderError(f"{self.provider.name}: cannot write {cached.name}: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)

    def _stream(self, url: str, tmp: Path) -> None:
        deadline = time.monotonic() + DOWNLOAD_LIMIT_S  # an abandoned try stops by itself too
        with self._http.stream("GET", url) as response, open(tmp, "wb") as out:
            self._check_media(response, url)
            for chunk in response.iter_bytes(CHUNK_BYTES):
                out.write(chunk)
                if out.tell() > self.max_bytes:
                    raise self._too_large(url, f"more than {self.settings.max_file_mb:g} MiB arrived")
                if time.monotonic() > deadline:  # the network is too slow for any file: fall back
                    raise ProviderUnavailable(f"{self.provider.name}: a download took longer than {DOWNLOAD_LIMIT_S:g} s")
            if out.tell() == 0:
                raise MediaRefused(f"{self.provider.name}: {url} is empty: skipped")

    def _check_media(self, response: httpx.Response, url: str) -> None:
        if response.status_code in (401, 403, 404, 410):  # this file only: media hosts take no key
            raise MediaRefused(f"{self.provider.name}: {url} is refused or gone (HTTP {response.status_code}): skipped")
        if response.status_code >= 300:
            response.read()
            raise _Status(response)
        kind = response.headers.get("Content-Type", "").lower()
        if kind.startswith("text/") or "json" in kind:
            raise MediaRefused(f"{self.provider.name}: {url} is {kind}, not media: skipped")
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            raise self._too_large(url, f"{int(length) / MB:.1f} MiB")

    def _too_large(self, url: str, how_big: str) -> MediaRefused:
        return MediaRefused(
            f"{self.provider.name}: {url} is {how_big}, over AURA_STOCK_MAX_FILE_MB={self.settings.max_file_mb:g}: skipped"
        )

    # --- tries

    def _retrying(self, attempt: Callable[[], T], limit_s: float, url: str) -> T:
        """attempt() up to `retries` times: again after a 429 (honouring Retry-After), a 5xx or a network error."""
        tries = self.settings.retries
        failure: Exception = TimeoutError()  # replaced by the first try's failure
        for done in range(1, tries + 1):
            checkpoint()
            try:
                return call_interruptibly(attempt, limit_s, what="no answer")
            except _Status as exc:
                failure = exc
                wait = BACKOFF_S * 2 ** (done - 1)
                if exc.status == 429 and exc.retry_after is not None:
                    if exc.retry_after > RETRY_AFTER_CAP_S:
                        raise self._status_error(exc, done) from None
                    wait = exc.retry_after
                elif exc.status != 429 and exc.status < 500:
                    raise self._status_error(exc, done) from None
            except (httpx.TransportError, TimeoutError) as exc:
                failure, wait = exc, BACKOFF_S * 2 ** (done - 1)
            if done < tries:
                log.info(
                    "%s: try %d of %d failed (%s): again in %.1f s", self.provider.name, done, tries, self._what(failure), wait
                )
                _pause(wait)
        if isinstance(failure, _Status):
            raise self._status_error(failure, tries) from None
        raise self._unreachable(failure, tries, urlsplit(url).netloc) from None

    def _what(self, failure: Exception) -> str:
        if isinstance(failure, _Status):
            return f"HTTP {failure.status}"
        return _transport_reason(failure, self.settings.timeout_s)

    def _status_error(self, exc: _Status, tries: int) -> ProviderError:
        name, status = self.provider.name, f"HTTP {exc.status} {exc.reason}".strip()
        after = f" after {tries} {'try' if tries == 1 else 'tries'}"
        body = self._scrub(" ".join(exc.body.split()))
        if exc.status in (401, 403) or (exc.status == 400 and "key" in body.lower()):
            return ProviderUnavailable(f"{name}: {status} (the API key was refused): check {self.provider.key_setting}")
        if exc.status == 429:
            wait = f", asks to wait {exc.retry_after:.0f} s" if exc.retry_after else ""
            return ProviderUnavailable(f"{name}: {status}{after} (rate limit{wait}): wait or raise your plan's limit")
        if exc.status >= 500:
            return ProviderError(f"{name}: {status}{after}: the service is failing, try again later")
        detail = f" ({body})" if body else ""
        return ProviderError(f"{name}: {status}{detail}: check {self.provider.url_setting}")

    def _unreachable(self, exc: Exception, tries: int, host: str) -> ProviderUnavailable:
        reason = self._scrub(_transport_reason(exc, self.settings.timeout_s))
        setting = f" and {self.provider.url_setting}" if host == self.provider.host else ""
        return ProviderUnavailable(
            f"{self.provider.name}: cannot reach {host} after {tries} tries ({reason}): "
            f"check the network (or HTTPS_PROXY){setting}"
        )

    def _scrub(self, text: str) -> str:
        key = self.provider.api_key
        return text.replace(key, "***") if key else text


# ---------------------------------------------------------------- the provider


class StockProvider:
    """A stock-media library as an image provider: a subclass says how to ask its API (`hits`)."""

    name: ClassVar[str]
    settings_class: ClassVar[type[StockProviderSettings]]
    signup_url: ClassVar[str]  # where a user gets a free key
    license: ClassVar[str]

    def __init__(self, api_key: str, url: str, media: str, stock: StockSettings):
        self.api_key = api_key
        self.url = url.rstrip("/")
        self.media = media
        self.stock = stock

    @classmethod
    def env_prefix(cls) -> str:
        return cls.settings_class.model_config.get("env_prefix", "")

    @property
    def key_setting(self) -> str:
        return f"{self.env_prefix()}API_KEY"

    @property
    def url_setting(self) -> str:
        return f"{self.env_prefix()}URL"

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc or self.url

    @classmethod
    def _own_settings(cls) -> tuple[str, StockProviderSettings]:
        own = cls.settings_class()
        return (own.api_key.get_secret_value().strip() if own.api_key else ""), own

    @classmethod
    def from_settings(cls, settings: Settings) -> StockProvider:
        key, own = cls._own_settings()
        return cls(api_key=key, url=own.url, media=own.media, stock=StockSettings())

    @classmethod
    def output_settings(cls, settings: Settings) -> dict[str, object]:
        return {"media": cls.settings_class().media}

    @classmethod
    def missing_key(cls) -> str:
        return (
            f"{cls.env_prefix()}API_KEY is not set: get a free key at {cls.signup_url} and set it, "
            "or choose another AURA_IMAGE_PROVIDER"
        )

    @classmethod
    def check_request(cls, request: VideoRequest, settings: Settings) -> list[str]:
        key, _ = cls._own_settings()
        if not key:
            raise ProviderUnavailable(cls.missing_key())
        return []

    def status(self) -> ProviderStatus:
        key = "API key set" if self.api_key else self.missing_key()
        detail = f"{key}; {self.url}; searches {self.media}; cache {self.stock.cache_dir}"
        return ProviderStatus(self.name, "images", bool(self.api_key), detail)

    # --- what a subclass says about its API

    def auth_headers(self) -> dict[str, str]:
        return {}

    def auth_params(self) -> dict[str, str]:
        return {}

    def hits(self, client: StockClient, kind: Kind, query: str, size: tuple[int, int]) -> list[Hit]:
        raise NotImplementedError

    # --- serving scenes

    def scene_media(self, prompts: Sequence[ImagePrompt], size: tuple[int, int], out_dir: Path) -> list[SceneMedia | None]:
        if not self.api_key:
            raise ProviderUnavailable(self.missing_key())
        out_dir = image_folder(out_dir)
        used: set[str] = set()  # no media twice in one video
        results: list[SceneMedia | None] = []
        with StockClient(self) as client:
            for done, prompt in enumerate(prompts, start=1):
                checkpoint()  # between scenes: a timeout or a cancellation stops here
                results.append(self._serve(client, prompt, size, out_dir, used))
                found = sum(r is not None for r in results)
                progress.report("visuals", 0.05 + 0.9 * done / len(prompts), f"{self.name} {done}/{len(prompts)} ({found} found)")
        return results

    def _serve(
        self, client: StockClient, prompt: ImagePrompt, size: tuple[int, int], out_dir: Path, used: set[str]
    ) -> SceneMedia | None:
        """The scene's first candidate that is unused and downloads within the limits; None if none."""
        for hit in self._candidates(client, prompt, size):
            rendition = choose_rendition(hit.renditions, frame_for(hit, size), client.max_bytes)
            if hit.key in used or rendition is None:
                continue
            used.add(hit.key)  # a refused file is not tried again for another scene either
            target = out_dir / f"scene_{prompt.index:03d}{client.cache.media_path(self.name, hit, rendition).suffix}"
            try:
                client.fetch(hit, rendition, target)
            except MediaRefused as exc:
                log.warning("%s", exc)
                continue
            log.info(
                "scene %d: %s %s %s (%dx%d)", prompt.index, self.name, hit.kind, hit.media_id, rendition.width, rendition.height
            )
            return SceneMedia(index=prompt.index, path=target, kind=hit.kind, credit=hit.credit)
        return None

    def _candidates(self, client: StockClient, prompt: ImagePrompt, size: tuple[int, int]) -> Iterator[Hit]:
        """Per media kind, per query, the fitting hits best first: searched only as far as needed."""
        for kind in MEDIA_KINDS[self.media]:
            for query in queries(prompt):
                yield from rank_hits([hit for hit in self.hits(client, kind, query, size) if fits(hit, size)], prompt.seconds)
