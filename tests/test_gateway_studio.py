"""The studio's API through a real `aura serve`: the jobs list, cancel, retry, thumbnail, subtitles and review.

The gateway makes one video at a time here (AURA_GATEWAY_LOCAL_RUNS=1), so a
second job waits, Scheduled, while the first renders.
"""

from __future__ import annotations

import time

import httpx
import psutil
import pytest
from helpers.gateway import serving, sse_events

pytestmark = pytest.mark.e2e

REQUEST = {"brief": "How lighthouses guide ships", "duration_seconds": 10, "aspect": "9:16", "seed": 8}
EDIT = "Lighthouse keepers polish the lens with zebra wool."


@pytest.fixture(scope="module")
def gateway(prefect_api_url, tmp_path_factory):
    with serving(tmp_path_factory.mktemp("gateway-studio"), prefect_api_url, AURA_GATEWAY_LOCAL_RUNS="1") as gateway:
        yield gateway


def follow(api, job: dict, until: str | None = None) -> list[tuple[str, dict]]:
    events = []
    for name, data in sse_events(api, job["streamUrl"] if "streamUrl" in job else f"/api/videos/{job['jobId']}/stream"):
        if name != ":":
            events.append((name, data))
        if until and name == until:
            break
    return events


@pytest.fixture(scope="module")
def made(api):
    job = api.post("/api/videos/generate", json=REQUEST, params={"preset": "quick_demo"}).json()
    assert follow(api, job)[-1][0] == "done"
    return job


def test_the_list_shows_jobs_newest_first_with_their_length_and_thumbnail(api, gateway, made):
    later = api.post("/api/videos/generate", json={**REQUEST, "brief": "How tides turn"}, params={"preset": "quick_demo"}).json()
    follow(api, later)
    page = api.get("/api/videos", params={"limit": 2}).json()
    assert [item["jobId"] for item in page["items"]] == [later["jobId"], made["jobId"]] and page["total"] >= 2
    item = page["items"][1]
    assert item["status"] == "completed" and item["brief"] == REQUEST["brief"]
    metadata = api.get(f"/api/videos/{made['jobId']}/metadata").json()
    assert item["durationSeconds"] == pytest.approx(metadata["timings"]["duration"], abs=0.01)
    thumbnail = httpx.get(gateway.url + item["thumbnailUrl"])  # signed: no token needed, as an <img> loads it
    assert thumbnail.status_code == 200 and thumbnail.content[:3] == b"\xff\xd8\xff"
    second = api.get("/api/videos", params={"limit": 1, "offset": 1}).json()["items"]
    assert [i["jobId"] for i in second] == [made["jobId"]]
    completed = api.get("/api/videos", params={"status": "completed", "limit": 100}).json()
    assert all(i["status"] == "completed" for i in completed["items"])
    for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"status": "lost"}):
        assert api.get("/api/videos", params=bad).status_code == 422


def test_the_subtitles_come_as_srt_and_as_vtt(api, made):
    srt = api.get(f"/api/videos/{made['jobId']}/subtitles")
    assert srt.status_code == 200 and "-->" in srt.text and "," in srt.text.split("-->")[0]
    vtt = api.get(f"/api/videos/{made['jobId']}/subtitles", params={"format": "vtt"})
    assert vtt.status_code == 200 and vtt.headers["content-type"].startswith("text/vtt") and vtt.text.startswith("WEBVTT")
    assert "-->" in vtt.text and api.get(f"/api/videos/{made['jobId']}/subtitles", params={"format": "ass"}).status_code == 422


