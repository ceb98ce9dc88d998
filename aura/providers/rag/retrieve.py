"""The passages of the reference documents that best match a brief, bounded for a prompt."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from operator import mul
from typing import Protocol

from aura.errors import ProviderUnavailable
from aura.models import ReferenceSource
from aura.providers.rag.chunking import CHUNK_CHARS, chunk_text
from aura.providers.rag.documents import Document, DocumentFile, load_documents
from aura.providers.rag.embedding import Embedder, MiniLMEmbedder
from aura.providers.rag.keyword import KeywordScorer

PROMPT_CHARS = 2400  # about 600 tokens of notes: room for the instructions and the answer in any model
# passages compared by meaning at most: MiniLM embeds 15 to 60 passages a second on two cores
MAX_COMPARED = 400
EXCERPT_CHARS = 160
FALLBACK_WARNING = "reference embeddings fell back to keyword matching"


@dataclass(frozen=True)
class Passage:
    source: str
    chunk: int  # passage number inside its document
    text: str
    score: float
    origin: str = "request"  # request: a document the caller supplied; operator: AURA_REFERENCE_DIR
    page: int | None = None  # a PDF's page the passage starts on


@dataclass(frozen=True)
class Retrieval:
    passages: list[Passage]  # best first
    method: str  # "all-MiniLM-L6-v2" or "keyword"
    warnings: list[str] = field(default_factory=list)


class Scorer(Protocol):
    name: str

    def score(self, query: str, texts: list[str]) -> list[float]: ...


class EmbeddingScorer:
    """Cosine similarity between the query's vector and each passage's."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.name = embedder.name

    def score(self, query: str, texts: list[str]) -> list[float]:
        query_vector, *vectors = self.embedder.embed([query, *texts])
        return [sum(map(mul, query_vector, vector)) for vector in vectors]  # unit vectors: dot = cosine


def default_scorer() -> tuple[Scorer, list[str]]:
    """MiniLM embeddings where the rag extra is installed, else keyword ranking and a warning that says so."""
    try:
        return EmbeddingScorer(MiniLMEmbedder()), []
    except ProviderUnavailable as exc:
        return KeywordScorer(), [f"{FALLBACK_WARNING}: {exc}"]


def retrieve(
    query: str,
    paths: list[str | os.PathLike | DocumentFile],
    top_k: int = 4,
    max_chars: int = PROMPT_CHARS,
    *,
    scorer: Scorer | None = None,
    chunk_chars: int = CHUNK_CHARS,
    max_compared: int = MAX_COMPARED,
) -> Retrieval:
    """The `top_k` passages of the documents under `paths` nearest to `query`, best first.

    Their text adds up to at most `max_chars`; identical passages count once.
    Beyond `max_compared` passages, keyword ranking picks the ones the
    embedding model compares (and a warning says so).
    ReferenceDocumentError names a path that cannot be used.
    """
    if top_k < 1:
        raise ValueError(f"top_k is {top_k}: ask for at least one passage")
    candidates = _passages(load_documents(paths), min(chunk_chars, max_chars))
    if scorer is None:
        scorer, warnings = default_scorer()
    else:
        warnings = []
    if not isinstance(scorer, KeywordScorer) and len(candidates) > max_compared:
        warnings.append(
            f"the references hold {len(candidates)} passages: the {max_compared} sharing most words with the brief "
            "were compared by meaning"
        )
        candidates = _shortlist(query, candidates, max_compared)
    scores = scorer.score(query, [p.text for p in candidates])
    scored = [Passage(p.source, p.chunk, p.text, round(s, 4), p.origin, p.page) for p, s in zip(candidates, scores)]
    if sum(len(p.text) for p in scored) <= max_chars:
        chosen = _whole(scored)
    else:
        chosen = _best(scored, top_k, max_chars)
    return Retrieval(passages=chosen, method=scorer.name, warnings=warnings)


def _passages(documents: list[Document], chunk_chars: int) -> list[Passage]:
    """Every passage of every document, in reading order; a passage seen before (a copied file) is left out."""
    seen, passages = set(), []
    for document in documents:
        index = 0
        for page, text_of_page in _pages(document):
            for text in chunk_text(text_of_page, chunk_chars):
                key = " ".join(text.casefold().split())
                if key not in seen:
                    seen.add(key)
                    passages.append(Passage(document.source, index, text, 0.0, document.origin, page))
                index += 1
    return passages


def _pages(document: Document) -> list[tuple[int | None, str]]:
    """A PDF's text page by page (a passage never spans two pages, so it is credited to one); other documents whole."""
    if not document.pages:
        return [(None, document.text)]
    bounds = [start for _, start in document.pages[1:]] + [len(document.text)]
    return [
        (number, document.text[start:end].strip())
        for (number, start), end in zip(document.pages, bounds)
        if document.text[start:end].strip()
    ]


def _shortlist(query: str, passages: list[Passage], size: int) -> list[Passage]:
    """The `size` passages with the best keyword scores, in reading order: embedding every passage
    of a large folder would take minutes."""
    scores = KeywordScorer().score(query, [p.text for p in passages])
    best = sorted(range(len(passages)), key=lambda i: -scores[i])[:size]
    return [passages[i] for i in sorted(best)]


def _whole(passages: list[Passage]) -> list[Passage]:
    """Everything fits the prompt, so nothing is left out and top_k does not apply.

    Documents come best first (by their best passage), and each is kept in
    reading order: small notes read better as written than shuffled by score.
    """
    best: dict[str, float] = {}
    for passage in passages:
        best[passage.source] = max(best.get(passage.source, passage.score), passage.score)
    order = {source: rank for rank, source in enumerate(sorted(best, key=lambda s: -best[s]))}
    return sorted(passages, key=lambda p: order[p.source])  # stable: reading order inside a document


def _best(passages: list[Passage], top_k: int, max_chars: int) -> list[Passage]:
    """The highest-scoring passages that fit max_chars together (ties: the earlier passage)."""
    chosen, used = [], 0
    for passage in sorted(passages, key=lambda p: -p.score):
        if used + len(passage.text) <= max_chars:
            chosen.append(passage)
            used += len(passage.text)
            if len(chosen) == top_k:
                break
    return chosen


def reference_sources(passages: list[Passage]) -> list[ReferenceSource]:
    """The passages as recorded on the Script: where each came from and how it begins."""
    return [
        ReferenceSource(
            source=p.source, chunk=p.chunk, score=p.score, excerpt=excerpt(p.text), origin=p.origin, page=p.page
        )
        for p in passages
    ]


def prompt_references(passages: list[Passage]) -> list[dict[str, str]]:
    """The passages as ScriptBrief.references: what the writer sees (and a PDF passage's page, for credits)."""
    return [{"source": p.source, "text": p.text, **({"page": p.page} if p.page else {})} for p in passages]


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The first words of a text, cut between words, with an ellipsis when cut."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1].rsplit(" ", 1)[0] or flat[: limit - 1]
    return cut.rstrip(" ,;:") + "…"
