"""What a command costs before its work starts: heavy libraries only when needed, one line on any failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aura import cli, prefect_server
from aura.checkout import CheckoutNotFound, checkout_folder, record_checkout

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(code: str, **env: str) -> set[str]:
    script = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120, env={**_env(), **env})
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("AURA_LLM")}


def test_an_offline_script_never_imports_litellm():
    code = (
        "import flows.generate_video, aura.cli\n"
        "from aura.models import VideoRequest\n"
        "from aura.settings import get_settings\n"
        "from aura.stages.script import write_script\n"
        "assert write_script(VideoRequest(brief='How tides work'), get_settings()).writer == 'aura/offline'"
    )
    loaded = _modules_after(code)
    assert "litellm" not in loaded and "openai" not in loaded
    assert not {"torch", "diffusers", "sentence_transformers"} & loaded  # nor the models of other stages


def test_a_configured_model_brings_litellm_in_with_the_offline_writer_behind_it():
    code = (
        "from aura.providers.llm.client import ModelConfig, complete\n"
        "from aura.providers.llm.prompts import build_messages\n"
        "from aura.stages.script import spec_for\n"
        "from aura.models import VideoRequest\n"
        "messages = build_messages(spec_for(VideoRequest(brief='How tides work'), 150))\n"
        "dead = ModelConfig('openai/gpt-4o-mini', api_base='http://127.0.0.1:9', api_key='sk-test')\n"
        "answer = complete(messages, [dead, 'aura/offline'], timeout=2, retries=0)\n"
        "assert answer.model == 'aura/offline' and answer.failures, answer"
    )
    assert "litellm" in _modules_after(code)


def test_help_and_input_errors_load_neither_prefect_nor_the_flow():
    assert not {"prefect", "flows.generate_video", "litellm"} & _modules_after("import aura.cli")


def test_an_unexpected_error_is_one_line_and_verbose_shows_the_detail(monkeypatch, capsys):
    def broken():
        raise RuntimeError("something deep broke\nacross two lines")

    monkeypatch.setattr(cli, "app", broken)
    monkeypatch.setattr(sys, "argv", ["aura", "generate", "x"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "something deep broke across two lines" in lines[0] and "--verbose" in lines[0]

    monkeypatch.setattr(sys, "argv", ["aura", "generate", "x", "--verbose"])
    with pytest.raises(SystemExit):
        cli.main()
    assert "Traceback" in capsys.readouterr().err


def test_the_start_budget_grows_with_the_load_per_core(monkeypatch):
    monkeypatch.setattr(prefect_server.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(prefect_server.os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    assert prefect_server.start_budget_s() == prefect_server.START_BUDGET_S  # an idle machine: the base
    monkeypatch.setattr(prefect_server.os, "getloadavg", lambda: (8.0, 8.0, 8.0))
    assert prefect_server.start_budget_s() == 4 * prefect_server.START_BUDGET_S  # four runnable per core
    monkeypatch.setattr(prefect_server.os, "getloadavg", lambda: (1000.0, 1.0, 1.0))
    assert prefect_server.start_budget_s() == prefect_server.MAX_START_BUDGET_S
    assert prefect_server.start_budget_s(12.0) == 12.0  # AURA_PREFECT_START_TIMEOUT_S wins


def test_a_deployment_runs_from_aura_checkout_else_from_the_checkout_it_was_made_from(tmp_path, monkeypatch):
    elsewhere = tmp_path / "other-checkout"
    elsewhere.mkdir()
    assert checkout_folder(str(elsewhere), str(ROOT)) == elsewhere.resolve()
    assert checkout_folder("", str(ROOT)) == ROOT  # the variable unset on the worker
    assert checkout_folder("{{ $AURA_CHECKOUT }}", str(ROOT)) == ROOT  # a placeholder nobody filled
    with pytest.raises(CheckoutNotFound, match="AURA_CHECKOUT") as missing:
        checkout_folder("", "/nowhere/aura")
    assert "/nowhere/aura" in str(missing.value)
    with pytest.raises(CheckoutNotFound, match="AURA_CHECKOUT is not set"):
        checkout_folder("", "")
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("AURA_CHECKOUT", raising=False)
    assert record_checkout() == {"directory": str(ROOT)}
