"""YouTube Data API v3: a finished video uploaded with its title, description, tags, thumbnail and captions.

Written from Google's public documentation, on httpx (already Prefect's
client), rather than google-api-python-client: four documented calls do not
need a discovery client, and the protocol stays visible.

- OAuth 2.0, an installed app's offline grant: the refresh token buys an
  access token at the token endpoint (grant_type=refresh_token).
- The resumable upload protocol: POST .../upload/youtube/v3/videos?uploadType=resumable
  with the video resource opens a session (its URI in `Location`); one PUT
  sends the file. After a dropped connection, a 5xx or a 429, a PUT with
  `Content-Range: bytes */<size>` asks how far YouTube got: 308 with
  `Range: bytes=0-<last>` (none: nothing yet), and the rest is sent from the
  byte after it. The waits double from FIRST_RETRY_S, MAX_TRIES times.
- thumbnails.set (the JPEG) and captions.insert (the SRT, multipart/related)
  once the video exists; a refusal of either is a warning, not a failure.
- An auth or quota error is one line that says what to do.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from aura.errors import AuraError

UPLOAD_SCOPE = "https://www.googleapis.com/auth/youtube.upload"
CHUNK_BYTES = 1 << 20
MAX_TRIES = 6
FIRST_RETRY_S = 1.0
MAX_RETRY_S = 60.0
TIMEOUT_S = 60.0
RETRIED = {429, 500, 502, 503, 504}
QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded", "uploadLimitExceeded", "rateLimitExceeded"}
TITLE_CHARS, DESCRIPTION_BYTES, TAGS_CHARS = 100, 5000, 500
log = logging.getLogger("aura.stages")


class YouTubeError(AuraError):
    """YouTube refused or could not take the upload; the message is one line that says what to do."""


@dataclass(frozen=True)
class YouTubeAccount:
    client_id: str
    client_secret: str
    refresh_token: str
    api_url: str = "https://www.googleapis.com"
    token_url: str = "https://oauth2.googleapis.com/token"


@dataclass(frozen=True)
class VideoListing:
    """What YouTube shows: the video resource's snippet and status."""

    title: str
    description: str
    tags: list[str] = field(default_factory=list)
    privacy: str = "private"
    category_id: str = "27"  # Education
    language: str = "en"

    def resource(self) -> dict:
        return {
            "snippet": {
                "title": clip_title(self.title), "description": clip_bytes(self.description, DESCRIPTION_BYTES),
                "tags": clip_tags(self.tags), "categoryId": self.category_id, "defaultLanguage": self.language,
                "defaultAudioLanguage": self.language,
            },
            "status": {"privacyStatus": self.privacy, "selfDeclaredMadeForKids": False},
        }  # fmt: skip


@dataclass
class Uploaded:
    video_id: str
    url: str
    resumed: int = 0  # times the upload went on from the byte YouTube confirmed
    warnings: list[str] = field(default_factory=list)


def upload(
    account: YouTubeAccount, video: Path, listing: VideoListing, *, thumbnail: Path | None = None,
    captions: Path | None = None, on_progress: Callable[[float], None] | None = None,
) -> Uploaded:  # fmt: skip
    """Upload the video (resumable), then set its thumbnail and captions."""
    with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as client:
        api = _Api(client, account)
        session = api.call("POST", "/upload/youtube/v3/videos", params={"uploadType": "resumable", "part": "snippet,status"},
                           json=listing.resource(), headers={"X-Upload-Content-Type": "video/mp4",
                           "X-Upload-Content-Length": str(video.stat().st_size)}, what="open the upload")  # fmt: skip
        location = session.headers.get("Location")
        if not location:
            raise YouTubeError("YouTube opened no upload session (no Location header): try again later")
        resource, resumed = _send_file(api, location, video, on_progress or (lambda fraction: None))
        video_id = resource.get("id")
        if not video_id:
            raise YouTubeError("YouTube took the upload but named no video id: look for it in YouTube Studio")
        done = Uploaded(video_id=video_id, url=f"https://www.youtube.com/watch?v={video_id}", resumed=resumed)
        if thumbnail is not None:
            done.warnings += api.optional("POST", "/upload/youtube/v3/thumbnails/set", what="set the thumbnail",
                                          params={"videoId": video_id, "uploadType": "media"},
                                          content=thumbnail.read_bytes(), headers={"Content-Type": "image/jpeg"})  # fmt: skip
        if captions is not None:
            body, kind = _multipart({"snippet": {"videoId": video_id, "language": listing.language, "name": listing.language,
                                                 "isDraft": False}}, captions.read_bytes())  # fmt: skip
            done.warnings += api.optional("POST", "/upload/youtube/v3/captions", what="add the captions",
                                          params={"part": "snippet", "uploadType": "multipart"},
                                          content=body, headers={"Content-Type": kind})  # fmt: skip
    return done


