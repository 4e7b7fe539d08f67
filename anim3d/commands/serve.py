"""``anim3d serve``: the motion model behind an HTTP API and a WebSocket stream (FastAPI + uvicorn)."""

from __future__ import annotations

import argparse

NAME = "serve"
ORDER = 42
HELP = ("an HTTP API: POST speech to /v1/animate, get the motion back (JSON, .glb, .csv, .npz); stream speech to "
        "WS /v1/stream, get frames as they are made; a page to try it at /, docs at /docs")
DESCRIPTION = """Serve the motion model over HTTP (needs: pip install 'anim3d[serve]'). The model is loaded once,
at start-up; requests run one at a time on one worker, with at most --max-queue more waiting (beyond: 503 with
Retry-After).

  anim3d serve                                   # open http://127.0.0.1:8000/ (the page); docs at /docs
  anim3d serve --host 0.0.0.0 --port 8080 --api-key SECRET --cors-origin https://app.example.com
  curl -F audio=@speech.wav -F emotion=happy -F seed=3 http://127.0.0.1:8000/v1/animate
  curl -F audio=@speech.wav -F format=csv -o take.csv http://127.0.0.1:8000/v1/animate

POST /v1/animate takes the audio (multipart field audio: any format anim3d animate reads) and the motion
controls of anim3d animate as form fields (emotion, intensity, seed, gaze, free_gaze, distance, guidance, text,
language, steps, sampler, mouth_steps, teacher_blend, opening_share, fps), and format: json (default), glb (no
audio inside), csv or npz: the bytes anim3d animate -o writes. GET /health: the model and the queue.
Errors are JSON {"error": "..."}: 400 bad audio, 401 API key, 413 too big or too long, 422 a bad control,
503 queue full, 504 timeout. One JSON access line per request goes to stderr.

GET / is a page to try it in a browser: record from the microphone or pick a file, set the controls, and hear the
line while the open head moves (three.js, served from the package: nothing comes from a CDN); GLB and CSV
downloads; live mode streams the microphone through WS /v1/stream. It asks for the API key when there is one.

WS /v1/stream animates speech as it is spoken: a JSON start message (sample_rate, format json or binary, and the
controls above but fps), then binary s16le mono PCM, then {"end": true}; each frame is sent as soon as it is made
(JSON, or the plain OSC scheme's 60 float32), then a neutral frame and {"done": true, "frames": N}. At most
--max-streams streams at once (beyond: closed with 1013, try again later); each runs beside the HTTP worker.

The API key comes from --api-key or the environment variable ANIM3D_API_KEY; clients send it as
'Authorization: Bearer KEY' or 'X-API-Key: KEY' (/health and /docs need none); a WebSocket may also give it as
?api_key=KEY (a browser cannot set a WebSocket's headers). --seed is the seed of a request
that gives none."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    from anim3d.commands import options

    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=options.int_range(0, 65535), default=8000,
                   help="TCP port (default 8000; 0: a free port, printed at start-up)")
    p.add_argument("--checkpoint", help="a motion model checkpoint folder (default: the shipped model)")
    g = p.add_argument_group("limits")
    g.add_argument("--max-upload-mb", type=_positive, default=50.0, metavar="MB",
                   help="the largest audio upload in MB, 10^6 bytes (default 50); larger: 413")
    g.add_argument("--max-seconds", type=_positive, default=300.0, metavar="S",
                   help="the longest audio in seconds, an upload's or a stream's (default 300); longer: 413, or "
                        "the stream is closed (1008)")
    g.add_argument("--timeout", type=_positive, default=120.0, metavar="S",
                   help="seconds a request may take, waiting in the queue included (default 120); then 504. A "
                        "stream is closed after as long without a message")
    g.add_argument("--max-queue", type=options.int_range(0, 10000), default=8, metavar="N",
                   help="requests that may wait while one runs (default 8); more: 503 with Retry-After")
    g.add_argument("--max-streams", type=options.int_range(1, 1000), default=4, metavar="N",
                   help="live streams (WS /v1/stream) open at once (default 4); more: closed with 1013, try again "
                        "later. One costs about 0.4 of a CPU core")
    g = p.add_argument_group("access")
    g.add_argument("--api-key", help="the key clients must send (default: the environment variable ANIM3D_API_KEY; "
                                     "neither: no key)")
    g.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="a browser origin allowed to call the API, e.g. https://app.example.com; repeatable "
                        "(default: none)")


def _positive(text: str) -> float:
    from anim3d.commands.options import finite_float

    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    import socket
    import sys
    import time

    from anim3d.errors import Anim3dError
    from anim3d.optional import require
    from anim3d.serve.config import ServerConfig

    for module in ("fastapi", "multipart", "websockets"):  # websockets: uvicorn's WebSocket protocol (WS /v1/stream)
        require(module, "anim3d serve")
    uvicorn = require("uvicorn", "anim3d serve")

    from anim3d.serve.app import create_app

    config = ServerConfig(checkpoint=args.checkpoint, device=args.device, max_upload_mb=args.max_upload_mb,
                          max_seconds=args.max_seconds, timeout=args.timeout, max_queue=args.max_queue,
                          max_streams=args.max_streams,
                          api_key=ServerConfig.key_from_environment(args.api_key), cors_origins=args.cors_origin,
                          default_seed=args.seed)
    try:
        sock = socket.create_server((args.host, args.port))
    except OSError as e:
        raise Anim3dError(f"cannot listen on {args.host}:{args.port} ({e.strerror or e})") from None
    t0 = time.perf_counter()
    app = create_app(config)
    _one_torch_setting(app.state.generator.device)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"anim3d serve: model {app.state.model_name} loaded in {time.perf_counter() - t0:.1f} s; "
          f"listening on http://{shown}:{port} (the page: http://{shown}:{port}/, docs: http://{shown}:{port}/docs)",
          file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning" if args.quiet else "info", access_log=False,
                                           timeout_graceful_shutdown=5))
    try:
        server.run(sockets=[sock])
    finally:
        app.state.queue.shutdown()
        app.state.streams.shutdown()
        sock.close()
    return 0


def _one_torch_setting(device) -> None:
    """Streams run on threads side by side, each inside ``cpu_threads``, which sets torch's thread count (process
    wide) and puts the old one back after: set once to the same count here, so no thread ever puts another back."""
    import os

    import torch

    if getattr(device, "type", str(device)) == "cpu":
        torch.set_num_threads(int(os.environ.get("ANIM3D_THREADS", "1")))
