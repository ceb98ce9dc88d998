"""What every provider can say about itself."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProviderStatus:
    """Whether a provider can be used on this machine, and why not."""

    name: str
    kind: str  # "llm", "tts", "images"
    usable: bool
    detail: str


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
