"""``WS /v1/stream``: speech in as it is spoken, motion frames out as soon as they are made.

The protocol (README "## Serve"):

1. The client opens ``/v1/stream`` (the API key, when the server has one, as for the HTTP endpoints, or as
   ``?api_key=KEY``: a browser cannot set a WebSocket's headers) and sends one JSON text message, the start:
   ``sample_rate`` (default 16000), ``format`` (``json``, default, or ``binary``) and the motion controls of
   ``POST /v1/animate`` but ``fps`` (``emotion``, ``intensity``, ``seed``, ``gaze``, ``free_gaze``, ``distance``,
   ``text``, ``language``, ``guidance``, ``steps``, ``sampler``, ``mouth_steps``, ``teacher_blend``,
   ``opening_share``), read by the same rules (``controls.py``). The server answers ``{"started": true, "fps",
   "sample_rate", "format", "channels"}``.
2. Then binary messages: signed 16-bit little-endian mono PCM at ``sample_rate``, any size (an odd last byte is
   kept for the next message). Each one is pushed to the stream's own ``StreamingAnimator`` (the server's model,
   shared), on a worker thread, and the frames it gives are sent at once, one message each: JSON
   ``{"frame", "time", "blendshapes": [52], "head_rotation": [3], "head_translation": [3]}``, or with
   ``binary`` 60 little-endian float32 laid out as the plain OSC scheme's (``anim3d.unity_bridge.plain``):
   the 52 ARKit weights, the head quaternion x y z w, the head translation, the time.
3. The text message ``{"end": true}``: the animator is flushed, its last frames sent, then one neutral frame (all
   weights 0, the head at rest; ``"neutral": true`` in JSON), then ``{"done": true, "frames": N}`` (N: the
   frames of the speech, the neutral one not counted), and the server closes (1000).

A warning (a script the audio does not say) is a text message ``{"warning": "..."}``. A refusal is one text
message ``{"error": "..."}`` and a close: 1003 a message of the wrong kind (a start that is not a JSON object,
text where audio was expected), 1008 a start the rules refuse, no or a wrong API key, a page of an origin not
allowed, audio over ``--max-seconds``, no message for ``--timeout`` s; 1013 (try again later) all
``--max-streams`` streams are open; 1011 anim3d failed. A client that goes away (closes without ``{"end": true}``)
stops its stream: the work in hand finishes, none more is done, and its place is free."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np

from anim3d.serve.capture import collected
from anim3d.serve.controls import STREAM_FIELDS, check_settings, fields_from_json, motion_settings, read_fields
from anim3d.serve.errors import RequestError
from anim3d.serve.middleware import key_problem

PATH = "/v1/stream"
DEFAULT_RATE = 16000  # anim3d.inference.sources.PCM_SAMPLE_RATE, the rate of `anim3d stream -`
MIN_RATE, MAX_RATE = 8000, 96000
STREAM_FORMATS = ("json", "binary")
NORMAL, UNSUPPORTED, POLICY, INTERNAL, TRY_AGAIN = 1000, 1003, 1008, 1011, 1013  # close codes (RFC 6455)
END = {"end": True}


class Refused(Exception):
    """A stream the server will not (go on to) serve: the error message and the close code."""

    def __init__(self, message: str, code: int = POLICY):
        super().__init__(message)
        self.message, self.code = message, code


class Gone(Exception):
    """The client went away: nothing more can be sent."""


class Streams:
    """The open streams, at most ``limit`` (their places are taken before the start message is read), the threads
    their animators run on (one per place, so a stream never waits for another's thread), and the batcher that
    denoises all their windows (``anim3d.serve.batcher``: several streams' windows in one pass, on at most
    ``workers`` threads)."""

    def __init__(self, limit: int, workers: int | None = None):
        if limit < 1:
            raise ValueError(f"max_streams must be >= 1, got {limit}")
        self.limit = int(limit)
        self.workers = workers
        self.pool = ThreadPoolExecutor(max_workers=self.limit, thread_name_prefix="anim3d-stream")
        self._lock = threading.Lock()
        self._open = 0
        self._done = 0
        self._warm = False
        self._batcher = None

    def take(self) -> bool:
        with self._lock:
            if self._open >= self.limit:
                return False
            self._open += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self._open -= 1
            self._done += 1

    def first_warm_up(self) -> bool:
        """True once: the first animator warms torch up (0.4 s, before its audio); the rest need not."""
        with self._lock:
            first, self._warm = not self._warm, True
            return first

    def sampler(self, gen):
        """The window sampler of the streams on ``gen`` (the server's one model): its ``WindowBatcher.sample``."""
        from anim3d.serve.batcher import WindowBatcher

        with self._lock:
            if self._batcher is None or self._batcher.gen is not gen:
                self._batcher = WindowBatcher(gen, self.workers)
            return self._batcher.sample

    def state(self) -> dict:
        with self._lock:
            out = {"open": self._open, "max_streams": self.limit, "done": self._done}
            batcher = self._batcher
        if batcher is not None:
            out["windows"] = batcher.state()
        return out

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self._batcher is not None:
            self._batcher.close()


@dataclass
class Start:
    settings: object  # MotionSettings
    sample_rate: int
    fmt: str


def read_start(text: str | None, config, gen) -> Start:
    """The start message -> the stream's settings, by the rules of POST /v1/animate; Refused says why not."""
    if text is None:
        raise Refused("the first message must be the start: a JSON text message such as "
                      '{"sample_rate": 16000, "emotion": "happy"}, not audio', UNSUPPORTED)
    try:
        message = json.loads(text)
    except ValueError:
        raise Refused("the start message is not JSON", UNSUPPORTED) from None
    if not isinstance(message, dict):
        raise Refused("the start message must be a JSON object", UNSUPPORTED)
    known = ("sample_rate", "format", *STREAM_FIELDS)
    unknown = [k for k in message if k not in known]
    if "fps" in unknown:
        raise Refused(f"fps: a stream is sent at the model's {gen.cfg.fps:g} frames per second")
    if unknown:
        raise Refused(f"unknown field{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))}; a start message "
                      f"takes: {', '.join(known)}")
    rate = message.get("sample_rate", DEFAULT_RATE)
    if isinstance(rate, float) and rate.is_integer():
        rate = int(rate)
    if not isinstance(rate, int) or isinstance(rate, bool) or not MIN_RATE <= rate <= MAX_RATE:
        raise Refused(f"sample_rate: expected a whole number of Hz from {MIN_RATE} to {MAX_RATE}, got "
                      f"{json.dumps(rate)}")
    fmt = message.get("format", "json")
    if fmt not in STREAM_FORMATS:
        raise Refused(f"format: {json.dumps(fmt)} is not one of {', '.join(STREAM_FORMATS)}")
    try:
        settings = motion_settings(read_fields(fields_from_json(message), config.default_seed))
        check_settings(settings, gen)
    except RequestError as e:
        raise Refused(e.message) from None
    return Start(settings, rate, fmt)


class Pcm:
    """s16le mono bytes -> float32 samples in [-1, 1) (as ``anim3d stream -`` reads them), an odd byte carried."""

    def __init__(self):
        self.carry = b""

    def __call__(self, data: bytes) -> np.ndarray:
        if self.carry:
            data = self.carry + data
        cut = len(data) - len(data) % 2
        self.carry = data[cut:]
        return np.frombuffer(data, "<i2", count=cut // 2).astype(np.float32) / 32768.0


def plain_values(motion, first: int) -> np.ndarray:
    """(frames, 60) little-endian float32: the plain OSC scheme's values per frame (``unity_bridge.plain``):
    52 ARKit weights, head quaternion x y z w, head translation, time (frame index / fps)."""
    from anim3d.unity_bridge.coords import rotvec_to_quat
    from anim3d.unity_bridge.plain import NUM_VALUES

    n = motion.num_frames
    times = (first + np.arange(n)) / motion.fps
    values = np.concatenate([motion.blendshapes, rotvec_to_quat(motion.head_rotation), motion.head_translation,
                             times[:, None]], axis=1).astype("<f4")
    assert values.shape[1] == NUM_VALUES
    return values


def frame_messages(motion, first: int, fmt: str, neutral: bool = False) -> list:
    """One message per frame of ``motion``, numbered from ``first``: JSON text, or the 60 float32's bytes."""
    if fmt == "binary":
        return [row.tobytes() for row in plain_values(motion, first)]
    out = []
    for i in range(motion.num_frames):
        frame = {"frame": first + i, "time": (first + i) / motion.fps, "blendshapes": motion.blendshapes[i].tolist(),
                 "head_rotation": motion.head_rotation[i].tolist(),
                 "head_translation": motion.head_translation[i].tolist()}
        if neutral:
            frame["neutral"] = True
        out.append(json.dumps(frame))
    return out


async def serve_stream(ws, config, gen, streams: Streams) -> None:
    """One WebSocket's stream, from its handshake to its close (see the module docstring)."""
    from starlette.websockets import WebSocketDisconnect

    await ws.accept()
    try:
        try:
            _admit(ws, config)
        except Refused as e:
            await _refuse(ws, e)
            return
        if not streams.take():
            await _refuse(ws, Refused(f"the server is busy: {streams.limit} streams are open, the most it takes "
                                      f"(--max-streams {streams.limit}); try again later", TRY_AGAIN))
            return
        try:
            await _stream(ws, config, gen, streams)
        except Refused as e:
            await _refuse(ws, e)
        finally:
            streams.give_back()
    except (Gone, WebSocketDisconnect):
        return


def _admit(ws, config) -> None:
    headers = {k.lower(): v for k, v in ws.headers.items()}
    origin = headers.get("origin")
    if origin and origin not in config.cors_origins and urlsplit(origin).netloc != headers.get("host"):
        raise Refused(f"a page from {origin} may not open a stream (this server's --cors-origin)")
    if config.api_key:
        problem = key_problem(config.api_key, headers, ws.query_params.get("api_key", ""))
        if problem:
            raise Refused(problem)


async def _stream(ws, config, gen, streams: Streams) -> None:
    from anim3d.channels import ARKIT_NAMES
    from anim3d.errors import Anim3dError
    from anim3d.inference.settings import ConditionError
    from anim3d.motion import Motion

    try:
        first = await asyncio.wait_for(ws.receive(), config.timeout)
    except asyncio.TimeoutError:
        raise Refused(f"no start message within {config.timeout:g} s (--timeout)") from None
    if first["type"] == "websocket.disconnect":
        raise Gone()
    start = read_start(first.get("text"), config, gen)
    try:
        animator, _ = await _in_thread(streams, _animator, gen, start, streams.first_warm_up(), streams.sampler(gen))
    except (Anim3dError, ConditionError) as e:
        raise Refused(str(e)) from None
    fps = float(animator.cfg.fps)
    await _send(ws, json.dumps({"started": True, "fps": fps, "sample_rate": start.sample_rate, "format": start.fmt,
                                "channels": list(ARKIT_NAMES)}))
    inbox: asyncio.Queue = asyncio.Queue()
    gone = asyncio.Event()
    reader = asyncio.create_task(_read(ws, inbox, gone, config, start.sample_rate))
    sent = 0
    try:
        while True:
            kind, payload = await inbox.get()
            if gone.is_set():  # the client left: the audio still queued is not animated
                raise Gone()
            if kind == "refuse":
                raise payload
            work = animator.flush if kind == "end" else (lambda x=payload: animator.push(x))
            try:
                motion, notes = await _in_thread(streams, work)
            except Exception as e:  # a fault of anim3d's, not of the client
                traceback.print_exc(file=sys.stderr)
                raise Refused(f"anim3d failed on this stream ({type(e).__name__}: {e})", INTERNAL) from None
            for note in notes:
                await _send(ws, json.dumps({"warning": note}))
            for message in frame_messages(motion, sent, start.fmt):
                await _send(ws, message)
            sent += motion.num_frames
            if kind == "end":
                for message in frame_messages(Motion.neutral(1, fps), sent, start.fmt, neutral=True):
                    await _send(ws, message)
                await _send(ws, json.dumps({"done": True, "frames": sent}))
                await ws.close(NORMAL)
                return
    finally:
        reader.cancel()


def _animator(gen, start: Start, warmup: bool, sampler):
    from anim3d.inference.streaming import StreamingAnimator

    return StreamingAnimator(gen, start.settings, sample_rate=start.sample_rate, warmup=warmup, sampler=sampler)


async def _in_thread(streams: Streams, fn, *args):
    """``fn(*args)`` on a stream thread, the event loop free meanwhile; (its result, the warnings it raised)."""

    def call():
        with collected() as notes:
            out = fn(*args)
        return out, notes

    return await asyncio.get_running_loop().run_in_executor(streams.pool, call)


async def _read(ws, inbox: asyncio.Queue, gone: asyncio.Event, config, rate: int) -> None:
    """The client's messages -> the inbox: ("audio", samples)..., then ("end", None), or ("refuse", Refused), or
    ("gone", None) with ``gone`` set."""
    pcm = Pcm()
    limit = int(config.max_seconds * rate)
    received = 0
    while True:
        try:
            message = await asyncio.wait_for(ws.receive(), config.timeout)
        except asyncio.TimeoutError:
            inbox.put_nowait(("refuse", Refused(f"no message for {config.timeout:g} s (--timeout): the stream is "
                                                "closed")))
            return
        if message["type"] == "websocket.disconnect":
            gone.set()
            inbox.put_nowait(("gone", None))
            return
        data = message.get("bytes")
        if data is not None:
            samples = pcm(data)
            received += len(samples)
            if received > limit:
                inbox.put_nowait(("refuse", Refused(f"the stream's audio is longer than this server's limit of "
                                                    f"{config.max_seconds:g} s (--max-seconds)")))
                return
            if len(samples):
                inbox.put_nowait(("audio", samples))
            continue
        text = message.get("text")
        try:
            end = json.loads(text) == END
        except (TypeError, ValueError):
            end = False
        if end:
            inbox.put_nowait(("end", None))
            return
        shown = text if len(text or "") <= 40 else text[:37] + "..."
        inbox.put_nowait(("refuse", Refused(f'expected binary PCM audio or the text message {{"end": true}}, got '
                                            f"{shown!r}", UNSUPPORTED)))
        return


async def _send(ws, message) -> None:
    from starlette.websockets import WebSocketDisconnect

    try:
        if isinstance(message, bytes):
            await ws.send_bytes(message)
        else:
            await ws.send_text(message)
    except (WebSocketDisconnect, OSError) as e:
        raise Gone() from e


async def _refuse(ws, refusal: Refused) -> None:
    await _send(ws, json.dumps({"error": refusal.message}))
    try:
        await ws.close(refusal.code)
    except (OSError, RuntimeError):
        pass
