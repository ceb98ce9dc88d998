"""A local OpenAI-compatible speech endpoint that answers real speech: the network edge, made real.

`POST /v1/audio/speech` takes OpenAI's documented body ({model, input, voice, response_format,
speed}) and answers the input spoken by aura's espeak-ng engine, encoded by ffmpeg in the
requested format with that format's content type. `GET /v1/audio/voices` answers
Kokoro-FastAPI's shape, {"voices": [...]}.

Each speech request takes the next behaviour from a list: "ok" answers audio, "fail" answers
HTTP 500, "unauthorized" answers 401 quoting the key it got (as OpenAI does), "hang" accepts and
never answers (until the server stops), "empty" answers 200 with no bytes. Every request is recorded (path, headers, JSON body) for the tests to assert on.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "pcm": "audio/pcm",
}
# ffmpeg output options per response_format; OpenAI's "opus" is Ogg Opus, its "aac" ADTS
_ENCODE = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"],
    "wav": ["-c:a", "pcm_s16le", "-f", "wav"],
    "opus": ["-c:a", "libopus", "-b:a", "32k", "-f", "ogg"],
    "aac": ["-c:a", "aac", "-b:a", "64k", "-f", "adts"],
    "flac": ["-c:a", "flac", "-f", "flac"],
    "pcm": ["-c:a", "pcm_s16le", "-ar", "24000", "-f", "s16le"],
}
BASE_RATE_WPM = 165  # espeak-ng's pace at speed 1.0


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict = field(default_factory=dict)
    at: float = 0.0  # time.monotonic() when it arrived


def encode(text: str, fmt: str = "mp3", speed: float | None = None, voice: str | None = None) -> bytes:
    """`text` spoken by espeak-ng, encoded as `fmt` by ffmpeg (what a real speech service answers)."""
    from aura.media.ffmpeg import ffmpeg_path
    from aura.providers.tts.espeak import EspeakTTS

    rate = round(BASE_RATE_WPM * (speed or 1.0))
    speech = EspeakTTS().synthesize(text, language="en", rate_wpm=rate)
    cmd = [
        ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error",
        "-f", "s16le", "-ar", str(speech.sample_rate), "-ac", "1", "-i", "pipe:0",
        *_ENCODE[fmt], "pipe:1",
    ]  # fmt: skip
    proc = subprocess.run(cmd, input=speech.pcm, capture_output=True, timeout=60, check=False)
    if proc.returncode != 0 or not proc.stdout:
        raise RuntimeError(f"ffmpeg could not encode {fmt}: {proc.stderr.decode(errors='replace')[-500:]}")
    return proc.stdout


class SpeechServer:
    """Runs on 127.0.0.1 on a free port in a thread; a context manager."""

    def __init__(self, behaviours: list[str] | None = None, repeat_last: bool = True, voices: list[str] | None = None):
        self.behaviours = list(behaviours or ["ok"])
        self.repeat_last = repeat_last
        self.voices = list(voices if voices is not None else ["af_bella", "am_adam", "bf_emma"])
        self.requests: list[Recorded] = []  # every request, speech and voices alike
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._speech_count = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                server._record(self, {})
                if self.path.rstrip("/") == "/v1/audio/voices":
                    self._send(200, json.dumps({"voices": server.voices}).encode(), "application/json")
                else:
                    self._error(404, "not found")

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                server._record(self, body)
                if self.path.rstrip("/") != "/v1/audio/speech":
                    self._error(404, "not found")
                    return
                behaviour = server._next()
                if behaviour == "hang":
                    server._stop.wait(120)
                    self.close_connection = True
                    return
                if behaviour == "fail":
                    self._error(500, "scripted failure")
                    return
                if behaviour == "unauthorized":  # OpenAI's 401 quotes the key it refused
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    self._error(401, f"Incorrect API key provided: {token}.", "invalid_api_key")
                    return
                fmt = body.get("response_format") or "mp3"
                if fmt not in _ENCODE:
                    self._error(400, f"unsupported response_format {fmt!r}")
                    return
                if not isinstance(body.get("input"), str) or not body["input"].strip():
                    self._error(400, "input is required")
                    return
                if behaviour == "empty":
                    self._send(200, b"", CONTENT_TYPES[fmt])
                    return
                audio = encode(body["input"], fmt, body.get("speed"), body.get("voice"))
                self._send(200, audio, CONTENT_TYPES[fmt])

            def _error(self, status: int, message: str, code: str | None = None) -> None:
                kind = "server_error" if status >= 500 else "invalid_request_error"
                payload = {"error": {"message": message, "type": kind, "code": code}}
                self._send(status, json.dumps(payload).encode(), "application/json")

            def _send(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="speech-server", daemon=True)

    def _record(self, handler: BaseHTTPRequestHandler, body: dict) -> None:
        with self._lock:
            self.requests.append(Recorded(handler.path, {k.lower(): v for k, v in handler.headers.items()}, body, time.monotonic()))

    def _next(self) -> str:
        with self._lock:
            index = self._speech_count
            self._speech_count += 1
            if index < len(self.behaviours):
                return self.behaviours[index]
            return self.behaviours[-1] if self.repeat_last else "fail"

    @property
    def speech_requests(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path.rstrip("/") == "/v1/audio/speech"]

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """The api_base a client is given: OpenAI's shape, ending in /v1."""
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> SpeechServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()  # hung handlers return
        self._httpd.shutdown()
        self._httpd.server_close()


def running_servers():
    """A generator for a fixture: yields a factory, `make(["fail", "ok"])`, and stops every server it started."""
    started: list[SpeechServer] = []

    def make(behaviours: list[str] | None = None, **kwargs) -> SpeechServer:
        server = SpeechServer(behaviours, **kwargs).__enter__()
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.__exit__(None, None, None)


@pytest.fixture
def speech_server():
    """`speech_server(["fail", "ok"])` starts a server that is stopped after the test."""
    yield from running_servers()
