"""The FastAPI application: ``POST /v1/animate`` (speech in, motion out), ``WS /v1/stream`` (speech in as it is
spoken, frames out as they are made: ``stream.py``), ``GET /health``, the OpenAPI docs at ``/docs``, the page at
``/`` (``page.py``). Every HTTP error is ``{"error": "message"}`` with its status: 400 bad audio, 401 no or wrong API
key, 413 too big or too long, 422 a control the model cannot use, 503 the queue is full (Retry-After), 504 too
slow."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

from fastapi import FastAPI, File, Form, Security, UploadFile, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPBearer
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from anim3d import __version__
from anim3d.serve.config import BODY_SLACK_BYTES, ServerConfig
from anim3d.serve.controls import FORMATS, check_format, check_settings, field_help, motion_settings, read_fields
from anim3d.serve.errors import RequestError, too_large
from anim3d.serve.job import animate_upload
from anim3d.serve.middleware import AccessLog, Guard
from anim3d.serve.page import add_page
from anim3d.serve.stream import PATH as STREAM_PATH
from anim3d.serve.stream import Streams, serve_stream
from anim3d.serve.work import QueueFull, WorkQueue

COPY_CHUNK = 1 << 20
DESCRIPTION = """Speech in, facial animation out: the anim3d motion model behind HTTP.

`POST /v1/animate` takes the audio as a multipart upload (`audio`: any format `anim3d animate` reads: wav, flac,
mp3, ogg, m4a, a video's audio track) and the motion controls of `anim3d animate` as form fields, and answers with
the motion: JSON (default), or the bytes of a `.glb`, `.csv` (Live Link Face) or `.npz` (anim3d Motion) file, the
same bytes `anim3d animate -o` writes for the same options (none of the three records when it was written).
A `.glb` answer holds no audio: the command line writes the sound beside it as a `.wav`; here the client has it.

`WS /v1/stream` animates speech as it is spoken (not in these docs, which describe HTTP only): a JSON start
message with the same controls (but `fps`) and `sample_rate`, `format` (json or binary), then binary s16le mono
PCM, then `{"end": true}`; a frame comes back as soon as it is made. See the README's "Serve" section.

Errors are `{"error": "message"}`: 400 bad audio, 401 no or wrong API key (when the server has one), 413 an upload
or audio over the server's limits, 422 a control the model cannot use, 503 the queue is full (see Retry-After),
504 the request took longer than the server's timeout."""


class ErrorBody(BaseModel):
    error: str


class MotionBody(BaseModel):
    fps: float
    channels: list[str]
    blendshapes: list[list[float]]
    head_rotation: list[list[float]]
    head_translation: list[list[float]]
    warnings: list[str]


def create_app(config: ServerConfig | None = None, generator=None) -> FastAPI:
    """The application, with the model loaded now (``load_model``; or ``generator``, a loaded MotionGenerator)
    and shared by every request."""
    from anim3d.inference import load_model
    from anim3d.inference.generator import default_checkpoint

    config = config or ServerConfig()
    gen = generator if generator is not None else load_model(config.checkpoint, config.device)
    model_name = Path(config.checkpoint or default_checkpoint()).name
    queue = WorkQueue(config.max_queue)
    streams = Streams(config.max_streams)
    app = FastAPI(title="anim3d", version=__version__, description=DESCRIPTION)
    app.state.config, app.state.generator, app.state.queue, app.state.model_name = config, gen, queue, model_name
    app.state.streams = streams
    _error_handlers(app)
    key_docs = [Security(HTTPBearer(auto_error=False)), Security(APIKeyHeader(name="X-API-Key", auto_error=False))]
    errors = {status: {"model": ErrorBody, "description": what} for status, what in (
        (400, "the audio cannot be used"), (401, "no or wrong API key"), (413, "upload or audio over the limits"),
        (422, "a control the model cannot use"), (503, "the queue is full: retry after Retry-After seconds"),
        (504, "the request took longer than the server's timeout"))}
    files = {media: {} for media, _ in list(FORMATS.values())[1:]}

    @app.get("/health", summary="the server's state: model, queue, streams, limits")
    async def health() -> dict:
        return {"status": "ok", "model": model_name, "model_config": getattr(gen.cfg, "name", None),
                "device": str(gen.device), "version": __version__, "queue": queue.state(),
                "streams": streams.state(),
                "limits": {"max_upload_mb": config.max_upload_mb, "max_seconds": config.max_seconds,
                           "timeout": config.timeout, "api_key": bool(config.api_key)}}

    @app.post("/v1/animate", summary="speech audio -> facial animation (JSON, .glb, .csv or .npz)",
              dependencies=key_docs if config.api_key else [],
              responses={200: {"model": MotionBody, "content": files,
                               "description": "the motion: JSON, or the file's bytes for glb/csv/npz"}, **errors})
    async def animate_audio(
        audio: UploadFile = File(..., description="speech: any format `anim3d animate` reads"),
        format: str = Form("json", description="json (default), glb (no audio inside), csv (Live Link Face) or npz"),
        emotion: str | None = Form(None, description=field_help("emotion")),
        intensity: str | None = Form(None, description=field_help("intensity")),
        seed: str | None = Form(None, description=field_help("seed") + f" (this server's default: {config.default_seed})"),
        gaze: str | None = Form(None, description=field_help("gaze")),
        free_gaze: bool = Form(False, description=field_help("free_gaze")),
        distance: str | None = Form(None, description=field_help("distance")),
        guidance: str | None = Form(None, description=field_help("guidance")),
        text: str | None = Form(None, description=field_help("text")),
        language: str | None = Form(None, description=field_help("language")),
        steps: str | None = Form(None, description=field_help("steps")),
        sampler: str | None = Form(None, description=field_help("sampler")),
        mouth_steps: str | None = Form(None, description=field_help("mouth_steps")),
        teacher_blend: str | None = Form(None, description=field_help("teacher_blend")),
        opening_share: str | None = Form(None, description=field_help("opening_share")),
        fps: str | None = Form(None, description=field_help("fps")),
    ):
        fields = dict(emotion=emotion, intensity=intensity, seed=seed, gaze=gaze, free_gaze=free_gaze,
                      distance=distance, guidance=guidance, text=text, language=language, steps=steps,
                      sampler=sampler, mouth_steps=mouth_steps, teacher_blend=teacher_blend,
                      opening_share=opening_share, fps=fps)
        fmt = check_format(format)
        ns = read_fields(fields, config.default_seed)
        settings = motion_settings(ns)
        check_settings(settings, gen)
        name = os.path.basename(audio.filename or "") or "audio"
        folder = tempfile.mkdtemp(prefix="anim3d-serve-")
        path = os.path.join(folder, "upload" + _suffix(name))
        try:
            await run_in_threadpool(_copy_upload, audio.file, path, config)
            future = queue.submit(lambda: animate_upload(gen, path, name, settings, ns.fps, fmt, config.max_seconds))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        future.add_done_callback(lambda _: shutil.rmtree(folder, ignore_errors=True))
        try:
            result = await asyncio.wait_for(asyncio.wrap_future(future), config.timeout)
        except asyncio.TimeoutError:  # a waiting job is cancelled; a running one finishes (work.py)
            raise RequestError(504, f"the request took longer than this server's limit of {config.timeout:g} s "
                                    "(--timeout)") from None
        except RequestError:
            raise
        except Exception as e:  # a fault of anim3d's, not of the request
            traceback.print_exc(file=sys.stderr)
            raise RequestError(500, f"anim3d failed on this request ({type(e).__name__}: {e})") from None
        headers = {"X-Anim3d-Warnings": _ascii_json(result.warnings)} if result.warnings else {}
        if fmt == "json":
            return JSONResponse({**result.body, "warnings": result.warnings}, headers=headers)
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.splitext(name)[0]).strip("._") or "motion"
        headers["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
        return Response(result.body, media_type=FORMATS[fmt][0], headers=headers)

    @app.websocket(STREAM_PATH)
    async def stream(ws: WebSocket):
        await serve_stream(ws, config, gen, streams)

    add_page(app, config, gen)  # GET /, /head.glb, /static: the page to try it in a browser (no key needed)
    app.add_middleware(Guard, api_key=config.api_key, max_body=config.max_upload_bytes + BODY_SLACK_BYTES,
                       limit_message=_upload_limit(config))
    if config.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type"],
                           expose_headers=["Retry-After", "Content-Disposition", "X-Anim3d-Warnings"])
    app.add_middleware(AccessLog, stream=config.log_stream)  # added last: the outermost, it sees every answer
    return app