class _Api:
    """Calls with a fresh access token, retried on 5xx and 429 with doubling waits; refusals as one line."""

    def __init__(self, client: httpx.Client, account: YouTubeAccount) -> None:
        self.client, self.account, self._token = client, account, None

    def token(self) -> str:
        if self._token is None:
            form = {"grant_type": "refresh_token", "client_id": self.account.client_id,
                    "client_secret": self.account.client_secret, "refresh_token": self.account.refresh_token}  # fmt: skip
            answer = self.retried(lambda: self.client.post(self.account.token_url, data=form), "get an access token")
            if answer.status_code != 200 or "access_token" not in _json(answer):
                detail = _json(answer).get("error") or f"HTTP {answer.status_code}"
                raise YouTubeError(f"Google refused the YouTube credentials ({detail}): make a new refresh token with the "
                                   f"{UPLOAD_SCOPE} scope and set AURA_YOUTUBE_CLIENT_ID, AURA_YOUTUBE_CLIENT_SECRET "
                                   "and AURA_YOUTUBE_REFRESH_TOKEN")  # fmt: skip
            self._token = _json(answer)["access_token"]
        return self._token

    def call(self, method: str, path: str, *, what: str, **kwargs) -> httpx.Response:
        url = self.account.api_url.rstrip("/") + path
        headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {self.token()}"}
        answer = self.retried(lambda: self.client.request(method, url, headers=headers, **kwargs), what)
        if answer.status_code >= 400:
            raise refusal(answer, what)
        return answer

    def optional(self, method: str, path: str, *, what: str, **kwargs) -> list[str]:
        """A call whose refusal leaves the video up: its warning, or none."""
        try:
            self.call(method, path, what=what, **kwargs)
        except YouTubeError as exc:
            return [str(exc)]
        return []

    def retried(self, send: Callable[[], httpx.Response], what: str) -> httpx.Response:
        wait = FIRST_RETRY_S
        for attempt in range(1, MAX_TRIES + 1):
            try:
                answer = send()
                if answer.status_code not in RETRIED or attempt == MAX_TRIES:
                    return answer
                why = f"HTTP {answer.status_code}"
            except httpx.TransportError as exc:
                if attempt == MAX_TRIES:
                    raise YouTubeError(f"YouTube could not be reached to {what} ({type(exc).__name__}): "
                                       "check the network and AURA_YOUTUBE_API_URL") from exc  # fmt: skip
                why = type(exc).__name__
            log.warning("YouTube: %s got %s (attempt %d of %d), trying again in %.0f s", what, why, attempt, MAX_TRIES, wait)
            time.sleep(wait)
            wait = min(wait * 2, MAX_RETRY_S)
        raise AssertionError("unreachable")


def _send_file(api: _Api, session: str, video: Path, on_progress: Callable[[float], None]) -> tuple[dict, int]:
    """PUT the file to the session; after a cut, ask how far YouTube got and send the rest from there."""
    size, offset, resumed, wait = video.stat().st_size, 0, 0, FIRST_RETRY_S
    for attempt in range(1, MAX_TRIES + 1):
        headers = {"Authorization": f"Bearer {api.token()}", "Content-Type": "video/mp4", "Content-Length": str(size - offset)}
        if offset:
            headers["Content-Range"] = f"bytes {offset}-{size - 1}/{size}"
        try:
            answer = api.client.put(session, content=_read_from(video, offset, size, on_progress), headers=headers)
            if answer.status_code in (200, 201):
                on_progress(1.0)
                return _json(answer), resumed
            if answer.status_code not in RETRIED and answer.status_code != 308:
                raise refusal(answer, "upload the video")
            why = f"HTTP {answer.status_code}"
        except httpx.TransportError as exc:
            why = type(exc).__name__
        if attempt == MAX_TRIES:
            raise YouTubeError(f"the YouTube upload did not finish after {MAX_TRIES} tries (last: {why}): run the job "
                               "again to start a new upload")  # fmt: skip
        log.warning("YouTube: the upload was cut off (%s) at attempt %d, asking how far it got in %.0f s", why, attempt, wait)
        time.sleep(wait)
        wait = min(wait * 2, MAX_RETRY_S)
        status = api.retried(lambda: api.client.put(session, headers={"Authorization": f"Bearer {api.token()}",
                             "Content-Range": f"bytes */{size}", "Content-Length": "0"}), "ask how far the upload got")  # fmt: skip
        if status.status_code in (200, 201):
            return _json(status), resumed
        if status.status_code != 308:
            raise refusal(status, "resume the upload")
        offset = confirmed(status.headers.get("Range"))
        resumed += 1
        log.info("YouTube: resuming the upload at byte %d of %d", offset, size)
    raise AssertionError("unreachable")


