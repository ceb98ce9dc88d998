"""`aura generate --review`: a paused run's script, edited in the terminal's editor and resumed through Prefect.

The run pauses as it does anywhere (aura.stages.review): its form is in the
Prefect UI too, and whichever answers first resumes it. Here the scenes are
written to a JSON file, opened in $VISUAL or $EDITOR when one is set, and
Enter renders what the file then holds (checked as the gateway checks it: an
error names its field, and the file can be fixed and Enter pressed again);
`q` cancels the run. At the end of input (no terminal) the file is rendered
as it is.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from uuid import UUID

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from aura.stages.review import ScriptReview, pending
from aura.stages.stage import current_run_id
from aura.store import ArtifactStore

PAUSE_WAIT_S = 120  # how long the run may take from its report to its pause on the server


class TerminalReview:
    """A progress listener: when the run pauses for its review, the terminal is the reviewer's until it resumes."""

    def __init__(self, store_url: str, console: Console, pause_display=None, resume_display=None):
        self.store_url, self.console = store_url, console
        self.pause_display, self.resume_display = pause_display, resume_display
        self.ended = threading.Event()

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        if stage == "script" and message.startswith("awaiting review"):
            run_id = current_run_id()  # called in the flow's thread: its context names the run
            threading.Thread(target=self._review, args=(run_id,), daemon=True, name="aura-review").start()

    def _review(self, run_id: str) -> None:
        script = pending(ArtifactStore(self.store_url).job(run_id))
        if script is None or not _paused(run_id):
            return
        folder = Path(tempfile.mkdtemp(prefix="aura-review-"))
        path = folder / "script.json"
        path.write_text(json.dumps(script.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if self.pause_display:
            self.pause_display()
        try:
            self._edit(run_id, path, script)
        finally:
            if self.resume_display:
                self.resume_display()
            self.ended.set()

    def _edit(self, run_id: str, path: Path, script: ScriptReview) -> None:
        say = self.console.print
        say(f"\n[bold]Review the script[/bold] of “{escape(script.title)}” ({len(script.scenes)} scenes):", highlight=False)
        for number, scene in enumerate(script.scenes, start=1):
            say(f"  {number}. {escape(scene.narration)}", highlight=False)
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        say(f"The scenes are in {path}{' (opening ' + escape(editor) + ')' if editor else ''}: edit narration, key_phrase, "
            "visual_prompt, search_terms or media; the Prefect UI's resume form works too.", highlight=False, soft_wrap=True)  # fmt: skip
        while True:
            if editor:
                subprocess.call([*shlex.split(editor), str(path)])
            say("Press Enter to render the file as it is now (q and Enter: cancel the run).", highlight=False)
            line = sys.stdin.readline()
            if line.strip().lower() == "q":
                _cancel(run_id)
                return
            try:
                edited = ScriptReview.model_validate_json(path.read_text(encoding="utf-8"))
            except ValidationError as exc:
                error = exc.errors()[0]
                where = ".".join(str(part) for part in error.get("loc", ())) or "script"
                say(f"[red]{escape(where)}: {escape(str(error.get('msg', 'invalid')))}[/red]: fix {path} and press Enter", highlight=False)
                if not line:  # no terminal to answer from
                    _cancel(run_id)
                    return
                continue
            try:
                _resume(run_id, edited)
            except Exception as exc:  # e.g. its review timed out meanwhile: said, never a thread's traceback
                say(f"[red]the run could not be resumed: {escape(str(exc))}[/red]", highlight=False)
                return
            say("Rendering the reviewed script.", highlight=False)
            return


def _paused(run_id: str, limit_s: float = PAUSE_WAIT_S) -> bool:
    """Whether the server has the run paused (within limit_s): the report that it awaits review comes just before
    it pauses, and Prefect resumes only a paused run (an answer given sooner would be refused and lost)."""
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + limit_s
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            state = client.read_flow_run(UUID(run_id)).state
            if state is None or state.is_paused():
                return state is not None
            if state.is_final():
                return False
            time.sleep(0.2)
    return False


def _resume(run_id: str, edited: ScriptReview) -> None:
    from prefect.flow_runs import resume_flow_run

    resume_flow_run(UUID(run_id), run_input=edited.model_dump(mode="json"))


def _cancel(run_id: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelling

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(UUID(run_id), Cancelling(message="cancelled at the script review"), force=True)
