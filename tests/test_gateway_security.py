"""What a caller of `aura serve` can trigger, probed through a real gateway: each defect of the probe, closed.

Two gateways over the session's Prefect server: one with a token (voices,
dead job processes, bombs, logs, slow clients, Host, signed links) and one
without (foreign origins), both with short wire timeouts so the tests wait
seconds, not the defaults.
"""

from __future__ import annotations

import socket
import time
import uuid
from urllib.parse import urlsplit

import httpx
import psutil
import pytest
from helpers.gateway import TOKEN, serving, sse_events, video_job_count
from helpers.media import png_bomb
from prefect.client.orchestration import get_client

pytestmark = pytest.mark.e2e

REQUEST = {"brief": "How volcanoes form", "duration_seconds": 10}
WIRE = {"AURA_GATEWAY_HEADER_TIMEOUT_S": "2", "AURA_GATEWAY_BODY_TIMEOUT_S": "2", "AURA_GATEWAY_CLIENT_CONNECTIONS": "6"}


@pytest.fixture(scope="module")
def gateway(prefect_api_url, tmp_path_factory):
    with serving(tmp_path_factory.mktemp("gateway-security"), prefect_api_url, **WIRE) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def open_gateway(prefect_api_url, tmp_path_factory):
    """No token: a loopback gateway, as `aura serve` starts by default."""
    with serving(tmp_path_factory.mktemp("gateway-open"), prefect_api_url, token=None, **WIRE) as gateway:
        yield gateway


def address(gateway) -> tuple[str, int]:
    parts = urlsplit(gateway.url)
    return parts.hostname, parts.port


# --- 1. voices are names, never paths -----------------------------------------------------------


def test_a_voice_that_is_a_path_is_a_422_naming_voice_and_starts_no_job(api):
    before = video_job_count()
    response = api.post("/api/videos/generate", json={**REQUEST, "voice": "../../../../../../../../../etc/passwd"})
    assert response.status_code == 422
    message = response.json()["message"]
    assert message.startswith("voice:") and "GET /api/voices" in message and "passwd" not in response.text
    assert video_job_count() == before


def test_a_voice_no_engine_has_is_a_422_before_any_job(api):
    before = video_job_count()
    response = api.post("/api/videos/generate", json={**REQUEST, "voice": "no-such-voice"})
    assert response.status_code == 422 and response.json()["message"].startswith("voice:")
    assert "aura voices" in response.json()["message"] and video_job_count() == before


def test_the_voices_a_request_may_name_are_listed(api):
    voices = api.get("/api/voices").json()
    espeak = {v["id"] for v in voices["items"] if v["engine"] == "espeak-ng"}
    assert {"en-US", "fr"} <= espeak
    french = api.get("/api/voices", params={"language": "fr"}).json()["items"]
    assert french and all(any(lang.startswith("fr") for lang in v["languages"]) for v in french)
    assert api.get("/api/voices", params={"language": "../etc"}).status_code == 422


# --- 2. a job process that dies is a failed job -------------------------------------------------


def job_process(job_id: str) -> psutil.Process:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for proc in psutil.process_iter(["cmdline"]):
            if "aura.api.run_local" in (proc.info["cmdline"] or []) and job_id in proc.info["cmdline"]:
                return proc
        time.sleep(0.2)
    raise AssertionError(f"no process runs job {job_id}")


def test_a_job_process_killed_by_a_signal_ends_failed_with_an_error_event(api):
    job = api.post("/api/videos/generate", json={**REQUEST, "brief": "Why the sky is blue", "duration_seconds": 60}).json()
    events, killed_at = [], None
    for name, data in sse_events(api, job["streamUrl"], limit_s=240):
        events.append((name, data))
        if killed_at is None and name == "progress" and data["stage"] in ("script", "voice", "visuals"):
            job_process(job["jobId"]).kill()  # SIGKILL, as the out-of-memory killer sends it
            killed_at = time.monotonic()
    assert killed_at is not None and time.monotonic() - killed_at < 30
    name, error = events[-1]
    assert name == "error" and error["status"] == "failed" and "killed by SIGKILL" in error["message"]
    status = api.get(job["statusUrl"]).json()
    assert status["status"] == "failed" and "killed by SIGKILL" in status["error"]["message"]
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(uuid.UUID(job["jobId"])).state
    assert state.type.value == "CRASHED" and "the job's process was killed by SIGKILL" in state.message


# --- 3. decompression bombs ----------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height", "rgba"), [(30000, 30000, False), (16000, 16000, True)])
def test_a_decompression_bomb_is_refused_at_upload_naming_its_size_and_the_limit(api, gateway, width, height, rgba):
    response = api.post("/api/uploads", files={"file": ("sunset.png", png_bomb(width, height, rgba), "image/png")})
    assert response.status_code == 413
    detail = response.json()["detail"]
    assert f"{width}x{height} pixels" in detail and "AURA_MAX_IMAGE_PIXELS" in detail
    assert not (gateway.out / "uploads").exists() or not list((gateway.out / "uploads").glob("*.png"))


