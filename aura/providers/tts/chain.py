"""A chain of TTS providers, each behind a process-wide circuit breaker.

A provider that keeps failing (a dead network, an outage) is skipped for a
cool-down instead of costing a timeout per scene and per run; after the
cool-down one trial call decides whether it is back (pybreaker's half-open
state). Breakers live in the process, so a long-lived worker or gateway
remembers an outage across runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pybreaker

from aura.providers.tts.base import Speech, TTSError, TTSProvider

log = logging.getLogger("aura.tts")

_breakers: dict[str, pybreaker.CircuitBreaker] = {}
# each breaker's storage, kept here so the opening time can be read without private attributes
_storages: dict[str, pybreaker.CircuitMemoryStorage] = {}
_lock = threading.Lock()


def breaker_for(name: str, failures_to_open: int, cooldown_s: float) -> pybreaker.CircuitBreaker:
    """The breaker of one provider; a changed configuration starts a fresh one."""
    with _lock:
        breaker = _breakers.get(name)
        if breaker is None or (breaker.fail_max, breaker.reset_timeout) != (failures_to_open, cooldown_s):
            # throw_new_error_on_trip=False: the call that trips the breaker still reports its own error
            storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
            breaker = pybreaker.CircuitBreaker(
                fail_max=failures_to_open, reset_timeout=cooldown_s, name=name,
                state_storage=storage, throw_new_error_on_trip=False,
            )  # fmt: skip
            _breakers[name], _storages[name] = breaker, storage
        return breaker


def reset_breakers() -> None:
    """Forget every provider's failures (tests, or after fixing the network)."""
    with _lock:
        _breakers.clear()
        _storages.clear()


def open_until(breaker: pybreaker.CircuitBreaker) -> datetime | None:
    """When an open breaker lets a trial call through again, or None when it is not open."""
    storage = _storages.get(breaker.name)
    if breaker.current_state != pybreaker.STATE_OPEN or storage is None or storage.opened_at is None:
        return None
    opened = storage.opened_at
    if opened.tzinfo is None:
        opened = opened.replace(tzinfo=timezone.utc)
    return opened + timedelta(seconds=breaker.reset_timeout)


class TTSChain:
    """Speaks through the first provider that works; records why others were passed over.

    Within one run the narration keeps one voice: once a provider fails, the
    run stays on the next one, and scenes already spoken are spoken again by it.
    """

    def __init__(
        self,
        providers: list[TTSProvider],
        *,
        failures_to_open: int = 2,
        cooldown_s: float = 300.0,
        check: Callable[[Speech, str, int], None] | None = None,
    ):
        if not providers:
            raise TTSError("no TTS provider configured")
        self.providers = list(providers)
        self.failures_to_open = failures_to_open
        self.cooldown_s = cooldown_s
        self.check = check
        self.warnings: list[str] = []
        self._position = 0
        self._skip_open_breakers()

    @property
    def current(self) -> TTSProvider:
        return self.providers[self._position]

    def _breaker(self, provider: TTSProvider) -> pybreaker.CircuitBreaker:
        return breaker_for(provider.name, self.failures_to_open, self.cooldown_s)

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
        """One scene's speech. A voice id belongs to the first provider's engine and is used only there."""
        while True:
            provider = self.current
            voice_here = voice if self._position == 0 else None
            try:
                return self._breaker(provider).call(self._attempt, provider, text, scene, language, voice_here, rate_wpm)
            except (TTSError, pybreaker.CircuitBreakerError) as exc:
                if self._position == len(self.providers) - 1:
                    raise TTSError(f"{provider.name} failed for scene {scene + 1}: {exc}") from exc
                self._position += 1
                self._note(f"{provider.name} failed ({exc}); using {self.current.name} instead")
                self._skip_open_breakers()

    def _attempt(self, provider: TTSProvider, text: str, scene: int, language: str, voice: str | None, rate: int | None):
        speech = provider.synthesize(text, language=language, voice=voice, rate_wpm=rate)
        if self.check is not None:
            self.check(speech, text, scene)
        return speech
