"""Bearer-token auth for every endpoint of the gateway, when AURA_API_TOKEN is set.

A pure ASGI middleware, so nothing escapes it (the OpenAPI schema and the docs
included) but the page and its static files, which hold no data: the page asks
for the token and sends it in headers. Browsers cannot put a header on an
EventSource, an <img> or a <video src>: those follow the signed links the
answers carry (aura.api.links). `?access_token=` is still accepted (access logs
never show it, aura.api.access_log).
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from aura.api.links import Links

PUBLIC_FILES = ("/", "/favicon.ico")  # the page and its files hold no data: it asks for the token itself
HINT = "send 'Authorization: Bearer <token>' (or ?access_token=<token>) with the token set in AURA_API_TOKEN"


class BearerAuth:
    def __init__(self, app: ASGIApp, token: str, links: Links):
        self.app = app
        self.token = token.encode()
        self.links = links

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _public(scope) or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        response = JSONResponse({"detail": f"missing or wrong bearer token: {HINT}"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
        await response(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        supplied = b""
        for name, value in scope.get("headers", []):
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                supplied = value[7:].strip()
        query_string = scope.get("query_string", b"")
        if not supplied:
            if self.links.verify(scope.get("method", ""), scope.get("path", ""), query_string):
                return True
            query = parse_qs(query_string.decode("latin-1"))
            supplied = (query.get("access_token") or [""])[0].encode()
        return hmac.compare_digest(supplied, self.token)


def _public(scope: Scope) -> bool:
    path = scope.get("path", "")
    return scope.get("method") in ("GET", "HEAD") and (path in PUBLIC_FILES or path.startswith("/static/"))
