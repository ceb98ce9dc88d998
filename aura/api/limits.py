"""Request bodies are bounded while they stream in: past the limit the answer is a small 413, and a body
that stops arriving for AURA_GATEWAY_BODY_TIMEOUT_S is a 408.

A pure ASGI middleware, outside FastAPI, so no body is ever read whole before
it is judged: a declared Content-Length over the limit is refused before a
byte is read, and a chunked body is counted as it arrives. What is left of a
refused body is read and dropped (up to DRAIN_BYTES) before the answer goes
out: a client still sending would otherwise see its connection reset and
never read the 413.
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_LIMIT_BYTES = 1 << 20  # a VideoRequest is a few KiB at most (4,000-character brief, 20 references)
MULTIPART_SLACK_BYTES = 1 << 20  # an upload's body: the file, its part headers and boundaries
DRAIN_BYTES = 64 << 20  # read and dropped at most, so that the client reads the 413


class _TooLarge(HTTPException):
    """Raised from inside the app's read of the body: an HTTPException, so FastAPI answers it as it is (413)."""

    def __init__(self, rule: str):
        super().__init__(413, f"{rule}: this one is larger", headers={"Connection": "close"})


class _TooSlow(HTTPException):
    def __init__(self, timeout_s: float):
        super().__init__(408, f"the request body stopped arriving for {timeout_s:g} s (AURA_GATEWAY_BODY_TIMEOUT_S): "
                         "send it again", headers={"Connection": "close"})  # fmt: skip


DEFAULT_LIMIT = (JSON_LIMIT_BYTES, "a request body may be at most 1 MiB")


class BodyLimit:
    """`limits`: path -> (bytes, what the 413 says); other paths get DEFAULT_LIMIT. `idle_timeout_s`: the
    longest wait for the body's next bytes."""

    def __init__(self, app: ASGIApp, limits: dict[str, tuple[int, str]], idle_timeout_s: float = 30.0):
        self.app = app
        self.limits = limits
        self.idle_timeout_s = idle_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, rule = self.limits.get(scope["path"], DEFAULT_LIMIT)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            if declared <= limit + DRAIN_BYTES:
                await self._drain(receive)
            await _refuse(rule, scope, send)
            return
        received, complete = 0, False

        async def counted() -> Message:
            nonlocal received, complete
            if complete:  # past the body, receive() waits for the client to leave (streams): no deadline
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.idle_timeout_s)
            except asyncio.TimeoutError:
                raise _TooSlow(self.idle_timeout_s) from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if message.get("more_body", False):
                        await self._drain(receive)
                    raise _TooLarge(rule)  # Starlette's exception middleware answers it, from any route
            return message

        await self.app(scope, counted, send)

    async def _drain(self, receive: Receive) -> None:
        try:
            await asyncio.wait_for(_drain_all(receive), self.idle_timeout_s)
        except asyncio.TimeoutError:
            pass  # a client too slow to be drained gets its answer anyway


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _drain_all(receive: Receive) -> None:
    dropped = 0
    while dropped <= DRAIN_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        dropped += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def _refuse(rule: str, scope: Scope, send: Send) -> None:
    refused = _TooLarge(rule)
    response = JSONResponse({"detail": refused.detail}, status_code=refused.status_code, headers=refused.headers)

    async def no_body() -> Message:
        return {"type": "http.disconnect"}

    await response(scope, no_body, send)
