"""`aura doctor`: each provider and tool, and whether it is usable on this machine."""

from __future__ import annotations

import os
import shutil
import urllib.request
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


def _system_checks(output: str) -> list[Check]:
    from aura.media.ffmpeg import INSTALL_HINT, capabilities, ffprobe_path
    from aura.media.fonts import find_font

    checks = []
    try:
        caps = capabilities()
        missing = caps.missing()
        detail = f"{caps.path} ({caps.version.split(' Copyright')[0]})"
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
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        return Check("orchestration", "prefect", True, "no PREFECT_API_URL: each run starts a temporary local server")
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=3) as response:
            return Check("orchestration", "prefect", response.status == 200, f"server at {url} is healthy")
    except OSError as exc:
        return Check("orchestration", "prefect", False, f"server at {url} unreachable ({exc}): start it with `prefect server start`")


def run_checks() -> list[Check]:
    from aura.providers.images.registry import get_image_provider, image_provider_names
    from aura.providers.llm.client import OFFLINE_MODEL
    from aura.providers.llm.client import status as llm_status
    from aura.providers.tts import EspeakTTS, GTTSProvider
    from aura.settings import get_settings

    settings = get_settings()
    checks = _system_checks(settings.output)
    checks.append(_from_status(llm_status(settings.llm_model), True))
    if settings.llm_model != OFFLINE_MODEL:
        checks.append(_from_status(llm_status(OFFLINE_MODEL), False))
    checks.append(_from_status(GTTSProvider(timeout_s=settings.gtts_timeout_s, tld=settings.gtts_tld).status(), settings.tts_provider == "gtts"))
    checks.append(_from_status(EspeakTTS().status(), settings.tts_provider == "espeak-ng"))
    for name in image_provider_names():
        try:
            checks.append(_from_status(get_image_provider(name).status(), settings.image_provider == name))
        except AuraError as exc:
            checks.append(Check("images", name, False, str(exc)))
    checks.append(_prefect_check())
    return checks
