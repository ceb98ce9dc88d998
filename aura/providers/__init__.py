"""Providers: LLM, TTS and image backends. No Prefect in here."""
