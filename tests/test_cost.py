"""What a run costs: tokens, characters, calls and GPU seconds recorded and priced; a limit refused up front.

The paid LLM is a local stand-in of OpenAI's chat API (helpers.llm_server) that
reports 10 prompt and 10 completion tokens per answer, so the price a user sees
is litellm's own list price for the model named (or the price table's). Checked
where a user reads it: metadata.json, `aura generate --json`, the run's summary
artifact and the gateway's job status; a request over its `max_cost_usd` is
refused before the stand-in is asked anything. What an attempt spent before it
failed still counts: in the retry's result, and in a failed run's summary (the
paid speech stand-in, helpers.speech_server, with an ffmpeg that crashes after
the speech was bought, helpers.faults).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterId

from aura import spend
from aura.errors import SystemCheckError
from aura.models import VideoRequest
from aura.options import PipelineOptions, StagePolicy
from aura.providers.llm.config import ModelConfig
from aura.providers.llm.router import route
from aura.settings import Settings
from aura.stages.cost_estimate import check_budget, estimate_cost
from aura.stages.script import spec_for
from helpers.faults import faulty_ffmpeg
from helpers.gateway import serving, sse_events, video_job_count
from helpers.jobs import check_video, wait_for
from helpers.llm_server import ChatServer, script_answer
from helpers.speech_server import SpeechServer

MINI = "openai/gpt-4o-mini"
MINI_IN, MINI_OUT = 0.15e-6, 0.6e-6  # litellm's list price per token (the package's own copy)
REQUEST = {"brief": "How glaciers carve valleys", "duration_seconds": 10, "aspect": "9:16", "seed": 4}
MESSAGES = [{"role": "user", "content": "Write it."}]


def paid_llm(url: str) -> dict[str, str]:
    return {"AURA_LLM_MODEL": MINI, "AURA_LLM_API_BASE": url, "AURA_LLM_API_KEY": "sk-test", "AURA_LLM_RETRIES": "0"}


SPEECH = "openai/kokoro"
SPEECH_PRICE = 20  # USD per million characters, from the price table


def paid_speech(url: str) -> dict[str, str]:
    return {"AURA_TTS_PROVIDER": "speech", "AURA_SPEECH_MODEL": SPEECH, "AURA_SPEECH_API_BASE": url,
            "AURA_SPEECH_VOICE": "af_bella", "AURA_SPEECH_RETRIES": "0",
            "AURA_PRICES": json.dumps({"speech": {SPEECH: SPEECH_PRICE}})}  # fmt: skip


def summary_of(flow_run_id: str) -> str:
    with get_client(sync_client=True) as client:
        [summary] = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["aura-run-summary"])),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(flow_run_id)])),
        )
    return summary.data


# --- the estimate and the limit ------------------------------------------------------------------


def test_the_estimate_prices_the_script_and_the_narration_the_duration_asks_for(monkeypatch):
    request = VideoRequest(brief="How glaciers carve valleys", duration_seconds=120)
    spec = spec_for(request, 150)
    settings = Settings(_env_file=None, llm_model=MINI, tts_provider="speech")
    monkeypatch.setenv("AURA_SPEECH_MODEL", "openai/tts-1")
    estimate = estimate_cost(request, settings)
    assert estimate.parts["speech"] == pytest.approx(spec.word_budget * 6 * 15 / 1e6)  # tts-1: $15 per 1M characters
    answer_tokens = spec.word_budget * 1.4 + spec.scene_count * 60
    assert estimate.parts["llm"] > answer_tokens * MINI_OUT  # the answer, plus the prompt's tokens
    assert estimate.parts["llm"] < (answer_tokens + 4000) * MINI_OUT
    assert estimate.usd == pytest.approx(sum(estimate.parts.values())) and not estimate.unpriced

    longer = estimate_cost(request.model_copy(update={"duration_seconds": 600}), settings)
    assert longer.usd > 3 * estimate.usd  # five times the words


def test_cost_routing_is_estimated_at_the_cheapest_model_and_an_unknown_model_is_named():
    request = VideoRequest(brief="How glaciers carve valleys", duration_seconds=60)
    ordered = Settings(_env_file=None, llm_model="openai/gpt-4o", llm_fallbacks=MINI)
    cheapest = Settings(_env_file=None, llm_model="openai/gpt-4o", llm_fallbacks=MINI, llm_routing="cost")
    assert estimate_cost(request, cheapest).usd < estimate_cost(request, ordered).usd / 10
    unknown = estimate_cost(request, Settings(_env_file=None, llm_model="openai/a-model-nobody-prices"))
    assert unknown.usd == 0 and unknown.unpriced == ["openai/a-model-nobody-prices"]


def test_a_request_over_its_limit_is_refused_naming_the_field_the_estimate_and_what_to_do():
    settings = Settings(_env_file=None, llm_model=MINI)
    request = VideoRequest(**REQUEST, max_cost_usd=0.00001)
    with pytest.raises(SystemCheckError) as refused:
        check_budget(request, settings)
    message = str(refused.value)
    assert message.startswith("max_cost_usd: this video is estimated at $0.000") and "above the $0.00001 allowed" in message
    assert "raise max_cost_usd" in message and "AURA_LLM_ROUTING=cost" in message
    assert check_budget(request.model_copy(update={"max_cost_usd": 1.0}), settings).usd < 1.0
    assert check_budget(VideoRequest(**REQUEST), settings) is None  # no limit asked: nothing estimated
    assert check_budget(request.model_copy(update={"max_cost_usd": 0}), Settings(_env_file=None)).usd == 0  # offline


def test_a_limit_must_be_a_sum_of_money():
    for bad in (-1, 20_000, "a lot"):
        with pytest.raises(ValueError, match="max_cost_usd"):
            VideoRequest(**REQUEST, max_cost_usd=bad)


def test_the_price_table_adds_to_the_built_in_one_and_refuses_a_negative_price(monkeypatch):
    table = Settings(_env_file=None, prices={"speech": {"acme/voice": 5}, "gpu_per_hour": 2}).prices
    assert table.speech["acme/voice"] == 5 and table.speech["openai/tts-1"] == 15 and table.gpu_per_hour == 2
    with pytest.raises(ValueError, match="negative"):
        Settings(_env_file=None, prices={"speech": {"acme/voice": -1}})
    monkeypatch.setenv("AURA_PRICES", '{"llm": {"x/y": {"input_per_million": 1}}}')
    with pytest.raises(ValueError, match="output_per_million"):
        Settings(_env_file=None)


# --- what failed attempts spent ----------------------------------------------------------------


def test_a_retry_goes_on_with_what_its_failed_attempts_spent_until_its_run_forgets_it():
    key = str(uuid.uuid4())  # a task run's id
    with pytest.raises(RuntimeError), spend.tally(key):
        spend.charge_llm(MINI, 10, 10, 0.5)
        raise RuntimeError("the answer was cut off")
    assert spend.kept([key], delivered=False).total_usd == 0.5 and spend.kept([key], delivered=True).total_usd == 0
    with spend.tally(key) as bill:  # its retry
        spend.charge_llm(MINI, 5, 5, 0.25)
    assert bill.llm[MINI].calls == 2 and bill.tokens == (15, 15) and bill.total_usd == 0.75
    assert spend.kept([key]).total_usd == 0.75 and spend.kept([key], delivered=False).total_usd == 0
    with spend.tally() as alone:  # no key: an attempt of its own
        spend.charge_llm(MINI, 1, 1, 0.1)
    assert alone.total_usd == 0.1 and spend.kept([key]).total_usd == 0.75
    spend.forget([key])
    assert spend.kept([key]) == spend.Spend()


@pytest.mark.e2e
def test_speech_bought_by_a_failed_attempt_counts_in_the_video_and_in_a_failed_runs_summary(
    prefect_server, tmp_path, monkeypatch, fresh_settings, use_ffmpeg, no_proxy
):
    from flows.generate_video import generate_video

    request = VideoRequest(**REQUEST)
    options = PipelineOptions.preset("quick_demo").model_copy(
        update={"voice": StagePolicy(retries=1, retry_delay_s=0.1, timeout_s=120)}
    )
    with SpeechServer(["ok"]) as server:
        for name, value in paid_speech(server.url).items():
            monkeypatch.setenv(name, value)
        fresh_settings()

        # the first loudness pass dies after the narration was bought: the retry buys it again
        use_ffmpeg(faulty_ffmpeg(tmp_path / "once", "crash-loudness-once"))
        retried = generate_video(request, options=options, output=str(tmp_path / "retried"))
        bought = sum(len(r.body["input"]) for r in server.speech_requests)
        metadata = check_video(Path(retried.folder), request)
        assert metadata["stages"]["voice"]["attempts"] == 2 and metadata["providers"]["tts"] == "speech"
        assert metadata["spend"]["speech"][SPEECH]["characters"] == bought  # both attempts, as billed
        assert metadata["spend"]["total_usd"] == pytest.approx(bought * SPEECH_PRICE / 1e6)
        assert bought > 2 * len(request.brief)  # two narrations' worth, not a stray request

        # every pass dies: the run fails, and its summary says what it bought
        use_ffmpeg(faulty_ffmpeg(tmp_path / "always", "crash-loudness"))
        before = len(server.speech_requests)
        failed = generate_video(request.model_copy(update={"seed": 5}), options=options,
                                output=str(tmp_path / "failed"), return_state=True)  # fmt: skip
        bought_failing = sum(len(r.body["input"]) for r in server.speech_requests[before:])
    assert failed.is_failed() and bought_failing > 0
    summary = summary_of(str(failed.state_details.flow_run_id))
    assert "| voice | failed" in summary and "injected crash" in summary
    assert f"**Spent:** {spend.usd(bought_failing * SPEECH_PRICE / 1e6)} (speech {bought_failing:,} characters)" in summary


@pytest.mark.e2e
def test_the_command_says_what_a_failed_run_spent(prefect_api_url, tmp_path, no_proxy):
    with SpeechServer(["ok"]) as server:
        env = {**os.environ, "PREFECT_API_URL": prefect_api_url, **paid_speech(server.url),
               "AURA_FFMPEG": str(faulty_ffmpeg(tmp_path / "faulty", "crash-loudness"))}  # fmt: skip
        args = [sys.executable, "-m", "aura.cli", "generate", REQUEST["brief"], "--duration", "10", "--aspect", "9:16",
                "--preset", "quick_demo", "--out", str(tmp_path / "out")]  # fmt: skip
        as_json = subprocess.run([*args, "--json"], env=env, capture_output=True, text=True, timeout=600)
        bought = sum(len(r.body["input"]) for r in server.speech_requests)
        told = subprocess.run([*args, "--seed", "9"], env=env, capture_output=True, text=True, timeout=600)
        bought_then = sum(len(r.body["input"]) for r in server.speech_requests) - bought

    assert as_json.returncode == 1, as_json.stdout + as_json.stderr
    answer = json.loads(as_json.stdout)
    assert answer["ok"] is False and answer["error"].startswith("voice stage failed: the narration's loudness pass")
    assert answer["spend"]["speech"][SPEECH]["characters"] == bought > 0  # every attempt, as billed
    assert told.returncode == 1 and "Traceback" not in told.stderr
    assert f"spent {spend.usd(bought_then * SPEECH_PRICE / 1e6)} (speech {bought_then:,} characters) before it ended" in " ".join(told.stderr.split())


# --- the LLM's tokens and price, and cost-based routing -------------------------------------------


def test_an_answer_is_charged_its_tokens_at_litellms_price_or_the_tables(monkeypatch, fresh_settings):
    with ChatServer(["the script"]) as server:
        chain = (ModelConfig(MINI, server.url, "k"),)
        with spend.tally() as listed:
            route(MESSAGES, chain, timeout=10, retries=0, temperature=0.5)
        monkeypatch.setenv("AURA_PRICES", json.dumps({"llm": {MINI: {"input_per_million": 1, "output_per_million": 2}}}))
        fresh_settings()
        with spend.tally() as tabled:
            route(MESSAGES, chain, timeout=10, retries=0, temperature=0.5)
    use = listed.llm[MINI]
    assert (use.calls, use.tokens_in, use.tokens_out) == (1, 10, 10)
    assert use.usd == pytest.approx(10 * MINI_IN + 10 * MINI_OUT) and listed.total_usd == pytest.approx(use.usd)
    assert tabled.llm[MINI].usd == pytest.approx(10 * 1e-6 + 10 * 2e-6)


def test_cost_routing_asks_the_cheapest_model_first_and_the_next_cheapest_when_it_fails():
    with ChatServer(["cheap answer"]) as cheap, ChatServer(["dear answer"]) as dear:
        chain = (ModelConfig("openai/gpt-4o", dear.url, "k"), ModelConfig(MINI, cheap.url, "k"))
        with spend.tally() as bill:
            served = route(MESSAGES, chain, timeout=10, retries=0, temperature=0.5, routing="cost")
        assert (served.text, served.model, len(dear.requests)) == ("cheap answer", MINI, 0)
        assert list(bill.llm) == [MINI]
        in_order = route(MESSAGES, chain, timeout=10, retries=0, temperature=0.5)
        assert in_order.model == "openai/gpt-4o"  # the order given, without cost routing

    with ChatServer(["fail"]) as cheap, ChatServer(["dear answer"]) as dear:
        chain = (ModelConfig("openai/gpt-4o", dear.url, "k"), ModelConfig(MINI, cheap.url, "k"), ModelConfig("aura/offline"))
        with spend.tally() as bill:
            served = route(MESSAGES, chain, timeout=10, retries=0, temperature=0.5, routing="cost")
        assert (served.text, served.model) == ("dear answer", "openai/gpt-4o") and len(cheap.requests) == 1
        assert served.failures and served.failures[0].startswith(f"{MINI}: InternalServerError")
        assert list(bill.llm) == ["openai/gpt-4o"]  # the failed call answered nothing to pay for


# --- a whole run: metadata.json, the summary artifact, --json, the gateway --------------------------


@pytest.mark.e2e
def test_a_run_with_a_paid_llm_records_its_tokens_and_cost_and_a_reused_script_costs_nothing(
    prefect_server, tmp_path, monkeypatch, fresh_settings
):
    from flows.generate_video import generate_video

    request = VideoRequest(**REQUEST)
    with ChatServer([script_answer(request)]) as server:
        for name, value in paid_llm(server.url).items():
            monkeypatch.setenv(name, value)
        fresh_settings()
        first = generate_video(request, preset="quick_demo", output=str(tmp_path))
        again = generate_video(request, preset="quick_demo", output=str(tmp_path))  # the script's checkpoint
        assert len(server.requests) == 1

    metadata = check_video(Path(first.folder), request)
    spent = metadata["spend"]
    assert spent["llm"] == {MINI: {"calls": 1, "tokens_in": 10, "tokens_out": 10, "usd": pytest.approx(10 * MINI_IN + 10 * MINI_OUT)}}
    assert spent["total_usd"] == pytest.approx(10 * MINI_IN + 10 * MINI_OUT) and first.spend.tokens == (10, 10)
    assert metadata["providers"]["llm"] == MINI
    summary = summary_of(first.flow_run_id)
    assert "**Spent:** $0.0000075 (LLM 10 in / 10 out tokens)" in summary
    assert f"- {MINI}: 10 tokens in, 10 out, $0.000008" in summary  # its line rounds to the millionth

    assert again.stages["script"].cached and again.spend.total_usd == 0 and again.spend.llm == {}
    assert json.loads(Path(again.paths()["metadata"]).read_text())["spend"]["total_usd"] == 0


@pytest.mark.e2e
def test_the_command_prints_the_spend_and_refuses_a_limit_before_asking_the_llm(prefect_api_url, tmp_path):
    request = VideoRequest(**REQUEST)
    prices = {"llm": {MINI: {"input_per_million": 100, "output_per_million": 200}}}
    with ChatServer([script_answer(request)]) as server:
        env = {**os.environ, "PREFECT_API_URL": prefect_api_url, **paid_llm(server.url), "AURA_PRICES": json.dumps(prices)}
        args = [sys.executable, "-m", "aura.cli", "generate", REQUEST["brief"], "--duration", "10", "--aspect", "9:16",
                "--preset", "quick_demo", "--out", str(tmp_path), "--json"]  # fmt: skip
        refused = subprocess.run([*args, "--max-cost", "0.01"], env=env, capture_output=True, text=True, timeout=300)
        asked_before = len(server.requests)
        made = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)

    assert refused.returncode == 2 and asked_before == 0, refused.stdout + refused.stderr
    answer = json.loads(refused.stdout)
    assert answer["ok"] is False and answer["error"].startswith("invalid max_cost_usd: this video is estimated at $0.")
    assert "Traceback" not in refused.stderr
    assert made.returncode == 0, made.stdout + made.stderr
    result = json.loads(made.stdout)
    assert result["spend"]["llm"][MINI]["tokens_in"] == 10 and result["spend"]["llm"][MINI]["tokens_out"] == 10
    assert result["spend"]["total_usd"] == pytest.approx(10 * 100e-6 + 10 * 200e-6)  # the table's price


@pytest.fixture(scope="module")
def paid_gateway(prefect_api_url, tmp_path_factory):
    request = VideoRequest(**REQUEST)
    with ChatServer([script_answer(request)]) as llm:
        with serving(tmp_path_factory.mktemp("gateway"), prefect_api_url, **paid_llm(llm.url)) as gateway:
            yield gateway, llm


@pytest.mark.e2e
def test_the_gateway_refuses_a_limit_before_any_run_and_shows_a_jobs_spend(paid_gateway):
    gateway, llm = paid_gateway
    with gateway.client() as api:
        before = video_job_count()
        refused = api.post("/api/videos/generate", json={**REQUEST, "max_cost_usd": 0.000001})
        assert refused.status_code == 422 and refused.json()["message"].startswith("max_cost_usd: this video is estimated")
        assert ["body", "max_cost_usd"] == refused.json()["detail"][0]["loc"]
        assert video_job_count() == before and not llm.requests

        created = api.post("/api/videos/generate", json={**REQUEST, "max_cost_usd": 0.01}, params={"preset": "quick_demo"})
        assert created.status_code == 202, created.text
        events = [name for name, _ in sse_events(api, f"/api/videos/{created.json()['jobId']}/stream")]
        assert events[-1] == "done"
        status = api.get(created.json()["statusUrl"]).json()
    assert status["spend"]["llm"][MINI]["tokens_in"] == 10 and status["spend"]["llm"][MINI]["tokens_out"] == 10
    assert status["spend"]["total_usd"] == pytest.approx(10 * MINI_IN + 10 * MINI_OUT) and len(llm.requests) == 1


@pytest.mark.e2e
def test_a_cancelled_jobs_status_shows_what_its_script_cost(paid_gateway):
    gateway, llm = paid_gateway
    asked = {**REQUEST, "brief": "How glaciers carve fjords", "review_script": True}  # it waits after the script
    with gateway.client() as api:
        job = api.post("/api/videos/generate", json=asked, params={"preset": "quick_demo"}).json()
        for name, _ in sse_events(api, job["streamUrl"]):
            if name == "review":
                break
        assert api.post(f"/api/videos/{job['jobId']}/cancel").status_code == 202

        def ended_with_spend():
            status = api.get(job["statusUrl"]).json()
            return status if status["status"] == "cancelled" and status.get("spend") else None

        status = wait_for(ended_with_spend, 60, "the cancelled job's spend")
    assert status["spend"]["llm"][MINI]["tokens_in"] == 10 and status["spend"]["llm"][MINI]["tokens_out"] == 10
    assert status["spend"]["total_usd"] == pytest.approx(10 * MINI_IN + 10 * MINI_OUT)