def ffmpeg_of(job_id: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        if "ffmpeg" in (proc.info["name"] or "") and any(job_id in part for part in proc.info["cmdline"] or []):
            found.append(proc)
    return found


def test_a_rendering_job_is_cancelled_its_ffmpeg_killed_and_retried_from_its_checkpoints(api, made):
    job = api.post("/api/videos/generate", json={**REQUEST, "brief": "Why owls turn their heads", "duration_seconds": 60}).json()
    waiting = api.post("/api/videos/generate", json={**REQUEST, "brief": "Why moss grows north"}).json()  # no slot yet
    events = []
    for name, data in sse_events(api, job["streamUrl"]):
        events.append((name, data))
        if name == "stage-complete" and data["stage"] == "script":
            answer = api.post(f"/api/videos/{job['jobId']}/cancel")
            assert answer.status_code == 202, answer.text
            assert api.post(f"/api/videos/{waiting['jobId']}/cancel").status_code == 202
    assert events[-1][0] == "error" and events[-1][1]["status"] == "cancelled"
    time.sleep(1)
    assert not ffmpeg_of(job["jobId"])
    assert api.get(f"/api/videos/{waiting['jobId']}/status").json()["status"] == "cancelled"
    assert api.post(f"/api/videos/{job['jobId']}/cancel").status_code == 409  # ended already
    assert api.post(f"/api/videos/{made['jobId']}/retry").status_code == 409  # completed: nothing to retry
    again = api.post(f"/api/videos/{job['jobId']}/retry", params={})
    assert again.status_code == 202 and again.json()["jobId"] == job["jobId"]
    assert follow(api, job)[-1][0] == "done"
    stages = api.get(f"/api/videos/{job['jobId']}/status").json()["stages"]
    assert stages["script"] == "cached"  # the script was not written again (the brief is checked on every run)


def test_a_review_round_trip_through_the_api(api, gateway):
    job = api.post("/api/videos/generate", json={**REQUEST, "brief": "Why lighthouses flash", "review_script": True},
                   params={"preset": "quick_demo"}).json()  # fmt: skip
    [(name, review)] = [event for event in follow(api, job, until="review") if event[0] == "review"]
    assert api.get(f"/api/videos/{job['jobId']}/status").json()["status"] == "awaiting_review"
    scenes = api.get(review["scriptUrl"]).json()
    assert scenes["title"] and scenes["scenes"] and {"narration", "key_phrase", "visual_prompt", "search_terms", "media"} <= set(scenes["scenes"][0])
    too_long = {**scenes, "scenes": [{**scenes["scenes"][0], "narration": "x" * 1001}]}
    refused = api.post(review["scriptUrl"], json=too_long)
    assert refused.status_code == 422 and refused.json()["message"].startswith("scenes.0.narration:")
    unknown = {**scenes, "scenes": [{**scenes["scenes"][0], "media": f"upload:{'0' * 64}.png"}]}
    missing = api.post(review["scriptUrl"], json=unknown)
    assert missing.status_code == 422 and missing.json()["message"].startswith("scenes[0].media:")
    scenes["scenes"][0]["narration"] = EDIT
    assert api.post(review["scriptUrl"], json=scenes).status_code == 202
    assert follow(api, job)[-1][0] == "done"
    subtitles = " ".join(api.get(f"/api/videos/{job['jobId']}/subtitles").text.split())
    assert "polish the lens with zebra wool" in subtitles
    assert api.get(review["scriptUrl"]).status_code == 409  # reviewed: no longer awaiting review


def test_a_job_awaiting_review_can_be_cancelled(api):
    job = api.post("/api/videos/generate", json={**REQUEST, "brief": "Why foghorns moan", "review_script": True},
                   params={"preset": "quick_demo"}).json()  # fmt: skip
    follow(api, job, until="review")
    assert api.post(f"/api/videos/{job['jobId']}/cancel").status_code == 202
    name, error = follow(api, job)[-1]
    assert name == "error" and error["status"] == "cancelled"


def test_the_timeline_comes_in_an_editor_s_format_or_as_a_bundle(api, made):
    import io
    import zipfile

    import opentimelineio as otio

    fcpxml = api.get(f"/api/videos/{made['jobId']}/timeline", params={"format": "fcpxml"})
    assert fcpxml.status_code == 200 and fcpxml.headers["content-type"].startswith("application/xml")
    edit = otio.adapters.read_from_string(fcpxml.text, adapter_name="fcpx_xml")
    assert len(list(next(t for t in edit.tracks if t.kind == "Video").find_clips())) >= 2
    bundle = api.get(f"/api/videos/{made['jobId']}/timeline", params={"format": "mlt", "bundle": True})
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
        names = archive.namelist()
    assert "timeline.mlt" in names and "work/narration.wav" in names and any(n.startswith("work/images/") for n in names)
    assert api.get(f"/api/videos/{made['jobId']}/timeline", params={"format": "aaf"}).status_code == 422
