"""Aura deployed for real: a `prefect server start`, pools cpu and gpu, one worker each, prefect.yaml deployed.

Everything goes through the server's REST API as an application would call it
(httpx, no Prefect client): runs are created with
POST /api/deployments/{id}/create_flow_run and read back from /api/flow_runs.
The cluster is brought up by the same one command a user runs
(deployments/local.py up, with `--database postgres` where PostgreSQL is
installed: CI installs it, AURA_POSTGRES=1) and stopped by its `down`; the
test then checks that no process it started is left. The artifact store and the result
storage are one S3 URL (a local moto server) and every worker has scratch
space of its own, as on machines of their own: the images the gpu worker
draws reach the cpu worker through the store, by key.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
import s3fs
from helpers.jobs import check_video, no_half_job
from helpers.network import free_port
from helpers.s3 import BUCKET, download, s3_filesystem, s3_server

from aura.database import binaries as postgres_binaries
from aura.models import VideoRequest
from aura.store import ArtifactStore
from aura.uploads import receive

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / "deployments" / "local.py"
RUN_TIMEOUT_S = 300
GLACIER_FACT = "The Varnfjord glacier moves 41 meters a year down its valley"
QUEUE_TIMEOUT_S = 30
SHORT_QUEUE_TIMEOUT_S = 5  # for the run that must give up on the gpu pool: the wait is the test's cost


@dataclass
class Cluster:
    api: httpx.Client
    api_url: str
    store: str  # s3://bucket/prefix
    s3_env: dict
    home: Path

    def job(self, job_id: str) -> Path:
        """A job's files as a user downloads them from the store."""
        return download(self.s3_env, f"{self.store.removeprefix('s3://')}/{job_id}", self.home / "downloads" / job_id)

    def call(self, method: str, path: str, **kwargs) -> httpx.Response:
        """One API call; 503 (SQLite busy under a burst of writes) is asked again, as Prefect's own client does."""
        for _ in range(10):
            response = self.api.request(method, path, **kwargs)
            if response.status_code != 503:
                return response
            time.sleep(0.5)
        return response

    def deployment(self, name: str) -> dict:
        response = self.call("GET", f"/deployments/name/{name}")
        response.raise_for_status()
        return response.json()

    def create_run(self, deployment: str, parameters: dict, env: dict | None = None) -> httpx.Response:
        """A run of the deployment; `env` adds to the environment its deployment gives its runs."""
        found = self.deployment(deployment)
        body: dict = {"parameters": parameters}
        if env:
            body["job_variables"] = {"env": {**(found["job_variables"] or {}).get("env", {}), **env}}
        return self.call("POST", f"/deployments/{found['id']}/create_flow_run", json=body)

    def flow_run(self, run_id: str) -> dict:
        response = self.call("GET", f"/flow_runs/{run_id}")
        response.raise_for_status()
        return response.json()

    def children(self, run_id: str) -> list[dict]:
        body = {"flow_runs": {"parent_flow_run_id": {"any_": [run_id]}}}
        response = self.call("POST", "/flow_runs/filter", json=body)
        response.raise_for_status()
        return response.json()

    def wait(self, run_id: str, timeout_s: float = RUN_TIMEOUT_S) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            run = self.flow_run(run_id)
            if run["state"] and run["state"]["type"] in ("COMPLETED", "FAILED", "CANCELLED", "CRASHED"):
                return run
            time.sleep(0.5)
        pytest.fail(f"run {run_id} did not finish in {timeout_s} s\n{self.diagnosis()}")

    def diagnosis(self) -> str:
        """What a stuck test needs to say: the runs not yet final, where they wait, and the workers' logs."""
        body = {"flow_runs": {"state": {"type": {"not_any_": ["COMPLETED", "FAILED", "CANCELLED", "CRASHED"]}}}}
        runs = self.call("POST", "/flow_runs/filter", json=body).json()
        open_runs = "\n".join(f"  {r['id']} {r['name']} {r['state']['type'] if r['state'] else None} pool={r['work_pool_name']}"
                              for r in runs if isinstance(r, dict))  # fmt: skip
        logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted((self.home / "logs").glob("*.log")))
        return f"runs not final:\n{open_runs or '  none'}\nworker logs:\n{logs}"

    def artifact(self, key: str, run_id: str) -> dict:
        body = {"artifacts": {"key": {"any_": [key]}, "flow_run_id": {"any_": [run_id]}}}
        response = self.call("POST", "/artifacts/filter", json=body)
        response.raise_for_status()
        [found] = response.json()
        return found


