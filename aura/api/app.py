"""The REST gateway (`aura serve`): endpoints over Prefect, a live SSE stream, uploads, and a small page.

    POST /api/uploads                   a document or audio file in (multipart `file`), {ref, ...} out (201)
    POST /api/videos/generate           a VideoRequest in, {jobId, status, createdAt} out at once (202)
    GET  /api/videos/{id}/status        where the job stands
    GET  /api/videos/{id}/stream        Server-Sent Events: progress, stage-complete, review, done, error
    GET  /api/videos/{id}/download      the MP4 (HTTP range requests: players seek)
    GET  /api/videos/{id}/metadata      the job's metadata.json
    GET  /api/videos/{id}/thumbnail     its opening frame (JPEG); /subtitles?format=srt|vtt its subtitles
    GET  /api/videos                    every job, newest first (?limit=&offset=&status=)
    POST /api/videos/{id}/cancel        stop it; /retry: run a failed or cancelled job again (checkpoints reused)
    GET|POST /api/videos/{id}/script    a job awaiting review: its scenes; the edited scenes resume it
    GET  /api/voices                    every TTS engine's voices: the names `voice` takes
    GET  /                              a form, a live progress bar, the player

The job id is the Prefect flow run id and Prefect is the only store of job
state: the gateway keeps none of its own. Files are read from the artifact
store by job id and a fixed key, and a request names its input files by
upload ref or store key (aura.input_rules), so no request can name a path;
nothing it answers carries one (aura.api.public). Links in answers are
relative or under AURA_PUBLIC_URL, signed where a browser opens them without
headers (aura.api.links); the Host, the origin of state-changing requests
(aura.api.guards), bodies (aura.api.limits) and connections (aura.api.wire)
are judged before any route runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Literal
from uuid import UUID

import httpx
from fastapi import APIRouter, Depends, FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.security import HTTPBearer
from fastapi.staticfiles import StaticFiles
from prefect.client.orchestration import get_client
from prefect.exceptions import PrefectHTTPStatusError
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse

from aura import __version__
from aura.api.access_log import ACCESS_LOGGER, RedactSecrets
from aura.api.auth import BearerAuth, tenant_of
from aura.api.guards import RequestGuard, allowed_hosts
from aura.api.jobs import JobNotFound, JobState, JobStatus, read_job
from aura.api.launch import DeploymentLauncher, LaunchError, LocalLauncher
from aura.api.limits import MULTIPART_SLACK_BYTES, BodyLimit
from aura.api.links import Links
from aura.api.public import Problem, public_metadata, without_paths
from aura.api.studio import add_studio_routes
from aura.api.tenancy import QuotaSpent, TenantQuotas, check_fits_a_day, check_tenant_inputs, mark_upload
from aura.api.tenants import Tenants
from aura.api.stream import job_events, stream_error
from aura.api.watch import RunWatch
from aura.errors import AuraError, SystemCheckError
from aura.models import VideoRequest
from aura.options import PresetName
from aura.providers.tts.registry import list_voices
from aura.settings import Settings, get_settings
from aura.models import META_KEY, VIDEO_KEY
from aura.spend import Spend
from aura.stages.cost_estimate import check_budget
from aura.stages.publish import metadata_of
from aura.stages.run_ledger import spent_by_failed_run
from aura.stages.inputs import check_stored_inputs, check_voice
from aura.store import ArtifactStore
from aura.uploads import UploadedFile, UploadRefused, receive

STATIC = Path(__file__).with_name("static")
PAGE = STATIC / "index.html"


class JobCreated(BaseModel):
    jobId: str = Field(description="The job id: the Prefect flow run id.")
    status: JobState
    createdAt: datetime
    statusUrl: str = Field(description="Relative to the gateway, or under AURA_PUBLIC_URL.")
    streamUrl: str = Field(description="With a token set, signed for this job's stream: an EventSource opens it as it is.")


class Voice(BaseModel):
    id: str = Field(description="What a request's `voice` takes.")
    name: str
    languages: list[str]
    engine: str = Field(description="The TTS engine that speaks it (AURA_TTS_PROVIDER names the chain).")


class VoiceList(BaseModel):
    items: list[Voice]
    notes: list[str] = Field(description="Engines that could not list their voices, and why.")


def create_app(settings: Settings | None = None, api_url: str | None = None, bind_host: str | None = None) -> FastAPI:
    """The gateway; `api_url` is the Prefect API its own worker processes talk to (local mode); `bind_host`
    the address it listens on (a Host it answers to, unless it is every interface's)."""
    settings = settings or get_settings()
    token = settings.api_token.get_secret_value() if settings.api_token else None
    tenants = Tenants.from_file(settings.api_tokens) if settings.api_tokens else None
    links = Links(settings.public_url, token or (tenants.link_secret if tenants else None), settings.gateway_link_ttl_s)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.gateway_deployment:
            app.state.launcher = DeploymentLauncher(settings.gateway_deployment)
        else:
            app.state.launcher = LocalLauncher(settings.gateway_local_runs, api_url)
        redact = RedactSecrets()  # the server configured its loggers before this runs
        logging.getLogger(ACCESS_LOGGER).addFilter(redact)
        async with get_client() as client:
            app.state.client = client
            app.state.watch = RunWatch(client)
            try:
                yield
            finally:
                await app.state.watch.close()
                await app.state.launcher.close(client)
                logging.getLogger(ACCESS_LOGGER).removeFilter(redact)

    app = FastAPI(
        title="Aura video gateway",
        version=__version__,
        description="Brief in, narrated MP4 out. Jobs are Prefect flow runs of generate-video; "
        "every endpoint needs `Authorization: Bearer <token>` when the gateway has tokens (AURA_API_TOKEN, or a "
        "tenant's of AURA_API_TOKENS: a tenant sees its own jobs only, within its quotas: 429 past them).",
        lifespan=lifespan,
    )
    upload_limit = settings.upload_max_mb * 2**20
    # outermost (added last) first: the Host and Origin, then the token, then the body as it arrives
    app.add_middleware(BodyLimit, limits={
        "/api/uploads": (upload_limit + MULTIPART_SLACK_BYTES, f"an upload may be at most {settings.upload_max_mb} MiB (AURA_UPLOAD_MAX_MB)"),
    }, idle_timeout_s=settings.gateway_body_timeout_s)  # fmt: skip
    if token or tenants:
        app.add_middleware(BearerAuth, token=token, links=links, tenants=tenants)
    hosts = allowed_hosts(settings.allowed_hosts, settings.public_url, bind_host)
    app.add_middleware(RequestGuard, hosts=hosts, refuse_foreign_origins=not (token or tenants), public_url=settings.public_url)
    # declared for the OpenAPI schema (clients learn of the bearer scheme); BearerAuth enforces it
    security = [Depends(HTTPBearer(auto_error=False))] if token or tenants else []
    store = ArtifactStore(settings.store_url())  # the same store the runs write to
    quotas = TenantQuotas()
    errors = {401: {"model": Problem, "description": "No or wrong bearer token"},
              404: {"model": Problem, "description": "No such job"}}  # fmt: skip
    api = APIRouter(prefix="/api/videos", tags=["videos"], dependencies=security, responses=errors)

    async def job_or_404(request: Request, job_id: UUID) -> JobStatus:
        """The job, when the caller may see it: another tenant's job is a 404, as if it did not exist."""
        try:
            return await read_job(request.app.state.client, job_id, links, tenant_of(request))
        except JobNotFound:
            raise HTTPException(404, f"no video job {job_id}") from None

    @api.post("/generate", status_code=202, response_model=JobCreated, operation_id="generate_video",
              responses={503: {"model": Problem, "description": "The job could not be started"},
                         429: {"model": Problem, "description": "The tenant's daily quota is spent: Retry-After says when"}})  # fmt: skip
    async def generate(request: Request, body: VideoRequest, preset: PresetName = Query("default")) -> JobCreated:
        """Start a video job. The request is validated first (422 names the field); the answer comes at once.

        `references` and `music` name files by the `ref` POST /api/uploads answered (or `store:<job>/<key>`);
        server paths are refused unless the operator allows their folder (AURA_INPUT_ROOTS)."""
        tenant, client, launcher = tenant_of(request), request.app.state.client, request.app.state.launcher
        try:
            await asyncio.to_thread(check_stored_inputs, body, store)
            if tenant is not None:  # its own uploads and jobs only; anyone else's are as good as missing
                await check_tenant_inputs(client, store, tenant, body)
                check_fits_a_day(tenant, body)
            # a voice is a name from the engines' own lists, checked here, before any run exists
            await asyncio.to_thread(check_voice, body, settings)
            await asyncio.to_thread(check_budget, body, settings)  # max_cost_usd, before a run exists
        except SystemCheckError as exc:
            return _unprocessable(str(exc))
        try:
            if tenant is None:
                run = await launcher.start(client, body, preset)
            else:  # its quotas are judged and its run created under one lock: a burst cannot overrun them
                run = await quotas.start(client, tenant, body, lambda: launcher.start(client, body, preset, tenant))
        except QuotaSpent as exc:
            raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after_s)}) from None
        except LaunchError as exc:
            raise HTTPException(503, str(exc)) from None
        job_id = str(run.id)
        return JobCreated(
            jobId=job_id, status="scheduled", createdAt=run.created,
            statusUrl=links.job(job_id, "status"), streamUrl=links.job(job_id, "stream", signed=True),
        )  # fmt: skip

    @api.get("/{job_id}/status", response_model=JobStatus, operation_id="get_video_status")
    async def status(request: Request, job_id: UUID) -> JobStatus:
        """The job's state, progress, current stage, stages, and links once the video exists; what it spent once
        completed, failed or cancelled (its failed attempts included)."""
        job = await job_or_404(request, job_id)
        if job.status == "completed":
            metadata = await asyncio.to_thread(metadata_of, store.job(str(job_id)))
            job.spend = Spend.model_validate(metadata["spend"]) if "spend" in metadata else None
        elif job.status in ("failed", "cancelled"):  # once its end is recorded: a moment after its state
            job.spend = await asyncio.to_thread(spent_by_failed_run, store.job(str(job_id)), str(job_id))
        return job

    @api.get("/{job_id}/stream", operation_id="stream_video_progress",
             responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}})  # fmt: skip
    async def stream(request: Request, job_id: UUID) -> EventSourceResponse:
        """Live events: `progress` {percentage, stage, message}, `stage-complete` {stage, cached}, `review`
        {scriptUrl} when the job awaits its script's review, then `done` {downloadUrl, metadataUrl, thumbnailUrl,
        subtitlesUrl} or `error` {stage, message}, after which the stream ends."""
        first = await job_or_404(request, job_id)  # an unknown job is a 404, not an empty stream
        client, watch, tenant = request.app.state.client, request.app.state.watch, tenant_of(request)

        async def events():
            # the current state at once; then the run as the gateway's one shared read a second finds it (aura.api.watch)
            reads = 0

            async def read() -> JobStatus:
                nonlocal reads
                reads += 1
                if reads == 1:
                    return first
                return await read_job(client, job_id, links, tenant, run=await watch.next(job_id))

            watch.follow(job_id)
            try:
                async for event in job_events(read, poll_s=0):
                    yield event
            except JobNotFound:  # deleted from Prefect while followed
                yield stream_error(job_id, "gone", "the job no longer exists")
            except (httpx.TransportError, PrefectHTTPStatusError) as exc:
                yield stream_error(job_id, "unknown", f"the Prefect server stopped answering ({type(exc).__name__}): "
                                   "the job goes on without this stream; open it again to follow the job")  # fmt: skip
            finally:
                watch.leave(job_id)

        return EventSourceResponse(events(), ping=settings.gateway_keepalive_s, send_timeout=30)

    @api.get("/{job_id}/download", operation_id="download_video", response_class=FileResponse,
             responses={200: {"content": {"video/mp4": {}}}, 206: {"description": "Part of the video (Range)"},
                        409: {"model": Problem, "description": "The video is not made yet"}})  # fmt: skip
    async def download(request: Request, job_id: UUID) -> FileResponse:
        """The MP4. Honours `Range: bytes=...` (206), so players and browsers can seek."""
        path = await _finished_file(request, job_id, VIDEO_KEY)
        return FileResponse(path, media_type="video/mp4", filename=f"aura-{job_id}.mp4", content_disposition_type="inline")

    @api.get("/{job_id}/metadata", operation_id="get_video_metadata",
             responses={409: {"model": Problem, "description": "The video is not made yet"}})  # fmt: skip
    async def metadata(request: Request, job_id: UUID) -> JSONResponse:
        """The job's metadata.json: request, script, timings, providers, stage reports, outputs."""
        path = await _finished_file(request, job_id, META_KEY)
        return JSONResponse(public_metadata(json.loads(path.read_text(encoding="utf-8"))))

    async def _finished_file(request: Request, job_id: UUID, key: str) -> Path:
        job = await job_or_404(request, job_id)
        if job.status != "completed":
            raise HTTPException(409, f"job {job_id} is {job.status}: its files are there once it is completed")
        try:
            return store.job(str(job_id)).fetch(key)
        except (AuraError, OSError):
            raise HTTPException(404, f"job {job_id} completed but its {key} is not in the artifact store") from None

    add_studio_routes(api, store, links, job_or_404, _finished_file, _unprocessable)
    app.include_router(api)

    @app.post("/api/uploads", status_code=201, response_model=UploadedFile, tags=["uploads"], operation_id="upload_file",
              dependencies=security,
              responses={401: {"model": Problem, "description": "No or wrong bearer token"},
                         413: {"model": Problem, "description": "Larger than AURA_UPLOAD_MAX_MB"},
                         415: {"model": Problem, "description": "Not a document or audio file, by its content"}})  # fmt: skip
    async def upload(
        request: Request,
        file: UploadFile = File(description="A document (.txt .md .markdown .rst .pdf) for references, or audio for music."),
    ) -> UploadedFile:
        """Keep a file for later requests: the answer's `ref` goes into `references` or `music` as it is.

        The type is checked by content (a PDF is a PDF, audio is probed); the same bytes always get the same ref.
        A tenant's upload is its own: another tenant's requests cannot name it."""
        try:
            uploaded = await asyncio.to_thread(receive, store, file.filename, file.file, upload_limit, settings.max_image_pixels)
        except UploadRefused as exc:
            raise HTTPException(exc.status, str(exc)) from None
        tenant = tenant_of(request)
        if tenant is not None:
            await asyncio.to_thread(mark_upload, store, tenant, uploaded.ref)
        return uploaded

    @app.get("/api/voices", response_model=VoiceList, tags=["voices"], operation_id="list_voices", dependencies=security,
             responses={401: {"model": Problem, "description": "No or wrong bearer token"}})  # fmt: skip
    async def voices(
        language: str | None = Query(None, max_length=35, pattern=r"^[A-Za-z0-9-]+$", description="Only voices for this language (a prefix: en, en-gb)."),
    ) -> VoiceList:
        """Every TTS engine's voices, as `aura voices` lists them: an `id` is what a request's `voice` takes."""
        found, notes = await asyncio.to_thread(list_voices, settings, "all", language)
        items = [Voice(id=v.id, name=v.name, languages=list(v.languages), engine=v.provider) for v in found]
        return VoiceList(items=items, notes=[without_paths(note) for note in notes])

    app.mount("/static", StaticFiles(directory=STATIC), name="static")  # the page's script and styles

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    @app.get("/api/health", tags=["health"], operation_id="health", dependencies=security)
    async def health(request: Request) -> dict[str, str | bool]:
        """The gateway answers and reaches Prefect."""
        reachable = await request.app.state.client.api_healthcheck() is None  # it returns the error, if any
        mode: Literal["deployment", "local"] = "deployment" if settings.gateway_deployment else "local"
        return {"ok": reachable, "mode": mode}

    @app.exception_handler(httpx.TransportError)
    async def prefect_unreachable(request: Request, exc: httpx.TransportError) -> JSONResponse:
        """Prefect holds every job's state: without it the gateway can only say so, and what to check."""
        where = api_url or "PREFECT_API_URL"
        detail = f"the Prefect server ({where}) does not answer ({type(exc).__name__}): start it, or check PREFECT_API_URL"
        return JSONResponse({"detail": detail}, status_code=503)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 with the field named in words, besides the list of errors; the values sent are never echoed."""
        details = [
            {"loc": [str(p) for p in error.get("loc", ())], "msg": _short(error.get("msg", "invalid")), "type": error.get("type", "")}
            for error in exc.errors()
        ]  # fmt: skip
        first = details[0] if details else {"loc": [], "msg": "invalid"}
        field = ".".join(p for p in first["loc"] if p not in ("body", "query", "path")) or "request"
        return JSONResponse({"detail": details, "message": _named(field, first["msg"])}, status_code=422)

    return app


def _short(message: str, limit: int = 400) -> str:
    message = " ".join(str(message).removeprefix("Value error, ").split())
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _named(field: str, message: str) -> str:
    """'<field>: <why>', unless the message names its field already ('references[0]: ...')."""
    return message if message.startswith((f"{field}:", f"{field}[")) else f"{field}: {message}"


def _unprocessable(message: str) -> JSONResponse:
    """A 422 shaped like a validation error, for what only the store can tell (an upload that is not there)."""
    field = message.split(":", 1)[0]
    loc = ["body", *field.replace("[", ".").replace("]", "").split(".")]
    error = {"loc": loc, "msg": _short(message), "type": "input_not_found"}
    return JSONResponse({"detail": [error], "message": _short(message)}, status_code=422)
