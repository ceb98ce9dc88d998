"""The `aura` command: generate a video, check the machine, list voices."""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from aura.settings import Settings

# no pretty tracebacks: main() turns every unexpected error into one line (--verbose shows the detail)
app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="Aura: a brief in, a narrated video out.",
)  # fmt: skip
server_app = typer.Typer(
    no_args_is_help=True,
    help="A Prefect server that stays up between runs (aura generate uses it instead of starting a temporary one).",
)
app.add_typer(server_app, name="server")
err = Console(stderr=True)


def _prefect_environment() -> None:
    # must run before prefect is imported: its settings are read at import
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no phoning home, and no offline errors


def _silence_prefect_console() -> None:
    """Keep Prefect's logs off the terminal (they still reach the server and the UI).

    Failures come back as one line from the result; warnings are printed from
    the result too. `--verbose` leaves Prefect's console output as it is.
    """
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, PrefectConsoleHandler):
                handler.setLevel(logging.CRITICAL + 1)


def _settings_or_exit() -> Settings:
    """The AURA_* settings; a bad value is one line naming the variable, before any work."""
    from aura.settings import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        err.print(f"[red]aura: {escape(_field_error(exc, prefix='AURA_'))}[/red]", highlight=False)
        raise typer.Exit(2) from None


def _refuse(message: str, code: int = 2) -> None:
    """One red line and the exit code: for commands without generate's --json."""
    err.print(f"[red]aura: {escape(message)}[/red]", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _drain_prefect_workers() -> None:
    """Send the run's last logs and events while the server is still there (a temporary one stops next)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        try:
            worker.drain_all(timeout=5)
        except Exception:  # noqa: BLE001 - logs that cannot be sent never fail the command
            logging.getLogger("aura.cli").debug("could not drain %s", worker.__name__, exc_info=True)


_ran_a_flow = threading.Event()  # the command imported Prefect and ran a flow: a quick exit pays off


def _exit_now(code: int) -> None:
    """Leave without tearing the interpreter down: the run's output is written, its logs and events sent and a
    temporary server stopped, and tearing down what a run imports (Prefect, onnxruntime...) takes 0.7 s more.
    A webhook still being delivered is waited for first."""
    from aura.publishing.webhook import finish_deliveries

    finish_deliveries(lambda: err.print("aura: delivering the webhook (retried for up to 10 minutes while the receiver "
                                        "does not answer; Ctrl-C gives it up)"))  # fmt: skip
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def _field_error(exc: ValidationError, prefix: str = "") -> str:
    """'invalid <field>: <why>' for the first error; `prefix` names a setting as its variable (AURA_CRF)."""
    first = exc.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    if prefix and not first["loc"]:
        return f"invalid settings: {message}"  # a rule over several variables names them itself
    field = ".".join(str(p) for p in first["loc"]) or "request"
    field = f"{prefix}{field.upper()}" if prefix else field
    return f"invalid {field}: {message}"


class _StageProgress:
    """One bar per stage and the run's weighted total (the progress artifact's figure), fed by aura.progress; the
    total tells the time left once the run's forecast is heard (aura.progress.forecast: the run is in this process)."""

    def __init__(self, enabled: bool):
        from aura.progress import RunProgress
        from aura.stages.pipeline import STAGES, WEIGHTS

        self.active: list[str] = []
        self.done: set[str] = set()
        self.run = RunProgress(WEIGHTS)
        self._lock = threading.Lock()
        self.bars = Progress(
            TextColumn("{task.description:<8}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[message]}"),
            console=err,
            disable=not enabled,
        )
        self.ids = {stage.name: self.bars.add_task(stage.label, total=1.0, message="", start=False) for stage in STAGES}
        self.total = self.bars.add_task("Total", total=100.0, message="")

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        if stage not in self.ids:
            return
        self.run.update(stage, fraction, message)
        self._total()
        with self._lock:
            if stage not in self.active and stage not in self.done:
                self.active.append(stage)
                self.bars.start_task(self.ids[stage])
            if fraction >= 1.0 and stage in self.active:
                self.active.remove(stage)
                self.done.add(stage)
        self.bars.update(self.ids[stage], completed=fraction, message=message[:60])

    def forecast(self, predicted: dict[str, float]) -> None:
        self.run.forecast(predicted)
        self._total()

    def _total(self) -> None:
        from aura.eta import left_text

        left = self.run.eta_seconds()
        said = left_text(left) if left is not None and self.run.percent < 100 else ""
        self.bars.update(self.total, completed=self.run.percent, message=f"{self.run.percent:.0f}% of the run{said}")

    def failing_stage(self) -> str | None:
        return self.active[-1] if self.active else None


