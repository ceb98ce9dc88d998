"""The gateway in front of a deployment (AURA_GATEWAY_DEPLOYMENT), and the API fuzzed from its OpenAPI schema.

The deployment's pool has no worker here, so jobs stay Scheduled: that is
what a gateway answers while a cluster is busy, and it lets schemathesis
create as many jobs as it likes without making videos.
"""

from __future__ import annotations

import time
import uuid

import pytest
import schemathesis
from helpers.gateway import serving, sse_events, start_gateway
from helpers.gateway import unserved_deployment as deploy_unserved
from hypothesis import HealthCheck, settings
from prefect.client.orchestration import get_client
from schemathesis.checks import not_a_server_error

from aura.api.app import create_app
from aura.settings import Settings

pytestmark = pytest.mark.e2e

DEPLOYMENT = "generate-video/gateway-test"
# the schema the gateway serves, built in-process: it is the same code
schema = schemathesis.openapi.from_dict(create_app(Settings(api_token="x", gateway_deployment=DEPLOYMENT)).openapi())


@pytest.fixture(scope="module")
def unserved_deployment(prefect_server):
    return deploy_unserved("gateway-test")


@pytest.fixture(scope="module")
def gateway(prefect_api_url, unserved_deployment, tmp_path_factory):
    with serving(tmp_path_factory.mktemp("gateway-deployed"), prefect_api_url, AURA_GATEWAY_DEPLOYMENT=DEPLOYMENT) as gateway:
        yield gateway


def test_jobs_are_runs_of_the_deployment(gateway, unserved_deployment):
    with gateway.client() as api:
        job = api.post("/api/videos/generate", json={"brief": "Why owls hoot", "duration_seconds": 20}).json()
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(uuid.UUID(job["jobId"]))
        assert run.deployment_id == unserved_deployment and run.parameters["request"]["brief"] == "Why owls hoot"
        assert api.get(f"/api/videos/{job['jobId']}/status").json()["status"] == "scheduled"


def test_a_waiting_stream_sends_keep_alives_and_the_client_may_leave(gateway):
    with gateway.client() as api:
        job = api.post("/api/videos/generate", json={"brief": "Why owls hoot", "duration_seconds": 20}).json()
        events = sse_events(api, f"/api/videos/{job['jobId']}/stream", limit_s=30)
        first = next(events)
        assert first == ("progress", {"jobId": job["jobId"], "percentage": 0.0, "stage": None, "message": "",
                                      "stages": dict.fromkeys(["brief", "script", "voice", "visuals", "compose"], 0.0),
                                      "etaSeconds": None})  # not started: no time left to tell
        assert next(events) == (":", None) and next(events) == (":", None)  # nothing happens, the line stays open
        events.close()  # the client leaves
        time.sleep(1.5)  # the gateway notices at its next write, and keeps serving
        assert api.get("/api/health").json()["ok"] is True
    assert "Traceback" not in gateway.log.read_text()


def test_a_missing_deployment_is_a_503_that_says_what_to_do(prefect_api_url, tmp_path):
    gateway = start_gateway(tmp_path, prefect_api_url, AURA_GATEWAY_DEPLOYMENT="generate-video/nowhere")
    try:
        with gateway.client() as api:
            response = api.post("/api/videos/generate", json={"brief": "Why owls hoot"})
        assert response.status_code == 503
        assert "AURA_GATEWAY_DEPLOYMENT=generate-video/nowhere" in response.json()["detail"]
        assert "prefect deploy" in response.json()["detail"]
    finally:
        gateway.stop()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_never_answers_500_to_anything_its_schema_allows(case, gateway):
    # ids drawn at random are no job, so a stream answers 404 at once rather than staying open
    response = case.call(base_url=gateway.url, headers=gateway.headers, timeout=30)
    case.validate_response(response, checks=[not_a_server_error])


def test_without_prefect_the_gateway_says_so_with_503(tmp_path):
    from helpers.network import free_port

    dead = f"http://127.0.0.1:{free_port()}/api"  # nobody listens there
    gateway = start_gateway(tmp_path, dead, PREFECT_CLIENT_MAX_RETRIES="0")
    try:
        with gateway.client() as api:
            assert api.get("/api/health").json()["ok"] is False
            for response in (api.get(f"/api/videos/{uuid.uuid4()}/status"), api.post("/api/videos/generate", json={"brief": "Tides"})):
                assert response.status_code == 503
                assert "does not answer" in response.json()["detail"] and "PREFECT_API_URL" in response.json()["detail"]
    finally:
        gateway.stop()
