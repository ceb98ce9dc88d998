"""Batch requests: a JSONL or CSV list of video requests, every one validated before any is started."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import fsspec
from pydantic import BaseModel, Field, ValidationError

from aura.errors import AuraError
from aura.input_rules import STORE_PREFIX, InputRefused, allowed_path, is_local_caller, parse
from aura.keys import check_key
from aura.models import META_KEY, VIDEO_KEY, VideoRequest
from aura.store import file_url

MAX_BATCH = 500  # one schedule tick should not start more runs than a server can list at once
# CSV cells that hold lists: "a; b" or a JSON array
_LIST_FIELDS = {"references"}


class BatchInputError(AuraError):
    """A batch file or list that cannot be read, or a request in it that is not valid."""


class BatchItem(BaseModel):
    """One request of a batch and how its run ended."""

    index: int
    brief: str
    status: str = "waiting"
    flow_run_id: str | None = None
    video: str | None = None
    duration_s: float | None = None
    published: dict[str, str] = Field(default_factory=dict, description="Where the video was published: youtube.")
    error: str | None = None

    def row(self) -> dict:
        """The batch table's row: the published addresses as one cell ("youtube: https://...")."""
        published = "; ".join(f"{target}: {url}" for target, url in self.published.items()) or None
        return {**self.model_dump(exclude={"published"}), "published": published}

    def finish(self, state: str, message: str | None, store_url: str) -> None:
        """How the request's run ended (Prefect's state name), with the video and its duration from metadata.json."""
        self.status = state.lower()  # completed, failed, crashed, cancelled
        if state != "Completed":
            self.error = " ".join((message or "").split())[:300] or None
            return
        self.video = file_url(store_url, self.flow_run_id, VIDEO_KEY)
        try:
            with fsspec.open(f"{store_url.rstrip('/')}/{self.flow_run_id}/{META_KEY}", "r") as fh:
                metadata = json.load(fh)
            self.duration_s, self.published = metadata["video"]["duration"], metadata.get("published") or {}
        except (OSError, ValueError, KeyError):
            self.status, self.error = "failed", "the run completed but its metadata.json is not in the artifact store"


class BatchIncomplete(AuraError):
    """Some requests of the batch did not make a video (the table says which and why)."""


def requests_location(source: str, store_url: str) -> str:
    """Where a requests file is: a relative path or a store key inside the artifact store; a path or URL
    elsewhere only where aura.input_rules lets this run read it (the `aura` command, AURA_INPUT_ROOTS)."""
    store = store_url.rstrip("/")
    where = "requests_file"
    try:
        if source.startswith(STORE_PREFIX):
            parsed = parse(source)
            return f"{store}/{parsed.folder}/{parsed.key}"
        if "://" in source:
            if source.startswith(f"{store}/") and check_key(source[len(store) + 1 :]):
                return source  # a URL inside the artifact store
            if is_local_caller():
                return source
            raise BatchInputError(
                f"{where}: {source[:80]!r} is a URL outside the artifact store: name the file relative to the store "
                "(e.g. batch/requests.jsonl)"
            )
        if source.startswith(("/", "~")):
            try:
                return str(allowed_path(Path(source).expanduser(), source))
            except InputRefused:
                raise BatchInputError(
                    f"{where}: {source[:80]!r} is a path outside the artifact store and outside AURA_INPUT_ROOTS: "
                    "put the file in the store and name it relative to it (e.g. batch/requests.jsonl)"
                ) from None
        return f"{store}/{check_key(source.removeprefix('./'))}"
    except BatchInputError:
        raise
    except (InputRefused, AuraError) as exc:
        raise BatchInputError(f"{where}: {exc}") from None


def read_requests(source: str, store_url: str) -> list[VideoRequest]:
    """The requests of a .jsonl or .csv file; the error names the line and the field of the first bad one."""
    location = requests_location(source, store_url)
    try:
        with fsspec.open(location, "r", encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise BatchInputError(f"requests_file: {location} does not exist: write one request per line (JSONL) or a CSV there") from None
    except OSError as exc:
        raise BatchInputError(f"requests_file: {location} cannot be read: {exc}") from None
    lower = location.lower()
    if lower.endswith(".csv"):
        rows = _csv_rows(text, location)
    elif lower.endswith((".jsonl", ".ndjson", ".json")):
        rows = _jsonl_rows(text, location)
    else:
        raise BatchInputError(f"requests_file: {location}: use a .jsonl or .csv file")
    return validate_requests(rows, location)


def validate_requests(rows: list[tuple[int, object]], where: str = "requests") -> list[VideoRequest]:
    """Rows (line number, mapping or request) as requests; all are checked before any is used."""
    if not rows:
        raise BatchInputError(f"{where}: no requests: give at least one")
    if len(rows) > MAX_BATCH:
        raise BatchInputError(f"{where}: {len(rows)} requests: at most {MAX_BATCH} per batch, split the file")
    requests = []
    for line, row in rows:
        if isinstance(row, VideoRequest):
            requests.append(row)
            continue
        try:
            requests.append(VideoRequest.model_validate(row))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "request"
            raise BatchInputError(f"{where} line {line}: {field}: {first['msg']}") from None
    return requests


def _jsonl_rows(text: str, where: str) -> list[tuple[int, object]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise BatchInputError(f"{where} line {number}: not JSON ({exc.msg}): write one JSON object per line") from None
    return rows


def _csv_rows(text: str, where: str) -> list[tuple[int, object]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "brief" not in reader.fieldnames:
        raise BatchInputError(f"{where}: the CSV needs a header row with at least a 'brief' column (and any VideoRequest field)")
    rows = []
    for row in reader:
        # an empty cell means "the default", not an empty value
        cells = {k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip() != ""}
        for name in _LIST_FIELDS & cells.keys():
            cells[name] = _list_cell(cells[name], f"{where} line {reader.line_num}: {name}")
        rows.append((reader.line_num, cells))
    return rows


def _list_cell(value: str, where: str) -> object:
    """A CSV cell that holds a list: a JSON array, or items separated by semicolons."""
    if not value.startswith("["):
        return [part.strip() for part in value.split(";") if part.strip()]
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise BatchInputError(f"{where}: not a JSON array ({exc.msg}): write [\"a.md\", \"b.md\"] or a.md; b.md") from None
