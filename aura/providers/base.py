"""What every provider can say about itself, and the registry each kind keeps them in.

A provider of any kind (TTS engine, image backend) is a class with the shape
of `Provider`: it is made from the settings, says which of its settings change
what it makes (they go into the stage's checkpoint key, so a changed model is
never served from stale results), checks a request before any work starts
(the brief stage), and reports whether it can work on this machine (`aura
doctor`). Adding one is a new file with such a class and one line in its
kind's registry; settings of its own are a `ProviderSettings` in that file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

from pydantic_settings import BaseSettings, SettingsConfigDict

from aura.errors import ProviderError

if TYPE_CHECKING:
    from aura.models import VideoRequest
    from aura.settings import Settings


@dataclass(frozen=True)
class ProviderStatus:
    """Whether a provider can be used on this machine, and why not."""

    name: str
    kind: str  # "llm", "tts", "images"
    usable: bool
    detail: str


class ProviderSettings(BaseSettings):
    """A provider's own settings, read like aura's (environment, then .env), under a prefix of its own.

    A subclass sets `model_config = SettingsConfigDict(env_prefix="AURA_<NAME>_")`;
    its `from_settings` reads it, and its `output_settings` names what of it changes the output.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")


@runtime_checkable
class Provider(Protocol):
    """The shape every registered provider has (see the module docstring)."""

    name: ClassVar[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> Provider:
        """The provider as the settings configure it."""
        ...

    @classmethod
    def output_settings(cls, settings: Settings) -> dict[str, object]:
        """The settings that change its output (for checkpoint keys): never secrets or timeouts."""
        ...

    @classmethod
    def check_request(cls, request: VideoRequest, settings: Settings) -> list[str]:
        """Before any work: warnings for the run; raises ProviderError when it cannot serve the request."""
        ...

    def status(self) -> ProviderStatus:
        """Whether it can work on this machine, in words `aura doctor` shows."""
        ...


P = TypeVar("P", bound=Provider)


class Registry(Generic[P]):
    """The providers of one kind by name; `setting` is the variable that chooses among them."""

    def __init__(self, kind: str, setting: str, providers: Iterable[type[P]], also: tuple[str, ...] = ()):
        self.kind = kind
        self.setting = setting
        self.also = also  # what the setting takes beside the names (images: "auto")
        self._providers: dict[str, type[P]] = {}
        for provider in providers:
            self.register(provider)

    def register(self, provider: type[P]) -> None:
        self._providers[provider.name] = provider

    def names(self) -> list[str]:
        return list(self._providers)

    def __contains__(self, name: object) -> bool:
        return name in self._providers

    def get(self, name: str) -> type[P]:
        try:
            return self._providers[name]
        except KeyError:
            choices = "".join(f"{word} or " for word in self.also) + f"one of {', '.join(self.names())}"
            raise ProviderError(f"{self.kind} provider {name!r} is unknown: set {self.setting} to {choices}") from None

    def make(self, name: str, settings: Settings) -> P:
        return self.get(name).from_settings(settings)


def quiet_model_libraries() -> None:
    """Keep transformers' and diffusers' progress bars and advice off the user's terminal.

    Aura reports progress itself; loading bars and notes such as "torchvision is not
    installed" mean nothing to a user making a video. TRANSFORMERS_VERBOSITY or
    DIFFUSERS_VERBOSITY, when set, still win.
    """
    import importlib
    import os

    libraries = {"transformers": "TRANSFORMERS_VERBOSITY", "diffusers": "DIFFUSERS_VERBOSITY"}
    for library, variable in libraries.items():
        try:
            logging = importlib.import_module(f"{library}.utils.logging")
        except ImportError:  # the library is not installed: nothing to quiet
            continue
        logging.disable_progress_bar()
        if not os.environ.get(variable):
            logging.set_verbosity_error()
