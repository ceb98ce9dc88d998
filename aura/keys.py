"""Names inside the artifact store: a job folder's id and a file's key in it.

Kept apart from the store itself so that the request model can check a
`store:<job>/<key>` reference without importing the store.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from aura.errors import AuraError

JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_job_id(job_id: str) -> str:
    if not JOB_ID.match(job_id):
        raise AuraError(f"invalid job id {job_id[:80]!r}: letters, digits, '-', '_' and '.' only")
    return job_id


def check_key(key: str) -> str:
    """A relative path inside a job folder: no `..`, no `.`, no absolute path, no temporary name."""
    parts = PurePosixPath(key).parts
    if (
        not parts or key.startswith("/") or "\\" in key or "\x00" in key
        or any(p in ("..", ".") or p.startswith(".tmp-") for p in parts)
    ):  # fmt: skip
        raise AuraError(f"invalid artifact key {key[:80]!r}: keys are relative paths inside the job folder")
    return key
