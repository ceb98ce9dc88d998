"""The process's asyncio event loop for litellm, in a daemon thread.

litellm's Router speaks some things only asynchronously (speech; cost-based
routing), and its async clients and logging worker belong to the event loop
they first ran on: every such call runs on this one loop, and the caller waits
on it (for at most its deadline). A fork gets a new loop: threads do not survive it.
"""

from __future__ import annotations

import asyncio
import os
import threading

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


def process_loop() -> asyncio.AbstractEventLoop:
    global _loop, _loop_pid
    with _lock:
        if _loop is None or _loop_pid != os.getpid() or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="aura-litellm-loop", daemon=True).start()
            _loop, _loop_pid = loop, os.getpid()
        return _loop
