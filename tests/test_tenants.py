"""Tenants of the gateway (AURA_API_TOKENS): who sees what, daily quotas, and jobs at once.

The isolation and quota tests run the gateway in front of a deployment whose
pool no worker polls (jobs stay Scheduled: nothing is rendered). The limit on
jobs at once is checked where it acts: with the gateway making its videos
itself, two jobs of a one-at-a-time tenant never overlap. The deployed test
of a tenant's burst beside another's job is in tests/test_deployed.py.
"""

from __future__ import annotations

import io
import time
import uuid
from pathlib import Path

import pytest
from helpers.gateway import serving, start_gateway, unserved_deployment
from prefect.client.orchestration import get_client

from aura.api.tenants import Tenants, token_hash
from aura.errors import SystemCheckError

DEPLOYMENT = "generate-video/tenants-test"
ALICE, BOB, OPERATOR = "alice-token-7f3e9c", "bob-token-28d1a4", "operator-token-c0ffee"


def tenants_file(folder: Path, **limits: dict) -> Path:
    path = folder / "tenants.toml"
    entries = []
    for name, token in (("alice", ALICE), ("bob", BOB)):
        lines = [f'name = "{name}"', f'token_sha256 = "{token_hash(token)}"']
        lines += [f"{key} = {value}" for key, value in limits.get(name, {}).items()]
        entries.append("[[tenant]]\n" + "\n".join(lines) + "\n")
    path.write_text("\n".join(entries))
    return path


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- the file ------------------------------------------------------------------------------------------


def test_a_token_is_known_by_its_hash_only_and_each_tenant_by_its_own(tmp_path):
    path = tenants_file(tmp_path, alice={"jobs_at_once": 1, "videos_per_day": 3})
    assert ALICE not in path.read_text()
    tenants = Tenants.from_file(path)
    assert tenants.identify(ALICE.encode()).name == "alice"
    assert tenants.identify(BOB.encode()).name == "bob"
    assert tenants.identify(b"alice-token-7f3e9") is None and tenants.identify(b"") is None
    alice = tenants.by_name["alice"]
    assert (alice.jobs_at_once, alice.videos_per_day, alice.video_minutes_per_day, alice.tag) == (1, 3, None, "tenant:alice")


@pytest.mark.parametrize(
    "text, said",
    [
        ('[[tenant]]\nname = "Alice"\ntoken_sha256 = "' + "a" * 64 + '"\n', "tenant[1].name: must be lower-case letters"),
        ('[[tenant]]\nname = "a"\ntoken_sha256 = "abc"\n', "tenant[1].token_sha256: must be sha256 of the bearer token"),
        ('[[tenant]]\nname = "a"\ntoken_sha256 = "' + "a" * 64 + '"\njobs_at_once = 0\n', "tenant[1].jobs_at_once: Input should be greater than or equal to 1"),
        ('[[tenant]]\nname = "a"\ntoken_sha256 = "' + "a" * 64 + '"\n[[tenant]]\nname = "a"\ntoken_sha256 = "' + "b" * 64 + '"\n',
         "tenant[2].name: the same as an earlier tenant's"),
        ('[[tenant]]\nname = "a"\ntoken = "x"\ntoken_sha256 = "' + "a" * 64 + '"\n', "tenant[1].token: Extra inputs are not permitted"),
        ("tenant = [", "not valid TOML"),
    ],
)  # fmt: skip
def test_a_wrong_tenants_file_is_refused_naming_the_tenant_and_field(tmp_path, text, said):
    path = tmp_path / "tenants.toml"
    path.write_text(text)
    with pytest.raises(SystemCheckError) as refused:
        Tenants.from_file(path)
    assert str(refused.value).startswith(f"AURA_API_TOKENS ({path}): ") and said in str(refused.value)


