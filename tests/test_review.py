"""Script review through Prefect's pause-with-input: the run waits, a person edits, the video says the edit."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from helpers.media import parse_srt
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterState, FlowRunFilterStateType
from prefect.flow_runs import resume_flow_run
from pydantic import ValidationError

from aura.models import Scene, Script, VideoRequest
from aura.stages.review import ScriptReview, applied, draft, pending
from aura.store import ArtifactStore
from flows.generate_video import generate_video

EDIT = "Zebras paint the glacier purple every spring."


def test_the_review_form_validates_like_a_request():
    scene = {"narration": "Ice moves.", "key_phrase": "Ice", "visual_prompt": "a glacier", "search_terms": ["glacier"]}
    ScriptReview(title="Glaciers", scenes=[scene])
    cases = [
        ({"title": "Glaciers", "scenes": []}, "scenes"),
        ({"title": "Glaciers", "scenes": [{**scene, "narration": "x" * 1001}]}, "scenes.0.narration"),
        ({"title": "Glaciers", "scenes": [{**scene, "narration": "   "}]}, "scenes.0.narration"),
        ({"title": "Glaciers", "scenes": [{**scene, "search_terms": ["a"] * 6}]}, "scenes.0.search_terms"),
        ({"title": "", "scenes": [scene]}, "title"),
        ({"title": "Glaciers", "scenes": [scene] * 41}, "scenes"),
        ({"title": "Glaciers", "scenes": [{**scene, "media": "/etc/passwd.png"}]}, "scenes"),
    ]
    for body, field in cases:
        with pytest.raises(ValidationError) as info:
            ScriptReview.model_validate(body)
        assert ".".join(str(p) for p in info.value.errors()[0]["loc"]) == field, body


def test_a_review_becomes_the_script_and_the_scenes_media():
    script = Script(title="T", scenes=[Scene(narration="One.", visual_prompt="a", key_phrase="A"),
                                       Scene(narration="Two.", visual_prompt="b", key_phrase="B")])  # fmt: skip
    request = VideoRequest(brief="x", media=["", f"upload:{'a' * 64}.png"])
    shown = draft(script, request)
    assert [s.media for s in shown.scenes] == [None, f"upload:{'a' * 64}.png"]
    form = shown.model_dump()
    form["scenes"][0]["narration"] = EDIT
    form["scenes"].pop()
    edited, changed = applied(script, request, ScriptReview.model_validate(form))
    assert [s.narration for s in edited.scenes] == [EDIT] and changed.media == []


def paused_run(brief: str, timeout_s: float = 240):
    deadline = time.monotonic() + timeout_s
    paused = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=["PAUSED"])))
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            for run in client.read_flow_runs(flow_run_filter=paused):
                if run.parameters.get("request", {}).get("brief") == brief:
                    return run
            time.sleep(0.5)
    raise AssertionError(f"no paused run of {brief!r}")


@pytest.mark.e2e
def test_a_paused_run_speaks_the_edited_script(prefect_server, tmp_path):
    request = VideoRequest(brief="How glaciers carve valleys", duration_seconds=10, seed=2, review_script=True)
    out, made = tmp_path / "out", {}
    worker = threading.Thread(target=lambda: made.update(video=generate_video(request=request, preset="quick_demo", output=str(out))))
    worker.start()
    run = paused_run(request.brief)
    waiting = pending(ArtifactStore(str(out)).job(str(run.id)))
    assert waiting is not None and waiting.scenes
    with get_client(sync_client=True) as client:
        keys = client.read_flow_run(run.id).state.state_details.run_input_keyset
        assert keys and "schema" in keys  # the Prefect UI draws its form from it
    form = waiting.model_dump()
    form["scenes"][0]["narration"] = EDIT
    resume_flow_run(run.id, run_input=form)
    worker.join(300)
    video = made["video"]
    cues = " ".join(" ".join(cue.lines) for cue in parse_srt(Path(video.paths()["subtitles"])))
    assert "Zebras paint the glacier purple" in " ".join(cues.split())
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(run.id).state.is_completed()


@pytest.mark.e2e
def test_a_review_left_alone_ends_the_run_saying_so(prefect_server, tmp_path, monkeypatch, fresh_settings):
    monkeypatch.setenv("AURA_REVIEW_TIMEOUT_S", "3")
    fresh_settings()
    request = VideoRequest(brief="Why glaciers are blue", duration_seconds=10, review_script=True)
    state = generate_video(request=request, preset="quick_demo", output=str(tmp_path / "out"), return_state=True)
    assert state.is_failed() and "the script review was left for 3 s (AURA_REVIEW_TIMEOUT_S)" in state.message
    with get_client(sync_client=True) as client:
        [run] = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(str(state.state_details.flow_run_id))])))
    assert run.state.is_failed()


@pytest.mark.e2e
def test_aura_generate_review_opens_the_editor_and_renders_the_edit(prefect_api_url, tmp_path):
    editor = tmp_path / "editor.py"  # an editor that changes the first scene's narration
    editor.write_text(
        "import json, sys\npath = sys.argv[1]\nscript = json.load(open(path))\n"
        f"script['scenes'][0]['narration'] = {EDIT!r}\njson.dump(script, open(path, 'w'))\n"
    )
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url, "EDITOR": f"{sys.executable} {editor}"}
    command = [sys.executable, "-m", "aura.cli", "generate", "Why glaciers groan", "--duration", "10", "--preset",
               "quick_demo", "--review", "--out", str(tmp_path / "out")]  # fmt: skip
    done = subprocess.run(command, input="\n", env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Review the script" in done.stderr and "Rendering the reviewed script" in done.stderr
    subtitles = Path(done.stdout.strip().splitlines()[-1]).with_name("subtitles.srt")
    cues = " ".join(" ".join(cue.lines) for cue in parse_srt(subtitles))
    assert "Zebras paint the glacier purple" in " ".join(cues.split())
