"""Keyword ranking (BM25) for when the embedding model is not installed: no torch, no numpy."""

from __future__ import annotations

import math
from collections import Counter

from aura.words import STOPWORDS as _STOPWORDS
from aura.words import WORD as _WORD

NAME = "keyword"
_K1, _B = 1.5, 0.75  # the usual BM25 constants


def tokens(text: str) -> list[str]:
    """Lower-case word stems, stopwords out."""
    return [_stem(word) for word in _WORD.findall(text.lower()) if word not in _STOPWORDS]


def _stem(word: str) -> str:
    # plurals only: enough for "volcanoes" to meet "volcano", safe on names
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "xes", "oes", "sses")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


class KeywordScorer:
    """BM25 over word stems: how strongly each passage is about the query's words."""

    name = NAME

    def score(self, query: str, texts: list[str]) -> list[float]:
        return self.score_each([query], texts)[0]

    def score_each(self, queries: list[str], texts: list[str]) -> list[list[float]]:
        """One row of scores per query: the texts' statistics are counted once for all of them."""
        documents = [Counter(tokens(text)) for text in texts]
        if not documents:
            return [[] for _ in queries]
        average = sum(sum(d.values()) for d in documents) / len(documents) or 1.0
        frequency = Counter(term for d in documents for term in d)
        rows = []
        for query in queries:
            weights = {
                term: math.log(1 + (len(documents) - frequency[term] + 0.5) / (frequency[term] + 0.5))
                for term in set(tokens(query))
            }
            rows.append([self._bm25(d, weights, average) for d in documents])
        return rows

    @staticmethod
    def _bm25(document: Counter, weights: dict[str, float], average: float) -> float:
        length = sum(document.values())
        total = 0.0
        for term, weight in weights.items():
            count = document.get(term, 0)
            if count:
                total += weight * count * (_K1 + 1) / (count + _K1 * (1 - _B + _B * length / average))
        return total