def confirmed(range_header: str | None) -> int:
    """The next byte to send after a 308: one past the end of `Range: bytes=0-<last>`; 0 when there is none."""
    if not range_header or "-" not in range_header:
        return 0
    return int(range_header.rsplit("-", 1)[1]) + 1


def _read_from(path: Path, offset: int, size: int, on_progress: Callable[[float], None]) -> Iterator[bytes]:
    with path.open("rb") as fh:
        fh.seek(offset)
        sent = offset
        while chunk := fh.read(CHUNK_BYTES):
            yield chunk
            sent += len(chunk)
            on_progress(sent / size if size else 1.0)


def refusal(answer: httpx.Response, what: str) -> YouTubeError:
    """One line from Google's error body ({"error": {"code", "message", "errors": [{"reason"}]}})."""
    error = _json(answer).get("error")
    error = error if isinstance(error, dict) else {}
    reasons = [e.get("reason") for e in error.get("errors", []) if isinstance(e, dict)]
    reason = next((r for r in reasons if r), None) or error.get("status") or f"HTTP {answer.status_code}"
    message = " ".join(str(error.get("message") or "").split())[:200]
    said = f"{reason}: {message}" if message else reason
    if reason in QUOTA_REASONS:
        return YouTubeError(f"YouTube quota exceeded ({said}) while trying to {what}: the quota resets at midnight "
                            "Pacific time; run the job again then (the video is kept)")  # fmt: skip
    if answer.status_code == 401:
        return YouTubeError(f"YouTube refused the access token ({said}): check AURA_YOUTUBE_REFRESH_TOKEN and its "
                            f"{UPLOAD_SCOPE} scope")  # fmt: skip
    return YouTubeError(f"YouTube refused to {what} (HTTP {answer.status_code} {said})")


def _multipart(metadata: dict, payload: bytes) -> tuple[bytes, str]:
    """A multipart/related body: the resource as JSON, then the file (Google's uploadType=multipart)."""
    boundary = f"aura-{uuid.uuid4().hex}"
    head = (f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{json.dumps(metadata)}\r\n"
            f"--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n").encode()  # fmt: skip
    return head + payload + f"\r\n--{boundary}--\r\n".encode(), f"multipart/related; boundary={boundary}"


def _json(answer: httpx.Response) -> dict:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def clip_title(title: str) -> str:
    """YouTube's title rule: at most 100 characters, no angle brackets, never empty."""
    text = " ".join(title.replace("<", "").replace(">", "").split())
    return (text[: TITLE_CHARS - 1] + "…" if len(text) > TITLE_CHARS else text) or "Untitled"


def clip_bytes(text: str, limit: int) -> str:
    text = text.replace("<", "").replace(">", "")
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[: limit - 3].decode("utf-8", "ignore") + "…"


def clip_tags(tags: list[str]) -> list[str]:
    """Unique tags whose length in all (a tag with a space counts its quotes) stays within 500 characters."""
    kept, used = [], 0
    for tag in dict.fromkeys(" ".join(t.replace("<", "").replace(">", "").replace(",", " ").split()) for t in tags):
        cost = len(tag) + (2 if " " in tag else 0) + (1 if kept else 0)
        if tag and used + cost <= TAGS_CHARS:
            kept.append(tag)
            used += cost
    return kept
