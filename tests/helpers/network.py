"""The network edge, made local: a proxy that never answers, a port that refuses."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler

import pytest


@pytest.fixture
def silent_proxy():
    """A local server that accepts connections and never says a word: a dead network."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return  # closed at teardown
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for conn in held:
        conn.close()


def free_port() -> int:
    """A local port nobody listens on (yet)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


@pytest.fixture
def refused_port() -> int:
    """A local port nobody listens on."""
    return free_port()


def use_proxy(monkeypatch, port: int) -> None:
    """Send HTTPS (and websocket) traffic through a local port."""
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def no_proxy(monkeypatch):
    """No proxy from the environment: local endpoints are reached directly."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


class QuietHandler(BaseHTTPRequestHandler):
    """A stand-in's request handler: HTTP/1.1 (keep-alive, as real services speak), no access log on stderr."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass


class LocalHTTPServer:
    """A threaded HTTP server on a free loopback port for a stand-in of a service: `url`, started by `with`.

    A subclass passes its BaseHTTPRequestHandler class (HTTP/1.1, quiet); `stop` may be called early (a server
    that dies) and again at the end.
    """

    def __init__(self, handler) -> None:
        from http.server import ThreadingHTTPServer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._closing = threading.Lock()
        self._closed = False
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        with self._closing:
            if self._closed:
                return
            self._closed = True
        self._server.shutdown()
        self._server.server_close()
