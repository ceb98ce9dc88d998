"""The links a gateway's answers carry: relative, or under AURA_PUBLIC_URL, never built from `Host`.

With a token set, the links a browser follows without headers (an
EventSource, a <video src>, a plain <a href>) are signed for one job's one
endpoint and expire (AURA_GATEWAY_LINK_TTL_S): the page never puts the token
itself in a URL, where access logs and browser histories keep it. The key is
derived from the token, so every gateway sharing the token accepts the links
and a new token voids the old ones.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from urllib.parse import parse_qs, urlencode

# what a signed link may open: one job's files and its stream, read-only
SIGNABLE = re.compile(r"^/api/videos/[0-9a-fA-F-]{36}/(stream|download|metadata|thumbnail|subtitles)$")


class Links:
    def __init__(self, public_url: str | None, token: str | None, ttl_s: int):
        self.base = (public_url or "").rstrip("/")
        self._key = hmac.new(token.encode(), b"aura signed links", hashlib.sha256).digest() if token else None
        self.ttl_s = ttl_s

    def job(self, job_id: str, endpoint: str, signed: bool = False) -> str:
        """/api/videos/<job>/<endpoint>, under the public URL; signed when asked and a token is set."""
        path = f"/api/videos/{job_id}/{endpoint}"
        if signed and self._key is not None:
            expires = int(time.time()) + self.ttl_s
            path += "?" + urlencode({"expires": expires, "signature": self._sign(path, expires)})
        return self.base + path

    def verify(self, method: str, path: str, query_string: bytes) -> bool:
        """Whether the request is a GET of a signable path with a signature of this key that has not expired."""
        if self._key is None or method not in ("GET", "HEAD") or not SIGNABLE.match(path):
            return False
        query = parse_qs(query_string.decode("latin-1"))
        try:
            expires = int((query.get("expires") or [""])[0])
        except ValueError:
            return False
        signature = (query.get("signature") or [""])[0]
        return expires >= time.time() and hmac.compare_digest(signature, self._sign(path, expires))

    def _sign(self, path: str, expires: int) -> str:
        assert self._key is not None
        return hmac.new(self._key, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()
