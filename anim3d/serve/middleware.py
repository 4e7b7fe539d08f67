"""ASGI middleware: the JSON access log (one line per request) and the guard that checks the API key and the
upload size from the headers, before any of the body is read, and counts the body as it arrives."""

from __future__ import annotations

import hmac
import json
import threading
import time
from datetime import datetime, timezone

from starlette.exceptions import HTTPException

PROTECTED = "/v1/"  # paths under it need the API key (when the server has one); /health and the docs do not


async def send_json_error(send, status: int, message: str, headers: dict | None = None) -> None:
    body = json.dumps({"error": message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class AccessLog:
    """One JSON line per HTTP request on ``stream()`` (stderr): time (UTC, ISO 8601), method, path, status,
    duration_ms, client ("host:port"). A WebSocket's line is written when it ends: method "WEBSOCKET", status the
    close code (1000 a normal end; 1006 the client went away without one)."""

    def __init__(self, app, stream):
        self.app = app
        self.stream = stream
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        ws = scope["type"] == "websocket"
        status = 1006 if ws else 500  # an exception before the response started: the server answers 500

        async def sending(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "websocket.close":
                status = message.get("code", 1000)
            await send(message)

        async def receiving():
            nonlocal status
            message = await receive()
            if message["type"] == "websocket.disconnect" and status == 1006:
                status = message.get("code", 1006)
            return message

        try:
            await self.app(scope, receiving if ws else receive, sending)
        finally:
            client = scope.get("client")
            line = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "method": "WEBSOCKET" if ws else scope["method"], "path": scope["path"], "status": status,
                    "duration_ms": round((time.perf_counter() - t0) * 1000, 1),
                    "client": f"{client[0]}:{client[1]}" if client else None}
            stream = self.stream()
            with self._lock:
                stream.write(json.dumps(line) + "\n")
                stream.flush()


class Guard:
    """401 without the API key on ``/v1/`` paths (``Authorization: Bearer KEY`` or ``X-API-Key: KEY``); 413 for a
    body over ``max_body`` bytes: at once from Content-Length, else as soon as that many bytes have arrived."""

    def __init__(self, app, api_key: str | None, max_body: int, limit_message: str):
        self.app = app
        self.api_key = api_key or None
        self.max_body = max_body
        self.limit_message = limit_message

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if self.api_key and scope["path"].startswith(PROTECTED) and scope["method"] != "OPTIONS":
            problem = self._key_problem(headers)
            if problem:
                await send_json_error(send, 401, problem, {"WWW-Authenticate": "Bearer"})
                return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            await send_json_error(send, 413, self.limit_message, {"Connection": "close"})
            return
        seen = 0

        async def counting():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    # raised inside the app's body parsing, which passes an HTTPException on: its handler answers
                    raise HTTPException(413, self.limit_message, {"Connection": "close"})
            return message

        await self.app(scope, counting, send)

    def _key_problem(self, headers: dict) -> str | None:
        return key_problem(self.api_key, headers)


def key_problem(api_key: str, headers: dict, query_key: str | None = None) -> str | None:
    """Why a request may not pass (None: it may): no key, or not ``api_key``. ``headers``: lower-case names;
    ``query_key``: the ``?api_key=`` of a WebSocket (a browser cannot set a WebSocket's headers), or None where
    the query is not read."""
    auth = headers.get("authorization", "")
    given = auth[7:].strip() if auth[:7].lower() == "bearer " else headers.get("x-api-key")
    given = given or query_key
    if not given:
        where = " or the query parameter '?api_key=KEY'" if query_key is not None else ""
        return ("this server needs an API key: send the header 'Authorization: Bearer KEY' or 'X-API-Key: KEY'"
                + where)
    if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), api_key.encode("utf-8")):
        return "the API key is not this server's"
    return None
