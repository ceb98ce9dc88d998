"""A local stand-in for a ComfyUI server's HTTP API, of the documented shape (ComfyUI's server.py routes).

`POST /prompt` checks every node's class_type against the node types it
knows (else 400 with `error` and `node_errors`, as ComfyUI answers a missing
custom node) and queues the workflow; `GET /history/{id}` is empty until the
prompt ran (one poll later), then holds its `outputs` and `status`;
`GET /view` serves an output; `POST /upload/image` keeps an input image.
What it makes is real media: a `SaveImage` node gives a PNG of the latent's
size, a `VHS_VideoCombine` node an H.264 mp4 (moving test pattern) of the SVD
node's frame count at its own rate, under `gifs` as that node reports it. A
`RaiseError` node fails while running (`execution_error`); `die_after`
stops the whole server once it has taken that many prompts.
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from email.parser import BytesParser
from email.policy import default as email_policy
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from PIL import Image

from helpers.network import LocalHTTPServer, QuietHandler

KNOWN = {"CheckpointLoaderSimple", "CLIPTextEncode", "EmptyLatentImage", "KSampler", "VAEDecode", "SaveImage",
         "LoadImage", "ImageOnlyCheckpointLoader", "SVD_img2vid_Conditioning", "VHS_VideoCombine", "RaiseError"}  # fmt: skip


class ComfyUIServer(LocalHTTPServer):
    def __init__(self, ffmpeg: str = "ffmpeg"):
        self.ffmpeg = ffmpeg
        self.prompts: list[dict] = []  # the filled workflows it was given
        self.uploads: dict[str, bytes] = {}
        self.history: dict[str, dict] = {}
        self.files: dict[str, bytes] = {}
        self.die_after: int | None = None
        self._polls: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stopped = False  # once set, nothing is answered, on open connections either
        super().__init__(self._handler())

    def stop(self) -> None:
        self._stopped = True
        super().stop()

    def _run(self, prompt_id: str, workflow: dict) -> None:
        """Execute the workflow: the outputs of its save nodes, or the error of a failing node."""
        # timestamps in ms, as ComfyUI's history has them: the run's GPU seconds are read from them
        outputs, messages = {}, [["execution_start", {"prompt_id": prompt_id, "timestamp": int(time.time() * 1000)}]]
        latent = next((n["inputs"] for n in workflow.values() if n["class_type"] in ("EmptyLatentImage", "SVD_img2vid_Conditioning")), {})
        for node_id, node in workflow.items():
            inputs = node["inputs"]
            if node["class_type"] == "RaiseError":
                messages.append(["execution_error", {"prompt_id": prompt_id, "node_id": node_id, "node_type": "RaiseError",
                                                     "exception_message": "CUDA out of memory. Tried to allocate 2.00 GiB",
                                                     "exception_type": "torch.OutOfMemoryError"}])  # fmt: skip
                self.history[prompt_id] = {"outputs": {}, "status": {"status_str": "error", "completed": False, "messages": messages}}
                return
            if node["class_type"] == "SaveImage":
                name = f"{inputs.get('filename_prefix', 'ComfyUI')}_{len(self.files):05d}_.png"
                seed = int(next((n["inputs"].get("seed", 0) for n in workflow.values() if n["class_type"] == "KSampler"), 0))
                image = Image.new("RGB", (int(latent.get("width", 64)), int(latent.get("height", 64))),
                                  (seed * 37 % 256, seed * 91 % 256, 128))  # fmt: skip
                buffer = io.BytesIO()
                image.save(buffer, format="PNG")
                self.files[name] = buffer.getvalue()
                outputs[node_id] = {"images": [{"filename": name, "subfolder": "", "type": "output"}]}
            if node["class_type"] == "VHS_VideoCombine":
                name = f"{inputs.get('filename_prefix', 'AnimateDiff')}_{len(self.files):05d}.mp4"
                svd = next((n["inputs"] for n in workflow.values() if n["class_type"] == "SVD_img2vid_Conditioning"), {})
                frames, fps = int(svd.get("video_frames", 16)), int(inputs.get("frame_rate", 8))
                self.files[name] = self._video(frames, fps, int(latent.get("width", 256)), int(latent.get("height", 256)))
                outputs[node_id] = {"gifs": [{"filename": name, "subfolder": "", "type": "output",
                                              "format": "video/h264-mp4", "frame_rate": fps}]}  # fmt: skip
        messages.append(["execution_success", {"prompt_id": prompt_id, "timestamp": int(time.time() * 1000) + 1500}])
        self.history[prompt_id] = {"prompt": [0, prompt_id, workflow, {}, list(outputs)], "outputs": outputs,
                                   "status": {"status_str": "success", "completed": True, "messages": messages}}  # fmt: skip

    def _video(self, frames: int, fps: int, width: int, height: int) -> bytes:
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / "clip.mp4"
            subprocess.run([self.ffmpeg, "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}",
                            "-frames:v", str(frames), "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast",
                            str(target)], check=True)  # fmt: skip
            return target.read_bytes()

    def _handler(self):
        stand_in = self

        class Handler(QuietHandler):
            def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, body: dict) -> None:
                self._send(status, json.dumps(body).encode())

            def _dead(self) -> bool:
                """A stopped server answers nothing, on open connections too: the client sees the connection drop."""
                if stand_in._stopped:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                return stand_in._stopped

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self._dead():
                    return
                path = urlsplit(self.path).path
                if path == "/prompt":
                    workflow = json.loads(raw)["prompt"]
                    missing = {i: n["class_type"] for i, n in workflow.items() if n["class_type"] not in KNOWN}
                    if missing:
                        node_id, kind = next(iter(missing.items()))
                        error = {"type": "invalid_prompt", "message": f"Cannot execute because node {kind} does not exist.",
                                 "details": f"Node ID '#{node_id}'", "extra_info": {}}  # fmt: skip
                        self._json(400, {"error": error, "node_errors": {}})
                        return
                    prompt_id = str(uuid.uuid4())
                    with stand_in._lock:
                        stand_in.prompts.append(workflow)
                        taken = len(stand_in.prompts)
                    stand_in._run(prompt_id, workflow)
                    self._json(200, {"prompt_id": prompt_id, "number": taken, "node_errors": {}})
                    if stand_in.die_after is not None and taken >= stand_in.die_after:
                        stand_in._stopped = True  # dies with the scene queued: nothing more is answered
                        threading.Thread(target=stand_in.stop, daemon=True).start()
                elif path == "/upload/image":
                    message = BytesParser(policy=email_policy).parsebytes(
                        f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + raw
                    )
                    for part in message.iter_parts():
                        if part.get_param("name", header="content-disposition") == "image":
                            name = part.get_filename()
                            stand_in.uploads[name] = part.get_payload(decode=True)
                            self._json(200, {"name": name, "subfolder": "", "type": "input"})
                            return
                    self._json(400, {"error": "no image"})
                elif path == "/interrupt":
                    self._send(200, b"")
                else:
                    self._json(404, {"error": "not found"})

            def do_GET(self) -> None:
                if self._dead():
                    return
                url = urlsplit(self.path)
                if url.path.startswith("/history/"):
                    prompt_id = url.path.rsplit("/", 1)[-1]
                    with stand_in._lock:  # not ready at the first poll: a client must wait for it
                        polls = stand_in._polls[prompt_id] = stand_in._polls.get(prompt_id, 0) + 1
                    entry = stand_in.history.get(prompt_id) if polls > 1 else None
                    self._json(200, {prompt_id: entry} if entry else {})
                elif url.path == "/view":
                    name = parse_qs(url.query).get("filename", [""])[0]
                    data = stand_in.files.get(name)
                    if data is None:
                        self._json(404, {"error": "no such file"})
                    else:
                        self._send(200, data, "video/mp4" if name.endswith(".mp4") else "image/png")
                else:
                    self._json(404, {"error": "not found"})

        return Handler


def text_to_image_workflow() -> dict:
    """The default text-to-image graph, exported in API format, with Aura's placeholders."""
    return {
        "3": {"class_type": "KSampler", "inputs": {"seed": "{{seed}}", "steps": 20, "cfg": 8, "sampler_name": "euler",
              "scheduler": "normal", "denoise": 1, "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0],
              "latent_image": ["5", 0]}},
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": "{{width}}", "height": "{{height}}", "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}, cinematic", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{negative_prompt}}", "clip": ["4", 1]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "aura", "images": ["8", 0]}},
    }  # fmt: skip


def image_to_video_workflow() -> dict:
    """A Stable Video Diffusion graph that animates an uploaded still, saved by VideoHelperSuite."""
    return {
        "1": {"class_type": "ImageOnlyCheckpointLoader", "inputs": {"ckpt_name": "svd_xt.safetensors"}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "{{image}}"}},
        "3": {"class_type": "SVD_img2vid_Conditioning", "inputs": {"width": "{{width}}", "height": "{{height}}",
              "video_frames": "{{frames}}", "fps": "{{fps}}", "init_image": ["2", 0], "clip_vision": ["1", 1], "vae": ["1", 2]}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": "{{width}}", "height": "{{height}}", "batch_size": 1}},
        "4": {"class_type": "KSampler", "inputs": {"seed": "{{seed}}", "steps": 20, "cfg": 2.5, "model": ["1", 0],
              "positive": ["3", 0], "negative": ["3", 1], "latent_image": ["3", 2]}},
        "6": {"class_type": "VHS_VideoCombine", "inputs": {"images": ["4", 0], "frame_rate": "{{fps}}",
              "filename_prefix": "aura", "format": "video/h264-mp4"}},
    }  # fmt: skip
