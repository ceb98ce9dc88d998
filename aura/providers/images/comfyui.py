"""Scene stills or clips from ComfyUI servers: a workflow of the user's, filled in per scene.

The workflow is a file in ComfyUI's API format (the UI's "Export (API)": a
map of node ids to `{"class_type", "inputs"}`). Its string values may hold
`{{prompt}}`, `{{negative_prompt}}`, `{{seed}}`, `{{width}}`, `{{height}}`,
`{{frames}}`, `{{fps}}` and `{{image}}`; a value that is only a placeholder
becomes the number for the numeric ones. Per scene Aura fills them in,
queues the workflow (`POST /prompt`), polls `/history/{prompt_id}` until it
ran, and fetches the first output (`/view`): a picture is the scene's still,
a video (mp4, webm, mov, mkv; a GIF is turned into an mp4) its clip. For
`{{image}}` (image-to-video workflows) the scene's still is drawn as slides
draw it and uploaded with `/upload/image`.

AURA_COMFYUI_URL may name several servers: scenes are spread over them, one
at a time per server. A workflow a server refuses (a node type it lacks) or
that fails while it runs is one line naming the node and the server; a dead
server's scenes go to the servers still alive, and when none is left the
chain passes the scenes on (slides last), as with the other providers.
"""

from __future__ import annotations

import contextvars
import json
import logging
import queue
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from aura import pricing, progress, spend
from aura.errors import ProviderError, ProviderUnavailable
from aura.media.ffmpeg import run_ffmpeg
from aura.providers.base import ProviderSettings, ProviderStatus
from aura.providers.images.base import Credit, ImagePrompt, SceneMedia
from aura.providers.images.files import image_folder
from aura.providers.images.slides import SlideProvider
from aura.store import sha256_of
from aura.supervision import checkpoint

NAME = "comfyui"
PLACEHOLDERS = ("prompt", "negative_prompt", "seed", "width", "height", "frames", "fps", "image")
NUMERIC = {"seed", "width", "height", "frames", "fps"}
STILL_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
CLIP_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv")
POLL_S = 0.5
log = logging.getLogger("aura.providers")


