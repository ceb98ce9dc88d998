"""Batch generation: request files read and checked up front, one video per request, a table of results."""

from __future__ import annotations

import json

import pytest
from helpers.jobs import check_video, job_folders
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterId

from aura.batch import BatchInputError, read_requests
from aura.models import VideoRequest
from flows.batch_generate import TABLE_KEY, batch_generate


def test_jsonl_requests_are_read_from_the_artifact_store(tmp_path):
    (tmp_path / "batch").mkdir()
    lines = ['{"brief": "How bees dance", "duration_seconds": 20}', "", "# a comment", '{"brief": "Tides", "aspect": "1:1"}']
    (tmp_path / "batch" / "todo.jsonl").write_text("\n".join(lines))
    requests = read_requests("batch/todo.jsonl", str(tmp_path))
    assert [r.brief for r in requests] == ["How bees dance", "Tides"]
    assert requests[0].duration_seconds == 20 and requests[1].size == (720, 720)


def test_csv_requests_take_any_request_field_as_a_column(tmp_path, local_paths):
    (tmp_path / "todo.csv").write_text(
        "brief,duration_seconds,aspect,visuals_required\n"
        '"Why cats purr, and when",30,9:16,true\n'
        "How rain forms,,,\n"
    )
    first, second = read_requests(str(tmp_path / "todo.csv"), "/unused")
    assert first.brief == "Why cats purr, and when" and first.duration_seconds == 30 and first.visuals_required
    assert second.duration_seconds == VideoRequest(brief="x").duration_seconds  # an empty cell is the default


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.jsonl", '{"brief": "ok"}\n{"brief": "ok", "duration_seconds": 5000}\n', "line 2: duration_seconds"),
        ("bad.jsonl", '{"brief": "ok"}\n{"brief": \n', "bad.jsonl line 2: not JSON"),
        ("bad.jsonl", '{"brief": "ok", "colour": "red"}\n', "line 1: colour"),
        ("bad.csv", "title\nHello\n", "bad.csv: the CSV needs a header row with at least a 'brief' column"),
        ("refs.csv", 'brief,references\nBees,"[""a.md"", "\n', "refs.csv line 2: references: not a JSON array"),
        ("empty.jsonl", "\n# nothing\n", "no requests"),
        ("requests.txt", "brief\n", "use a .jsonl or .csv file"),
    ],
)
def test_a_bad_request_file_is_refused_with_line_and_field(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(BatchInputError, match=message):
        read_requests(name, str(tmp_path))


def test_a_missing_request_file_says_where_it_was_looked_for(tmp_path):
    with pytest.raises(BatchInputError, match=f"{tmp_path}/batch/none.jsonl does not exist"):
        read_requests("batch/none.jsonl", str(tmp_path))


@pytest.mark.e2e
def test_a_batch_with_one_bad_request_starts_nothing(prefect_server, tmp_path):
    (tmp_path / "todo.jsonl").write_text('{"brief": "Fine"}\n{"brief": ""}\n')
    state = batch_generate(requests_file="todo.jsonl", output=str(tmp_path), return_state=True)
    assert state.is_failed() and "line 2: brief" in str(state.result(raise_on_failure=False))
    assert job_folders(tmp_path) == []


@pytest.mark.e2e
def test_a_batch_makes_one_video_per_request_and_a_table_of_them(prefect_server, tmp_path):
    requests = [
        VideoRequest(brief="How bees make honey", duration_seconds=10, aspect="9:16", seed=1),
        VideoRequest(brief="Why the sky is blue", duration_seconds=10, aspect="1:1", seed=2),
    ]
    out = tmp_path / "out"
    state = batch_generate(requests=requests, preset="quick_demo", max_concurrent=2, output=str(out), return_state=True)
    items = state.result()
    assert [item.status for item in items] == ["completed", "completed"]
    for item, request in zip(items, requests):
        metadata = check_video(out / item.flow_run_id, request)
        assert item.video == (out / item.flow_run_id / "video.mp4").as_uri()
        assert item.duration_s == pytest.approx(metadata["timings"]["duration"], abs=0.01)
    with get_client(sync_client=True) as client:
        [table] = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[TABLE_KEY])),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])),
        )
        # each video is a subflow of the batch: the UI shows them under it
        for item in items:
            child = client.read_flow_run(item.flow_run_id)
            assert child.parent_task_run_id is not None
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert [row["flow_run_id"] for row in rows] == [item.flow_run_id for item in items]
    assert all(row["video"].endswith("video.mp4") for row in rows)


@pytest.mark.e2e
def test_a_batch_whose_request_fails_fails_and_says_which(prefect_server, tmp_path, monkeypatch, fresh_settings):
    monkeypatch.setenv("AURA_IMAGE_PROVIDER", "stable-diffusion")
    monkeypatch.delenv("AURA_SD_MODEL", raising=False)
    fresh_settings()
    requests = [
        VideoRequest(brief="How owls hunt", duration_seconds=10, seed=1),
        VideoRequest(brief="How moles dig", duration_seconds=10, seed=2, visuals_required=True),  # cannot be met here
    ]
    state = batch_generate(requests=requests, preset="quick_demo", max_concurrent=1, output=str(tmp_path), return_state=True)
    assert state.is_failed()
    message = str(state.result(raise_on_failure=False))
    assert "1 of 2 requests made no video" in message and "#2 failed" in message
