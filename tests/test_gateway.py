"""The REST gateway as applications use it: `aura serve` on loopback, over the session's Prefect server.

The gateway here makes the videos itself (no deployment configured); its
settings ask for Stable Diffusion without a model, so ordinary jobs fall back
to slides and a job that requires generated images fails in its brief.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlsplit

import httpx
import pytest
from helpers.gateway import TOKEN, serving, sse_events, video_job_count
from helpers.media import parse_srt
from prefect.client.orchestration import get_client
from prefect.states import Cancelling, Scheduled

from aura.media.probe import probe

pytestmark = pytest.mark.e2e

STAGES = ["brief", "script", "voice", "visuals", "compose"]
REQUEST = {"brief": "How glaciers carve valleys", "duration_seconds": 10, "aspect": "9:16", "seed": 4}


@pytest.fixture(scope="module")
def gateway(prefect_api_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gateway")
    with serving(tmp, prefect_api_url, AURA_IMAGE_PROVIDER="stable-diffusion", AURA_SD_MODEL="") as gateway:
        yield gateway


@pytest.fixture(scope="module")
def finished_job(api):
    """One job, followed from its 202 to `done` on its stream."""
    created = api.post("/api/videos/generate", json=REQUEST, params={"preset": "quick_demo"})
    assert created.status_code == 202, created.text
    job = created.json()
    events = list(sse_events(api, f"/api/videos/{job['jobId']}/stream"))
    return job, events


def test_generate_answers_at_once_with_the_job(finished_job):
    job, _ = finished_job
    assert set(job) >= {"jobId", "status", "createdAt"} and job["status"] == "scheduled"
    uuid.UUID(job["jobId"])  # the Prefect flow run id
    assert urlsplit(job["streamUrl"]).path == f"/api/videos/{job['jobId']}/stream"  # signed: see test_gateway_security
    assert job["statusUrl"] == f"/api/videos/{job['jobId']}/status"  # relative: never built from Host


def test_the_stream_shows_every_stage_advance_to_done(finished_job):
    job, events = finished_job
    named = [name for name, _ in events if name != ":"]
    assert named[0] == "progress" and named[-1] == "done"
    completed = [data["stage"] for name, data in events if name == "stage-complete"]
    assert sorted(completed, key=STAGES.index) == STAGES and len(completed) == len(set(completed))
    percentages = [data["percentage"] for name, data in events if name == "progress"]
    assert percentages == sorted(percentages) and percentages[-1] == 100
    assert "compose" in {data["stage"] for name, data in events if name == "progress"}
    # while it runs, about how long is left: a number of seconds (the built-in rates before any history)
    left = [data["etaSeconds"] for name, data in events if name == "progress" and 0 < data["percentage"] < 100]
    assert any(isinstance(s, (int, float)) for s in left) and all(s is None or s >= 0 for s in left), left
    assert (":", None) in events  # keep-alive comments while the job works (AURA_GATEWAY_KEEPALIVE_S=1)
    done = events[-1][1]
    assert urlsplit(done["downloadUrl"]).path == f"/api/videos/{job['jobId']}/download"


def test_the_download_is_the_video_the_request_asked_for(api, finished_job, tmp_path):
    job, events = finished_job
    response = api.get(events[-1][1]["downloadUrl"])
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    assert response.headers["accept-ranges"] == "bytes"
    video = tmp_path / "video.mp4"
    video.write_bytes(response.content)
    info = probe(video)
    assert [s.codec for s in info.of_kind("video")] == ["h264"] and [s.codec for s in info.of_kind("audio")] == ["aac"]
    stream = info.of_kind("video")[0]
    assert (stream.width, stream.height) == (720, 1280)
    metadata = api.get(f"/api/videos/{job['jobId']}/metadata").json()
    assert metadata["job_id"] == job["jobId"] and metadata["request"]["brief"] == REQUEST["brief"]
    assert abs(info.duration - metadata["timings"]["duration"]) <= 0.1
    assert metadata["stages"]["visuals"]["provider"] == "slides"  # no model: the fallback, and it says so
    assert any("slides" in warning for warning in metadata["warnings"])


def test_the_subtitles_fall_inside_the_video(gateway, finished_job):
    job, _ = finished_job
    folder = gateway.out / job["jobId"]
    metadata = json.loads((folder / "metadata.json").read_text())
    cues = parse_srt(folder / "subtitles.srt")
    assert cues and cues[-1].end <= metadata["timings"]["duration"] + 0.05


def test_range_requests_let_players_seek(api, finished_job):
    job, _ = finished_job
    url = f"/api/videos/{job['jobId']}/download"
    whole = api.get(url).content
    part = api.get(url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(whole)}"
    assert part.content == whole[1000:2000]
    tail = api.get(url, headers={"Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.content == whole[-500:]
    beyond = api.get(url, headers={"Range": f"bytes={len(whole) + 10}-"})
    assert beyond.status_code == 416


def test_a_late_client_gets_the_current_state_first(api, finished_job):
    job, _ = finished_job
    events = [(name, data) for name, data in sse_events(api, f"/api/videos/{job['jobId']}/stream") if name != ":"]
    assert events[0] == ("progress", {"jobId": job["jobId"], "percentage": 100.0, "stage": "compose",
                                      "message": events[0][1]["message"], "stages": dict.fromkeys(STAGES, 100.0),
                                      "etaSeconds": None})  # it ended: nothing left
    assert [data["stage"] for name, data in events[1:-1]] == STAGES
    assert events[-1][0] == "done"
    status = api.get(f"/api/videos/{job['jobId']}/status").json()
    assert status["status"] == "completed" and status["progress"] == 100 and status["etaSeconds"] is None
    assert status["stages"] == dict.fromkeys(STAGES, "completed") and status["error"] is None


@pytest.mark.parametrize(
    ("body", "params", "field"),
    [
        ({**REQUEST, "duration_seconds": 5000}, {}, "duration_seconds"),
        ({"duration_seconds": 30}, {}, "brief"),
        ({**REQUEST, "aspect": "4:3"}, {}, "aspect"),
        ({**REQUEST, "colour": "red"}, {}, "colour"),
        (REQUEST, {"preset": "turbo"}, "preset"),
    ],
)
def test_a_bad_request_is_a_422_naming_the_field_and_starts_nothing(api, body, params, field):
    before = video_job_count()
    response = api.post("/api/videos/generate", json=body, params=params)
    assert response.status_code == 422
    assert response.json()["message"].startswith(f"{field}:")
    assert any(field in [str(p) for p in error["loc"]] for error in response.json()["detail"])
    assert video_job_count() == before


@pytest.mark.parametrize("endpoint", ["status", "stream", "download", "metadata", "thumbnail", "subtitles", "script"])
@pytest.mark.parametrize(
    "job_id", ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "not-a-job", "12345"]
)
def test_ids_that_are_not_jobs_never_read_anything(api, endpoint, job_id):
    response = api.get(f"/api/videos/{job_id}/{endpoint}")
    assert response.status_code in (404, 422)
    assert "root:" not in response.text


@pytest.mark.parametrize(
    ("method", "endpoint"),
    [("GET", e) for e in ("status", "stream", "download", "metadata", "thumbnail", "subtitles", "script", "timeline")]
    + [("POST", e) for e in ("cancel", "retry")],
)
def test_an_unknown_job_is_a_404(api, method, endpoint):
    response = api.request(method, f"/api/videos/{uuid.uuid4()}/{endpoint}")
    assert response.status_code == 404 and "no video job" in response.json()["detail"]


def test_a_run_of_another_flow_is_not_a_job(api, prefect_server):
    from flows.batch_generate import batch_generate

    with get_client(sync_client=True) as client:
        other = client.create_flow_run(batch_generate, parameters={"requests": []}, state=Scheduled())
    assert api.get(f"/api/videos/{other.id}/status").status_code == 404


def test_files_of_an_unfinished_job_are_a_409(api, prefect_server):
    from flows.generate_video import generate_video

    with get_client(sync_client=True) as client:  # a job no one has started yet
        waiting = client.create_flow_run(generate_video, parameters={"request": REQUEST}, state=Scheduled())
    for endpoint in ("download", "metadata", "thumbnail", "subtitles", "script"):
        response = api.get(f"/api/videos/{waiting.id}/{endpoint}")
        assert response.status_code == 409 and "scheduled" in response.json()["detail"]
    assert api.post(f"/api/videos/{waiting.id}/retry").status_code == 409
    assert api.get(f"/api/videos/{waiting.id}/status").json()["status"] == "scheduled"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/api/health"), ("POST", "/api/videos/generate"),
     ("POST", "/api/uploads"),
     ("GET", "/api/videos/{job}/status"), ("GET", "/api/videos/{job}/stream"), ("GET", "/api/videos/{job}/download"),
     ("GET", "/api/videos/{job}/metadata"), ("GET", "/api/videos/{job}/thumbnail"), ("GET", "/api/videos/{job}/subtitles"),
     ("GET", "/api/videos"), ("GET", "/api/voices"), ("POST", "/api/videos/{job}/cancel"), ("POST", "/api/videos/{job}/retry"),
     ("GET", "/api/videos/{job}/script"), ("POST", "/api/videos/{job}/script")],
)  # fmt: skip
def test_every_endpoint_needs_the_token(gateway, finished_job, method, path):
    job, _ = finished_job
    url = gateway.url + path.format(job=job["jobId"])
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = httpx.request(method, url, headers=headers, json=REQUEST if method == "POST" else None)
        assert response.status_code == 401, (path, headers)
        assert response.headers["www-authenticate"] == "Bearer" and "AURA_API_TOKEN" in response.json()["detail"]
    if method == "GET" and not path.endswith(("stream", "script")):  # the query may carry it too
        assert httpx.get(url, params={"access_token": TOKEN}).status_code == 200


def test_the_page_and_its_files_are_public_and_hold_no_data(gateway):
    """The page is the same for everyone; it asks for the token, and every answer it shows needs it."""
    page = httpx.get(gateway.url + "/")
    assert page.status_code == 200 and "<form" in page.text and TOKEN not in page.text
    for asset in ("/static/studio.js", "/static/studio.css"):
        assert httpx.get(gateway.url + asset).status_code == 200
    for climbing in ("/static/../../etc/passwd", "/static/..%2F..%2Fetc%2Fpasswd", "/static/%2e%2e/%2e%2e/etc/passwd"):
        answer = httpx.get(gateway.url + climbing)
        assert answer.status_code in (401, 404) and "root:" not in answer.text


def test_a_failed_job_streams_an_error_naming_its_stage(api):
    required = {**REQUEST, "brief": "How moles dig", "visuals_required": True}  # no model here: cannot be met
    job = api.post("/api/videos/generate", json=required).json()
    events = [(name, data) for name, data in sse_events(api, f"/api/videos/{job['jobId']}/stream") if name != ":"]
    name, error = events[-1]
    assert name == "error" and error["status"] == "failed" and error["stage"] == "brief"
    assert "visuals_required" in error["message"]
    status = api.get(f"/api/videos/{job['jobId']}/status").json()
    assert status["error"]["stage"] == "brief" and status["downloadUrl"] is None


def test_cancelling_a_job_ends_its_stream_with_an_error(api):
    job = api.post("/api/videos/generate", json={**REQUEST, "brief": "Why the sea is salty", "duration_seconds": 90}).json()
    seen = []
    for name, data in sse_events(api, f"/api/videos/{job['jobId']}/stream"):
        seen.append((name, data))
        if name == "stage-complete" and data["stage"] == "script":
            with get_client(sync_client=True) as client:  # the UI's Cancel button
                client.set_flow_run_state(uuid.UUID(job["jobId"]), Cancelling(message="cancelled by the test"))
    name, error = seen[-1]
    assert name == "error" and error["status"] == "cancelled"
    assert api.get(f"/api/videos/{job['jobId']}/download").status_code == 409


def test_openapi_schema_is_one_a_client_generator_can_use(api):
    schema = api.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {"generate_video", "get_video_status", "stream_video_progress", "download_video", "get_video_metadata"} <= operations
    generate = schema["paths"]["/api/videos/generate"]["post"]
    assert generate["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/VideoRequest")
    assert "202" in generate["responses"] and "422" in generate["responses"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "text/event-stream" in schema["paths"]["/api/videos/{job_id}/stream"]["get"]["responses"]["200"]["content"]
