"""What the gateway hands a caller: their own job, without the server's paths or the operator's documents.

A job's metadata.json is written for whoever runs it (the `aura` command
keeps its user's paths in it). Before it leaves the gateway every absolute
path in it, and in a job's status messages, becomes `…/<file name>`, and
passages of documents the caller did not supply (AURA_REFERENCE_DIR) lose
their excerpt.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

# an absolute POSIX path: a "/" that starts a word (not the one of "km/h", "1/2" or "http://")
_SEGMENT = r"[^\s/'\"`<>|,;:()\[\]{}]+"
_ABSOLUTE_PATH = re.compile(rf"(?<![\w.~:/\\-])/{_SEGMENT}(?:/{_SEGMENT})*/?")


class Problem(BaseModel):
    """An error answer: what went wrong, and what to do."""

    detail: str


def without_paths(text: str) -> str:
    """`text` with each absolute path cut to its last part: "ffmpeg at /usr/bin/ffmpeg" -> "ffmpeg at …/ffmpeg"."""
    return _ABSOLUTE_PATH.sub(lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


def public_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """The metadata a caller may read: no server path anywhere, no excerpt of the operator's documents."""
    cleaned = _scrub(metadata)
    request, original = cleaned.get("request"), metadata.get("request")
    if isinstance(request, dict) and isinstance(original, dict):
        for own in ("brief", "title", "audience"):  # the caller's own words, as they sent them
            if own in original:
                request[own] = original[own]
    for passages in (cleaned.get("references"), (cleaned.get("script") or {}).get("sources")):
        for passage in passages or []:
            if isinstance(passage, dict) and passage.get("origin") == "operator":
                passage.pop("excerpt", None)
    return cleaned


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return without_paths(value)
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value
