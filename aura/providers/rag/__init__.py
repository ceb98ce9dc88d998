"""Reference documents for the script writer: load, cut into passages, rank against the brief.

Importing this package never imports torch: the embedding model loads on first use,
and keyword ranking takes over where the `rag` extra is not installed.
"""

from aura.providers.rag.chunking import chunk_text, split_sentences
from aura.providers.rag.documents import Document, DocumentFile, ReferenceDocumentError, load_documents
from aura.providers.rag.embedding import MINILM_NAME, Embedder, MiniLMEmbedder
from aura.providers.rag.keyword import KeywordScorer
from aura.providers.rag.retrieve import (
    EmbeddingScorer,
    Passage,
    Retrieval,
    excerpt,
    prompt_references,
    reference_sources,
    retrieve,
)

__all__ = [
    "MINILM_NAME",
    "Document",
    "DocumentFile",
    "Embedder",
    "EmbeddingScorer",
    "KeywordScorer",
    "MiniLMEmbedder",
    "Passage",
    "ReferenceDocumentError",
    "Retrieval",
    "chunk_text",
    "excerpt",
    "load_documents",
    "prompt_references",
    "reference_sources",
    "retrieve",
    "split_sentences",
]
