"""A local stand-in for Google's OAuth 2.0 token endpoint and the YouTube Data API v3 upload calls.

Its shape is the documented one: `POST /token` (grant_type=refresh_token)
answers an access token or `{"error": "invalid_grant"}`; `POST
/upload/youtube/v3/videos?uploadType=resumable` opens a session whose URI is
the `Location` header; a PUT to the session takes the bytes (with
`Content-Range` when it resumes); a PUT with `Content-Range: bytes */<size>`
answers 308 with `Range: bytes=0-<last>` (none: nothing yet) or the video;
`thumbnails/set` and `captions` (multipart/related) keep what they got.
Google's error bodies: `{"error": {"code", "message", "errors": [{"reason"}]}}`.

Faults are scripted: `cut_after` drops the connection once that many bytes
of an upload arrived (they are kept, as YouTube keeps them); `fail_puts`
answers the next PUTs 500; `quota` answers the session request 403
quotaExceeded.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from helpers.network import LocalHTTPServer, QuietHandler

ACCESS_TOKEN = "ya29.stand-in"


@dataclass
class Session:
    size: int
    resource: dict
    received: bytearray = field(default_factory=bytearray)
    video_id: str | None = None


class YouTubeServer(LocalHTTPServer):
    def __init__(self, refresh_token: str = "refresh-me"):
        self.refresh_token = refresh_token
        self.sessions: dict[str, Session] = {}
        self.videos: dict[str, Session] = {}
        self.thumbnails: dict[str, bytes] = {}
        self.captions: dict[str, tuple[dict, bytes]] = {}
        self.cut_after: list[int] = []  # per upload PUT, in order: drop the connection after this many bytes
        self.fail_puts = 0
        self.quota = False
        self.log: list[str] = []  # "PUT 308 bytes=0-999" and the like
        self._lock = threading.Lock()
        super().__init__(self._handler())
        self.token_url = f"{self.url}/token"

    def env(self) -> dict[str, str]:
        return {
            "AURA_YOUTUBE_CLIENT_ID": "client.apps.googleusercontent.com", "AURA_YOUTUBE_CLIENT_SECRET": "s3cret",
            "AURA_YOUTUBE_REFRESH_TOKEN": self.refresh_token, "AURA_YOUTUBE_API_URL": self.url,
            "AURA_YOUTUBE_TOKEN_URL": self.token_url,
        }  # fmt: skip

    def _handler(self):
        stand_in = self

        class Handler(QuietHandler):
            def _answer(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, reason: str, message: str) -> None:
                self._answer(status, {"error": {"code": status, "message": message,
                                                "errors": [{"reason": reason, "message": message}]}})  # fmt: skip

            def _authorized(self) -> bool:
                if self.headers.get("Authorization") == f"Bearer {ACCESS_TOKEN}":
                    return True
                self._error(401, "authError", "Invalid Credentials")
                return False

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/token":
                    form = {k: v[0] for k, v in parse_qs(self._body().decode()).items()}
                    ok = form.get("grant_type") == "refresh_token" and form.get("refresh_token") == stand_in.refresh_token
                    ok = ok and bool(form.get("client_id")) and bool(form.get("client_secret"))
                    if ok:
                        self._answer(200, {"access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer",
                                           "scope": "https://www.googleapis.com/auth/youtube.upload"})  # fmt: skip
                    else:
                        self._answer(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
                    return
                body = self._body()
                if not self._authorized():
                    return
                if url.path == "/upload/youtube/v3/videos" and params.get("uploadType") == "resumable":
                    if stand_in.quota:
                        self._error(403, "quotaExceeded", "The request cannot be completed because you have exceeded your quota.")
                        return
                    session_id = uuid.uuid4().hex
                    with stand_in._lock:
                        stand_in.sessions[session_id] = Session(int(self.headers["X-Upload-Content-Length"]), json.loads(body))
                    self._answer(200, {}, {"Location": f"{stand_in.url}/upload/session/{session_id}"})
                elif url.path == "/upload/youtube/v3/thumbnails/set":
                    stand_in.thumbnails[params["videoId"]] = body
                    self._answer(200, {"kind": "youtube#thumbnailSetResponse", "items": [{"default": {"url": "x"}}]})
                elif url.path == "/upload/youtube/v3/captions":
                    boundary = self.headers["Content-Type"].split("boundary=", 1)[1].encode()
                    parts = [p.split(b"\r\n\r\n", 1)[1].rstrip(b"\r\n") for p in body.split(b"--" + boundary)[1:-1]]
                    metadata = json.loads(parts[0])
                    stand_in.captions[metadata["snippet"]["videoId"]] = (metadata, parts[1])
                    self._answer(200, {"kind": "youtube#caption", "id": uuid.uuid4().hex, **metadata})
                else:
                    self._error(404, "notFound", self.path)

            def do_PUT(self) -> None:
                session_id = urlsplit(self.path).path.rsplit("/", 1)[-1]
                if not self._authorized():
                    return
                session = stand_in.sessions.get(session_id)
                if session is None:
                    self._error(404, "notFound", "no such upload session")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                span = self.headers.get("Content-Range", "")
                if span.startswith("bytes */"):  # how far did the upload get?
                    if session.video_id:
                        self._answer(200, {"id": session.video_id, "kind": "youtube#video"})
                        return
                    got = len(session.received)
                    stand_in.log.append(f"PUT 308 bytes=0-{got - 1}" if got else "PUT 308 nothing")
                    self._answer(308, None, {"Range": f"bytes=0-{got - 1}"} if got else {})
                    return
                start = int(span.split(" ", 1)[1].split("-", 1)[0]) if span else 0
                if start != len(session.received):
                    self._error(400, "badContent", f"expected byte {len(session.received)}, got {start}")
                    return
                cut = stand_in.cut_after.pop(0) if stand_in.cut_after else None
                if cut is not None and cut < length:
                    session.received += self.rfile.read(cut)
                    stand_in.log.append(f"PUT cut after {cut} bytes")
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                data = self.rfile.read(length)
                if stand_in.fail_puts:
                    stand_in.fail_puts -= 1
                    stand_in.log.append("PUT 500")
                    self._error(500, "backendError", "Backend Error")
                    return
                session.received += data
                if len(session.received) < session.size:
                    got = len(session.received)
                    self._answer(308, None, {"Range": f"bytes=0-{got - 1}"})
                    return
                session.video_id = uuid.uuid4().hex[:11]
                stand_in.videos[session.video_id] = session
                stand_in.log.append(f"PUT 200 {session.video_id}")
                self._answer(200, {"kind": "youtube#video", "id": session.video_id, **session.resource})

        return Handler
