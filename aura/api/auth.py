"""Bearer-token auth for every endpoint of the gateway, when AURA_API_TOKEN or AURA_API_TOKENS is set.

A tenant's token (AURA_API_TOKENS, aura.api.tenants) puts the tenant in the
request's state (`request.state.tenant`): the routes answer it with its own
jobs only. The plain AURA_API_TOKEN is the operator's (no tenant: every job),
and so is a signed link, which opens one job's one endpoint only.

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
from aura.api.tenants import Tenant, Tenants

PUBLIC_FILES = ("/", "/favicon.ico")  # the page and its files hold no data: it asks for the token itself
HINT = ("send 'Authorization: Bearer <token>' (or ?access_token=<token>) with your token (AURA_API_TOKEN, or a "
        "tenant's of AURA_API_TOKENS)")
OPERATOR = object()  # the plain token or a signed link: no tenant's limits


class BearerAuth:
    def __init__(self, app: ASGIApp, token: str | None, links: Links, tenants: Tenants | None = None):
        self.app = app
        self.token = token.encode() if token else None
        self.tenants = tenants
        self.links = links

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _public(scope):
            await self.app(scope, receive, send)
            return
        who = self._caller(scope)
        if who is not None:
            scope.setdefault("state", {})["tenant"] = who if isinstance(who, Tenant) else None
            await self.app(scope, receive, send)
            return
        response = JSONResponse({"detail": f"missing or wrong bearer token: {HINT}"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
        await response(scope, receive, send)

    def _caller(self, scope: Scope) -> Tenant | object | None:
        """The tenant, OPERATOR, or None (refused)."""
        supplied = b""
        for name, value in scope.get("headers", []):
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                supplied = value[7:].strip()
        query_string = scope.get("query_string", b"")
        if not supplied:
            if self.links.verify(scope.get("method", ""), scope.get("path", ""), query_string):
                return OPERATOR
            query = parse_qs(query_string.decode("latin-1"))
            supplied = (query.get("access_token") or [""])[0].encode()
        if not supplied:
            return None
        tenant = self.tenants.identify(supplied) if self.tenants else None
        operator = self.token is not None and hmac.compare_digest(supplied, self.token)
        return tenant or (OPERATOR if operator else None)


def tenant_of(request) -> Tenant | None:
    """The calling tenant (None: the operator, a signed link, or a gateway without tenants)."""
    return getattr(request.state, "tenant", None)


def _public(scope: Scope) -> bool:
    path = scope.get("path", "")
    return scope.get("method") in ("GET", "HEAD") and (path in PUBLIC_FILES or path.startswith("/static/"))