class ComfyUISettings(ProviderSettings):
    """AURA_COMFYUI_URL (comma-separated servers), AURA_COMFYUI_WORKFLOW and the values its placeholders get."""

    model_config = SettingsConfigDict(env_prefix="AURA_COMFYUI_")

    url: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["http://127.0.0.1:8188"])
    workflow: str | None = Field(default=None, description="A workflow file in ComfyUI's API format.")
    negative_prompt: str = "blurry, low quality, watermark, text"
    frames: int = Field(default=49, ge=1, le=1000, description="{{frames}}: a video workflow's frame count.")
    fps: int = Field(default=16, ge=1, le=120, description="{{fps}}: a video workflow's frame rate.")
    timeout_s: float = Field(default=900, gt=0, description="The longest one scene may take on a server.")

    @field_validator("url", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return [part.strip().rstrip("/") for part in value.split(",") if part.strip()] if isinstance(value, str) else value


class ComfyUIError(ProviderError):
    """A server refused or failed a scene's workflow (named in the message)."""


class ServerGone(ProviderError):
    """A server that does not answer: its scenes go to the others."""


def read_workflow(path: str | None) -> dict[str, Any]:
    """The workflow file, checked to be ComfyUI's API format (node id -> class_type and inputs)."""
    if not path:
        raise ProviderUnavailable("AURA_COMFYUI_WORKFLOW is not set: export your workflow with ComfyUI's "
                                  "'Export (API)' and set it to that file")  # fmt: skip
    try:
        workflow = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProviderUnavailable(f"AURA_COMFYUI_WORKFLOW={path} cannot be read as JSON: {exc}") from None
    nodes = workflow if isinstance(workflow, dict) else {}
    if not nodes or not all(isinstance(n, dict) and "class_type" in n and "inputs" in n for n in nodes.values()):
        raise ProviderUnavailable(f"AURA_COMFYUI_WORKFLOW={path} is not in ComfyUI's API format (node ids with "
                                  "class_type and inputs): export it with 'Export (API)', not 'Save'")  # fmt: skip
    return nodes


def fill(workflow: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy with every {{name}} replaced; a value that is only a numeric placeholder becomes the number."""

    def filled(value: Any) -> Any:
        if isinstance(value, str):
            whole = re.fullmatch(r"\{\{\s*(\w+)\s*\}\}", value)
            if whole and whole.group(1) in NUMERIC and whole.group(1) in values:
                return values[whole.group(1)]
            return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: str(values.get(m.group(1), m.group(0))), value)
        if isinstance(value, list):
            return [filled(v) for v in value]
        if isinstance(value, dict):
            return {k: filled(v) for k, v in value.items()}
        return value

    return filled(workflow)


def uses(workflow: dict[str, Any], name: str) -> bool:
    return re.search(r"\{\{\s*" + name + r"\s*\}\}", json.dumps(workflow)) is not None


@dataclass
class _Output:
    filename: str
    subfolder: str
    type: str


class ComfyUIServer:
    """One ComfyUI server's HTTP API (documented in ComfyUI's server.py routes)."""

    def __init__(self, url: str, timeout_s: float):
        self.url, self.timeout_s = url.rstrip("/"), timeout_s
        self.host = urlsplit(self.url).netloc or self.url
        self.client = httpx.Client(base_url=self.url, timeout=httpx.Timeout(30.0, connect=5.0))
        self.client_id = uuid.uuid4().hex

    def close(self) -> None:
        self.client.close()

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            return self.client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServerGone(f"ComfyUI at {self.host} does not answer ({type(exc).__name__})") from None

    def upload_image(self, path: Path) -> str:
        """`POST /upload/image`: the name a LoadImage node takes."""
        with path.open("rb") as fh:
            answer = self._call("POST", "/upload/image", files={"image": (path.name, fh, "image/png")},
                                data={"overwrite": "true", "type": "input"})  # fmt: skip
        if answer.status_code != 200:
            raise ComfyUIError(f"ComfyUI at {self.host} refused the scene's still (HTTP {answer.status_code})")
        body = answer.json()
        return f"{body['subfolder']}/{body['name']}" if body.get("subfolder") else body["name"]

    def run(self, workflow: dict[str, Any], what: str) -> _Output:
        """Queue the workflow, wait until it ran, and name its first output."""
        answer = self._call("POST", "/prompt", json={"prompt": workflow, "client_id": self.client_id})
        if answer.status_code != 200:
            raise ComfyUIError(f"ComfyUI at {self.host} refused the workflow for {what}: {_refusal(answer, workflow)}")
        prompt_id = answer.json()["prompt_id"]
        queued = time.monotonic()
        deadline = queued + self.timeout_s
        while True:
            checkpoint()  # a cancelled run stops waiting
            reply = self._call("GET", f"/history/{prompt_id}")
            try:  # a proxy's error page or a restart's 502 is asked again until the deadline
                entry = reply.json().get(prompt_id) if reply.status_code == 200 else None
            except ValueError:
                entry = None
            status = (entry or {}).get("status") or {}
            if status.get("status_str") == "error":
                raise ComfyUIError(f"ComfyUI at {self.host} failed {what}: {_execution_error(status, workflow)}")
            if entry and (status.get("completed") or entry.get("outputs")):
                spend.charge_gpu(_gpu_seconds(status) or time.monotonic() - queued, pricing.gpu_price())
                return _first_output(entry.get("outputs") or {}, self.host, what)
            if time.monotonic() > deadline:
                self._call("POST", "/interrupt")
                raise ComfyUIError(f"ComfyUI at {self.host} did not finish {what} within {self.timeout_s:g} s "
                                   "(AURA_COMFYUI_TIMEOUT_S)")  # fmt: skip
            time.sleep(POLL_S)

    def fetch(self, output: _Output, target: Path) -> Path:
        """`GET /view`: the output's bytes, written next to `target` and renamed."""
        params = {"filename": output.filename, "subfolder": output.subfolder, "type": output.type}
        answer = self._call("GET", "/view", params=params)
        if answer.status_code != 200 or not answer.content:
            raise ComfyUIError(f"ComfyUI at {self.host} did not serve its output {output.filename} (HTTP {answer.status_code})")
        partial = target.with_name(f".{target.name}.part")
        partial.write_bytes(answer.content)
        partial.replace(target)
        return target


def _gpu_seconds(status: dict) -> float | None:
    """The server's own execution time (its history's execution_start to execution_success, in ms), when it says."""
    stamps = {kind: (data or {}).get("timestamp") for kind, data in (status.get("messages") or []) if isinstance(data, dict)}
    start, end = stamps.get("execution_start"), stamps.get("execution_success")
    return (end - start) / 1000 if isinstance(start, (int, float)) and isinstance(end, (int, float)) and end >= start else None


def _refusal(answer: httpx.Response, workflow: dict[str, Any]) -> str:
    """ComfyUI's 400: {"error": {"type", "message", "details"}, "node_errors": {id: {"errors", "class_type"}}}."""
    try:
        body = answer.json()
    except ValueError:
        return f"HTTP {answer.status_code}"
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    message = " ".join(str(error.get("message") or "").split())
    for node_id, found in (body.get("node_errors") or {}).items():
        kind = found.get("class_type") or workflow.get(node_id, {}).get("class_type", "?")
        reasons = "; ".join(str(e.get("message", "")) + (f" ({e['details']})" if e.get("details") else "")
                            for e in found.get("errors", []))  # fmt: skip
        return f"{message or 'invalid workflow'}: node {node_id} ({kind}): {reasons}"
    details = " ".join(str(error.get("details") or "").split())
    return f"{message}{' ' + details if details else ''}" or f"HTTP {answer.status_code}"


def _execution_error(status: dict, workflow: dict[str, Any]) -> str:
    for kind, data in status.get("messages") or []:
        if kind == "execution_error":
            node = data.get("node_id", "?")
            return f"node {node} ({data.get('node_type') or workflow.get(node, {}).get('class_type', '?')}): " + " ".join(
                str(data.get("exception_message") or data.get("exception_type") or "an error").split()
            )[:300]
    return "the workflow ended with an error"


def _first_output(outputs: dict, host: str, what: str) -> _Output:
    """The first file an output node saved: videos first, then pictures (previews are temporary, not outputs)."""
    files = [item for node in outputs.values() for key in ("videos", "gifs", "images") for item in node.get(key) or []]
    saved = [f for f in files if f.get("type", "output") == "output"] or files
    for item in saved:
        if Path(item.get("filename", "")).suffix.lower() in (*CLIP_SUFFIXES, ".gif", *STILL_SUFFIXES):
            return _Output(item["filename"], item.get("subfolder", ""), item.get("type", "output"))
    raise ComfyUIError(f"ComfyUI at {host} ran {what} but saved no picture or video: end the workflow with a save node")


class ComfyUIProvider:
    """Scenes from the user's ComfyUI workflow, on one or several servers."""

    name = NAME

    def __init__(self, settings: ComfyUISettings):
        self.settings = settings

    @classmethod
    def from_settings(cls, settings) -> ComfyUIProvider:
        return cls(ComfyUISettings())

    @classmethod
    def output_settings(cls, settings) -> dict[str, object]:
        own = ComfyUISettings()
        return {"workflow": _digest(own.workflow), "negative_prompt": own.negative_prompt,
                "frames": own.frames, "fps": own.fps}  # fmt: skip

    @classmethod
    def check_request(cls, request, settings) -> list[str]:
        read_workflow(ComfyUISettings().workflow)  # a missing or wrong file stops the run before any work
        return []

    def status(self) -> ProviderStatus:
        try:
            nodes = read_workflow(self.settings.workflow)
        except ProviderUnavailable as exc:
            return ProviderStatus(self.name, "images", False, str(exc))
        return ProviderStatus(self.name, "images", True,
                              f"{len(nodes)} nodes from {self.settings.workflow} on {', '.join(self.settings.url)}")  # fmt: skip

    def scene_media(self, prompts: Sequence[ImagePrompt], size: tuple[int, int], out_dir: Path) -> list[SceneMedia | None]:
        workflow = read_workflow(self.settings.workflow)
        out_dir = image_folder(out_dir)
        servers = [ComfyUIServer(url, self.settings.timeout_s) for url in self.settings.url]
        todo: queue.Queue[ImagePrompt] = queue.Queue()
        for prompt in prompts:
            todo.put(prompt)
        results: dict[int, SceneMedia | None] = {}
        failures: list[str] = []
        lock = threading.Lock()

        def serve(server: ComfyUIServer) -> None:  # one scene at a time per server, until none is left
            while True:
                try:
                    prompt = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    media = self._scene(server, workflow, prompt, size, out_dir)
                except ServerGone as exc:
                    todo.put(prompt)  # for a server still alive
                    with lock:
                        failures.append(str(exc))
                    return
                except ComfyUIError as exc:
                    log.warning("scene %d: %s", prompt.index + 1, exc)
                    media = None
                    with lock:
                        failures.append(str(exc))
                with lock:
                    results[prompt.index] = media
                    done = len(results)
                progress.report("visuals", 0.05 + 0.9 * done / len(prompts), f"{NAME} {done}/{len(prompts)} ({server.host})")

        try:
            _on_threads(serve, servers)
        finally:
            for server in servers:
                server.close()
        if not any(results.values()):
            raise ProviderError("; ".join(dict.fromkeys(failures)) or "ComfyUI served no scene")
        return [results.get(prompt.index) for prompt in prompts]

    def _scene(self, server: ComfyUIServer, workflow: dict, prompt: ImagePrompt, size: tuple[int, int], out_dir: Path) -> SceneMedia:
        what = f"scene {prompt.index + 1}"
        values: dict[str, Any] = {
            "prompt": prompt.prompt, "negative_prompt": self.settings.negative_prompt, "seed": prompt.seed,
            "width": size[0] - size[0] % 8, "height": size[1] - size[1] % 8, "frames": self.settings.frames,
            "fps": self.settings.fps,
        }  # fmt: skip
        if uses(workflow, "image"):
            with tempfile.TemporaryDirectory(prefix="aura-comfyui-") as folder:
                values["image"] = server.upload_image(_still_for(prompt, size, Path(folder)))
        output = server.run(fill(workflow, values), what)
        suffix = Path(output.filename).suffix.lower()
        target = server.fetch(output, out_dir / f"scene_{prompt.index:03d}{suffix}")
        if suffix == ".gif":  # the composition takes clips as video files
            target = _gif_as_mp4(target)
        kind = "clip" if target.suffix.lower() in CLIP_SUFFIXES else "still"
        log.info("scene %d: %s %s from %s", prompt.index + 1, NAME, kind, server.host)
        return SceneMedia(index=prompt.index, path=target, kind=kind,
                          credit=Credit(provider=NAME, media_id=output.filename, license="generated"))  # fmt: skip


def _on_threads(work, servers: list[ComfyUIServer]) -> None:
    """`work(server)` on a thread per server, waited for; a cancellation reaches them at their next checkpoint."""
    threads = [threading.Thread(target=contextvars.copy_context().run, args=(work, s), daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)
            checkpoint()


def _still_for(prompt: ImagePrompt, size: tuple[int, int], out_dir: Path) -> Path:
    """The still an image-to-video workflow animates: the scene's slide (in a folder of its own)."""
    [path] = SlideProvider().render([prompt], size, out_dir)
    return Path(path)


def _digest(path: str | None) -> str | None:
    """The workflow by content: an edited workflow makes new scenes."""
    try:
        return sha256_of(Path(path).expanduser()) if path else None
    except OSError:
        return None  # check_request says why


def _gif_as_mp4(gif: Path) -> Path:
    target = gif.with_suffix(".mp4")
    run_ffmpeg(["-i", str(gif), "-movflags", "+faststart", "-pix_fmt", "yuv420p",
                "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-c:v", "libx264", str(target)])  # fmt: skip
    gif.unlink(missing_ok=True)
    return target
