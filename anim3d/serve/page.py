"""``GET /``: the page to try the server in a browser (``static/``: record or upload a line, set the controls, hear
it while the open head moves; live mode through ``WS /v1/stream``), its static files under ``/static`` (three.js
vendored in ``static/vendor/three``, nothing from a CDN) and ``GET /head.glb``, the open head at rest, which the
page shows before the first answer and animates in live mode.

The page and its files need no API key (they hold no secret and do no work): the page asks for the key when the
server has one and sends it with its own requests."""

from __future__ import annotations

import json
import threading
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
CONFIG_MARK = "__ANIM3D_PAGE_CONFIG__"  # in index.html: replaced by the page's settings (JSON)


def page_config(config, gen) -> dict:
    """What the page needs to know of this server: its controls' choices and defaults, whether it needs a key."""
    from anim3d.channels import ARKIT_NAMES, EYE_MAX_DOWN, EYE_MAX_UP, EYE_MAX_YAW
    from anim3d.languages import LANGUAGES

    return {"emotions": list(gen.cfg.emotions), "languages": list(LANGUAGES), "default_seed": config.default_seed,
            "fps": float(gen.cfg.fps), "api_key": bool(config.api_key), "channels": list(ARKIT_NAMES),
            "eye_max": {"yaw": EYE_MAX_YAW, "up": EYE_MAX_UP, "down": EYE_MAX_DOWN},
            "max_seconds": config.max_seconds, "max_upload_mb": config.max_upload_mb}


def index_html(settings: dict) -> str:
    """``static/index.html`` with ``settings`` in its config script (``<`` escaped: it cannot close the script)."""
    text = (STATIC / "index.html").read_text(encoding="utf-8")
    return text.replace(CONFIG_MARK, json.dumps(settings).replace("<", "\\u003c"))


def add_page(app, config, gen) -> None:
    """Mount the page on ``app``: ``GET /``, ``GET /head.glb``, ``/static``."""
    from fastapi.responses import HTMLResponse, Response
    from fastapi.staticfiles import StaticFiles
    from starlette.concurrency import run_in_threadpool

    html = index_html(page_config(config, gen))
    head: list[bytes] = []
    lock = threading.Lock()

    def rest_glb() -> bytes:
        """The open head at rest (one neutral frame) as a GLB, built at the first request."""
        from anim3d.motion import Motion
        from anim3d.serve.job import motion_bytes

        with lock:
            if not head:
                head.append(motion_bytes(Motion.neutral(1, float(gen.cfg.fps)), "glb"))
            return head[0]

    @app.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(html, headers={"Cache-Control": "no-cache"})

    @app.get("/head.glb", include_in_schema=False)
    async def head_glb() -> Response:
        return Response(await run_in_threadpool(rest_glb), media_type="model/gltf-binary",
                        headers={"Cache-Control": "max-age=3600"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
