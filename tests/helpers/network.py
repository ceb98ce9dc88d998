"""The network edge, made local: a proxy that never answers, a port that refuses."""

from __future__ import annotations

import socket
import threading

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
