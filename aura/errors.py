"""Errors a user can act on: each message says what went wrong and what to do."""


class AuraError(Exception):
    """Base class for every error Aura raises on purpose."""


class SystemCheckError(AuraError):
    """The machine lacks something the run needs (a binary, disk, memory)."""


class ProviderError(AuraError):
    """A provider (LLM, TTS, images) could not do its job."""


class ScriptError(ProviderError):
    """The script writer produced something that is not a usable script."""


class MediaError(AuraError):
    """ffmpeg or a media file did not behave as expected."""


class ProviderUnavailable(ProviderError):
    """A provider cannot work here as configured (model missing, package not installed).

    Retrying does not help: the stage falls back at once instead.
    """
