"""Documents to a script: the sentences that best sum up the reference passages, each with its source.

Sentences are ranked by centrality (how much of the documents each one says)
and coverage (maximal marginal relevance: a sentence close to one already
chosen loses its place), with a lead for the brief's own subject and for a
document's opening lines. Meaning is compared with the packaged MiniLM
embeddings; where the `rag` extra is absent, BM25 over word stems stands in.
The chosen sentences are then read in the documents' order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aura.errors import ProviderUnavailable
from aura.providers.rag.chunking import split_sentences
from aura.providers.rag.keyword import KeywordScorer

NARRATED_WORDS = (5, 45)  # shorter: headings and list fragments; longer: run-ons of a bad extraction
MAX_RANKED = 400  # sentences compared for a summary: about 40,000 characters of prose
NEAR_DUPLICATE = 0.9  # cosine above which two sentences say the same thing
_DIVERSITY = 0.6  # how strongly a sentence close to a chosen one is held back
_CITATION = re.compile(r"\s*\[\d+(?:[,–-]\s*\d+)*\]|\s*\((?:[A-Z][\w-]+(?: et al\.)?,? \d{4}[a-z]?;?\s*)+\)")
_NOT_PROSE = re.compile(r"https?://|www\.|@\w|[{}<>|=_#*`]|^(?:figure|fig\.|table|source|see)\b", re.IGNORECASE)
_ENDS = (".", "!", "?", "。", "！", "？")


@dataclass(frozen=True)
class Sentence:
    text: str
    source: str
    page: int | None
    position: int  # reading order over all the documents
    in_document: int  # its place in its document: a document's opening usually says what it is about
    document: int  # its document's place among the references, most relevant first


def document_sentences(references, brief_sentences: list[str] = ()) -> list[Sentence]:
    """Sentences of the passages fit to be read aloud, in reading order, each once."""
    seen = {_key(s) for s in brief_sentences}
    kept: list[Sentence] = []
    counts: dict[str, int] = {}
    documents: dict[str, int] = {}
    for reference in references:
        source = str(reference.get("source", ""))
        page = reference.get("page")
        for line in str(reference.get("text", "")).splitlines():
            for raw in split_sentences(_CITATION.sub("", line)):
                sentence = _as_sentence(raw)
                key = _key(sentence)
                if key in seen or not narratable(sentence):
                    continue
                seen.add(key)  # passages overlap by a sentence: say it once
                documents.setdefault(source, len(documents))
                counts[source] = counts.get(source, 0) + 1
                kept.append(Sentence(sentence, source, page, len(kept), counts[source] - 1, documents[source]))
    return kept


def _as_sentence(text: str) -> str:
    """A list item of a few words is a sentence too, once it ends like one."""
    text = re.sub(r"^\s*(?:[-*•▪]|\d{1,2}[.)])\s+", "", text).strip()
    if text and not text.endswith(_ENDS) and not text.endswith(":") and len(text.split()) >= NARRATED_WORDS[0]:
        text += "."
    return text


def narratable(sentence: str) -> bool:
    """A whole sentence of prose: not a heading, fragment, table row, caption, URL or code."""
    words = sentence.split()
    plain = sum(ch.isalnum() or ch.isspace() for ch in sentence)
    return (
        NARRATED_WORDS[0] <= len(words) <= NARRATED_WORDS[1]
        and sentence.endswith(_ENDS)
        and not sentence[0].islower()
        and plain >= 0.85 * len(sentence)  # code and formulas are full of symbols; prose has a few commas
        and not _NOT_PROSE.search(sentence)
    )


def _key(sentence: str) -> str:
    return " ".join(sentence.casefold().split()).rstrip(".!?")


def ranked(sentences: list[Sentence], brief: str) -> list[int]:
    """Indexes of `sentences`, most worth narrating first; near-duplicates of a better one are left out.

    At most MAX_RANKED sentences are compared (the passages come best first, so these are the best
    passages' sentences); the work is quadratic in their number.
    """
    sentences = sentences[:MAX_RANKED]
    if not sentences:
        return []
    similarity = _similarity([s.text for s in sentences], brief)
    count = len(sentences)
    about_brief = similarity[count]
    centrality = [(sum(similarity[i]) - similarity[i][i]) / max(1, count - 1) for i in range(count)]
    base = [centrality[i] + 0.5 * about_brief[i] + _lead(sentences[i]) for i in range(count)]
    closest = [0.0] * count  # each sentence's similarity to the nearest one chosen so far
    chosen: list[int] = []
    left = set(range(count))
    while left:
        best = max(left, key=lambda i: (base[i] - _DIVERSITY * closest[i], -i))
        left.discard(best)
        if closest[best] >= NEAR_DUPLICATE:
            continue  # says what a better sentence already says
        chosen.append(best)
        row = similarity[best]
        for i in left:
            closest[i] = max(closest[i], row[i])
    return chosen


def _lead(sentence: Sentence) -> float:
    """A head start for a document's first sentences and for the documents retrieval ranked first."""
    opening = (0.15, 0.05)[sentence.in_document] if sentence.in_document < 2 else 0.0
    return opening + 0.15 / (1 + sentence.document)


def _similarity(texts: list[str], brief: str) -> list[list[float]]:
    """Pairwise similarity of the texts, and (last row) of each text to the brief."""
    try:
        from aura.providers.rag.embedding import MiniLMEmbedder

        vectors = MiniLMEmbedder().embed([*texts, brief])
    except ProviderUnavailable:
        return _keyword_similarity(texts, brief)
    import numpy  # installed with the embeddings (sentence-transformers needs it)

    matrix = numpy.asarray(vectors, dtype=numpy.float32)
    return (matrix @ matrix[: len(texts)].T).tolist()  # unit vectors: dot products are cosines


def _keyword_similarity(texts: list[str], brief: str) -> list[list[float]]:
    """BM25 of each text against each other, scaled by a text's score against itself (so 1.0 is identical)."""
    rows = KeywordScorer().score_each([*texts, brief], texts)
    own = [rows[i][i] or 1.0 for i in range(len(texts))]
    return [[min(1.0, row[j] / max(own[j], 1e-9)) for j in range(len(texts))] for row in rows]
