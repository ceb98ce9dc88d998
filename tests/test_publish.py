"""Publishing: the YouTube upload (against a stand-in of the documented API) and the signed webhook."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterId

from aura.models import VideoRequest
from aura.publishing import webhook, youtube
from aura.publishing.youtube import VideoListing, YouTubeAccount, YouTubeError, upload
from aura.run_summary import SUMMARY_KEY
from flows.batch_generate import TABLE_KEY, batch_generate
from flows.generate_video import generate_video
from helpers.jobs import check_video
from helpers.webhook_receiver import WebhookReceiver
from helpers.youtube_server import YouTubeServer

SECRET = "a-shared-secret-of-32-characters"


@pytest.fixture
def quick_retries(monkeypatch):
    """The retry waits of both clients, short: the tests wait for what they check, not for the backoff."""
    monkeypatch.setattr(youtube, "FIRST_RETRY_S", 0.05)
    monkeypatch.setattr(webhook, "FIRST_RETRY_S", 0.05)


@pytest.fixture
def media(tmp_path):
    video = tmp_path / "video.mp4"
    video.write_bytes(os.urandom(3 * youtube.CHUNK_BYTES + 12345))
    thumbnail = tmp_path / "thumbnail.jpg"
    thumbnail.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(2000))
    captions = tmp_path / "subtitles.srt"
    captions.write_text("1\n00:00:00,000 --> 00:00:02,000\nLava rises.\n", encoding="utf-8")
    return video, thumbnail, captions


def account(server: YouTubeServer, refresh_token: str | None = None) -> YouTubeAccount:
    return YouTubeAccount("client.apps.googleusercontent.com", "s3cret", refresh_token or server.refresh_token,
                          api_url=server.url, token_url=server.token_url)  # fmt: skip


def test_a_cut_off_upload_resumes_from_the_byte_youtube_confirmed(media, quick_retries):
    video, thumbnail, captions = media
    with YouTubeServer() as server:
        server.cut_after = [youtube.CHUNK_BYTES + 777]  # the connection drops mid-file
        server.fail_puts = 1  # and the resumed PUT meets a 500 once
        listing = VideoListing("How <volcanoes> form", "Magma rises.", ["volcano", "magma chamber"], privacy="unlisted")
        done = upload(account(server), video, listing, thumbnail=thumbnail, captions=captions)
        session = server.videos[done.video_id]
    assert bytes(session.received) == video.read_bytes()  # every byte once, in order
    assert server.log[:3] == ["PUT cut after 1049353 bytes", "PUT 308 bytes=0-1049352", "PUT 500"]
    assert server.log[-1] == f"PUT 200 {done.video_id}" and done.resumed == 2
    assert done.url == f"https://www.youtube.com/watch?v={done.video_id}"
    snippet = session.resource["snippet"]
    assert snippet["title"] == "How volcanoes form" and snippet["tags"] == ["volcano", "magma chamber"]
    assert session.resource["status"]["privacyStatus"] == "unlisted"
    assert server.thumbnails[done.video_id] == thumbnail.read_bytes()
    metadata, srt = server.captions[done.video_id]
    assert metadata["snippet"]["videoId"] == done.video_id and srt.decode().strip() == captions.read_text().strip()


def test_quota_and_credentials_errors_are_one_line_that_says_what_to_do(media, quick_retries):
    video = media[0]
    with YouTubeServer() as server:
        server.quota = True
        with pytest.raises(YouTubeError) as quota:
            upload(account(server), video, VideoListing("t", "d"))
        server.quota = False
        with pytest.raises(YouTubeError) as grant:
            upload(account(server, refresh_token="revoked"), video, VideoListing("t", "d"))
    assert "quota exceeded (quotaExceeded" in str(quota.value) and "midnight Pacific" in str(quota.value)
    assert "invalid_grant" in str(grant.value) and "AURA_YOUTUBE_REFRESH_TOKEN" in str(grant.value)
    assert "\n" not in str(quota.value) + str(grant.value)
    assert not server.videos


def test_youtube_limits_are_kept():
    assert youtube.clip_title("x" * 150) == "x" * 99 + "…" and youtube.clip_title("<>") == "Untitled"
    tags = youtube.clip_tags(["lava flow"] * 3 + [f"tag{i}" for i in range(200)])
    assert tags[0] == "lava flow" and len(tags) == len(set(tags))
    assert sum(len(t) + (2 if " " in t else 0) for t in tags) + len(tags) - 1 <= 500
    assert len(youtube.clip_bytes("é" * 4000, 5000).encode()) <= 5000


def test_a_webhook_is_signed_and_retried_with_one_delivery_id(quick_retries):
    with WebhookReceiver(SECRET) as receiver:
        receiver.refuse = 2  # 503 twice, then taken
        payload = webhook.event_payload("completed", job_id="j1", flow_run_id="r1", video_url="file:///v.mp4",
                                        duration_s=12.5, error=None)  # fmt: skip
        delivery = webhook.Delivery(receiver.url, SECRET, payload)
        assert delivery.send() and delivery.attempts == 3
        [got] = receiver.received
    assert got.signed and got.headers["X-Aura-Delivery"] == delivery.delivery_id
    assert got.body["event"] == "video.completed" and got.body["durationSeconds"] == 12.5
    assert webhook.verify(got.raw, got.headers["X-Aura-Signature"], SECRET)
    assert not webhook.verify(got.raw, got.headers["X-Aura-Signature"], "another-secret-entirely")


def test_a_webhook_the_receiver_refuses_is_not_retried_and_one_never_answered_gives_up(refused_port, quick_retries):
    payload = webhook.event_payload("failed", job_id="j", flow_run_id="r", video_url=None, duration_s=None, error="x")
    gone = webhook.Delivery(f"http://127.0.0.1:{refused_port}/hook", SECRET, payload, window_s=0.5)
    assert not gone.send() and gone.attempts > 1 and "not delivered within" in gone.outcome
    with WebhookReceiver(SECRET) as receiver:
        receiver.status = 401  # a receiver that rejects the delivery: trying again would not change its mind
        refused = webhook.Delivery(receiver.url, SECRET, payload)
        assert not refused.send() and refused.attempts == 1 and "refused by the receiver (HTTP 401)" in refused.outcome


def test_settings_name_what_a_publish_target_needs(monkeypatch, fresh_settings):
    from pydantic import ValidationError

    monkeypatch.setenv("AURA_PUBLISH", "youtube,webhook")
    monkeypatch.setenv("AURA_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    with pytest.raises(ValidationError) as missing:
        fresh_settings()
    text = str(missing.value)
    assert "AURA_WEBHOOK_SECRET" in text and "AURA_YOUTUBE_REFRESH_TOKEN" in text
    monkeypatch.setenv("AURA_PUBLISH", "tiktok")
    with pytest.raises(ValidationError) as unknown:
        fresh_settings()
    assert "publish" in str(unknown.value) and "youtube" in str(unknown.value)


@pytest.fixture
def publishing(monkeypatch, fresh_settings, quick_retries):
    """AURA_PUBLISH=youtube,webhook, pointed at a YouTube stand-in and a webhook receiver."""
    with YouTubeServer() as server, WebhookReceiver(SECRET) as receiver:
        for name, value in {**server.env(), **receiver.env(), "AURA_PUBLISH": "youtube,webhook"}.items():
            monkeypatch.setenv(name, value)
        fresh_settings()
        yield server, receiver
    webhook.finish_deliveries()


@pytest.mark.e2e
def test_a_video_is_uploaded_once_and_announced_signed(prefect_server, tmp_path, publishing):
    server, receiver = publishing
    request = VideoRequest(brief="How volcanoes form", duration_seconds=10, aspect="9:16", seed=3)
    first = generate_video(request, preset="quick_demo", output=str(tmp_path))
    [video_id] = server.videos
    job = tmp_path / first.job_id
    assert bytes(server.videos[video_id].received) == (job / "video.mp4").read_bytes()
    assert server.thumbnails[video_id] == (job / "thumbnail.jpg").read_bytes()
    assert server.captions[video_id][1].decode().strip() == (job / "subtitles.srt").read_text().strip()
    url = f"https://www.youtube.com/watch?v={video_id}"
    metadata = json.loads((job / "metadata.json").read_text())
    assert first.published == metadata["published"] == {"youtube": url}
    assert server.videos[video_id].resource["snippet"]["title"] == metadata["script"]["title"]
    assert metadata["stages"]["publish"]["status"] == "completed" and metadata["stages"]["publish"]["provider"] == "youtube"
    [event] = receiver.wait_for(1)
    assert event.signed and event.body["event"] == "video.completed" and event.body["jobId"] == first.job_id
    assert event.body["videoUrl"] == (job / "video.mp4").as_uri() and event.body["publishedUrls"] == {"youtube": url}
    assert event.body["durationSeconds"] == pytest.approx(first.duration)
    with get_client(sync_client=True) as client:
        [summary] = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[SUMMARY_KEY])),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[first.flow_run_id])),
        )
    assert f"Published on youtube: {url}" in summary.data

    second = generate_video(request, preset="quick_demo", output=str(tmp_path))  # the same video: not uploaded again
    assert len(server.videos) == 1 and second.published == {"youtube": url} and second.stages["publish"].cached
    events = receiver.wait_for(2)
    assert events[1].body["jobId"] == second.job_id and events[1].headers["X-Aura-Delivery"] != events[0].headers["X-Aura-Delivery"]

    kept = generate_video(request.model_copy(update={"publish": False, "seed": 4}), preset="quick_demo", output=str(tmp_path))
    assert kept.published == {} and "publish" not in kept.stages and len(server.videos) == 1
    webhook.finish_deliveries()
    assert len(receiver.received) == 2  # publish: false is not announced either


@pytest.mark.e2e
def test_a_failed_upload_keeps_the_video_and_says_why(prefect_server, tmp_path, publishing):
    server, receiver = publishing
    server.quota = True
    result = generate_video(VideoRequest(brief="Why leaves fall", duration_seconds=10, seed=5), preset="quick_demo",
                            output=str(tmp_path))  # fmt: skip
    assert (tmp_path / result.job_id / "video.mp4").is_file() and result.published == {}
    assert any("not published" in w and "quota exceeded" in w for w in result.warnings)
    assert result.stages["publish"].status == "failed"
    [event] = receiver.wait_for(1)
    assert event.body["event"] == "video.completed" and event.body["publishedUrls"] == {}


@pytest.mark.e2e
def test_a_batch_uploads_every_video_and_the_webhook_hears_each_ending(prefect_server, tmp_path, publishing, monkeypatch, fresh_settings):
    server, receiver = publishing
    server.cut_after = [200_000]  # the first upload is cut off and resumes
    requests = [
        VideoRequest(brief="How bees make honey", duration_seconds=10, seed=11),
        VideoRequest(brief="Why the sky is blue", duration_seconds=10, aspect="1:1", seed=12),
    ]
    state = batch_generate(requests=requests, preset="quick_demo", max_concurrent=1, output=str(tmp_path), return_state=True)
    items = state.result()
    assert [item.status for item in items] == ["completed", "completed"] and len(server.videos) == 2
    assert "PUT cut after 200000 bytes" in server.log and "PUT 308 bytes=0-199999" in server.log
    for item, request in zip(items, requests):
        check_video(tmp_path / item.flow_run_id, request)
        [video_id] = [v for v, s in server.videos.items() if bytes(s.received) == (tmp_path / item.flow_run_id / "video.mp4").read_bytes()]
        assert item.published == {"youtube": f"https://www.youtube.com/watch?v={video_id}"}
    with get_client(sync_client=True) as client:
        [table] = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[TABLE_KEY])),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])),
        )
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert [row["published"] for row in rows] == [f"youtube: {item.published['youtube']}" for item in items]
    completed = receiver.wait_for(2)
    assert {e.body["jobId"] for e in completed} == {item.flow_run_id for item in items}
    assert all(e.signed and e.body["event"] == "video.completed" for e in completed)

    monkeypatch.setenv("AURA_IMAGE_PROVIDER", "stable-diffusion")  # with no model here: a run made to fail
    monkeypatch.delenv("AURA_SD_MODEL", raising=False)
    fresh_settings()
    failing = VideoRequest(brief="How moles dig", duration_seconds=10, seed=13, visuals_required=True)
    state = generate_video(failing, preset="quick_demo", output=str(tmp_path), return_state=True)
    assert state.is_failed()
    failed = receiver.wait_for(3)[2]
    assert failed.signed and failed.body["event"] == "video.failed" and failed.body["status"] == "failed"
    assert failed.body["jobId"] == str(state.state_details.flow_run_id) and failed.body["videoUrl"] is None
    assert failed.body["error"] and len(server.videos) == 2


@pytest.mark.e2e
def test_the_readme_automation_recipe_calls_a_webhook_block_when_a_video_run_ends(prefect_server, tmp_path):
    """The Prefect-native alternative the README shows: a webhook block called by an automation, no Aura setting."""
    from prefect.automations import Automation
    from prefect.blocks.webhook import Webhook
    from prefect.events.actions import CallWebhook
    from prefect.events.schemas.automations import EventTrigger, Posture

    with WebhookReceiver(SECRET) as receiver:
        block = Webhook(method="POST", url=receiver.url, headers={"Authorization": "Bearer t"}, allow_private_urls=True)
        block_id = block.save("aura-receiver-test", overwrite=True)
        automation = Automation(
            name="aura: tell the receiver (test)",
            trigger=EventTrigger(
                expect={"prefect.flow-run.Completed", "prefect.flow-run.Failed", "prefect.flow-run.Crashed",
                        "prefect.flow-run.Cancelled"},
                match_related={"prefect.resource.role": "flow", "prefect.resource.name": "generate-video"},
                posture=Posture.Reactive, threshold=1,
            ),
            actions=[CallWebhook(block_document_id=block_id,
                                 payload='{"run": "{{ event.resource.id }}", "event": "{{ event.event }}"}')],
        ).create()  # fmt: skip
        try:
            result = generate_video(VideoRequest(brief="Why cats purr", duration_seconds=10, seed=6), preset="quick_demo",
                                    output=str(tmp_path))  # fmt: skip
            [call] = receiver.wait_for(1)
        finally:
            automation.delete()
    assert call.body == {"run": f"prefect.flow-run.{result.flow_run_id}", "event": "prefect.flow-run.Completed"}
    assert call.headers["Authorization"] == "Bearer t"


@pytest.mark.e2e
def test_the_command_publishes_and_exits_once_the_webhook_is_delivered(tmp_path, prefect_api_url):
    """`aura generate` in its own process: the YouTube address in --json; the delivery, though the receiver refuses
    it three times first, arrives before the command ends (it leaves by os._exit, which would drop a thread)."""
    with YouTubeServer() as server, WebhookReceiver(SECRET) as receiver:
        receiver.refuse = 3  # waits of 2, 4 and 8 s: the command must not exit in between
        env = {**os.environ, **server.env(), **receiver.env(), "AURA_PUBLISH": "webhook,youtube", "PREFECT_API_URL": prefect_api_url}
        args = [sys.executable, "-m", "aura.cli", "generate", "How geckos climb", "--duration", "10", "--preset", "quick_demo",
                "--out", str(tmp_path), "--json"]  # fmt: skip
        proc = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 0, proc.stderr[-2000:]
        report = json.loads(proc.stdout)
        [video_id] = server.videos
        assert report["published"] == {"youtube": f"https://www.youtube.com/watch?v={video_id}"}
        assert [e.body["event"] for e in receiver.received] == ["video.completed"] and receiver.received[0].signed
    assert "delivering the webhook" in proc.stderr and "Traceback" not in proc.stderr
