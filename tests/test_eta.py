"""Time to finish: the model fitted on a server's past runs, the time left along the critical path, the description."""

from __future__ import annotations

import random

import pytest

from aura import eta, progress
from aura.models import VideoRequest
from aura.progress import RunProgress, parse_description, parse_eta
from aura.settings import get_settings
from aura.stages.pipeline import WEIGHTS

VOICE = (0.5, 3.0, 0.0, 0.0)  # 0.5 s, then 3 s per minute of narration
COMPOSE = (1.0, 0.0, 9.0, 0.0)  # 9 s per megapixel-minute


def _samples(stage: str, rates: tuple, count: int, key: str = "", noise: float = 0.05, seed: int = 1) -> list[eta.Sample]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        req = VideoRequest(brief="b", duration_seconds=rng.randint(10, 300), aspect=rng.choice(["16:9", "9:16", "1:1"]),
                           resolution=rng.choice(["720p", "1080p"]), fps=rng.choice([24, 30, 60]))  # fmt: skip
        x = eta.features(req)
        seconds = sum(a * b for a, b in zip(rates, x)) * (1 + rng.uniform(-noise, noise))
        out.append(eta.Sample(stage, key, x, seconds))
    return out


def test_a_fit_on_a_servers_runs_recovers_each_stages_rate():
    model = eta.fit(_samples("voice", VOICE, 40) + _samples("compose", COMPOSE, 40, seed=2))
    for minutes, request in ((0.5, {"duration_seconds": 30}), (4, {"duration_seconds": 240, "resolution": "1080p"})):
        x = eta.features(request)
        predicted = model.predict(x)
        assert predicted["voice"] == pytest.approx(0.5 + 3.0 * minutes, rel=0.08)
        assert predicted["compose"] == pytest.approx(1.0 + 9.0 * x[2], rel=0.08)
        assert predicted["brief"] == pytest.approx(sum(a * b for a, b in zip(eta.BUILT_IN["brief"], x)))  # no history


def test_a_provider_with_enough_runs_has_its_own_rate_and_one_with_few_is_pooled():
    slow = (2.0, 12.0, 0.0, 0.0)
    model = eta.fit(_samples("voice", VOICE, 20, key="piper") + _samples("voice", slow, 8, key="speech", seed=3)
                    + _samples("voice", slow, 3, key="edge-tts", seed=4))  # fmt: skip
    x = eta.features({"duration_seconds": 120})
    piper, speech = model.predict(x, {"voice": "piper"})["voice"], model.predict(x, {"voice": "speech"})["voice"]
    assert piper == pytest.approx(6.5, rel=0.1) and speech == pytest.approx(26.0, rel=0.15)
    assert model.predict(x, {"voice": "edge-tts"})["voice"] == model.predict(x)["voice"]  # 3 runs: the pooled fit


