"""The gateway's connections: a deadline for a request's headers, and a cap on one client's connections.

uvicorn bounds the size of a request's headers and the idle time between
requests, but not the time its headers take: a client sending a byte now
and then (or nothing at all) would hold a connection for ever. This is
uvicorn's own h11 protocol with a deadline from the first byte of a request
(or the connection's opening) to its last header, and a count of the open
connections of each client address; a body that stops arriving is the
business of aura.api.limits (at the ASGI level).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("aura.api")

_TOO_SLOW = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
_BUSY_BODY = b'{"detail": "too many connections from this address: close some (AURA_GATEWAY_CLIENT_CONNECTIONS)"}'
_TOO_MANY = (
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY
)


def guarded_protocol(header_timeout_s: float, client_connections: int) -> type[H11Protocol]:
    """uvicorn's h11 protocol with these limits (its `http=` setting takes the class)."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"header_timeout_s": header_timeout_s,
                                                              "client_connections": client_connections,
                                                              "open_by_client": Counter()})  # fmt: skip


class GuardedH11Protocol(H11Protocol):
    header_timeout_s: float = 10.0
    client_connections: int = 32
    open_by_client: Counter[str] = Counter()

    _deadline: asyncio.TimerHandle | None = None
    _counted: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else ""
        if self.open_by_client[address] >= self.client_connections:
            log.warning("refused a connection: %d already open from one address", self.client_connections)
            transport.write(_TOO_MANY)
            transport.close()
            return
        self.open_by_client[address] += 1
        self._counted = address
        self._watch_headers()  # a client that connects and sends nothing is timed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_watch()
        if self._counted is not None:
            self.open_by_client[self._counted] -= 1
            if self.open_by_client[self._counted] <= 0:
                del self.open_by_client[self._counted]
            self._counted = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._stop_watch()  # between requests uvicorn's keep-alive timeout rules; the next request's bytes re-arm it

    def _watch_headers(self) -> None:
        """Armed while the client owes a request's headers (h11 waits, IDLE), from its first byte or the
        connection's opening; disarmed once they are in. Between requests uvicorn's keep-alive timeout rules."""
        if self.conn.their_state is not h11.IDLE:
            self._stop_watch()
        elif self._deadline is None and not self.transport.is_closing():
            self._deadline = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _stop_watch(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.info("closed a connection whose request headers took over %g s", self.header_timeout_s)
            self.transport.write(_TOO_SLOW)
            self.transport.close()
