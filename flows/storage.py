"""Where a run's files live: the artifact store URL, the same for every stage and every worker."""

from __future__ import annotations

from pathlib import Path

from aura.settings import get_settings


def store_url_for(output: str | None) -> str:
    """The artifact store of a run: `output` if given, else AURA_OUTPUT (see Settings.store_url)."""
    return get_settings().store_url(output)


def file_url(store_url: str, job_id: str, key: str) -> str:
    """A link to one of a job's files: file:// for a folder, the store's own URL otherwise."""
    if "://" in store_url:
        return f"{store_url.rstrip('/')}/{job_id}/{key}"
    return (Path(store_url) / job_id / key).as_uri()
