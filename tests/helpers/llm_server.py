"""A local OpenAI-compatible chat endpoint with scripted behaviour: the network edge, made real.

Each request takes the next behaviour from a list: "fail" answers HTTP 500,
"hang" holds the connection without answering, any other string is returned
as the assistant's message.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatServer:
    def __init__(self, behaviours: list[str], repeat_last: bool = True):
        self.behaviours = list(behaviours)
        self.repeat_last = repeat_last
        self.requests: list[dict] = []
        self.times: list[float] = []  # time.monotonic() of each request, to see backoff between them
        self._lock = threading.Lock()
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                behaviour = server._next(body)
                if behaviour == "hang":
                    server._stop.wait(60)
                    return
                if behaviour == "fail":
                    self._send(500, {"error": {"message": "scripted failure", "type": "server_error"}})
                    return
                self._send(200, _chat_response(body.get("model", "m"), behaviour))

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def _next(self, body: dict) -> str:
        with self._lock:
            self.requests.append(body)
            self.times.append(time.monotonic())
            index = len(self.requests) - 1
            if index < len(self.behaviours):
                return self.behaviours[index]
            return self.behaviours[-1] if self.repeat_last else "fail"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def _chat_response(model: str, content: str) -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def script_answer(request, wpm: int = 150) -> str:
    """A usable script for `request` (an aura VideoRequest), as a model would answer it: the scenes and words
    its duration asks for."""
    from aura.stages.script import spec_for

    spec = spec_for(request, wpm)
    words = " ".join(["ice"] * (spec.word_budget // spec.scene_count))
    scenes = [{"narration": words, "visual_prompt": "a glacier", "key_phrase": "Ice moves"}] * spec.scene_count
    return json.dumps({"title": "Rivers of Ice", "scenes": scenes})
