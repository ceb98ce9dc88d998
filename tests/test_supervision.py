"""Owned child processes and stage scopes: deadlines and cancellations that really stop work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from aura import processes
from aura.media.ffmpeg import run_ffmpeg
from aura import usage
from aura.supervision import (
    RunCancelled,
    Scope,
    StageTimeout,
    call_interruptibly,
    cancel_run,
    checkpoint,
    end_run,
)

SLEEPER = [sys.executable, "-c", "import sys, time; time.sleep(float(sys.argv[1]))"]


def _children_running(marker: str) -> list[int]:
    """Processes (anywhere on the machine) whose command line carries `marker`: the process table."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if marker in " ".join(proc.info["cmdline"] or []):
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def test_a_deadline_kills_the_child_and_raises_a_timeout(tmp_path):
    started = time.monotonic()
    with pytest.raises(StageTimeout) as caught:
        with Scope("compose", timeout_s=0.5):
            processes.run([*SLEEPER, "31.5"])
    assert time.monotonic() - started < 5
    assert isinstance(caught.value, TimeoutError)  # so Prefect records the task run as TimedOut
    assert "compose ran past its 0.5 s timeout" in str(caught.value)
    assert not _children_running("31.5") and not processes.live_children()


def test_prefect_s_own_timer_on_the_same_deadline_is_the_scope_s_timeout_too():
    """A task's timeout_seconds is enforced by Prefect (its alarm raises TimeoutError) and by the scope: the same story."""

    class PrefectTimedOut(TimeoutError):
        pass

    try:
        with pytest.raises(StageTimeout, match="voice ran past its 0.3 s timeout") as caught:
            with Scope("voice", timeout_s=0.3, run_id="timer-run", task_run_id="timer-task"):
                child = processes.start([*SLEEPER, "32.5"])
                time.sleep(0.29)
                raise PrefectTimedOut("Scope timed out after 0.3 second(s).")  # what Prefect's alarm raises
        assert isinstance(caught.value.__cause__, PrefectTimedOut)
        assert child.wait(5) is not None and not _children_running("32.5")
        assert [a.outcome for a in usage.attempts_of("timer-task")] == ["timed out"]
    finally:
        end_run("timer-run")


def test_cancelling_a_run_stops_its_stage_in_another_thread():
    outcome: dict[str, BaseException] = {}

    def stage() -> None:
        try:
            with Scope("voice", run_id="run-cancel-test", task_run_id="voice-task"):
                processes.run([*SLEEPER, "32.5"])
        except BaseException as exc:  # noqa: BLE001
            outcome["error"] = exc

    worker = threading.Thread(target=stage)
    worker.start()
    time.sleep(0.3)
    cancel_run("run-cancel-test", "cancelled by the test")
    worker.join(5)
    assert not worker.is_alive()
    assert isinstance(outcome["error"], RunCancelled) and "cancelled by the test" in str(outcome["error"])
    assert not _children_running("32.5")
    [attempt] = usage.attempts_of("voice-task")
    assert attempt.outcome == "cancelled" and attempt.usage.seconds >= 0.3
    # a stage that starts after the cancellation stops before doing anything
    with pytest.raises(RunCancelled):
        with Scope("compose", run_id="run-cancel-test"):
            pytest.fail("the stage body must not run")
    end_run("run-cancel-test")
    with Scope("compose", run_id="run-cancel-test"):  # the run is over: a new one of that id starts clean
        pass


def test_a_provider_error_after_the_kill_becomes_the_interruption():
    """ffmpeg killed by a deadline makes the caller raise its own error: the scope's reason wins."""
    with pytest.raises(StageTimeout) as caught:
        with Scope("voice", timeout_s=0.3):
            try:
                processes.run([*SLEEPER, "33.5"], timeout=60)
            except StageTimeout as exc:
                raise RuntimeError("ffmpeg failed (exit -9)") from exc
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_checkpoints_raise_inside_an_interrupted_scope_only():
    checkpoint()  # outside a scope: nothing to do
    with pytest.raises(StageTimeout):
        with Scope("visuals", timeout_s=0.2):
            for _ in range(100):
                time.sleep(0.05)
                checkpoint()
            pytest.fail("the loop should have been stopped")


def test_an_exception_in_the_waiting_thread_kills_the_child():
    """Prefect's own timeout in the main thread is a SIGALRM: the child must not survive it."""

    def alarm(*_):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(KeyboardInterrupt):
            processes.run([*SLEEPER, "34.5"])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    time.sleep(0.1)
    assert not _children_running("34.5")


def test_an_owned_child_dies_with_its_parent_even_on_sigkill():
    code = "import sys; from aura import processes; print('ready', flush=True); processes.run(sys.argv[1:])"
    parent = subprocess.Popen([sys.executable, "-c", code, *SLEEPER, "35.5"], stdout=subprocess.PIPE)
    assert parent.stdout.readline().strip() == b"ready"
    deadline = time.monotonic() + 10
    while not _children_running("35.5") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _children_running("35.5"), "the child never started"
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(10)
    deadline = time.monotonic() + 5
    while _children_running("35.5") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _children_running("35.5"), "an orphan survived its parent's SIGKILL"


def test_call_interruptibly_returns_times_out_and_yields_to_the_scope():
    assert call_interruptibly(lambda: 42, timeout_s=5) == 42
    with pytest.raises(ValueError):
        call_interruptibly(lambda: int("x"))
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="no answer within 0.2 s"):
        call_interruptibly(lambda: time.sleep(5), timeout_s=0.2)
    assert time.monotonic() - started < 2
    threading.Timer(0.2, cancel_run, args=("run-interruptible", "stop waiting")).start()
    started = time.monotonic()
    with pytest.raises(RunCancelled):
        with Scope("script", run_id="run-interruptible"):
            call_interruptibly(lambda: time.sleep(5))  # an LLM call that hangs
    assert time.monotonic() - started < 2
    end_run("run-interruptible")


def test_usage_counts_the_childrens_cpu_and_memory():
    burn = [sys.executable, "-c", "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass"]
    with Scope("compose") as scope:
        processes.run(burn)
    assert scope.meter.usage.cpu_seconds >= 0.35
    assert scope.meter.usage.seconds >= 0.4
    assert scope.meter.usage.peak_rss_bytes >= psutil.Process().memory_info().rss * 0.5


def test_ffmpeg_reports_its_own_progress():
    seen: list[float] = []
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc=d=2:s=160x120:r=25", "-f", "null", "-"], on_progress=seen.append, total_seconds=2)
    assert seen and seen[-1] == 1.0
    assert seen == sorted(seen)


def test_render_work_runs_below_the_servers_that_answer_requests():
    render = processes.start([*SLEEPER, "33.5"])
    server = processes.start([*SLEEPER, "33.6"], serves_requests=True)
    try:
        assert psutil.Process(render.pid).nice() == processes.render_nice() == 10
        assert psutil.Process(server.pid).nice() == psutil.Process().nice()
    finally:
        for proc in (render, server):
            processes.kill(proc)
            proc.wait(5)
            processes.forget(proc)