class PausedPool:
    """A pool whose workers take no runs (as when every gpu machine is down), resumed afterwards."""

    def __init__(self, cluster: Cluster, name: str):
        self.cluster, self.name = cluster, name

    def __enter__(self):
        paused = self.cluster.call("PATCH", f"/work_pools/{self.name}", json={"is_paused": True})
        assert paused.status_code == 204, paused.text

    def __exit__(self, *exc):
        self.cluster.call("PATCH", f"/work_pools/{self.name}", json={"is_paused": False})


def _processes_of(api_url: str) -> list[psutil.Process]:
    """Processes that talk to this cluster's server (workers, flow runs) or are the server itself."""
    port = api_url.rsplit(":", 1)[1].split("/")[0]
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            line = " ".join(proc.info["cmdline"] or [])
            env = proc.environ() if "prefect" in line else {}
        except psutil.Error:
            continue
        if proc.pid != os.getpid() and (f"--port {port}" in line or f":{port}/api" in env.get("PREFECT_API_URL", "")):
            found.append(proc)
    return found


@pytest.fixture(scope="module")
def s3_env():
    with s3_server() as env:
        yield env


def database() -> str:
    """PostgreSQL where it is installed (and where AURA_POSTGRES=1 says it must be), SQLite otherwise."""
    if os.environ.get("AURA_POSTGRES") == "1" or postgres_binaries():
        return "postgres"
    return "sqlite"


