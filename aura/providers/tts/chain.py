"""A chain of TTS providers, each behind a circuit breaker.

A provider that keeps failing (a dead network, an outage) is skipped for a
cool-down instead of costing a timeout per scene and per run; after the
cool-down one trial call decides whether it is back (pybreaker's half-open
state). Breaker state is shared by the processes of a machine through a state
folder (aura.providers.breakers), so runs in new processes remember an outage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pybreaker

from aura.providers.breakers import breaker_for, open_until
from aura.providers.tts.base import Speech, TTSDeclined, TTSError, TTSProvider

log = logging.getLogger("aura.tts")

class TTSChain:
    """Speaks through the first provider that works; records why others were passed over.

    Within one run the narration keeps one voice: once a provider fails, the
    run stays on the next one, and scenes already spoken are spoken again by it.
    A provider that declines the request (TTSDeclined: no voice for its language)
    is passed over with a note and no mark against its breaker; the request's voice
    then belongs to the next provider.
    """

    def __init__(
        self,
        providers: list[TTSProvider],
        *,
        failures_to_open: int = 2,
        cooldown_s: float = 300.0,
        check: Callable[[Speech, str, int], None] | None = None,
        state_dir: Path | None = None,
    ):
        if not providers:
            raise TTSError("no TTS provider configured")
        self.providers = list(providers)
        self.failures_to_open = failures_to_open
        self.cooldown_s = cooldown_s
        self.state_dir = state_dir
        self.check = check
        self.warnings: list[str] = []
        self._position = 0
        self._voice_position = 0  # the provider the request's voice id is meant for
        self._skip_open_breakers()

    @property
    def current(self) -> TTSProvider:
        return self.providers[self._position]

    def _breaker(self, provider: TTSProvider) -> pybreaker.CircuitBreaker:
        breaker = breaker_for(provider.name, self.failures_to_open, self.cooldown_s, self.state_dir)
        if TTSDeclined not in breaker.excluded_exceptions:  # declining a language is not an outage
            breaker.add_excluded_exception(TTSDeclined)
        return breaker

    def _skip_open_breakers(self) -> None:
        """Providers cooling down are passed over at once, without a call."""
        while self._position < len(self.providers) - 1:
            until = open_until(self._breaker(self.current))
            if until is None or until <= datetime.now(timezone.utc):
                return
            self._note(f"{self.current.name} skipped: it failed {self.failures_to_open} times in a row; "
                       f"next try after {until:%H:%M:%S} UTC")  # fmt: skip
            self._position += 1

    def _note(self, message: str) -> None:
        self.warnings.append(message)
        log.warning(message)

    def speak(self, text: str, scene: int, *, language: str, voice: str | None, rate_wpm: int | None) -> Speech:
        """One scene's speech. A voice id belongs to the first provider that does not decline, and is used only there."""
        while True:
            provider = self.current
            voice_here = voice if self._position == self._voice_position else None
            last = self._position == len(self.providers) - 1
            try:
                if last:
                    # the last resort has no breaker: skipping it would only fail every run for the cool-down
                    return self._attempt(provider, text, scene, language, voice_here, rate_wpm)
                return self._breaker(provider).call(self._attempt, provider, text, scene, language, voice_here, rate_wpm)
            except (TTSError, pybreaker.CircuitBreakerError) as exc:
                if last:
                    raise TTSError(f"{provider.name} failed for scene {scene + 1}: {exc}") from exc
                self._position += 1
                if isinstance(exc, TTSDeclined):
                    if self._voice_position == self._position - 1:
                        self._voice_position = self._position
                    self._note(f"{provider.name} does not speak this: {exc}; {self.current.name} speaks instead")
                else:
                    self._note(f"{provider.name} failed ({exc}); using {self.current.name} instead")
                self._skip_open_breakers()

    def _attempt(self, provider: TTSProvider, text: str, scene: int, language: str, voice: str | None, rate: int | None):
        speech = provider.synthesize(text, language=language, voice=voice, rate_wpm=rate)
        if self.check is not None:
            self.check(speech, text, scene)
        return speech
