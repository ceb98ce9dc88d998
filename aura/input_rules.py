"""Where the files a request names may come from.

A run started by the local `aura` command reads any path its user names: the
machine is theirs. Every other run (the REST gateway, the Prefect UI or API,
a deployment, a batch file) reads only

- an upload: `upload:<sha256>.<ext>`, the ref POST /api/uploads answers;
- a file of the artifact store: `store:<job>/<key>`;
- a path inside a folder the operator lists in AURA_INPUT_ROOTS, judged after
  every symlink and `..` is resolved.

The request model applies this rule, so every way of starting a run gets the
same answer before any work starts; the stages apply it again to each file
they open (a folder's files, a link changed since).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from aura.errors import AuraError
from aura.keys import check_job_id, check_key

UPLOAD_PREFIX = "upload:"
STORE_PREFIX = "store:"
UPLOADS_FOLDER = "uploads"  # the store's folder of uploads: job ids are Prefect run ids, never this
_UPLOAD_REF = re.compile(r"^upload:([0-9a-f]{64})(\.[a-z0-9]{1,10})$")
_URL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://|(?:file|data|https?|ftp|s3|gs|gcs|az):)", re.IGNORECASE)
HOW_TO_SUPPLY = (
    "upload the file (POST /api/uploads) and pass the ref it answers, name a file of the artifact store "
    "as store:<job>/<key>, or have the operator list its folder in AURA_INPUT_ROOTS"
)

# set by the `aura` command around its own run: only there is a path the user's own
_local_caller: ContextVar[bool] = ContextVar("aura_local_caller", default=False)


class InputRefused(ValueError):
    """A request names a file this run may not read, or names it in a form that is not accepted."""


@dataclass(frozen=True)
class InputSource:
    """What one entry of `references` or `music` names."""

    text: str  # as the request gave it
    kind: Literal["upload", "store", "path"]
    folder: str = ""  # upload or store: the store folder (a job id, or uploads)
    key: str = ""  # upload or store: the file's key in that folder
    path: Path | None = None  # a path: as given, `~` expanded

    @property
    def suffix(self) -> str:
        return (PurePosixPath(self.key).suffix if self.key else self.path.suffix if self.path else "").lower()


@contextlib.contextmanager
def local_caller() -> Iterator[None]:
    """Paths are the caller's own inside this block: the `aura` command on its user's machine."""
    token = _local_caller.set(True)
    try:
        yield
    finally:
        _local_caller.reset(token)


def is_local_caller() -> bool:
    return _local_caller.get()


def upload_ref(sha256: str, suffix: str) -> str:
    return f"{UPLOAD_PREFIX}{sha256}{suffix}"


def parse(text: str) -> InputSource:
    """The entry's kind and parts; InputRefused for a malformed ref, a store key that climbs out, a URL."""
    if text.startswith(UPLOAD_PREFIX):
        match = _UPLOAD_REF.match(text)
        if not match:
            raise InputRefused(
                f"{shown_entry(text)} is not an upload ref: refs look like upload:<64 hex digits>.<ext>, "
                "as POST /api/uploads answers them"
            )
        return InputSource(text, "upload", folder=UPLOADS_FOLDER, key=match.group(1) + match.group(2))
    if text.startswith(STORE_PREFIX):
        folder, _, key = text[len(STORE_PREFIX) :].partition("/")
        try:
            check_job_id(folder)
            check_key(key)
        except AuraError:
            raise InputRefused(
                f"{shown_entry(text)} is not a store key: write store:<job>/<key>, a file inside a job's folder "
                "(no '..', no absolute path)"
            ) from None
        return InputSource(text, "store", folder=folder, key=key)
    if _URL.match(text):
        how = "give the file's path" if is_local_caller() else HOW_TO_SUPPLY
        raise InputRefused(f"{shown_entry(text)} is a URL, and URLs are not read: {how}")
    return InputSource(text, "path", path=Path(text).expanduser())


def check(text: str) -> InputSource:
    """`parse`, and for a path: this run may read it (see `allowed_path`)."""
    source = parse(text)
    if source.path is not None:
        allowed_path(source.path, text)
    return source


def allowed_path(path: Path, shown: str | None = None) -> Path:
    """The path made absolute, when this run may read it; InputRefused otherwise.

    Judged on the real path (symlinks and `..` resolved), so a link inside a
    root that leads out of it is refused like the place it leads to.
    """
    if is_local_caller():
        return Path(os.path.abspath(path))
    shown = shown_entry(shown or str(path))
    roots = input_roots()
    if not roots:
        raise InputRefused(
            f"{shown} is a path on the server, and only the local `aura` command reads paths: {HOW_TO_SUPPLY}"
        )
    real = Path(os.path.realpath(path))
    if not any(real == root or root in real.parents for root in roots):
        raise InputRefused(f"{shown} is outside the folders of AURA_INPUT_ROOTS (after links and '..'): {HOW_TO_SUPPLY}")
    return real


def input_roots() -> list[Path]:
    """AURA_INPUT_ROOTS, each folder by its real path."""
    from aura.settings import get_settings  # read when a run names a path, not when the model is imported

    return [Path(os.path.realpath(Path(root).expanduser())) for root in get_settings().input_roots]


def shown_entry(text: str, limit: int = 80) -> str:
    """The entry as an error names it: quoted, short, to the local `aura` command's own user; to any other
    caller "the entry" (the error names its field), so no answer echoes what a caller sent."""
    if not is_local_caller():
        return "the entry"
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