def _error_handlers(app: FastAPI) -> None:
    def answer(status: int, message: str, headers=None) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers or None)

    @app.exception_handler(RequestError)
    async def refused(request, e: RequestError):
        return answer(e.status, e.message, e.headers)

    @app.exception_handler(QueueFull)
    async def busy(request, e: QueueFull):
        return answer(503, str(e), {"Retry-After": str(e.retry_after)})

    @app.exception_handler(HTTPException)
    async def http_error(request, e: HTTPException):
        return answer(e.status_code, str(e.detail), getattr(e, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request, e: RequestValidationError):
        parts = []
        for err in e.errors():
            where = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "header")]
            parts.append(f"{'.'.join(where) or 'request'}: {err.get('msg', 'invalid')}")
        return answer(422, "; ".join(parts) or "the request is not a valid form")


def _upload_limit(config: ServerConfig) -> str:
    return f"the upload is larger than this server's limit of {config.max_upload_mb:g} MB (--max-upload-mb)"


def _copy_upload(src, path: str, config: ServerConfig) -> None:
    """The uploaded file to ``path``; 413 once it passes the upload limit."""
    src.seek(0)
    size = 0
    with open(path, "wb") as out:
        while chunk := src.read(COPY_CHUNK):
            size += len(chunk)
            if size > config.max_upload_bytes:
                raise too_large(_upload_limit(config))
            out.write(chunk)


def _suffix(name: str) -> str:
    """The upload's extension (``.wav``, ``.mp3``...) for the temporary file, or none when it is not plain."""
    ext = os.path.splitext(name)[1].lower()
    return ext if re.fullmatch(r"\.[a-z0-9]{1,8}", ext) else ""


def _ascii_json(items: list[str]) -> str:
    import json

    return json.dumps(items)  # ASCII-escaped: a header value must be latin-1
