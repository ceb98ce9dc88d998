"""Checkpoints: each stage's output is a Prefect result, found again by a key over what made it.

A stage's cache key hashes three things and nothing else:

- the inputs that change its output: the fields of the request it reads (the
  voice stage reads `voice` and `language`, not `style`), the upstream outputs
  (files by sha256), the documents and music it reads (by content);
- the settings that change its output (the LLM chain, the TTS chain, the
  Stable Diffusion model and steps, the encoder), never secrets or timeouts;
- the source of the modules that hold its logic, so new code recomputes.

The run id, the job id and the store are not in it: a new run with the same
request, or a retry of a failed run, finds the finished stages. Changing only
the voice re-runs voice and composition, not script or visuals.

Each stage module says what its key is made of, beside its task
(`StageCachePolicy(stage=..., inputs=..., sources=...)` in the decorator);
the settings of a provider come from the provider itself
(`output_settings`, through its registry). This module holds what they
share: the policy, the digests, the result storage, and reusing files.

A cached output points at files of the job that made it. The cache policy
checks them when it computes the key, before Prefect looks the key up: files
present, same size, same sha256, then linked into the current job. A record
whose files are gone or changed is stale, and the policy names the next key
of the same inputs (`<key>-1`, `-2`...), which misses: the stage runs again
and its output becomes that key's checkpoint.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from prefect.cache_policies import CachePolicy

from aura import __version__
from aura.errors import AuraError
from aura.models import Composition, Narration, Script, VideoRequest, Visuals
from aura.settings import Settings, get_settings
from aura.stages.inputs import music_file, reference_files
from aura.store import ArtifactStore, JobStore, sha256_of

# how every checkpointed stage task persists its output: JSON, readable, and never unpickled from shared storage
PERSISTED = {"persist_result": True, "result_serializer": "json"}
_COMMON_SOURCES = ("aura.models",)
CacheInputs = Callable[[dict[str, Any], Settings], dict]
MAX_STALE = 8  # stale records of one key skipped before the stage stops checkpointing it
log = logging.getLogger("aura.stages")


@functools.lru_cache(maxsize=None)
def source_digest(sources: tuple[str, ...]) -> str:
    """sha256 over the source files of these modules or packages (read once per process)."""
    digest = hashlib.sha256(__version__.encode())
    for name in (*sources, *_COMMON_SOURCES):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        files = sorted(origin.parent.rglob("*.py")) if spec.submodule_search_locations else [origin]
        for file in files:
            digest.update(file.as_posix().rsplit("/aura/", 1)[-1].encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def file_digest(path: str | Path) -> str:
    path = Path(path).expanduser()
    try:
        return sha256_of(path)
    except OSError:
        return f"unreadable:{path}"  # the brief stage has already refused a missing file


def documents_digest(request: VideoRequest, settings: Settings, store_url: str | None) -> list[list[str]]:
    """Each reference document by its name and content: editing a note re-writes the script."""
    try:
        files = reference_files(request, settings, ArtifactStore(settings.store_url(store_url)))
    except AuraError as exc:  # the brief stage has refused it already; a key all the same
        return [["unreadable", str(exc)]]
    return [[file.source, file.origin, file_digest(file.path)] for file in files]


def music_digest(request: VideoRequest, settings: Settings, store_url: str | None) -> str | None:
    try:
        music = music_file(request, ArtifactStore(settings.store_url(store_url)))
    except AuraError as exc:
        return f"unreadable: {exc}"
    return file_digest(music) if music else None


def narration_text(script: Script) -> dict:
    """What of a script is heard: the voice and the composition read only this."""
    return {"language": script.language, "scenes": [scene.narration for scene in script.scenes]}


@dataclass
class StageCachePolicy(CachePolicy):
    """Prefect cache policy over what makes a stage's output: its inputs, settings and source (module docstring)."""

    stage: str = ""  # the key's readable prefix
    inputs: CacheInputs | None = None
    sources: tuple[str, ...] = ()

    def key(self, inputs: dict[str, Any], settings: Settings | None = None) -> str:
        """Readable prefix, then sha256 of the stage's inputs, settings and source."""
        made_of = self.inputs(inputs, settings or get_settings()) if self.inputs else inputs
        material = {"inputs": made_of, "source": source_digest(self.sources)}
        blob = json.dumps(material, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
        return f"{self.stage}-{hashlib.sha256(blob).hexdigest()}"

    def compute_key(self, task_ctx, inputs, flow_parameters, **kwargs) -> str | None:
        """The key Prefect looks up: the first one of these inputs whose record is missing or still usable."""
        inputs = inputs or {}
        base = self.key(inputs)
        if "job_id" not in inputs or task_ctx is None or task_ctx.task.refresh_cache:
            return base  # outputs without files, or a fresh run that replaces the checkpoint
        store, job = task_ctx.result_store, ArtifactStore(inputs["store_url"]).job(inputs["job_id"])
        for key in (base, *(f"{base}-{n}" for n in range(1, MAX_STALE + 1))):
            if not store.exists(key) or reuse(store.read(key).result, job) is not None:
                return key
            log.warning("the %s checkpoint %s points at files that are missing or changed: not reused", self.stage, key)
        return None  # no usable key left: run without a checkpoint


def _block_name(location: str) -> str:
    return "aura-results-" + hashlib.sha256(location.encode()).hexdigest()[:12]


def _is_folder(location: str) -> bool:
    return "://" not in location or location.startswith("file://")


def result_storage_for(location: str):
    """Where the stage tasks persist their results, as Prefect's `result_storage` takes it: a Path, or a saved block.

    A saved fsspec block puts its id into every result it writes, so another
    process (the parent of a deployed run, the UI) can read the result back.
    """
    if _is_folder(location):
        return Path(location.removeprefix("file://"))
    from prefect.filesystems import RemoteFileSystem

    try:
        return RemoteFileSystem.load(_block_name(location))
    except ValueError:  # not saved yet on this server
        block = RemoteFileSystem(basepath=location)
        block.save(_block_name(location), overwrite=True)
        return block


def flow_result_storage(location: str) -> Path | str:
    """The same storage, named without asking the server (a flow decorator's `result_storage`).

    A folder is a Path (results keep their absolute path); a URL is the slug of
    the block `result_storage_for` saves, loaded when the flow runs.
    """
    if _is_folder(location):
        return Path(location.removeprefix("file://"))
    return f"remote-file-system/{_block_name(location)}"


Output = TypeVar("Output", Narration, Visuals, Composition)


def reuse(output: Output, job: JobStore) -> Output | None:
    """A cached output made usable in `job`: its files checked and linked in; None when they are gone or changed."""
    source = job.store.job(output.job_id) if output.job_id and output.job_id != job.job_id else job
    try:
        for ref in output.media():
            if not job.adopt(ref, source):
                return None
    except (AuraError, OSError):
        return None
    return output.model_copy(update={"job_id": job.job_id})
