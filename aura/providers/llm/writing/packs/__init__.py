"""Language packs of the offline writer: one module per language, each written for its language."""

from __future__ import annotations

import importlib

LANGUAGES = ("en", "es", "fr", "de", "pt", "it")


def pack_for(language: str) -> dict | None:
    """The pack for a BCP-47 tag's language (pt-BR: pt), or None where the writer has none."""
    code = language.split("-")[0].lower()
    if code not in LANGUAGES:
        return None
    try:
        return importlib.import_module(f"{__name__}.{code}").PACK
    except ModuleNotFoundError:
        return None
