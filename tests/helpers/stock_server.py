"""A local stand-in for the Pexels and Pixabay APIs and their media hosts, with a log of what was asked.

Searches answer what the test registered for the path (and query), checking
the key where each API takes it: Pexels in the Authorization header (else
401), Pixabay in the `key` parameter (else 400). Media files are served
under /media/, with or without a Content-Length. `fail` scripts errors
answered before the real ones (a 429 with Retry-After, a 503).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PEXELS_PATHS = {"/v1/search": "photos", "/videos/search": "videos"}
PIXABAY_PATHS = ("/api/", "/api/videos/")


@dataclass(frozen=True)
class Asked:
    """One request the stand-in received."""

    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass(frozen=True)
class Served:
    data: bytes
    content_type: str
    with_length: bool


class StockServer:
    def __init__(self, key: str):
        self.key = key
        self.requests: list[Asked] = []
        self._answers: dict[tuple[str, str | None], dict] = {}
        self._files: dict[str, Served] = {}
        self._faults: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = {name: values[0] for name, values in parse_qs(parts.query).items()}
                asked = Asked(parts.path, params, {k.lower(): v for k, v in self.headers.items()})
                status, headers, body = server._answer(asked)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # --- what the test sets up

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def answer(self, path: str, payload: dict, query: str | None = None) -> None:
        """The JSON answer of a search path, for one query or (None) for any."""
        self._answers[(path, query)] = payload

    def add_file(self, name: str, data: bytes, content_type: str = "video/mp4", with_length: bool = True) -> str:
        """Serve `data` at /media/<name>; returns its URL."""
        self._files[f"/media/{name}"] = Served(data, content_type, with_length)
        return f"{self.url}/media/{name}"

    def fail(self, path: str, status: int, times: int = 1, headers: dict[str, str] | None = None) -> None:
        """Answer the next `times` requests for `path` with `status`."""
        self._faults.setdefault(path, []).extend([(status, headers or {})] * times)

    # --- what the test checks

    def asked(self, path: str) -> list[Asked]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def downloads(self) -> list[str]:
        """The media paths asked for, in order."""
        with self._lock:
            return [r.path for r in self.requests if r.path.startswith("/media/")]

    # --- answering

    def _answer(self, asked: Asked) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(asked)
            faults = self._faults.get(asked.path)
            fault = faults.pop(0) if faults else None
        if fault:
            status, headers = fault
            answer = _json(status, {"error": "scripted"})
            return status, {**answer[1], **headers}, answer[2]
        if asked.path in self._files:
            served = self._files[asked.path]
            headers = {"Content-Type": served.content_type}
            if served.with_length:
                headers["Content-Length"] = str(len(served.data))
            return 200, headers, served.data  # without a length the body ends when the connection closes
        if asked.path in PEXELS_PATHS:
            if asked.headers.get("authorization") != self.key:
                return _json(401, {"error": "Unauthorized"})
            return _json(200, self._search(asked, asked.params.get("query"), {PEXELS_PATHS[asked.path]: [], "total_results": 0}))
        if asked.path in PIXABAY_PATHS:
            if asked.params.get("key") != self.key:
                return 400, {"Content-Type": "text/plain"}, b"[ERROR 400] Invalid or missing API key"
            return _json(200, self._search(asked, asked.params.get("q"), {"total": 0, "totalHits": 0, "hits": []}))
        return _json(404, {"error": "Not Found"})

    def _search(self, asked: Asked, query: str | None, empty: dict) -> dict:
        return self._answers.get((asked.path, query)) or self._answers.get((asked.path, None)) or empty

    def __enter__(self) -> StockServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _json(status: int, payload: dict) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(payload).encode()
    return status, {"Content-Type": "application/json", "Content-Length": str(len(data))}, data


# ---------------------------------------------------------------- answers shaped like the APIs'


def pexels_video(media_id: int, files: list[tuple[int, int, str]], duration: int = 10) -> dict:
    """A Pexels video with mp4 files (width, height, link) and, as Pexels has, an HLS entry with no size."""
    width, height = max(((w, h) for w, h, _ in files), key=lambda s: s[0] * s[1])
    video_files = [
        {"id": media_id * 10 + n, "quality": "hd" if min(w, h) >= 720 else "sd", "file_type": "video/mp4",
         "width": w, "height": h, "fps": 25, "link": link}
        for n, (w, h, link) in enumerate(files)
    ] + [{"id": media_id * 10 + 9, "quality": None, "file_type": "video/hls", "width": None, "height": None,
          "fps": None, "link": f"https://player.vimeo.com/external/{media_id}.m3u8"}]  # fmt: skip
    return {
        "id": media_id, "width": width, "height": height, "duration": duration,
        "url": f"https://www.pexels.com/video/clip-{media_id}/", "image": f"https://images.pexels.com/videos/{media_id}/x.jpeg",
        "user": {"id": media_id + 1000, "name": f"Videographer {media_id}", "url": f"https://www.pexels.com/@videographer-{media_id}"},
        "video_files": video_files, "video_pictures": [],
    }  # fmt: skip


def pexels_photo(media_id: int, width: int, height: int, original: str) -> dict:
    variants = {
        "large2x": "?auto=compress&cs=tinysrgb&dpr=2&h=650&w=940", "large": "?auto=compress&cs=tinysrgb&h=650&w=940",
        "medium": "?auto=compress&cs=tinysrgb&h=350", "small": "?auto=compress&cs=tinysrgb&h=130",
        "portrait": "?auto=compress&cs=tinysrgb&fit=crop&h=1200&w=800",
        "landscape": "?auto=compress&cs=tinysrgb&fit=crop&h=627&w=1200", "tiny": "?auto=compress&cs=tinysrgb&dpr=1&fit=crop&h=200&w=280",
    }  # fmt: skip
    return {
        "id": media_id, "width": width, "height": height, "url": f"https://www.pexels.com/photo/photo-{media_id}/",
        "photographer": f"Photographer {media_id}", "photographer_url": f"https://www.pexels.com/@photographer-{media_id}",
        "photographer_id": media_id + 2000, "avg_color": "#7E7E7E", "alt": "a test photo",
        "src": {"original": original, **{name: original + query for name, query in variants.items()}},
    }  # fmt: skip


def pixabay_video(media_id: int, renditions: dict[str, tuple[int, int, str, int]], duration: int = 10) -> dict:
    """A Pixabay video hit: renditions by name (large, medium, small, tiny) as (width, height, url, bytes)."""
    videos = {
        name: {"url": "", "width": 0, "height": 0, "size": 0, "thumbnail": ""} for name in ("large", "medium", "small", "tiny")
    }
    for name, (w, h, url, size) in renditions.items():
        videos[name] = {"url": url, "width": w, "height": h, "size": size, "thumbnail": ""}
    return {
        "id": media_id, "pageURL": f"https://pixabay.com/videos/clip-{media_id}/", "type": "film", "tags": "test",
        "duration": duration, "videos": videos, "views": 1, "downloads": 1, "likes": 1, "comments": 0,
        "user_id": media_id + 3000, "user": f"maker{media_id}", "userImageURL": "",
    }  # fmt: skip


def pixabay_photo(media_id: int, width: int, height: int, urls: dict[str, str]) -> dict:
    """A Pixabay image hit; `urls` gives webformatURL, largeImageURL (and fullHDURL with full access)."""
    return {
        "id": media_id, "pageURL": f"https://pixabay.com/photos/photo-{media_id}/", "type": "photo", "tags": "test",
        "previewURL": urls.get("webformatURL", ""), "imageWidth": width, "imageHeight": height, "imageSize": 1,
        "views": 1, "downloads": 1, "likes": 1, "comments": 0, "user_id": media_id + 4000, "user": f"shooter{media_id}",
        "userImageURL": "", **urls,
    }  # fmt: skip
