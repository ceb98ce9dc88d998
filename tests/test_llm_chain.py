"""The script writer's model chain: a litellm Router with retries, timeouts and fallbacks.

The network edge is real where it can be: a local OpenAI-compatible server that
fails, hangs or answers, and ports nobody listens on. litellm's own
mock_response stands in for hosted models.
"""

from __future__ import annotations

import json
import time

import pytest

from aura.errors import ProviderError
from aura.models import VideoRequest
from aura.providers.llm.client import ModelConfig, complete
from aura.settings import OFFLINE_MODEL, Settings
from aura.stages.script import model_chain, spec_for, write_script
from helpers.llm_server import ChatServer

BRIEF = "How volcanoes form, from magma chambers to eruptions"
WPM = 150


pytestmark = pytest.mark.usefixtures("no_proxy")  # the endpoints here are local


@pytest.fixture
def refused_url(refused_port) -> str:
    return f"http://127.0.0.1:{refused_port}/v1"


def _settings(**overrides) -> Settings:
    values = dict(_env_file=None, words_per_minute=WPM, llm_timeout_s=5, llm_retries=0)
    return Settings(**(values | overrides))


def _good_answer(request: VideoRequest) -> str:
    spec = spec_for(request, WPM)
    words = " ".join(["magma"] * (spec.word_budget // spec.scene_count))
    scenes = [{"narration": words, "visual_prompt": "a volcano", "key_phrase": "Magma rises"}] * spec.scene_count
    return json.dumps({"title": "Fire Below", "scenes": scenes})


def _mocked(model: str, answer: str) -> ModelConfig:
    return ModelConfig(model, api_key="sk-test", extra=(("mock_response", answer),))


def test_the_first_model_that_answers_writes_the_script_and_is_recorded():
    request = VideoRequest(brief=BRIEF, duration_seconds=30)
    script = write_script(request, _settings(), chain=[_mocked("openai/gpt-4o-mini", _good_answer(request))])
    assert script.writer == "openai/gpt-4o-mini"
    assert script.title == "Fire Below" and script.warnings == []


def test_a_refused_connection_falls_back_to_the_next_model(refused_url):
    request = VideoRequest(brief=BRIEF, duration_seconds=30)
    chain = [
        ModelConfig("openai/gpt-4o-mini", api_base=refused_url, api_key="sk-test"),
        _mocked("anthropic/claude-3-5-haiku-latest", _good_answer(request)),
    ]
    script = write_script(request, _settings(), chain=chain)
    assert script.writer == "anthropic/claude-3-5-haiku-latest"
    assert len(script.warnings) == 1
    assert script.warnings[0].startswith("openai/gpt-4o-mini: ") and "connection" in script.warnings[0].lower()


def test_the_offline_writer_closes_the_chain_by_default(refused_url):
    settings = _settings(llm_model="openai/gpt-4o-mini", llm_api_base=refused_url, llm_api_key="sk-test")
    assert [c.model for c in model_chain(settings)] == ["openai/gpt-4o-mini", OFFLINE_MODEL]
    script = write_script(VideoRequest(brief=BRIEF, duration_seconds=30), settings)
    assert script.writer == OFFLINE_MODEL
    assert "openai/gpt-4o-mini" in script.warnings[0]


def test_when_every_model_fails_the_error_names_each_and_says_what_to_do(refused_url):
    settings = _settings(
        llm_model="openai/gpt-4o-mini", llm_fallbacks="ollama/llama3", llm_api_base=refused_url,
        llm_api_key="sk-test", llm_offline_fallback=False,
    )  # fmt: skip
    chain = model_chain(settings)
    chain[1] = ModelConfig("ollama/llama3", api_base=refused_url.removesuffix("/v1"))
    with pytest.raises(ProviderError) as info:
        write_script(VideoRequest(brief=BRIEF, duration_seconds=30), settings, chain=chain)
    message = str(info.value)
    assert message.startswith("every LLM failed: ")
    assert "openai/gpt-4o-mini (" in message and "ollama/llama3 (" in message
    assert "AURA_LLM_API_BASE" in message and "AURA_LLM_OFFLINE_FALLBACK=true" in message


def test_a_server_error_is_retried_with_backoff_before_any_fallback():
    request = VideoRequest(brief=BRIEF, duration_seconds=30)
    with ChatServer(["fail", "fail", _good_answer(request)]) as server:
        chain = [ModelConfig("openai/local-model", api_base=server.url, api_key="sk-test"), ModelConfig(OFFLINE_MODEL)]
        script = write_script(request, _settings(llm_retries=2), chain=chain)
    assert len(server.requests) == 3
    assert script.writer == "openai/local-model" and script.warnings == []


def test_json_output_is_requested_from_models_that_support_it():
    request = VideoRequest(brief=BRIEF, duration_seconds=30)
    with ChatServer([_good_answer(request)]) as server:
        write_script(request, _settings(), chain=[ModelConfig("openai/gpt-4o-mini", api_base=server.url, api_key="sk")])
    assert server.requests[0]["response_format"] == {"type": "json_object"}
    assert server.requests[0]["messages"][0]["role"] == "system"


def test_a_hanging_endpoint_costs_one_timeout_then_the_fallback_serves():
    timeout = 1.5
    request = VideoRequest(brief=BRIEF, duration_seconds=30)
    with ChatServer(["hang"]) as server:
        chain = [ModelConfig("openai/stuck", api_base=server.url, api_key="sk"), ModelConfig(OFFLINE_MODEL)]
        started = time.monotonic()
        script = write_script(request, _settings(llm_timeout_s=timeout), chain=chain)
        elapsed = time.monotonic() - started
    assert script.writer == OFFLINE_MODEL
    assert "openai/stuck" in script.warnings[0] and "timeout" in script.warnings[0].lower()
    # bounded: one timeout (no retries configured), not a hang; generous margin for a loaded machine
    assert elapsed < timeout + 10


def test_an_unusable_answer_gets_one_repair_then_the_next_model_takes_over():
    request = VideoRequest(brief=BRIEF, duration_seconds=30)
    with ChatServer(["Sure! Here is a script about volcanoes."]) as server:
        chain = [ModelConfig("openai/chatty", api_base=server.url, api_key="sk"), ModelConfig(OFFLINE_MODEL)]
        script = write_script(request, _settings(), chain=chain)
    assert len(server.requests) == 2  # the answer and its repair
    assert "not valid JSON" in server.requests[1]["messages"][-1]["content"]
    assert script.writer == OFFLINE_MODEL
    assert "openai/chatty: no usable script after one repair attempt" in script.warnings[0]


def test_complete_reports_which_model_served_and_why_others_failed(refused_url):
    answer = complete(
        [{"role": "user", "content": "hello"}],
        [ModelConfig("openai/a", api_base=refused_url, api_key="x"), _mocked("openai/b", "hi there")],
        timeout=3,
        retries=0,
    )
    assert (answer.text, answer.model) == ("hi there", "openai/b")
    assert [f.split(":")[0] for f in answer.failures] == ["openai/a"]


def test_fallbacks_come_from_a_comma_separated_setting(monkeypatch):
    monkeypatch.setenv("AURA_LLM_MODEL", "openai/gpt-4o-mini")
    monkeypatch.setenv("AURA_LLM_FALLBACKS", "anthropic/claude-3-5-haiku-latest, ollama/llama3")
    monkeypatch.setenv("AURA_LLM_OFFLINE_FALLBACK", "false")
    assert Settings(_env_file=None).llm_chain == ["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest", "ollama/llama3"]
