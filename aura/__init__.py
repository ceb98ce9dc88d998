"""Aura: a short brief in, a finished narrated video out."""

__version__ = "0.1.0"