def test_aura_serve_refuses_a_wrong_tenants_file_before_it_starts(tmp_path, prefect_api_url):
    import subprocess
    import sys

    path = tmp_path / "tenants.toml"
    path.write_text('[[tenant]]\nname = "a"\ntoken_sha256 = "abc"\n')
    env = {"PATH": "/usr/bin:/bin", "AURA_API_TOKENS": str(path), "PREFECT_API_URL": prefect_api_url, "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "aura.cli", "serve", "--port", "1"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "tenant[1].token_sha256" in done.stderr and "Traceback" not in done.stderr


def test_aura_tenant_token_prints_a_token_and_the_entry_that_accepts_it(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "aura.cli", "tenant-token", "carol"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    token, entry = done.stderr.strip().splitlines()[-1], done.stdout  # `>> tenants.toml` appends the entry only
    (tmp_path / "t.toml").write_text(entry)
    assert token not in entry and Tenants.from_file(tmp_path / "t.toml").identify(token.encode()).name == "carol"


# --- the gateway ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def unserved(prefect_server):
    return unserved_deployment("tenants-test")


@pytest.fixture(scope="module")
def gateway(prefect_api_url, unserved, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tenants")
    path = tenants_file(folder, alice={"jobs_at_once": 2, "videos_per_day": 3}, bob={"video_minutes_per_day": 1})
    env = {"AURA_API_TOKENS": str(path), "AURA_GATEWAY_DEPLOYMENT": DEPLOYMENT}
    with serving(folder, prefect_api_url, token=OPERATOR, **env) as gateway:
        yield gateway


def make_job(api, token: str, **fields) -> dict:
    answer = api.post("/api/videos/generate", json={"brief": "How tides work", "duration_seconds": 20, **fields}, headers=headers(token))
    assert answer.status_code == 202, answer.text
    return answer.json()


def test_a_tenant_sees_its_own_jobs_and_another_tenants_are_404(gateway):
    with gateway.client() as api:
        mine = make_job(api, ALICE)
        job = mine["jobId"]
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(uuid.UUID(job))
            deployment = client.read_deployment(run.deployment_id)
            queue = client.read_work_queue_by_name("tenant-alice", work_pool_name="unserved")
        # its run carries its tag and waits in its own queue of the pool, whose limit is its jobs at once
        assert "tenant:alice" in run.tags and deployment.name == "tenants-test" and run.work_pool_name == "unserved"
        assert run.work_queue_name == "tenant-alice" and run.work_queue_id == queue.id and queue.concurrency_limit == 2
        assert api.get(f"/api/videos/{job}/status", headers=headers(ALICE)).json()["status"] == "scheduled"
        # to bob it does not exist: every endpoint answers as for a job id nobody made
        nobody = str(uuid.uuid4())
        for method, path in (("GET", "status"), ("GET", "metadata"), ("GET", "download"), ("GET", "stream"),
                             ("GET", "script"), ("POST", "cancel"), ("POST", "retry")):  # fmt: skip
            theirs = api.request(method, f"/api/videos/{job}/{path}", headers=headers(BOB))
            unknown = api.request(method, f"/api/videos/{nobody}/{path}", headers=headers(BOB))
            assert theirs.status_code == unknown.status_code == 404, (path, theirs.text)
            assert theirs.json()["detail"].replace(job, nobody) == unknown.json()["detail"]
        assert job not in {item["jobId"] for item in api.get("/api/videos?limit=100", headers=headers(BOB)).json()["items"]}
        assert job in {item["jobId"] for item in api.get("/api/videos?limit=100", headers=headers(ALICE)).json()["items"]}
        # bob's own list holds bob's jobs only; the operator's token sees both
        theirs = make_job(api, BOB, duration_seconds=10)["jobId"]
        listed = {item["jobId"] for item in api.get("/api/videos?limit=100", headers=headers(BOB)).json()["items"]}
        assert theirs in listed and job not in listed
        everyone = {item["jobId"] for item in api.get("/api/videos?limit=100").json()["items"]}
        assert {job, theirs} <= everyone
        assert api.get(f"/api/videos/{job}/status").status_code == 200
        # bob cannot cancel it; alice can
        assert api.post(f"/api/videos/{job}/cancel", headers=headers(ALICE)).status_code == 202
        assert api.get("/api/videos", headers={"Authorization": "Bearer nobody-at-all"}).status_code == 401
    assert ALICE not in gateway.log.read_text() and BOB not in gateway.log.read_text()


def test_a_tenant_uses_its_own_uploads_only(gateway):
    document = b"# Tides\n\nThe moon pulls the sea into two bulges that the turning Earth passes through each day.\n"
    with gateway.client() as api:
        upload = api.post("/api/uploads", files={"file": ("tides.md", io.BytesIO(document), "text/markdown")}, headers=headers(ALICE))
        assert upload.status_code == 201, upload.text
        ref = upload.json()["ref"]
        refused = api.post("/api/videos/generate", json={"brief": "Tides", "references": [ref]}, headers=headers(BOB))
        missing = api.post("/api/videos/generate", json={"brief": "Tides", "references": ["upload:" + "0" * 64 + ".md"]}, headers=headers(BOB))
        assert refused.status_code == missing.status_code == 422
        assert refused.json()["message"].replace(ref, "X") == missing.json()["message"].replace("upload:" + "0" * 64 + ".md", "X")
        assert "references[0]" in refused.json()["message"]
        job = make_job(api, ALICE, references=[ref])["jobId"]
        # a file of alice's job is alice's to name, not bob's
        named = api.post("/api/videos/generate", json={"brief": "Tides", "references": [f"store:{job}/brief.json"]}, headers=headers(BOB))
        assert named.status_code == 422 and "references[0]" in named.json()["message"]
        # the same bytes uploaded by bob are bob's too
        again = api.post("/api/uploads", files={"file": ("t.md", io.BytesIO(document), "text/markdown")}, headers=headers(BOB))
        assert again.json()["ref"] == ref
        make_job(api, BOB, references=[ref], duration_seconds=10)
        api.post(f"/api/videos/{job}/cancel", headers=headers(ALICE))


def test_a_spent_daily_quota_is_a_429_that_names_the_limit_and_when_to_come_back(gateway):
    with gateway.client() as api:
        # alice may start 3 videos a day; the first two tests started 2 of them
        started = len(api.get("/api/videos?limit=100", headers=headers(ALICE)).json()["items"])
        for _ in range(3 - started):
            make_job(api, ALICE)
        refused = api.post("/api/videos/generate", json={"brief": "Tides"}, headers=headers(ALICE))
        assert refused.status_code == 429, refused.text
        assert "videos_per_day" in refused.json()["detail"] and "(3)" in refused.json()["detail"]
        assert 0 < int(refused.headers["Retry-After"]) <= 24 * 3600
        # bob's minutes: 1 a day; a 60 s video could never fit into 1 minute with what bob already asked
        assert make_job(api, BOB, duration_seconds=10)  # bob's 10 + 10 + 10 s so far
        minutes = api.post("/api/videos/generate", json={"brief": "Tides", "duration_seconds": 40}, headers=headers(BOB))
        assert minutes.status_code == 429 and "video_minutes_per_day" in minutes.json()["detail"]
        longer = api.post("/api/videos/generate", json={"brief": "Tides", "duration_seconds": 120}, headers=headers(BOB))
        assert longer.status_code == 422 and longer.json()["message"].startswith("duration_seconds: 120 s is more than your 1 minutes")
        # the operator has no quota
        assert api.post("/api/videos/generate", json={"brief": "Tides"}).status_code == 202


def test_a_burst_of_one_tenant_cannot_overrun_its_quota(prefect_api_url, unserved, tmp_path):
    import asyncio

    import httpx

    path = tenants_file(tmp_path, alice={"videos_per_day": 4})
    gateway = start_gateway(tmp_path, prefect_api_url, token=None, health_token=ALICE, AURA_API_TOKENS=str(path), AURA_GATEWAY_DEPLOYMENT=DEPLOYMENT)
    try:
        # alice's earlier jobs (of the module's gateway) are hers here too: only what is left may start
        with httpx.Client(base_url=gateway.url, headers=headers(ALICE), timeout=60) as api:
            before = len(api.get("/api/videos?limit=100").json()["items"])

        async def burst() -> list[int]:
            async with httpx.AsyncClient(base_url=gateway.url, headers=headers(ALICE), timeout=60) as api:
                answers = await asyncio.gather(*(api.post("/api/videos/generate", json={"brief": "Tides"}) for _ in range(8)))
            return [answer.status_code for answer in answers]

        codes = asyncio.run(burst())
        assert codes.count(202) == max(0, 4 - before) and codes.count(429) == 8 - codes.count(202)
    finally:
        gateway.stop()


@pytest.mark.e2e
def test_a_one_at_a_time_tenants_jobs_never_overlap_when_the_gateway_makes_them(prefect_api_url, tmp_path):
    import httpx

    path = tenants_file(tmp_path, alice={"jobs_at_once": 1})
    gateway = start_gateway(tmp_path, prefect_api_url, token=None, health_token=ALICE, AURA_API_TOKENS=str(path), AURA_GATEWAY_LOCAL_RUNS="2")
    try:
        with httpx.Client(base_url=gateway.url, headers=headers(ALICE), timeout=60) as api:
            jobs = [make_job(api, ALICE, duration_seconds=10, brief=brief)["jobId"] for brief in ("Why owls hoot", "Why cats purr")]
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                states = [api.get(f"/api/videos/{job}/status", headers=headers(ALICE)).json()["status"] for job in jobs]
                if all(state in ("completed", "failed", "cancelled") for state in states):
                    break
                time.sleep(1)
        assert states == ["completed", "completed"], states
        with get_client(sync_client=True) as client:
            first, second = sorted((client.read_flow_run(uuid.UUID(job)) for job in jobs), key=lambda run: run.start_time)
        assert second.start_time >= first.end_time  # two slots in the gateway, one for alice: one after the other
    finally:
        gateway.stop()