def test_without_history_the_built_in_rates_serve_and_predictions_are_never_negative(refused_port, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from aura.stages.run_history import read_samples

    with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{refused_port}/api"}):
        assert read_samples() == []  # a server that cannot answer: no history, nothing raised
    x = eta.features(VideoRequest(brief="b", duration_seconds=60))
    assert eta.fit([]).predict(x) == eta.BUILT_IN_MODEL.predict(x)
    assert all(seconds > 0 for seconds in eta.BUILT_IN_MODEL.predict(x).values())
    falling = [eta.Sample("voice", "", (1.0, m, 0.0, 2.0), 10 - 2 * m) for m in (0.2, 1, 2, 3, 4) * 5]  # odd, but a fit
    assert eta.fit(falling).predict((1.0, 20.0, 0.0, 2.0))["voice"] == 0.0


def test_the_time_left_follows_the_critical_path_with_voice_beside_visuals():
    predicted = {"brief": 1, "script": 2, "voice": 10, "visuals": 4, "compose": 5, "run": 0.5}
    assert eta.remaining_seconds(predicted, {}, {}) == 18.5  # brief + script + max(voice, visuals) + compose + run
    done = {"brief": 1.0, "script": 1.0}
    # voice half done on schedule: 5 s of it left, the visuals' 4 s hide behind it
    assert eta.remaining_seconds(predicted, {**done, "voice": 0.5}, {"voice": 5}) == pytest.approx(10.5)
    # voice twice as slow as predicted: its own pace counts for half at halfway
    assert eta.remaining_seconds(predicted, {**done, "voice": 0.5}, {"voice": 10}) == pytest.approx(2.5 + 5 + 5.5)
    # voice done early, the visuals are now the longer of the two
    assert eta.remaining_seconds({**predicted, "visuals": 12}, {**done, "voice": 1.0, "visuals": 0.5}, {"visuals": 6}) == pytest.approx(11.5)
    assert eta.remaining_seconds(predicted, dict.fromkeys(predicted, 1.0), {}) == 0.0
    # script and voice reused from checkpoints say nothing: the composition under way means they are over
    assert eta.remaining_seconds(predicted, {"brief": 1.0, "compose": 0.5}, {"compose": 2.5}) == pytest.approx(3.0)


def test_the_description_carries_the_time_left_and_parse_description_reads_it_back():
    run = RunProgress(WEIGHTS)
    run.update("voice", 0.4, "scene 3 of 8")
    assert run.eta_seconds() is None and run.describe() == "voice: scene 3 of 8"  # no forecast: nothing said
    run.forecast({"brief": 1, "script": 2, "voice": 40, "visuals": 4, "compose": 5})
    text = run.describe()
    assert text.startswith("voice: scene 3 of 8 · about ") and text.endswith(" s left")
    assert parse_description(text, WEIGHTS) == ("voice", "scene 3 of 8")
    assert 0 < parse_eta(text) <= 1 + 2 + 40 + 5
    run.update("visuals", 0.5, "slide " + "x" * 300)  # a long message is cut, never the time left
    text = run.describe(200)
    assert len(text) == 200 and text.endswith(" s left") and parse_eta(text) is not None
    assert parse_description(text, WEIGHTS)[0] == "visuals"
    run.end("done")
    assert run.describe() == "visuals: done" and parse_eta(run.describe()) is None and run.eta_seconds() == 0.0


def test_minutes_read_back_as_seconds():
    for seconds, text in ((42, " · about 42 s left"), (155, " · about 2 min 35 s left"), (600, " · about 10 min left")):
        assert eta.left_text(seconds) == text
        assert parse_eta(f"compose: segment 2 of 3{text}") == seconds
        assert parse_description(f"compose: segment 2 of 3{text}", WEIGHTS) == ("compose", "segment 2 of 3")
    assert parse_eta("voice: 10 seconds left to say") is None


@pytest.mark.e2e
def test_a_run_tells_the_time_left_and_the_next_run_forecasts_from_history(prefect_server, tmp_path, monkeypatch):
    from aura.stages import run_progress
    from flows.generate_video import generate_video

    said: list[str] = []
    update = run_progress.update_progress_artifact
    monkeypatch.setattr(run_progress, "update_progress_artifact",
                        lambda artifact_id, **kw: (said.append(kw["description"]), update(artifact_id, **kw)))  # fmt: skip

    class Bar:  # what the CLI's bar hears in the run's process
        def __init__(self):
            self.forecasts: list[dict] = []

        def __call__(self, stage, fraction, message):
            pass

        def forecast(self, predicted):
            self.forecasts.append(predicted)

    request = VideoRequest(brief="How owls hunt", duration_seconds=10, fresh=True)
    x = eta.features(request)
    for attempt in range(2):
        said.clear()
        bar = Bar()
        progress.add_listener(bar)
        try:
            state = generate_video(request, output=str(tmp_path / "out"), return_state=True)
        finally:
            progress.remove_listener(bar)
        assert state.is_completed()
        running = [parse_eta(text) for text in said[:-1]]
        assert any(left is not None and left >= 0 for left in running), said
        assert parse_eta(said[-1]) is None  # the run ended: nothing left
        assert bar.forecasts[0] == eta.BUILT_IN_MODEL.predict(x, eta.provider_keys(get_settings()))
    # the second run had the first in its history: a forecast fitted on it, not the built-in rates
    assert len(bar.forecasts) == 2 and bar.forecasts[1] != bar.forecasts[0]