@pytest.fixture(scope="module")
def cluster(s3_env):
    # a folder the `postgres` user may pass through (pytest's own are 0700 to it, and it runs the database)
    home = Path(tempfile.mkdtemp(prefix="aura-cluster-"))
    home.chmod(0o711)
    store = f"s3://{BUCKET}/store"
    port = free_port()
    # no AURA_CHECKOUT either: the workers run from the checkout `prefect deploy` recorded
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "AURA_FFMPEG", "AURA_CHECKOUT"))}
    env.update(
        s3_env,
        AURA_OUTPUT=store,
        # workers ask for runs every second, not every 10 s: the test takes seconds, not minutes
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="5",
        PREFECT_WORKER_HEARTBEAT_SECONDS="5",
        # flow runs' heartbeats every 30 s (Prefect's least): `up`'s automation crashes a silent run after 90 s
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY="30",
        PREFECT_LOGGING_LEVEL="INFO",
        # a visuals run no gpu worker starts is given up after this (a gpu worker starts one in ~6 s here)
        AURA_VISUALS_QUEUE_TIMEOUT_S=str(QUEUE_TIMEOUT_S),
    )
    command = [sys.executable, str(LOCAL), "up", "--home", str(home), "--port", str(port)]
    up = subprocess.run(
        # two runs at once on the cpu worker: a tenant limited to one leaves the other slot to someone else
        [*command, "--cpu-workers", "1", "--gpu-workers", "1", "--worker-limit", "2", "--database", database()],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    state_file = home / "state.json"
    assert up.returncode == 0, f"local.py up failed:\n{up.stdout}\n{up.stderr}"
    api_url = json.loads(state_file.read_text())["api_url"]
    with httpx.Client(base_url=api_url, timeout=30) as api:
        yield Cluster(api=api, api_url=api_url, store=store, s3_env=s3_env, home=home)
    started = json.loads(state_file.read_text())["processes"]
    down = subprocess.run([sys.executable, str(LOCAL), "down", "--home", str(home)], env=env, capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stderr
    assert not [pid for pid in started.values() if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    assert not _processes_of(api_url), "processes of the cluster are still running"
    assert not _postgres_of(home), "the cluster's PostgreSQL server is still running"
    shutil.rmtree(home, ignore_errors=True)


def _postgres_of(home: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if "postgres" in line and str(home) in line:
            found.append(proc)
    return found


def request_json(brief: str, **fields) -> dict:
    return {"brief": brief, "duration_seconds": 10, "aspect": "9:16", "resolution": "720p", "seed": 5, **fields}


def test_pools_and_deployments_are_set_up_as_prefect_yaml_says(cluster):
    pools = {name: cluster.call("GET", f"/work_pools/{name}").json() for name in ("cpu", "gpu", "batch")}
    assert pools["gpu"]["concurrency_limit"] == 1 and {pool["type"] for pool in pools.values()} == {"process"}
    deployments = {name: cluster.deployment(f"{name}/{name}") for name in ("generate-video", "render-visuals", "batch-generate")}
    assert deployments["generate-video"]["work_pool_name"] == "cpu"
    assert deployments["render-visuals"]["work_pool_name"] == "gpu"
    assert deployments["batch-generate"]["work_pool_name"] == "batch"  # never holding a slot of the video workers
    assert deployments["render-visuals"]["global_concurrency_limit"]["limit"] == 1
    # workers without AURA_CHECKOUT work from the checkout the deployments were made from
    for deployment in deployments.values():
        [step] = deployment["pull_steps"]
        assert step["aura.checkout.enter_checkout"]["made_from"] == str(ROOT)
    # the UI renders the VideoRequest parameter as a form from this schema
    schema = deployments["generate-video"]["parameter_openapi_schema"]
    assert schema["required"] == ["request"]
    form = schema["definitions"]["VideoRequest"]
    assert {"brief", "duration_seconds", "aspect", "resolution", "voice", "style"} <= set(form["properties"])
    assert form["properties"]["duration_seconds"]["maximum"] >= 60 and "brief" in form["required"]
    assert deployments["generate-video"]["enforce_parameter_schema"]
    # the nightly batch is there, and off until someone turns it on
    [schedule] = cluster.call("GET", f"/deployments/{deployments['batch-generate']['id']}/schedules").json()
    assert schedule["schedule"]["cron"] == "0 2 * * *" and schedule["active"] is False


def test_a_worker_without_the_checkout_fails_the_run_naming_the_variable(cluster):
    # a deployment made on another machine: its recorded checkout is not on this worker's machine
    made = cluster.deployment("generate-video/generate-video")
    elsewhere = {"aura.checkout.enter_checkout": {"directory": "{{ $AURA_CHECKOUT }}", "made_from": "/nowhere/aura"}}
    body = {
        "name": "made-elsewhere", "flow_id": made["flow_id"], "entrypoint": made["entrypoint"], "work_pool_name": "cpu",
        "pull_steps": [elsewhere], "parameter_openapi_schema": made["parameter_openapi_schema"],
    }  # fmt: skip
    response = cluster.call("POST", "/deployments/", json=body)
    assert response.status_code in (200, 201), response.text
    run = cluster.call("POST", f"/deployments/{response.json()['id']}/create_flow_run", json={"parameters": {"request": request_json("Tides")}})
    run = cluster.wait(run.json()["id"])
    assert run["state"]["type"] == "FAILED", run["state"]
    message = run["state"]["message"]
    assert "AURA_CHECKOUT" in message and "/nowhere/aura" in message and "\n" not in message


def test_a_bad_parameter_is_rejected_by_the_api_with_the_field_named(cluster):
    response = cluster.create_run("generate-video/generate-video", {"request": request_json("Tides", duration_seconds=100000)})
    assert response.status_code in (409, 422)
    assert "duration_seconds" in response.text
    response = cluster.create_run("generate-video/generate-video", {"request": {"duration_seconds": 20}})
    assert response.status_code in (409, 422) and "brief" in response.text


def test_a_server_path_in_references_is_refused_before_any_stage_runs(cluster):
    # the parameter schema allows any string: the flow's own request model refuses it, on the worker
    request = request_json("Tides", references=["/etc/aura/private-notes.md"])
    response = cluster.create_run("generate-video/generate-video", {"request": request})
    assert response.status_code == 201, response.text
    run = cluster.wait(response.json()["id"])
    assert run["state"]["type"] == "FAILED", run["state"]
    message = run["state"]["message"]
    assert "references[0]" in message and "POST /api/uploads" in message and "AURA_INPUT_ROOTS" in message
    task_runs = cluster.call("POST", "/task_runs/filter", json={"flow_runs": {"id": {"any_": [run["id"]]}}})
    assert task_runs.json() == []  # not even the brief ran


def test_visuals_run_on_the_gpu_worker_and_the_rest_on_the_cpu_worker(cluster, monkeypatch):
    # a reference uploaded into the shared store (as the gateway keeps it), named by its ref only
    for name, value in cluster.s3_env.items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()  # an earlier test's filesystem points at its own S3 server
    notes = receive(ArtifactStore(cluster.store), "glacier-notes.md", io.BytesIO(f"# Glaciers\n\n{GLACIER_FACT}.\n".encode()), 2**20)
    request = request_json("How glaciers carve valleys", references=[notes.ref])
    response = cluster.create_run("generate-video/generate-video", {"request": request, "preset": "quick_demo"})
    assert response.status_code == 201, response.text
    run_id = response.json()["id"]
    run = cluster.wait(run_id)
    assert run["state"]["type"] == "COMPLETED", run["state"]["message"]
    metadata = check_video(cluster.job(run_id), VideoRequest(**request))
    assert [ref["source"] for ref in metadata["references"]] == ["glacier-notes.md"]
    assert "41 meters" in " ".join(scene["narration"] for scene in metadata["script"]["scenes"])

    assert run["work_pool_name"] == "cpu" and run["labels"]["prefect.worker.name"] == "cpu-worker-1"
    [child] = cluster.children(run_id)
    assert child["work_pool_name"] == "gpu" and child["labels"]["prefect.worker.name"] == "gpu-worker-0"
    assert child["state"]["type"] == "COMPLETED"
    assert child["parameters"]["job_id"] == run_id  # the images went into the parent's job, by key
    assert "references" not in child["parameters"]["request"]  # the gpu pool gets no more of the request than it needs
    assert "gpu-worker-0 (pool gpu)" in metadata["stages"]["visuals"]["provider"]
    assert metadata["stages"]["compose"]["status"] == "completed"


def test_cancelling_the_parent_cancels_its_visuals_run(cluster):
    # with the gpu pool paused the visuals run waits, so the cancel surely finds it unfinished
    with PausedPool(cluster, "gpu"):
        response = cluster.create_run("generate-video/generate-video", {"request": request_json("Why leaves fall")})
        run_id = response.json()["id"]
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not cluster.children(run_id):
            assert time.monotonic() < deadline, "the visuals run was never created"
            time.sleep(0.5)
        cancel = {"state": {"type": "CANCELLING", "message": "cancelled by the test"}, "force": True}
        assert cluster.call("POST", f"/flow_runs/{run_id}/set_state", json=cancel).status_code in (200, 201)
        run = cluster.wait(run_id)
        [child] = cluster.children(run_id)
        assert run["state"]["type"] == "CANCELLED" and child["state"]["type"] == "CANCELLED"
        no_half_job(cluster.job(run_id))


def run_process(run_id: str, timeout_s: float = 120) -> psutil.Process:
    """The process a worker started for this flow run, once it runs."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for proc in psutil.process_iter():
            try:
                if proc.environ().get("PREFECT__FLOW_RUN_ID") == run_id:
                    return proc
            except psutil.Error:
                continue
        time.sleep(0.5)
    pytest.fail(f"no process runs {run_id}")


def running(cluster: Cluster, run_id: str) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while cluster.flow_run(run_id)["state"]["type"] != "RUNNING":
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.3)


def test_a_run_whose_process_is_killed_is_crashed_by_its_worker(cluster):
    with PausedPool(cluster, "gpu"):  # the run stays on the cpu worker, its visuals waiting
        run_id = cluster.create_run("generate-video/generate-video", {"request": request_json("Why bees dance")}).json()["id"]
        running(cluster, run_id)
        run_process(run_id).kill()  # SIGKILL: what the out-of-memory killer sends
        run = cluster.wait(run_id, timeout_s=60)
    assert run["state"]["type"] == "CRASHED" and "due to a SIGKILL signal" in run["state"]["message"]


def test_a_run_whose_machine_stops_answering_is_crashed_when_its_heartbeats_stop(cluster):
    """A frozen process sends nothing and its worker sees no exit: as when the machine under both dies."""
    with PausedPool(cluster, "gpu"):
        run_id = cluster.create_run("generate-video/generate-video", {"request": request_json("Why owls hoot")}).json()["id"]
        running(cluster, run_id)
        process = run_process(run_id)
        time.sleep(3)  # its first heartbeat is out
        process.suspend()  # SIGSTOP
        try:
            run = cluster.wait(run_id, timeout_s=240)
        finally:
            process.kill()
    assert run["state"]["type"] == "CRASHED" and "no heartbeat for 90 s" in run["state"]["message"]


def test_a_review_run_pauses_with_the_script_form_the_prefect_ui_shows_and_resumes_with_the_edits(cluster):
    """What the UI does: the deployment's run form with review_script, the paused run's form, Resume with edits."""
    parameters = {"request": request_json("Why geysers erupt", review_script=True), "preset": "quick_demo"}
    run_id = cluster.create_run("generate-video/generate-video", parameters).json()["id"]
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while (run := cluster.flow_run(run_id))["state"]["type"] != "PAUSED":
        assert time.monotonic() < deadline and run["state"]["type"] not in ("FAILED", "CRASHED"), (run["state"], cluster.diagnosis())
        time.sleep(0.5)
    keys = run["state"]["state_details"]["run_input_keyset"]
    raw = cluster.call("GET", f"/flow_runs/{run_id}/input/{keys['schema']}").json()  # what the UI draws its form from
    schema = json.loads(raw) if isinstance(raw, str) else raw
    script = {"title": schema["properties"]["title"]["default"], "scenes": schema["properties"]["scenes"]["default"]}
    assert script["scenes"] and script["scenes"][0]["narration"]  # the form opens with the written script
    script["scenes"][0]["narration"] = "Geysers whistle a tune before they erupt."
    resumed = cluster.call("POST", f"/flow_runs/{run_id}/resume", json={"run_input": script})
    assert resumed.status_code in (200, 201) and resumed.json()["status"] == "ACCEPT", resumed.text
    run = cluster.wait(run_id)
    assert run["state"]["type"] == "COMPLETED", run["state"]["message"]
    subtitles = (cluster.job(run_id) / "subtitles.srt").read_text()
    assert "whistle a tune" in " ".join(subtitles.split())


def test_with_no_gpu_worker_the_run_draws_slides_itself_and_cancels_the_visuals_run(cluster):
    with PausedPool(cluster, "gpu"):
        parameters = {"request": request_json("Why rivers meander"), "preset": "quick_demo"}
        response = cluster.create_run("generate-video/generate-video", parameters, env={"AURA_VISUALS_QUEUE_TIMEOUT_S": str(SHORT_QUEUE_TIMEOUT_S)})
        run_id = response.json()["id"]
        run = cluster.wait(run_id)
    assert run["state"]["type"] == "COMPLETED", run["state"]["message"]
    metadata = check_video(cluster.job(run_id), VideoRequest(**request_json("Why rivers meander")))
    assert metadata["stages"]["visuals"]["provider"] == "slides"
    assert any(f"within {SHORT_QUEUE_TIMEOUT_S} s" in warning for warning in metadata["warnings"])
    [child] = cluster.children(run_id)
    assert child["state"]["type"] == "CANCELLED"


def test_a_batch_started_with_prefect_deployment_run_makes_every_video(cluster):
    requests = [request_json("How bees make honey", seed=1), request_json("Why the sky is blue", seed=2, aspect="1:1")]
    lines = "\n".join(json.dumps(r) for r in requests) + "\n"
    s3_filesystem(cluster.s3_env).pipe(f"{cluster.store.removeprefix('s3://')}/batch/requests.jsonl", lines.encode())
    env = {**os.environ, "PREFECT_API_URL": cluster.api_url}
    started = subprocess.run(
        [sys.executable, "-m", "prefect", "deployment", "run", "batch-generate/batch-generate",
         "--param", "preset=quick_demo", "--param", "max_concurrent=2"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert started.returncode == 0, started.stdout + started.stderr
    batch_id = next(line.split("UUID:")[1].strip() for line in started.stdout.splitlines() if "UUID:" in line)
    run = cluster.wait(batch_id, timeout_s=2 * RUN_TIMEOUT_S - 60)  # within pytest's timeout: the diagnosis is printed
    assert run["state"]["type"] == "COMPLETED", run["state"]["message"]
    table = cluster.artifact("aura-batch", batch_id)["data"]
    rows = json.loads(table) if isinstance(table, str) else table
    assert [row["status"] for row in rows] == ["completed", "completed"]
    for row, request in zip(rows, requests):
        assert row["video"] == f"{cluster.store}/{row['flow_run_id']}/video.mp4"
        check_video(cluster.job(row["flow_run_id"]), VideoRequest(**request))
        assert cluster.flow_run(row["flow_run_id"])["labels"]["prefect.worker.name"] == "cpu-worker-1"
    assert run["labels"]["prefect.worker.name"] == "batch-worker" and run["work_pool_name"] == "batch"


def test_the_server_keeps_its_runs_in_the_postgresql_server_up_started(cluster):
    if database() != "postgres":  # no PostgreSQL here (CI installs it): `up` asking for one says how to get it
        refused = subprocess.run([sys.executable, str(LOCAL), "up", "--home", str(cluster.home / "no-postgres"),
                                  "--port", str(free_port()), "--database", "postgres"],
                                 env={k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")},
                                 capture_output=True, text=True, timeout=120)  # fmt: skip
        assert refused.returncode != 0 and "AURA_POSTGRES=1 bash scripts/setup.sh" in refused.stderr
        assert "Traceback" not in refused.stderr
        return
    status = subprocess.run([sys.executable, str(LOCAL), "status", "--home", str(cluster.home)], capture_output=True, text=True)
    connection = cluster.home / "postgres" / "connection.json"
    settings = json.loads(connection.read_text())
    assert f"database: PostgreSQL at 127.0.0.1:{settings['port']}" in status.stdout and "(running)" in status.stdout
    assert settings["password"] not in status.stdout and connection.stat().st_mode & 0o777 == 0o600
    # every run the API lists is a row of PostgreSQL's flow_run table (one made here: it fails at once, on a path)
    made = cluster.create_run("generate-video/generate-video", {"request": request_json("Tides", references=["/etc/x.md"])})
    assert made.status_code == 201, made.text
    listed = {run["id"] for run in cluster.call("POST", "/flow_runs/filter", json={}).json()}
    assert made.json()["id"] in listed
    query = subprocess.run(
        [str(postgres_binaries() / "psql"), "-h", "127.0.0.1", "-p", str(settings["port"]), "-U", "aura", "-d", "prefect",
         "-tAc", "SELECT id FROM flow_run"],
        env={**os.environ, "PGPASSWORD": settings["password"]}, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert query.returncode == 0, query.stderr
    assert listed and listed <= set(query.stdout.split())


def test_one_tenants_burst_waits_on_its_own_limit_while_another_tenants_job_is_made(cluster, tmp_path):
    from helpers.gateway import start_gateway

    from aura.api.tenants import token_hash

    tokens = {"alice": "alice-burst-token-51", "bob": "bob-single-token-93"}
    tenants = tmp_path / "tenants.toml"
    tenants.write_text("".join(f'[[tenant]]\nname = "{name}"\ntoken_sha256 = "{token_hash(token)}"\njobs_at_once = 1\n'
                               for name, token in tokens.items()))  # fmt: skip
    gateway = start_gateway(
        tmp_path, cluster.api_url, token=None, health_token=tokens["alice"], AURA_API_TOKENS=str(tenants),
        AURA_GATEWAY_DEPLOYMENT="generate-video/generate-video", AURA_OUTPUT=cluster.store, **cluster.s3_env,
    )  # fmt: skip
    alice = httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {tokens['alice']}"}, timeout=60)
    bob = httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {tokens['bob']}"}, timeout=60)
    burst: list[str] = []
    try:
        for i in range(10):  # alice's burst: one of them at a time, the rest wait on the server, not on a worker
            answer = alice.post("/api/videos/generate", json=request_json(f"Why the tide turns, part {i + 1}", seed=i))
            assert answer.status_code == 202, answer.text
            burst.append(answer.json()["jobId"])
        asked, asked_at = time.monotonic(), time.time()
        single = bob.post("/api/videos/generate", json=request_json("How bees make honey", seed=40)).json()["jobId"]
        deadline = asked + RUN_TIMEOUT_S
        while bob.get(f"/api/videos/{single}/status").json()["status"] not in ("completed", "failed", "cancelled"):
            assert time.monotonic() < deadline, cluster.diagnosis()
            time.sleep(0.5)
        waited = time.monotonic() - asked
        assert bob.get(f"/api/videos/{single}/status").json()["status"] == "completed"
        made = cluster.flow_run(single)
        # bob's job did not queue behind alice's burst: it waited less than its own render took (the bar),
        # and alice's runs were made one at a time meanwhile (her queue's limit)
        render = parse_time(made["end_time"]) - parse_time(made["start_time"])
        queued = parse_time(made["start_time"]) - asked_at
        assert queued <= render, (queued, render, waited)
        runs = [cluster.flow_run(job) for job in burst]
        assert all(run["work_queue_name"] == "tenant-alice" for run in runs) and made["work_queue_name"] == "tenant-bob"
        started = sorted((parse_time(r["start_time"]), parse_time(r["end_time"]) if r["end_time"] else None) for r in runs if r["start_time"])
        for (_, end), (start, _) in zip(started, started[1:]):  # never two of alice's at once
            assert end is not None and start >= end
        assert all("tenant:alice" in run["tags"] for run in runs) and "tenant:bob" in made["tags"]
    finally:
        for job in burst:
            alice.post(f"/api/videos/{job}/cancel")
        alice.close()
        bob.close()
        gateway.stop()


def parse_time(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
