"""A local webhook receiver that does what a receiver should: check X-Aura-Signature against the raw body.

Each delivery is kept with whether its signature held; `refuse` answers the
next deliveries 503 (the sender must try again); `status` is the answer to
the others.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass

from helpers.network import LocalHTTPServer, QuietHandler


@dataclass(frozen=True)
class Received:
    body: dict
    raw: bytes
    headers: dict[str, str]
    signed: bool  # the HMAC-SHA256 of the raw body with the shared secret matches the header


class WebhookReceiver(LocalHTTPServer):
    def __init__(self, secret: str):
        self.secret = secret
        self.received: list[Received] = []
        self.refuse = 0
        self.status = 204  # the answer to a delivery it takes (401: as a receiver that rejects it)
        self._arrived = threading.Condition()
        super().__init__(self._handler())
        self.url += "/hooks/aura"

    def env(self) -> dict[str, str]:
        return {"AURA_PUBLISH": "webhook", "AURA_WEBHOOK_URL": self.url, "AURA_WEBHOOK_SECRET": self.secret}

    def wait_for(self, count: int, timeout_s: float = 60) -> list[Received]:
        """The first `count` deliveries, once they arrived."""
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.received)} of {count} webhook deliveries arrived"
                self._arrived.wait(left)
            return list(self.received[:count])

    def _handler(self):
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.refuse:
                    receiver.refuse -= 1
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                expected = "sha256=" + hmac.new(receiver.secret.encode(), raw, hashlib.sha256).hexdigest()
                given = self.headers.get("X-Aura-Signature", "")
                with receiver._arrived:
                    receiver.received.append(Received(json.loads(raw), raw, dict(self.headers.items()),
                                                      hmac.compare_digest(expected, given)))  # fmt: skip
                    receiver._arrived.notify_all()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler
