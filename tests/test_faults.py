"""Fault injection: real runs through the flow and a real Prefect server, with parts that fail on purpose.

The faults sit at the edges: an LLM endpoint that answers 500, an ffmpeg that
crashes, hangs or crawls (helpers.faults), a process killed with SIGKILL, a
disk that is too full, a folder that cannot be written, ten runs at once.
Each test checks what a user would: the run's state, which stages ran again,
the files left in the job folder, and the process table.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
from helpers.faults import faulty_ffmpeg, started
from helpers.llm_server import ChatServer, script_answer
from helpers.jobs import check_video, job_folders, no_half_job, wait_for
from helpers.runs import task_runs_of
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
from prefect.states import Cancelling

from aura.models import VideoRequest
from aura.options import PipelineOptions, StagePolicy
from flows.generate_video import generate_video

pytestmark = pytest.mark.e2e

QUICK = PipelineOptions.preset("quick_demo")


# ------------------------------------------------------------------ helpers


def task_states(flow_run_id: str) -> dict[str, list[str]]:
    """Each stage's task runs in a flow run (and its subflows), by state name (Completed, Cached, Failed, TimedOut...)."""
    runs = task_runs_of(flow_run_id)
    states: dict[str, list[str]] = {}
    for run in sorted(runs, key=lambda r: r.expected_start_time or r.created):
        states.setdefault(run.name.rsplit("-", 1)[0], []).append(run.state.name if run.state else "?")
    return states


def artifacts_of(flow_run_id: str) -> dict[str, list]:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(flow_run_id)])))
    by_type: dict[str, list] = {}
    for artifact in found:
        by_type.setdefault(artifact.type, []).append(artifact)
    return by_type


def _summary_states(markdown: str) -> dict[str, str]:
    """The run summary's column of Prefect states, by stage."""
    rows = [line.split(" | ") for line in markdown.splitlines() if line.startswith("| ") and " | " in line]
    header = rows[0]
    return {row[0].strip("| "): row[header.index("Prefect state")] for row in rows[1:]}


def flow_run_state(flow_run_id: str):
    with get_client(sync_client=True) as client:
        return client.read_flow_run(uuid.UUID(flow_run_id)).state


def processes_mentioning(text: str) -> list[str]:
    """Command lines in the process table that mention `text` (a job folder, a fake binary)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            line = " ".join(proc.info["cmdline"] or [])
        except psutil.Error:
            continue
        if text in line and proc.pid != os.getpid():
            found.append(line)
    return found


def cli_env(api_url: str, **extra: str) -> dict[str, str]:
    """The environment of an `aura` process talking to the session's server (as a worker's would)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AURA_FFMPEG")}
    return {**env, "PREFECT_API_URL": api_url, **extra}


def aura_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "aura.cli", "generate", *args]


# ------------------------------------------------------------------ the faults


def test_an_llm_that_fails_twice_is_retried_with_backoff_and_writes_one_script(
    prefect_server, tmp_path, monkeypatch, fresh_settings
):
    request = VideoRequest(brief="How glaciers carve valleys", duration_seconds=10, aspect="1:1")
    answer = script_answer(request)
    with ChatServer(["fail", "fail", answer], repeat_last=False) as server:
        for name, value in {
            "AURA_LLM_MODEL": "openai/aura-test", "AURA_LLM_API_BASE": server.url, "AURA_LLM_API_KEY": "sk-test",
            "AURA_LLM_RETRIES": "0", "AURA_LLM_OFFLINE_FALLBACK": "false",
        }.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        fresh_settings()
        options = QUICK.model_copy(update={"script": StagePolicy(retries=2, retry_delay_s=0.5, timeout_s=60)})
        result = generate_video(request, options=options, output=str(tmp_path))

    assert len(server.requests) == 3  # two failures, then the answer: no fallback, no extra call
    first_gap, second_gap = server.times[1] - server.times[0], server.times[2] - server.times[1]
    assert first_gap >= 0.45 and second_gap >= 0.9, (first_gap, second_gap)  # exponential backoff 0.5 s, 1 s
    assert task_states(result.flow_run_id)["script"] == ["Completed"]  # one task run, three attempts
    metadata = check_video(Path(result.folder), request)
    assert metadata["providers"]["llm"] == "openai/aura-test" and metadata["script"]["title"] == "Rivers of Ice"
    script = metadata["stages"]["script"]
    assert script["status"] == "completed" and script["attempts"] == 3
    assert len(list((tmp_path / ".prefect-results").glob("script-*"))) == 1  # one script checkpoint


def test_a_composition_crash_resumes_at_composition(prefect_server, tmp_path, use_ffmpeg):
    request = VideoRequest(brief="How coral reefs grow", duration_seconds=10, aspect="1:1", seed=3)
    faults = tmp_path / "faulty"
    use_ffmpeg(faulty_ffmpeg(faults, "crash-compose-once"))
    out = tmp_path / "out"

    failed = generate_video(request, options=QUICK, output=str(out), return_state=True)
    assert failed.is_failed() and "injected crash" in str(failed.result(raise_on_failure=False))
    [first_job] = job_folders(out)
    assert (first_job / "work" / "narration.wav").is_file()  # finished stages keep their outputs
    no_half_job(first_job)
    summary = artifacts_of(first_job.name)["markdown"][0].data
    assert "| compose | failed" in summary and "injected crash" in summary and "| voice | completed" in summary
    assert _summary_states(summary) == {  # each stage's Prefect state, as its task run ended
        "brief": "Completed", "script": "Completed", "voice": "Completed", "visuals": "Completed", "compose": "Failed",
    }  # fmt: skip

    resumed = generate_video(request, options=QUICK, output=str(out))
    resumed_summary = artifacts_of(resumed.flow_run_id)["markdown"][0].data
    assert _summary_states(resumed_summary) == {
        "brief": "Completed", "script": "Cached", "voice": "Cached", "visuals": "Cached", "compose": "Completed",
    }  # fmt: skip
    states = task_states(resumed.flow_run_id)
    assert states["script"] == states["voice"] == states["visuals"] == ["Cached"]
    assert states["compose"] == ["Completed"]
    metadata = check_video(Path(resumed.folder), request)
    for stage in ("script", "voice", "visuals"):
        assert metadata["stages"][stage]["status"] == "cached" and metadata["stages"][stage]["attempts"] == 0
    assert metadata["stages"]["voice"]["cached_from"] == first_job.name
    assert metadata["stages"]["compose"]["attempts"] == 1
    # the narration was not spoken again: the resumed job holds the very same file (a hard link)
    narration = Path(resumed.folder) / "work" / "narration.wav"
    assert narration.stat().st_ino == (first_job / "work" / "narration.wav").stat().st_ino


def test_a_retry_of_the_failed_run_itself_finishes_it_in_its_own_folder(prefect_server, tmp_path, use_ffmpeg):
    """What Retry in the UI does: the same flow run runs again, and resumes at the stage that failed."""
    from prefect.flow_engine import run_flow
    from prefect.states import AwaitingRetry

    request = VideoRequest(brief="Why leaves change colour", duration_seconds=10, aspect="1:1")
    use_ffmpeg(faulty_ffmpeg(tmp_path / "faulty", "crash-compose-once"))
    out = tmp_path / "out"
    failed = generate_video(request, options=QUICK, output=str(out), return_state=True)
    assert failed.is_failed()
    run_id = failed.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run_id, AwaitingRetry(), force=True)
        flow_run = client.read_flow_run(run_id)
    state = run_flow(generate_video, flow_run=flow_run, parameters=flow_run.parameters, return_type="state")
    assert state.is_completed(), state
    [job] = job_folders(out)
    assert job.name == str(run_id)
    check_video(job, request)
    states = task_states(str(run_id))
    assert states["compose"][-1] == "Completed" and states["voice"][-1] == "Cached"


def test_changing_only_the_voice_reruns_voice_and_composition(prefect_server, tmp_path):
    request = VideoRequest(brief="How volcanoes form", duration_seconds=10, aspect="1:1")
    first = generate_video(request, options=QUICK, output=str(tmp_path))
    other_voice = generate_video(request.model_copy(update={"voice": "en-GB-scotland"}), options=QUICK, output=str(tmp_path))
    states = task_states(other_voice.flow_run_id)
    assert states["script"] == states["visuals"] == ["Cached"]
    assert states["voice"] == states["compose"] == ["Completed"]
    assert {name: s.status for name, s in other_voice.stages.items()} == {
        "brief": "completed", "script": "cached", "voice": "completed", "visuals": "cached", "compose": "completed",
    }  # fmt: skip
    assert json.loads(Path(other_voice.paths()["metadata"]).read_text())["providers"]["voice"] != first.providers["voice"]

    # a checkpoint whose files are gone is a miss: the images are drawn again and the video is whole
    for image in (Path(first.folder) / "work" / "images").glob("*.png"):
        image.unlink()
    for image in (Path(other_voice.folder) / "work" / "images").glob("*.png"):
        image.unlink()
    again = generate_video(request, options=QUICK, output=str(tmp_path))
    assert again.stages["visuals"].status == "completed" and not again.stages["visuals"].cached
    assert again.stages["voice"].cached and again.stages["script"].cached
    check_video(Path(again.folder), request)

    # --fresh (request.fresh) runs every stage again
    fresh = generate_video(request.model_copy(update={"fresh": True}), options=QUICK, output=str(tmp_path))
    assert all(s.status == "completed" and not s.cached for s in fresh.stages.values())


def test_a_worker_killed_during_voice_resumes_after_the_script(prefect_api_url, tmp_path):
    out = tmp_path / "out"
    faults = tmp_path / "faulty"
    args = aura_cli("How lighthouses work", "--duration", "10", "--aspect", "1:1", "--preset", "quick_demo", "--out", str(out), "--json")
    worker = subprocess.Popen(
        args, env=cli_env(prefect_api_url, AURA_FFMPEG=str(faulty_ffmpeg(faults, "hang-loudness"))),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        [ffmpeg_pid] = wait_for(lambda: started(faults, "hang-loudness"), 120, "the voice stage to reach ffmpeg")
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    # the killed process's ffmpeg died with it: no orphan holds the job's files
    wait_for(lambda: not psutil.pid_exists(ffmpeg_pid) or psutil.Process(ffmpeg_pid).status() == "zombie", 10, "ffmpeg to die")
    [killed_job] = job_folders(out)
    assert not (killed_job / "video.mp4").exists()

    resumed = subprocess.run(args, env=cli_env(prefect_api_url), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    report = json.loads(resumed.stdout)
    assert report["stages"]["script"]["status"] == "cached"
    assert report["stages"]["voice"]["status"] == "completed" and not report["stages"]["voice"]["cached"]
    assert task_states(report["flow_run_id"])["script"] == ["Cached"]
    check_video(Path(report["folder"]), VideoRequest(brief="x", aspect="1:1"))


def test_a_hanging_stage_times_out_in_bounded_time_and_leaves_no_process(prefect_server, tmp_path, use_ffmpeg):
    request = VideoRequest(brief="How bridges stand", duration_seconds=10, aspect="1:1")
    faults = tmp_path / "faulty"
    fake = faulty_ffmpeg(faults, "hang-compose")
    use_ffmpeg(fake)
    options = QUICK.model_copy(update={"compose": StagePolicy(retries=0, timeout_s=3)})
    began = time.monotonic()
    state = generate_video(request, options=options, output=str(tmp_path / "out"), return_state=True)
    elapsed = time.monotonic() - began
    assert state.is_failed()
    assert elapsed < 60, f"a 3 s timeout took {elapsed:.0f} s to end the run"
    run_id = str(state.state_details.flow_run_id)
    assert task_states(run_id)["compose"] == ["TimedOut"]
    assert "compose ran past its 3 s timeout" in str(state.result(raise_on_failure=False))
    hung = started(faults, "hang-compose")  # the segments encode side by side: one ffmpeg each
    assert hung and all(not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE for pid in hung)
    assert not processes_mentioning(str(fake)), "a child of the timed-out stage is still running"
    [job] = job_folders(tmp_path / "out")
    no_half_job(job)
    assert (job / "work" / "narration.wav").is_file()  # earlier stages' outputs stay
    summary = artifacts_of(run_id)["markdown"][0].data
    assert "| compose | timed out" in summary and _summary_states(summary)["compose"] == "TimedOut"


def stop_mid_encode(api_url: str, tmp_path: Path, brief: str, stop) -> tuple[subprocess.Popen, Path, str]:
    """Run `aura generate` with an encode that crawls; once ffmpeg is encoding, call stop(process, job)."""
    out, faults = tmp_path / "out", tmp_path / "faulty"
    args = aura_cli(brief, "--duration", "20", "--aspect", "1:1", "--preset", "quick_demo", "--out", str(out), "--json")
    env = cli_env(api_url, AURA_FFMPEG=str(faulty_ffmpeg(faults, "realtime-compose")))
    run = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: started(faults, "realtime-compose"), 180, "composition to start")
        [job] = job_folders(out)
        wait_for(lambda: processes_mentioning(str(job)), 30, "ffmpeg to be encoding")
        stop(run, job)
        stdout, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert not processes_mentioning(str(job)), "ffmpeg outlived the stop"
    no_half_job(job)  # no partial video, no subtitles or thumbnail without one
    assert (job / "work" / "narration.wav").is_file() and list((job / "work" / "images").glob("*.png"))
    return run, job, stdout if run.returncode in (130, 143) else stderr


def test_cancelling_during_composition_leaves_no_video_and_no_ffmpeg(prefect_api_url, tmp_path):
    def cancel(run, job: Path) -> None:
        with get_client(sync_client=True) as client:  # what the UI's Cancel button does
            client.set_flow_run_state(uuid.UUID(job.name), Cancelling(message="cancelled by the test"))

    run, job, output = stop_mid_encode(prefect_api_url, tmp_path, "How rainbows appear", cancel)
    assert run.returncode == 130, output[-2000:]
    assert json.loads(output)["error"].startswith("cancelled")
    assert flow_run_state(job.name).is_cancelled()
    summary = artifacts_of(job.name)["markdown"][0].data
    assert "| compose | cancelled" in summary and "## Aura run cancelled" in summary


def test_sigterm_during_composition_stops_ffmpeg_and_exits_cleanly(prefect_api_url, tmp_path):
    """`kill <pid>` of a run (a worker's stop, systemd, a container): the stages stop, then the process."""
    run, job, output = stop_mid_encode(prefect_api_url, tmp_path, "How auroras glow", lambda run, job: run.send_signal(signal.SIGTERM))
    assert run.returncode == 143, output[-2000:]
    assert "terminated" in json.loads(output)["error"]
    assert flow_run_state(job.name).is_final()  # not left Running forever
    assert "| compose | cancelled" in artifacts_of(job.name)["markdown"][0].data


def test_a_full_disk_is_refused_before_any_work(prefect_server, tmp_path, monkeypatch, fresh_settings):
    monkeypatch.setenv("AURA_DISK_RESERVE_MB", str(10**9))  # keep a petabyte free: no disk has that
    fresh_settings()
    request = VideoRequest(brief="How tides work", duration_seconds=10)
    state = generate_video(request, options=QUICK, output=str(tmp_path / "out"), return_state=True)
    assert state.is_failed()
    message = str(state.result(raise_on_failure=False))
    assert "not enough disk space" in message and "AURA_DISK_RESERVE_MB" in message and "--out" in message
    run_id = str(state.state_details.flow_run_id)
    assert set(task_states(run_id)) == {"brief"}  # nothing after the check ran
    assert job_folders(tmp_path / "out") == []
    assert "| brief | failed" in artifacts_of(run_id)["markdown"][0].data


def test_an_unwritable_output_folder_is_refused_before_any_work(prefect_server, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    state = generate_video(VideoRequest(brief="How tides work"), options=QUICK, output=str(blocker / "out"), return_state=True)
    assert state.is_failed()
    message = str(state.result(raise_on_failure=False))
    assert "is not writable" in message and "--out or AURA_OUTPUT" in message
    assert set(task_states(str(state.state_details.flow_run_id))) == {"brief"}


def test_progress_summary_and_logs_of_a_run(prefect_server, tmp_path):
    result = generate_video(VideoRequest(brief="How honey is made", duration_seconds=10, aspect="9:16"), options=QUICK, output=str(tmp_path))
    found = artifacts_of(result.flow_run_id)
    [progress] = found["progress"]
    assert progress.data == 100.0
    [summary] = found["markdown"]
    assert summary.key == "aura-run-summary"
    for stage in ("brief", "script", "voice", "visuals", "compose"):
        assert f"| {stage} | completed | Completed | 1 |" in summary.data
    assert Path(result.paths()["video"]).as_uri() in summary.data
    stages = json.loads(Path(result.paths()["metadata"]).read_text())["stages"]
    assert stages["compose"]["provider"].startswith("ffmpeg") and stages["voice"]["provider"] == "piper (en_US-joe-medium)"
    assert all(s["peak_memory_bytes"] > 0 and s["cpu_seconds"] >= 0 for s in stages.values())
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[uuid.UUID(result.flow_run_id)])))
    assert logs and all(str(log.flow_run_id) == result.flow_run_id for log in logs)
    assert any(log.name.startswith("aura.") for log in logs), "aura's own logs reach the run"
    assert any(result.flow_run_id in log.message for log in logs if "correlation id" in log.message)


def test_ten_runs_at_once_through_one_server_keep_to_their_own_folders(prefect_api_url, tmp_path):
    out = tmp_path / "out"
    topics = ["glaciers", "tides", "volcanoes", "bees", "comets", "rainbows", "deserts", "coral", "lightning", "caves"]
    briefs = {f"How {topic} work, in brief": topic for topic in topics}
    runs = {
        brief: subprocess.Popen(
            aura_cli(brief, "--duration", "10", "--aspect", "1:1", "--preset", "quick_demo", "--out", str(out), "--json"),
            env=cli_env(prefect_api_url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for brief in briefs
    }  # fmt: skip
    reports = {}
    for brief, proc in runs.items():
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{stdout[-2000:]}\n{stderr[-2000:]}"  # --json: the error is on stdout
        reports[brief] = json.loads(stdout)
    folders = {Path(r["folder"]) for r in reports.values()}
    assert len(folders) == 10 and {f.parent for f in folders} == {out}
    assert {p.name for p in out.iterdir()} == {f.name for f in folders} | {".prefect-results"}
    for brief, report in reports.items():
        folder = Path(report["folder"])
        assert folder.name == report["flow_run_id"]
        metadata = check_video(folder, VideoRequest(brief=brief, aspect="1:1"))
        assert metadata["request"]["brief"] == brief
        scenes = len(metadata["script"]["scenes"])
        assert sorted(p.name for p in (folder / "work" / "images").iterdir()) == [f"scene_{i:03d}.png" for i in range(scenes)]
        outputs = {"video.mp4", "subtitles.srt", "thumbnail.jpg", "timeline.otio", "metadata.json", "work"}
        assert {p.name for p in folder.iterdir()} == outputs
        assert flow_run_state(report["flow_run_id"]).is_completed()
