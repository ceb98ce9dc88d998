"""The webhook: a signed POST that tells a receiver (n8n, Zapier, a service of one's own) how a video's run ended.

The body is JSON; `X-Aura-Signature: sha256=<hex>` is the HMAC-SHA256 of the
raw body with AURA_WEBHOOK_SECRET, so a receiver can tell Aura's deliveries
from forgeries; `X-Aura-Delivery` is one id per event, the same on every
retry, so a receiver that got it twice can tell. A receiver that does not
answer, answers 5xx, 408 or 429 is tried again, the waits doubling, for up to
DELIVERY_WINDOW_S; any other answer ends the delivery. Delivery runs in a
thread of its own that the process waits for at its end, so a run's outcome
is never held up or changed by a receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from aura import __version__

EVENTS = {"completed": "video.completed", "failed": "video.failed", "crashed": "video.failed", "cancelled": "video.cancelled"}
DELIVERY_WINDOW_S = 600.0  # retried for up to 10 minutes
FIRST_RETRY_S = 2.0
MAX_RETRY_S = 120.0
ATTEMPT_TIMEOUT_S = 15.0
RETRIED_STATUSES = {408, 425, 429}
log = logging.getLogger("aura.runs")


def signature(body: bytes, secret: str) -> str:
    """The X-Aura-Signature header's value for this raw body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secret: str) -> bool:
    """What a receiver does (in constant time): does this header sign this body with the shared secret?"""
    return header is not None and hmac.compare_digest(header, signature(body, secret))


def event_payload(
    status: str, *, job_id: str, flow_run_id: str, video_url: str | None, duration_s: float | None,
    error: str | None, published: dict[str, str] | None = None,
) -> dict:  # fmt: skip
    """The event for a run that ended with this status (completed, failed, crashed, cancelled)."""
    return {
        "event": EVENTS[status],
        "jobId": job_id,
        "flowRunId": flow_run_id,
        "status": "failed" if status == "crashed" else status,
        "videoUrl": video_url,
        "durationSeconds": duration_s,
        "error": error,
        "publishedUrls": published or {},
        "sentAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


@dataclass
class Delivery:
    """One event on its way to one receiver; `attempts` and `outcome` say how it went."""

    url: str
    secret: str
    payload: dict
    delivery_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    window_s: float = DELIVERY_WINDOW_S
    attempts: int = 0
    outcome: str = "pending"

    def send(self) -> bool:
        """POST until the receiver answers 2xx, refuses, or the window passes; True once delivered."""
        body = json.dumps(self.payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"aura/{__version__}",
            "X-Aura-Event": self.payload["event"],
            "X-Aura-Delivery": self.delivery_id,
            "X-Aura-Signature": signature(body, self.secret),
        }
        deadline, wait = time.monotonic() + self.window_s, FIRST_RETRY_S
        with httpx.Client(timeout=ATTEMPT_TIMEOUT_S, follow_redirects=False) as client:
            while True:
                self.attempts += 1
                try:
                    answer = client.post(self.url, content=body, headers=headers)
                    status, why = answer.status_code, f"HTTP {answer.status_code}"
                except httpx.HTTPError as exc:
                    status, why = None, type(exc).__name__
                if status is not None and 200 <= status < 300:
                    self.outcome = f"delivered ({why})"
                    return True
                if status is not None and status < 500 and status not in RETRIED_STATUSES:
                    self.outcome = f"refused by the receiver ({why})"
                    return False
                if time.monotonic() + wait > deadline:
                    self.outcome = f"not delivered within {self.window_s:.0f} s (last: {why})"
                    return False
                log.warning("webhook %s to %s: attempt %d got %s, trying again in %.0f s", self.payload["event"],
                            _host(self.url), self.attempts, why, wait)  # fmt: skip
                time.sleep(wait)
                wait = min(wait * 2, MAX_RETRY_S)


def announce(url: str, secret: str, payload: dict) -> threading.Thread:
    """Deliver in a thread the process waits for before it exits (never a daemon: a delivery is not dropped)."""
    delivery = Delivery(url, secret, payload)

    def run() -> None:
        try:
            delivered = delivery.send()
        except Exception:  # noqa: BLE001 - a delivery never breaks the process it runs in
            log.exception("webhook %s to %s failed", payload["event"], _host(url))
            return
        log.log(logging.INFO if delivered else logging.ERROR, "webhook %s for job %s to %s: %s after %d attempt(s)",
                payload["event"], payload["jobId"], _host(url), delivery.outcome, delivery.attempts)  # fmt: skip

    thread = threading.Thread(target=run, name=f"aura-webhook-{delivery.delivery_id[:8]}", daemon=False)
    thread.start()
    _underway[:] = [*(t for t in _underway if t.is_alive()), thread]  # a long-lived worker keeps only live ones
    return thread


def finish_deliveries(on_wait: Callable[[], None] = lambda: None) -> None:
    """Wait for the deliveries still under way (a process that leaves by os._exit calls this first)."""
    pending = [thread for thread in _underway if thread.is_alive()]
    if pending:
        on_wait()
    for thread in pending:
        thread.join()


_underway: list[threading.Thread] = []


def _host(url: str) -> str:
    """The receiver in logs: its host, never a path or query that may hold a token."""
    return urlsplit(url).netloc or "the receiver"