# --- 4. secrets stay out of logs -----------------------------------------------------------------


def test_the_access_log_never_shows_the_token_of_a_query(gateway, finished):
    assert httpx.get(f"{gateway.url}/api/health", params={"access_token": TOKEN}).status_code == 200
    assert httpx.get(gateway.url + finished["downloadUrl"]).status_code == 200
    time.sleep(0.5)
    log = gateway.log.read_text()
    assert "/api/health?access_token=[redacted]" in log
    assert TOKEN not in log and "signature=[redacted]" in log


@pytest.fixture(scope="module")
def finished(api):
    job = api.post("/api/videos/generate", json={**REQUEST, "brief": "How tides rise"}, params={"preset": "quick_demo"}).json()
    done = [data for name, data in sse_events(api, job["streamUrl"]) if name == "done"]
    assert done, "the job did not finish"
    return {**job, **done[0]}


def test_signed_links_open_one_job_s_files_without_the_token_and_expire(gateway, finished):
    stream, download = finished["streamUrl"], finished["downloadUrl"]
    assert urlsplit(stream).path == f"/api/videos/{finished['jobId']}/stream" and "signature=" in stream
    assert TOKEN not in stream + download
    video = httpx.get(gateway.url + download)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert httpx.get(gateway.url + urlsplit(download).path).status_code == 401  # no signature
    forged = download.replace("signature=", "signature=0")
    assert httpx.get(gateway.url + forged).status_code == 401
    other = download.replace(finished["jobId"], str(uuid.uuid4()))  # another job's path, this job's signature
    assert httpx.get(gateway.url + other).status_code == 401
    expired = download.split("expires=")[0] + "expires=1&signature=" + download.split("signature=")[1]
    assert httpx.get(gateway.url + expired).status_code == 401
    status = urlsplit(finished["statusUrl"]).path
    assert httpx.get(gateway.url + status + "?" + urlsplit(download).query).status_code == 401  # not for status


# --- 5. timeouts on the wire ---------------------------------------------------------------------


def test_a_client_that_sends_its_headers_slowly_is_dropped(gateway):
    with socket.create_connection(address(gateway), timeout=10) as slow:
        slow.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
        started = time.monotonic()
        answer = slow.recv(1024)
        assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - started < 8
    with socket.create_connection(address(gateway), timeout=10) as silent:
        assert silent.recv(1024).startswith(b"HTTP/1.1 408")  # connected, and sent nothing


def test_a_body_that_stops_arriving_is_a_408(gateway):
    with socket.create_connection(address(gateway), timeout=15) as slow:
        slow.sendall(
            b"POST /api/videos/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Length: 200\r\n\r\n{\"brief\": "
        )
        answer = b""
        while chunk := slow.recv(4096):  # the headers and the body may come in two reads: until the server closes
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408") and b"AURA_GATEWAY_BODY_TIMEOUT_S" in answer


def test_one_address_may_hold_only_so_many_connections(gateway):
    held = [socket.create_connection(address(gateway), timeout=10) for _ in range(6)]
    try:
        with socket.create_connection(address(gateway), timeout=10) as extra:
            assert extra.recv(1024).startswith(b"HTTP/1.1 503")
    finally:
        for connection in held:
            connection.close()
    time.sleep(0.3)
    assert httpx.get(f"{gateway.url}/api/health", headers=gateway.headers).status_code == 200  # freed again


# --- 6. links and origins ------------------------------------------------------------------------


def test_a_forged_host_is_refused_and_links_never_come_from_it(gateway, api):
    forged = httpx.get(f"{gateway.url}/api/health", headers={**gateway.headers, "Host": "attacker.example"})
    assert forged.status_code == 400 and "AURA_ALLOWED_HOSTS" in forged.json()["detail"]
    for host in ("localhost", f"localhost:{address(gateway)[1]}", "127.0.0.1"):
        assert httpx.get(f"{gateway.url}/api/health", headers={**gateway.headers, "Host": host}).status_code == 200
    job = api.post("/api/videos/generate", json={**REQUEST, "brief": "How owls hunt"}).json()
    assert job["statusUrl"] == f"/api/videos/{job['jobId']}/status"  # relative: no Host copied into it


def test_a_cross_site_form_upload_is_refused_without_a_token(open_gateway):
    form = {"file": ("notes.txt", b"Owls hunt at night.", "text/plain")}
    foreign = httpx.post(f"{open_gateway.url}/api/uploads", files=form, headers={"Origin": "https://attacker.example"})
    assert foreign.status_code == 403 and "another site" in foreign.json()["detail"]
    same = httpx.post(f"{open_gateway.url}/api/uploads", files=form, headers={"Origin": open_gateway.url})
    assert same.status_code == 201
    assert httpx.post(f"{open_gateway.url}/api/uploads", files=form).status_code == 201  # no browser, no Origin
    rebinding = httpx.get(f"{open_gateway.url}/api/health", headers={"Host": "rebind.attacker.example"})
    assert rebinding.status_code == 400
