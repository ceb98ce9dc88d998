"""Tenants of one gateway: who a bearer token is, and what that tenant may start.

AURA_API_TOKENS names a TOML file, one table per tenant:

    [[tenant]]
    name = "acme"                      # lower-case letters, digits, - and _
    token_sha256 = "9f86d08...4c3"     # sha256 of the token, hex: `aura tenant-token acme` makes both
    jobs_at_once = 2                   # its runs at once; more wait in the queue (default 2)
    videos_per_day = 100               # videos started in any 24 hours (default: no limit)
    video_minutes_per_day = 60         # minutes of video asked for in any 24 hours (default: no limit)

Only hashes are kept, so the file reveals no token. A token is compared with
every tenant's hash in constant time (hmac.compare_digest, all of them, no
early exit), and is never logged. A tenant sees only its own jobs and uploads:
its runs carry the tag `tenant:<name>`, and anything else is answered as if it
did not exist (404, never a 403 that confirms it).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sys
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aura.errors import SystemCheckError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TAG_PREFIX = "tenant:"
MAX_TENANTS = 1000
MAX_JOBS_AT_ONCE = 100


class Tenant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$", description="Lower-case letters, digits, - and _ (at most 40).")]
    token_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the bearer token, 64 hex digits (aura tenant-token NAME makes a token and its hash).")]
    jobs_at_once: int = Field(default=2, ge=1, le=MAX_JOBS_AT_ONCE)
    videos_per_day: int | None = Field(default=None, ge=1, le=1_000_000)
    video_minutes_per_day: float | None = Field(default=None, gt=0, le=1_000_000)

    @field_validator("token_sha256", mode="before")
    @classmethod
    def _lower_hex(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def tag(self) -> str:
        return tenant_tag(self.name)


class _TenantsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: list[Tenant] = Field(min_length=1, max_length=MAX_TENANTS)


def tenant_tag(name: str) -> str:
    return f"{TAG_PREFIX}{name}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Tenants:
    """The tenants of AURA_API_TOKENS, by token."""

    def __init__(self, tenants: list[Tenant], source: bytes = b""):
        self.tenants = tenants
        self._hashes = [bytes.fromhex(t.token_sha256) for t in tenants]
        self.by_name = {t.name: t for t in tenants}
        # the signed links' key when no plain token exists: every gateway with the same file accepts its links
        self.link_secret = hashlib.sha256(b"aura tenants\n" + source).hexdigest()

    @classmethod
    def from_file(cls, path: Path) -> Tenants:
        """The file, checked: an error names the setting, the tenant and the field, and the limit broken."""
        where = f"AURA_API_TOKENS ({path})"
        try:
            source = Path(path).read_bytes()
        except OSError as exc:
            raise SystemCheckError(f"{where}: cannot read it ({exc.strerror or exc}): write the tenants file there") from None
        try:
            data = tomllib.loads(source.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise SystemCheckError(f"{where}: not valid TOML ({exc})") from None
        try:
            tenants = _TenantsFile.model_validate(data).tenant
        except ValidationError as exc:
            error = exc.errors()[0]
            loc = error.get("loc", ())
            field = "".join(f"[{p + 1}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(loc))
            message = error.get("msg", "invalid")
            if error.get("type") == "string_pattern_mismatch" and loc and loc[-1] in Tenant.model_fields:
                message = f"must be {Tenant.model_fields[loc[-1]].description[0].lower()}{Tenant.model_fields[loc[-1]].description[1:]}"
            raise SystemCheckError(f"{where}: {field or 'tenant'}: {message}") from None
        for attribute in ("name", "token_sha256"):
            seen: set[str] = set()
            for number, tenant in enumerate(tenants, start=1):
                value = getattr(tenant, attribute)
                if value in seen:
                    raise SystemCheckError(f"{where}: tenant[{number}].{attribute}: the same as an earlier tenant's: each must differ")
                seen.add(value)
        return cls(tenants, source)

    def identify(self, token: bytes) -> Tenant | None:
        """The tenant whose token this is; every hash is compared, so the time says nothing of which matched."""
        digest = hashlib.sha256(token).digest()
        found = None
        for tenant, expected in zip(self.tenants, self._hashes):
            if hmac.compare_digest(digest, expected) and found is None:
                found = tenant
        return found


def tenant_entry(name: str, token: str) -> str:
    """The TOML table for a tenant with this token (its hash only), with the limits at their defaults."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", name):
        raise SystemCheckError("name: lower-case letters, digits, - and _, at most 40, starting with a letter or digit")
    return (f'[[tenant]]\nname = "{name}"\ntoken_sha256 = "{token_hash(token)}"\njobs_at_once = 2\n'
            "# videos_per_day = 100\n# video_minutes_per_day = 60\n")  # fmt: skip
