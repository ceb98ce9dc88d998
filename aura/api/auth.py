"""Bearer-token auth for every endpoint of the gateway, when AURA_API_TOKEN is set.

A pure ASGI middleware, so nothing escapes it (the page, the OpenAPI schema and
the docs included). Browsers cannot put a header on an EventSource or a
<video src>, so `?access_token=` is accepted as well.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

HINT = "send 'Authorization: Bearer <token>' (or ?access_token=<token>) with the token set in AURA_API_TOKEN"


class BearerAuth:
    def __init__(self, app: ASGIApp, token: str):
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._allowed(scope):
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
        if not supplied:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            supplied = (query.get("access_token") or [""])[0].encode()
        return hmac.compare_digest(supplied, self.token)