def _on_the_user_s_machine(command):
    """The command reads any path its user names: the machine is theirs (aura.input_rules), for its run only."""

    @functools.wraps(command)  # typer reads the options from the wrapped signature
    def run(*args: Any, **kwargs: Any) -> Any:
        from aura.input_rules import local_caller

        with local_caller():
            return command(*args, **kwargs)

    return run


@app.command()
@_on_the_user_s_machine
def generate(
    brief: str = typer.Argument(..., help="What the video is about."),
    # numbers are taken as text so that VideoRequest reports a bad value like any other
    duration: str = typer.Option("60", "--duration", "-d", help="Target length in seconds (10 to 1200)."),
    aspect: str = typer.Option("16:9", "--aspect", "-a", help="16:9, 9:16 or 1:1."),
    resolution: str = typer.Option("720p", "--resolution", "-r", help="720p or 1080p."),
    fps: str = typer.Option("30", "--fps", help="24, 25, 30 or 60."),
    language: str = typer.Option("en", "--language", "-l", help="BCP-47 tag: en, en-US, fr, pt-BR ...; left at en, a brief plainly in another language sets it."),
    voice: str | None = typer.Option(None, "--voice", help="Voice id (see `aura voices`)."),
    style: str = typer.Option("explainer", "--style", help="documentary, explainer, promo, tutorial or story."),
    title: str | None = typer.Option(None, "--title", help="Title (written from the brief when absent)."),
    audience: str | None = typer.Option(None, "--audience", help="Who it is for."),
    music: str | None = typer.Option(None, "--music", help="Background music file, ducked under the voice."),
    seed: str | None = typer.Option(None, "--seed", help="Seed for visuals and camera moves."),
    visuals_required: bool = typer.Option(False, "--visuals-required", help="Fail instead of falling back to slides."),
    reference: list[str] = typer.Option(
        [], "--reference", "-R", help="A reference document (.txt, .md, .pdf) or folder for the script; repeatable."
    ),
    media: list[str] = typer.Option(
        [], "--media", "-M",
        help="Your own image or clip for the next scene, in scene order ('' leaves a scene to the providers); repeatable.",
    ),
    clip_audio: bool = typer.Option(False, "--clip-audio", help="Keep your own clips' sound under the narration."),
    preset: str = typer.Option("default", "--preset", help="default, debug or quick_demo."),
    fresh: bool = typer.Option(False, "--fresh", help="Run every stage again instead of reusing earlier checkpoints."),
    review: bool = typer.Option(
        False, "--review", help="Pause after the script: edit its scenes (in $EDITOR, or the Prefect UI), then render them."
    ),
    publish: bool = typer.Option(
        True, "--publish/--no-publish", help="Publish where AURA_PUBLISH says (YouTube, the webhook), or keep it here."
    ),
    max_cost: str | None = typer.Option(
        None, "--max-cost", help="The most the video may cost in paid services, USD: refused before any paid call when the estimate is higher."
    ),
    out: str | None = typer.Option(None, "--out", "-o", help="Output folder (default: AURA_OUTPUT or ./out)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (paths, flow run id, timings, spend)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's logs."),
) -> None:
    """Make a narrated video from a brief."""
    from aura.models import VideoRequest
    from aura.options import PRESETS

    def fail(message: str, code: int = 1, **extra: Any) -> None:
        if as_json:
            print(json.dumps({"ok": False, "error": message, **extra}))
        else:
            # the message quotes user input: "[/red]" must print as text, not break the markup
            err.print(f"[red]aura: {escape(message)}[/red]", highlight=False, soft_wrap=True)
        raise typer.Exit(code)

    try:
        request = VideoRequest(
            brief=brief, duration_seconds=duration, aspect=aspect, resolution=resolution, fps=fps,
            language=language, voice=voice, style=style, title=title, audience=audience, music=music,
            seed=seed, visuals_required=visuals_required, references=reference, media=media, clip_audio=clip_audio,
            fresh=fresh, review_script=review, publish=publish, max_cost_usd=max_cost,
        )  # fmt: skip
    except ValidationError as exc:
        fail(_field_error(exc), code=2)
    if preset not in PRESETS:
        fail(f"invalid preset: {preset!r} is not one of {', '.join(PRESETS)}", code=2)

    settings = _settings_or_exit()
    from aura.errors import SystemCheckError
    from aura.stages.inputs import check_inputs
    from aura.store import ArtifactStore

    _prefect_environment()  # before anything imports Prefect (the cost estimate does)
    # the files the request names and its cost limit, before anything starts: a typo costs a fraction of a
    # second (and a temporary server is never stopped half-way through making a new Prefect database)
    try:
        check_inputs(request, settings, ArtifactStore(settings.store_url(out)))
        if request.max_cost_usd is not None:  # the estimate imports the stages' Prefect side: only when asked
            from aura.stages.cost_estimate import check_budget

            check_budget(request, settings)
    except SystemCheckError as exc:
        fail(f"invalid {exc}", code=2)
    from aura import prefect_server, progress

    # the temporary server (if one is needed) boots while Prefect and the flow are imported
    with prefect_server.Connection() as connection:
        from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        from flows.generate_video import generate_video

        try:
            server = connection.resolve(settings.prefect_start_timeout_s)
        except prefect_server.PrefectServerError as exc:
            fail(str(exc))
        started = connection.temporary.ready_after_s if server.source == "temporary" else None
        if not verbose:
            _silence_prefect_console()

        bars = _StageProgress(enabled=not as_json and err.is_terminal)
        progress.add_listener(bars)
        if review:  # the terminal is the reviewer's while the run waits (aura/cli_review.py)
            from aura.cli_review import TerminalReview

            progress.add_listener(TerminalReview(settings.store_url(out), err, bars.bars.stop, bars.bars.start))
        # `kill <pid>`: the flow stops its stages (Prefect's own handler, during the run), then we exit
        # through the `with`, so the temporary Prefect server is stopped too instead of orphaned
        signal.signal(signal.SIGTERM, _terminated)
        try:
            # no heartbeats: they tell a server that a worker's run died, and this run is watched in this
            # terminal; their thread also holds every flow's end by up to a second (its 1 s sleeps)
            with temporary_settings({PREFECT_API_URL: server.api_url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
                with bars.bars:
                    state = generate_video(request, preset=preset, output=out, return_state=True)
                _drain_prefect_workers()
                _ran_a_flow.set()
        except KeyboardInterrupt:
            fail("interrupted", code=130)
        except _Terminated:
            fail("terminated (SIGTERM): the run was stopped", code=143)
        finally:
            progress.remove_listener(bars)

    run_id = str(state.state_details.flow_run_id) if state.state_details.flow_run_id else None
    cancelled = state.is_cancelled() or state.is_cancelling()  # Cancelling: its hook marked it Cancelled once it stopped
    result = None if cancelled else state.result(raise_on_failure=False)
    if cancelled or not state.is_completed() or isinstance(result, BaseException):
        spent = _spent_by_failed_run(settings.store_url(out), run_id)
        if spent is not None and not as_json:  # recorded only when a paid service was used
            err.print(f"spent {escape(spent.describe())} before it ended", highlight=False)
        extra = {"flow_run_id": run_id, **({"spend": spent.model_dump(mode="json")} if spent is not None else {})}
        if cancelled:
            fail(f"cancelled: {state.message or 'the run was cancelled'}", code=130, **extra)
        stage = getattr(result, "stage", None) or bars.failing_stage()  # a timeout names its stage
        reason = " ".join(str(result).split()) if isinstance(result, BaseException) else state.message or state.name
        fail(f"{stage + ' stage ' if stage else ''}failed: {reason}", **extra)

    paths = result.paths()
    if as_json:
        print(json.dumps({
            "ok": True, "flow_run_id": run_id, "job_id": result.job_id, "folder": result.folder, **paths,
            "duration": result.duration, "width": result.width, "height": result.height,
            "stage_seconds": result.stage_seconds, "providers": result.providers, "published": result.published,
            "warnings": result.warnings, "spend": result.spend.model_dump(mode="json"),
            "stages": {name: report.model_dump(mode="json") for name, report in result.stages.items()},
            "prefect_server": {"api_url": server.api_url, "source": server.source, "start_seconds": started},
        }))  # fmt: skip
        return
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    _print_providers(result.providers)
    cached = [name for name, report in result.stages.items() if report.cached]
    if cached:
        err.print(f"reused from checkpoints: {', '.join(cached)} (--fresh runs every stage again)", highlight=False)
    if started is not None:  # said once, with the result: what the temporary server cost and how to avoid it
        err.print(f"[dim]a temporary Prefect server took {started:.1f} s of this run; {prefect_server.KEEP_ONE_RUNNING}[/dim]", soft_wrap=True)
    for target, url in result.published.items():
        err.print(f"published on {target}: {url}", highlight=False)
    if result.spend.paid_for_something:
        err.print(f"spent {escape(result.spend.describe())}", highlight=False)  # free providers only: nothing to say
    err.print(f"[green]Done[/green]: {result.duration:.1f} s, {result.width}x{result.height}, flow run {run_id}")
    print(paths["video"])


def _spent_by_failed_run(store_url: str, run_id: str | None):
    """What the run spent before it failed or was cancelled, as its end recorded it in its job (job id = run id)."""
    from aura.stages.run_ledger import spent_by_failed_run
    from aura.store import ArtifactStore

    return spent_by_failed_run(ArtifactStore(store_url).job(run_id), run_id) if run_id else None


class _Terminated(Exception):
    """SIGTERM reached the command."""


def _terminated(signum, frame) -> None:
    raise _Terminated


def _print_providers(providers: dict[str, str]) -> None:
    """Who served each stage, and why the visuals are what they are."""
    if not providers:
        return
    images = providers.get("images", "?")
    if providers.get("images_reason"):
        images += f" ({providers['images_reason']})"
    line = f"script by {providers.get('llm', '?')}, voice by {providers.get('tts', '?')}, visuals by {images}"
    err.print(escape(line), highlight=False)


@app.command()
def export(
    job: str = typer.Argument(..., help="A job folder, or a job id in AURA_OUTPUT."),
    fmt: str = typer.Option("otio", "--format", "-f", help="otio, fcp7 (Final Cut Pro 7 / Premiere / Resolve XML), fcpxml, edl or mlt (Kdenlive, Shotcut, melt)."),
    out: str | None = typer.Option(None, "--out", "-o", help="Where to write it (default: the job folder's timeline.<ext>, or .zip with --bundle)."),
    bundle: bool = typer.Option(False, "--bundle", help="A zip of the timeline and every media file it names, to open on another machine."),
) -> None:
    """Write a finished job's edit as a timeline an editor opens: every cut, still, clip, narration, music and subtitle."""
    from aura.media.timeline import SUFFIXES, available_formats, media_of, read_timeline, relocated, write_as
    from aura.media.timeline import bundle as write_bundle
    from aura.models import TIMELINE_KEY

    settings = _settings_or_exit()
    folder = Path(job).expanduser()
    if not folder.is_dir():  # a job id in the artifact store
        from aura.errors import AuraError
        from aura.store import ArtifactStore

        try:
            store_job = ArtifactStore(settings.store_url()).job(job)
            store_job.fetch(TIMELINE_KEY)
            folder = store_job.folder
        except (AuraError, OSError, ValueError):
            err.print(f"[red]aura: {escape(job)} is neither a job folder nor a job id in {escape(settings.store_url())}[/red]", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
    source = folder / TIMELINE_KEY
    if not source.is_file():
        err.print(f"[red]aura: {escape(str(folder))} has no {TIMELINE_KEY}: a job made by this version writes one[/red]", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    if fmt not in available_formats():
        err.print(f"[red]aura: --format {escape(fmt)} cannot be written here; these work: {', '.join(available_formats())}[/red]", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    timeline = read_timeline(source)
    target = Path(out).expanduser() if out else folder / f"timeline{'.zip' if bundle else SUFFIXES[fmt]}"
    partial = target.with_name(f".{target.name}.partial")  # renamed into place once whole
    if bundle:
        missing = [name for name in media_of(timeline) if not (folder / name).is_file()]
        if missing:
            err.print(f"[red]aura: the job's {escape(missing[0])} is gone (was keep_work_files off?): no bundle[/red]", highlight=False, soft_wrap=True)
            raise typer.Exit(1)
        write_bundle(timeline, fmt, lambda name: folder / name, partial)
    else:
        inside = target.resolve().parent == folder.resolve()
        partial.write_text(write_as(timeline if inside else relocated(timeline, folder), fmt), encoding="utf-8")
    partial.replace(target)
    print(target)


@app.command()
def doctor(as_json: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """List every provider and whether it is usable on this machine."""
    from aura.doctor import run_checks

    checks = run_checks()
    if as_json:
        print(json.dumps([c.__dict__ for c in checks], indent=2))
    else:
        table = Table(title="aura doctor")
        for column in ("kind", "name", "usable", "detail"):
            table.add_column(column, overflow="fold")
        for c in checks:
            # details hold "[configured]" and paths: plain text, not markup
            table.add_row(c.kind, escape(c.name), "[green]yes[/green]" if c.usable else "[red]no[/red]", escape(c.detail))
        Console().print(table)
    required = [c for c in checks if c.kind in ("system",) and not c.usable]
    raise typer.Exit(1 if required else 0)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
) -> None:
    """Run the REST gateway and its page at /: jobs are Prefect runs of generate-video.

    It works with the Prefect server `aura generate` would use (PREFECT_API_URL,
    a running one, else a temporary one of its own); AURA_GATEWAY_DEPLOYMENT
    sends jobs to that deployment's workers, else the gateway makes the videos.
    """
    settings = _settings_or_exit()
    if settings.api_tokens:  # a broken tenants file is said before anything starts
        from aura.api.tenants import Tenants
        from aura.errors import SystemCheckError

        try:
            Tenants.from_file(settings.api_tokens)
        except SystemCheckError as exc:
            _refuse(f"invalid {exc}")
    _prefect_environment()
    from aura import prefect_server

    if host not in ("127.0.0.1", "localhost", "::1") and not (settings.api_token or settings.api_tokens):
        err.print("[yellow]warning:[/yellow] no AURA_API_TOKEN: anyone who reaches this port can start jobs and read videos")
    if host in ("0.0.0.0", "::") and not (settings.allowed_hosts or settings.public_url):
        err.print("[yellow]note:[/yellow] requests are answered for loopback names only: set AURA_ALLOWED_HOSTS "
                  "(or AURA_PUBLIC_URL) to the names callers use")  # fmt: skip
    with prefect_server.Connection() as connection:
        import uvicorn
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from aura.api.app import create_app
        from aura.api.wire import guarded_protocol

        try:
            # a configured server that is down is not fatal: the gateway answers 503 until it is back
            server = connection.resolve(settings.prefect_start_timeout_s, require_answer=False)
        except prefect_server.PrefectServerError as exc:
            err.print(f"[red]aura: {escape(str(exc))}[/red]", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        if server.source == "temporary":
            err.print(f"temporary Prefect server at {server.api_url} ({prefect_server.KEEP_ONE_RUNNING})", highlight=False)
        # uvicorn shuts down gracefully on SIGINT/SIGTERM (the gateway's own runs are stopped first), then
        # raises the signal again with the handlers it found: ours turns that into a normal exit, after cleanup
        signal.signal(signal.SIGTERM, _terminated)
        try:
            with temporary_settings({PREFECT_API_URL: server.api_url}):
                uvicorn.run(
                    create_app(settings, server.api_url, bind_host=host), host=host, port=port, log_level="info",
                    # the request headers' deadline and the connections of one address (aura.api.wire)
                    http=guarded_protocol(settings.gateway_header_timeout_s, settings.gateway_client_connections),
                )
        except (_Terminated, KeyboardInterrupt):
            pass


@app.command("tenant-token")
def tenant_token(
    name: str = typer.Argument(..., help="The tenant's name: lower-case letters, digits, - and _ (at most 40)."),
) -> None:
    """A new token for a tenant of AURA_API_TOKENS: the entry for the tenants file on stdout (it keeps only the
    token's sha256), the token itself on stderr, once: give it to the tenant."""
    from aura.api.tenants import new_token, tenant_entry
    from aura.errors import SystemCheckError

    token = new_token()
    try:
        entry = tenant_entry(name, token)
    except SystemCheckError as exc:
        _refuse(f"invalid {exc}")
    # the entry on stdout (`aura tenant-token acme >> tenants.toml`), the token on the terminal only
    err.print(f"token for {name}, shown once (the file keeps only its hash): give it to the tenant", highlight=False)
    err.print(token, highlight=False, markup=False, soft_wrap=True)
    print(entry, end="")


@server_app.command("start")
def server_start() -> None:
    """Start a Prefect server in the background (PREFECT_SERVER_API_HOST:PORT, 127.0.0.1:4200 by default).

    Every `aura generate` then uses it instead of starting a temporary one, the
    Prefect UI shows every run at its address, and it stays up until `aura
    server stop` (or `prefect server stop`).
    """
    settings = _settings_or_exit()
    _prefect_environment()
    from aura import prefect_server

    try:
        status = prefect_server.start_background(prefect_server.start_budget_s(settings.prefect_start_timeout_s))
    except prefect_server.PrefectServerError as exc:
        err.print(f"[red]aura: {escape(str(exc))}[/red]", highlight=False)
        raise typer.Exit(1) from None
    ui = status.api_url.removesuffix("/api")
    pid = f" (pid {status.pid})" if status.pid else ""
    err.print(f"Prefect server at {status.api_url}{pid}; its UI at {ui}. Stop it with: aura server stop", highlight=False, soft_wrap=True)


@server_app.command("stop")
def server_stop() -> None:
    """Stop the Prefect server that `aura server start` (or `prefect server start --background`) left running."""
    _prefect_environment()
    from aura import prefect_server

    pid = prefect_server.stop_background()
    err.print(f"Prefect server (pid {pid}) stopped" if pid else "no Prefect server was running in the background", highlight=False, soft_wrap=True)


@server_app.command("status")
def server_status() -> None:
    """Whether a Prefect server answers where `aura generate` looks for one (exit 1 when none does)."""
    _prefect_environment()
    from aura import prefect_server

    status = prefect_server.background_status()
    pid = f" (pid {status.pid})" if status.pid else ""
    if status.answering:
        err.print(f"Prefect server at {status.api_url}{pid} answers: aura generate uses it", highlight=False, soft_wrap=True)
        return
    err.print(
        f"no Prefect server answers at {status.api_url}: aura generate starts a temporary one (aura server start keeps one up)",
        highlight=False, soft_wrap=True,
    )  # fmt: skip
    raise typer.Exit(1)


@app.command()
def voices(
    language: str | None = typer.Option(None, "--language", "-l", help="Only voices for this language (prefix match)."),
    # the names are not spelled out here: listing them would import every engine at each start of `aura`
    provider: str = typer.Option(
        "all", "--provider", help="One TTS engine (a name AURA_TTS_PROVIDER takes; online ones ask their service) or all."
    ),
) -> None:
    """List the voices of every TTS engine (ids to pass as --voice) and their languages."""
    from aura.providers.tts import TTS_ENGINES
    from aura.providers.tts.registry import list_voices
    from aura.settings import get_settings

    settings = get_settings()
    if provider != "all" and provider not in TTS_ENGINES:
        err.print(f"[red]aura: --provider must be one of {', '.join(TTS_ENGINES.names())} or all[/red]")
        raise typer.Exit(2)
    found, notes = list_voices(settings, provider, language)
    for note in notes:
        err.print(note, highlight=False, soft_wrap=True)
    table = Table(title="voices")
    for column in ("provider", "id", "name", "languages"):
        table.add_column(column)
    for v in found:
        table.add_row(v.provider, v.id, v.name, ", ".join(v.languages))
    Console().print(table)


def _verbose() -> bool:
    return any(arg in ("--verbose", "-v") for arg in sys.argv[1:]) or os.environ.get("AURA_VERBOSE", "") not in ("", "0")


def _quiet_thread_errors(args: threading.ExceptHookArgs) -> None:
    """An error in a helper thread is logged, never printed as a traceback (the run reports its own outcome)."""
    logging.getLogger("aura.cli").debug("error in thread %s", args.thread, exc_info=(args.exc_type, args.exc_value, args.exc_traceback))


def _one_line(exc: BaseException) -> str:
    """An unexpected error as the one line a user reads, with what to do."""
    text = " ".join(str(exc).split())[:300] or type(exc).__name__
    if "Failed to reach API" in text or type(exc).__name__ in ("ConnectError", "ConnectTimeout", "RemoteProtocolError"):
        return f"lost the Prefect server ({text}): check that it is still running (aura server status) and run again"
    return f"unexpected error: {type(exc).__name__}: {text} (run again with --verbose for the details)"


def main() -> None:
    verbose = _verbose()
    if not verbose:
        threading.excepthook = _quiet_thread_errors
    try:
        app()
    except SystemExit as exc:
        if _ran_a_flow.is_set():
            _exit_now(exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1)
        raise
    except BrokenPipeError:  # `aura voices | head`
        sys.stderr.close()
    except KeyboardInterrupt:
        err.print("[red]aura: interrupted[/red]")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - no traceback ever reaches the terminal unless asked for
        if verbose:
            err.print_exception()
        err.print(f"[red]aura: {escape(_one_line(exc))}[/red]", highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
