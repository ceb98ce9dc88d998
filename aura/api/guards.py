"""Who may talk to the gateway by name: the Host it answers to, and, without a token, pages of other sites.

A pure ASGI middleware, outermost, before any body is read or token checked:
- `Host` must be one the operator lists (AURA_ALLOWED_HOSTS), loopback's names,
  AURA_PUBLIC_URL's or the address the gateway binds to. A browser page of
  another site that makes its own name point at 127.0.0.1 (DNS rebinding)
  sends its own name as Host, and is refused.
- Without a token, a request that changes something (POST, PUT, PATCH, DELETE)
  from a page of another origin (its `Origin` header) is refused: another
  site's form cannot start jobs or upload files through a user's browser.
  Clients that are no browser (curl, the SDKs) send no Origin and pass.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def host_name(host: str) -> str:
    """'Example.com:8000' -> 'example.com', '[::1]:8000' -> '::1'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def allowed_hosts(configured: list[str], public_url: str | None, bind_host: str | None) -> list[str]:
    hosts = [*LOOPBACK_HOSTS, *(host_name(h) if h != "*" else "*" for h in configured)]
    if public_url:
        hosts.append(host_name(urlsplit(public_url).netloc))
    if bind_host and bind_host not in ("0.0.0.0", "::", ""):
        hosts.append(host_name(bind_host))
    return list(dict.fromkeys(hosts))


class RequestGuard:
    def __init__(self, app: ASGIApp, hosts: list[str], refuse_foreign_origins: bool, public_url: str | None = None):
        self.app = app
        self.hosts = hosts
        self.refuse_foreign_origins = refuse_foreign_origins
        self.public_origin = _origin(public_url) if public_url else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope.get("headers", [])}
        host = headers.get("host", "")
        if not self._host_allowed(host):
            detail = ("the Host header names no host this gateway answers to: call it by an allowed name, or add "
                      "the name to AURA_ALLOWED_HOSTS (or set AURA_PUBLIC_URL)")  # fmt: skip
            await JSONResponse({"detail": detail}, status_code=400)(scope, receive, send)
            return
        origin = headers.get("origin")
        if self.refuse_foreign_origins and scope.get("method") not in _SAFE_METHODS and origin is not None:
            if origin.lower() not in (f"http://{host}".lower(), f"https://{host}".lower(), self.public_origin):
                detail = ("a request from a page of another site is refused: this gateway has no AURA_API_TOKEN, "
                          "so only its own page and clients that are no browser may change anything")  # fmt: skip
                await JSONResponse({"detail": detail}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _host_allowed(self, host: str) -> bool:
        name = host_name(host)
        if not name:
            return False
        for allowed in self.hosts:
            if allowed == "*" or name == allowed or (allowed.startswith("*.") and name.endswith(allowed[1:])):
                return True
        return False


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
