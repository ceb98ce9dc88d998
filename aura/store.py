"""The artifact store: one folder per job, files addressed by key.

The root is an fsspec URL (a local folder by default). Stages work on local
files (ffmpeg needs paths), so a job has a local folder; when the root is a
remote filesystem each committed file is also uploaded under the same key.
Files are written under a temporary name and renamed into place, so a reader
never sees half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import fsspec
import psutil

from aura.errors import AuraError
from aura.keys import check_job_id, check_key
from aura.models import MediaRef

_UMASK = os.umask(0)
os.umask(_UMASK)
# a temporary file names its writer (pid and host), so a later run can tell a dead writer's leftovers from live work
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_WRITER = re.compile(r"^\.tmp-(\d+)\.([0-9a-f]{8})-")
FOREIGN_TEMPORARY_AGE_S = 24 * 3600  # another machine's leftovers (a shared folder): swept only when this old
UNNAMED_TEMPORARY_AGE_S = 3600  # leftovers that do not name their writer (older versions, probes)


def _temporary_prefix() -> str:
    return f".tmp-{os.getpid()}.{_HOST}-"


def is_stale_temporary(path: Path, now: float | None = None) -> bool:
    """A `.tmp-*` file whose writer is gone: a dead process of this machine, or an old enough file of another."""
    match = _WRITER.match(path.name)
    try:
        age = (now or time.time()) - path.stat().st_mtime
    except OSError:
        return False
    if match is None:
        return age > UNNAMED_TEMPORARY_AGE_S
    pid, host = int(match.group(1)), match.group(2)
    if host != _HOST:
        return age > FOREIGN_TEMPORARY_AGE_S
    return pid != os.getpid() and not psutil.pid_exists(pid)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ArtifactStore:
    def __init__(self, url: str):
        self.url = url
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.is_local = "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))

    def sweep_stale_temporaries(self) -> int:
        """Remove what killed runs left half-written in any job's folder (their `.tmp-*` files); how many.

        Only files whose writer is gone are touched: another run writing at the
        same time keeps its files.
        """
        base = Path(self.root) if self.is_local else Path(tempfile.gettempdir()) / "aura-staging"
        swept = 0
        now = time.time()
        for pattern in ("*/.tmp-*", "*/*/.tmp-*"):  # keys are `name` or `work/name`
            for leftover in base.glob(pattern):
                if leftover.is_file() and is_stale_temporary(leftover, now):
                    leftover.unlink(missing_ok=True)
                    swept += 1
        return swept

    def job(self, job_id: str) -> JobStore:
        return JobStore(self, check_job_id(job_id))


class JobStore:
    def __init__(self, store: ArtifactStore, job_id: str):
        self.store = store
        self.job_id = job_id
        if store.is_local:
            self.folder = Path(store.root) / job_id
        else:
            # remote root: stage locally, upload on commit
            self.folder = Path(tempfile.gettempdir()) / "aura-staging" / job_id
        # the folder appears with the job's first file: opening a job to read from it creates nothing

    def path(self, key: str) -> Path:
        """The local path of a key (which may not exist yet)."""
        return self.folder / check_key(key)

    @contextlib.contextmanager
    def writing(self, key: str, suffix: str | None = None) -> Iterator[Path]:
        """Yield a temporary path next to the key's final place; rename into place on success.

        On any failure the temporary file is removed and the final file (if an
        earlier run made one) is left untouched.
        """
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=_temporary_prefix(), suffix=suffix or final.suffix, dir=final.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            yield tmp
            if not tmp.is_file() or tmp.stat().st_size == 0:
                raise AuraError(f"nothing was written for {key}")
            # mkstemp makes owner-only files; outputs are for sharing, so use the umask's mode
            os.chmod(tmp, 0o666 & ~_UMASK)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        self._upload(key)

    def commit_file(self, source: Path, key: str) -> MediaRef:
        """Copy an existing file into the job under key (atomically) and describe it."""
        with self.writing(key) as tmp:
            shutil.copyfile(source, tmp)
        return self.ref(key)

    def write_bytes(self, key: str, data: bytes) -> MediaRef:
        with self.writing(key) as tmp:
            tmp.write_bytes(data)
        return self.ref(key)

    def stored(self, key: str, size: int | None = None) -> bool:
        """The store itself holds `key` (of `size` bytes, if given): for a remote store the object, not a local copy."""
        if self.store.is_local:
            path = self.path(key)
            return path.is_file() and (size is None or path.stat().st_size == size)
        try:
            info = self.store.fs.info(self._remote(key))
        except FileNotFoundError:
            return False
        return info.get("type") == "file" and (size is None or info.get("size") == size)

    def ref(self, key: str) -> MediaRef:
        path = self.path(key)
        if not path.is_file():
            raise AuraError(f"artifact {key} is missing from job {self.job_id}")
        return MediaRef(key=key, size=path.stat().st_size, sha256=sha256_of(path))

    def publish(self, key: str) -> MediaRef:
        """A file a tool wrote in place under key (an image provider's output): described, and
        uploaded when the store is remote, so a worker on another machine can fetch it by key."""
        ref = self.ref(key)
        self._upload(key)
        return ref

    def holds(self, ref: MediaRef) -> bool:
        """The job has this exact file (same size and sha256), fetched from the store if needed."""
        try:
            path = self.local(ref)
        except (AuraError, OSError):
            return False
        return path.stat().st_size == ref.size and sha256_of(path) == ref.sha256

    def adopt(self, ref: MediaRef, source: JobStore) -> bool:
        """Make another job's file part of this job, under the same key: hard-linked, or copied.

        False when the source file is gone or no longer the one `ref` describes.
        """
        if self.holds(ref):
            return True
        if source.job_id == self.job_id or not source.holds(ref):
            return False
        origin = source.local(ref)
        with self.writing(ref.key) as tmp:
            tmp.unlink()
            try:
                os.link(origin, tmp)  # instant and free on one filesystem; outputs are replaced, never edited
            except OSError:
                shutil.copyfile(origin, tmp)
        return True

    def local(self, ref: MediaRef) -> Path:
        """A local path holding the referenced file, fetched from the store if needed."""
        return self.fetch(ref.key)

    def fetch(self, key: str) -> Path:
        """A local path holding the job's file under `key`, fetched from the store if needed."""
        path = self.path(key)
        if not path.is_file() and not self.store.is_local:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{_temporary_prefix()}{path.name}")  # a download cut short is never taken for the file
            try:
                self.store.fs.get_file(self._remote(key), str(partial))
                os.replace(partial, path)
            except FileNotFoundError:
                pass
            finally:
                partial.unlink(missing_ok=True)
        if not path.is_file():
            raise AuraError(f"artifact {key} of job {self.job_id} is missing")
        return path

    def remove_temporaries(self) -> None:
        """Remove leftovers of interrupted writes (files named .tmp-*)."""
        if not self.folder.is_dir():
            return
        for leftover in self.folder.rglob(".tmp-*"):
            leftover.unlink(missing_ok=True)

    def _remote(self, key: str) -> str:
        return f"{self.store.root.rstrip('/')}/{self.job_id}/{key}"

    def _upload(self, key: str) -> None:
        if self.store.is_local:
            return
        remote = self._remote(key)
        self.store.fs.makedirs(remote.rsplit("/", 1)[0], exist_ok=True)
        self.store.fs.put_file(str(self.path(key)), remote + ".part")
        self.store.fs.mv(remote + ".part", remote)


def file_url(store_url: str, job_id: str, key: str) -> str:
    """A link to one of a job's files: file:// for a folder, the store's own URL otherwise."""
    if "://" in store_url:
        return f"{store_url.rstrip('/')}/{job_id}/{key}"
    return (Path(store_url) / job_id / key).as_uri()
