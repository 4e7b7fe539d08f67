"""WS /v1/stream through FastAPI's TestClient: the frames are StreamingAnimator's for the same chunks, binary
frames are the plain OSC scheme's 60 floats, and every refusal (start, key, origin, limits) is one JSON error and
its close code; the end, a client that leaves, a script, warnings kept per stream."""

from __future__ import annotations

import io
import json
import math
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from anim3d.audio import load_audio  # noqa: E402
from anim3d.channels import ARKIT_NAMES  # noqa: E402
from anim3d.serve.app import create_app  # noqa: E402
from anim3d.serve.config import ServerConfig  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TEXT = "Hello! This is anim3d."  # what the first 2.7 s of examples/hello.wav say
START = {"emotion": "happy", "intensity": 0.6, "seed": 3, "gaze": [10, -5], "distance": 0.05, "text": TEXT,
         "language": "en"}
CHUNK = 640  # bytes: 20 ms of 16 kHz s16le


@pytest.fixture(scope="module")
def gen():
    from anim3d.inference import load_model

    return load_model()


@pytest.fixture(scope="module")
def pcm() -> bytes:
    """The first 2.7 s of examples/hello.wav (its first sentence) as 16 kHz s16le bytes."""
    audio = load_audio(REPO / "examples" / "hello.wav")
    assert audio.sample_rate == 16000
    x = audio.samples[: int(2.7 * audio.sample_rate)]
    return (np.clip(x, -1, 1) * 32767).round().astype("<i2").tobytes()


def client(gen, **config) -> TestClient:
    log = io.StringIO()
    c = TestClient(create_app(ServerConfig(access_log=log, **config), generator=gen))
    c.log = log
    return c


def stream(c, start: dict, pcm: bytes, sizes=(CHUNK,), url="/v1/stream", headers=None, end=True):
    """Start, the audio in messages of ``sizes`` bytes (in turn), {"end": true}; every message back, in order,
    and the close code."""
    out = []
    with c.websocket_connect(url, headers=headers or {}) as ws:
        ws.send_text(json.dumps(start))
        i = k = 0
        while i < len(pcm):
            n = sizes[k % len(sizes)]
            ws.send_bytes(pcm[i : i + n])
            i, k = i + n, k + 1
        if end:
            ws.send_text(json.dumps({"end": True}))
        while True:
            m = ws.receive()
            if m["type"] == "websocket.close":
                return out, m["code"]
            out.append(json.loads(m["text"]) if m.get("text") is not None else m["bytes"])


def refused(c, first, url="/v1/stream", headers=None) -> tuple[dict, int]:
    """The error message and close code answering a start message (or a key / origin / limit refusal)."""
    with c.websocket_connect(url, headers=headers or {}) as ws:
        if first is not None:
            ws.send_bytes(first) if isinstance(first, bytes) else ws.send_text(first)
        error = json.loads(ws.receive_text())
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_text()
    return error, e.value.code


def in_process(gen, pcm: bytes, **controls):
    """What StreamingAnimator gives for the same 20 ms chunks, in this process, with the same settings."""
    from anim3d.inference import MotionSettings
    from anim3d.inference.streaming import StreamingAnimator
    from anim3d.motion import Motion

    animator = StreamingAnimator(gen, MotionSettings(**controls), sample_rate=16000, warmup=False)
    parts = []
    for i in range(0, len(pcm), CHUNK):
        parts.append(animator.push(np.frombuffer(pcm[i : i + CHUNK], "<i2").astype(np.float32) / 32768.0))
    parts.append(animator.flush())
    return Motion.concatenate([p for p in parts if p.num_frames])


SETTINGS = dict(emotion="happy", intensity=0.6, seed=3, gaze=(math.radians(10), math.radians(-5)), distance=0.05,
                text=TEXT, language="en")


@pytest.fixture(scope="module")
def json_run(gen, pcm):
    # 641 + 639 bytes: every other message ends on half a sample, carried into the next (the same 320-sample chunks)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the script matches: no warning, here or to the client
        messages, code = stream(client(gen), START, pcm, sizes=(CHUNK + 1, CHUNK - 1))
    return messages, code


def test_frames_are_the_streaming_animators_for_the_same_chunks(gen, pcm, json_run):
    messages, code = json_run
    assert code == 1000
    started, *frames, neutral, done = messages
    assert started == {"started": True, "fps": 30.0, "sample_rate": 16000, "format": "json",
                       "channels": list(ARKIT_NAMES)}
    assert not [m for m in messages if "warning" in m or "error" in m]  # a matching script: no warning
    motion = in_process(gen, pcm, **SETTINGS)
    assert len(frames) == motion.num_frames == 81 and done == {"done": True, "frames": 81}
    assert [f["frame"] for f in frames] == list(range(81))
    assert all(set(f) == {"frame", "time", "blendshapes", "head_rotation", "head_translation"} for f in frames)
    assert np.allclose([f["time"] for f in frames], np.arange(81) / 30.0)
    for key in ("blendshapes", "head_rotation", "head_translation"):
        got = np.array([f[key] for f in frames], np.float32)
        assert got.shape == getattr(motion, key).shape
        assert np.abs(got - getattr(motion, key)).max() <= 1e-5, key
    # the end: one neutral frame (all weights 0, the head at rest), then done
    assert neutral == {"frame": 81, "time": 81 / 30.0, "blendshapes": [0.0] * 52, "head_rotation": [0.0] * 3,
                       "head_translation": [0.0] * 3, "neutral": True}


def test_binary_frames_are_the_plain_osc_schemes_60_floats(gen, pcm, json_run):
    from anim3d.unity_bridge.coords import rotvec_to_quat

    messages, code = stream(client(gen), {**START, "format": "binary"}, pcm)
    assert code == 1000
    started, *frames, neutral, done = messages
    assert started["format"] == "binary" and done == {"done": True, "frames": 81}
    json_frames = json_run[0][1:-2]
    assert len(frames) == len(json_frames) == 81
    assert all(isinstance(f, bytes) and len(f) == 240 for f in frames + [neutral])
    for raw, frame in zip(frames, json_frames):
        v = np.frombuffer(raw, "<f4")
        assert np.array_equal(v[:52], np.array(frame["blendshapes"], np.float32))
        assert np.allclose(v[52:56], rotvec_to_quat(np.array(frame["head_rotation"])), atol=1e-6)
        assert np.array_equal(v[56:59], np.array(frame["head_translation"], np.float32))
        assert v[59] == np.float32(frame["time"])
    v = np.frombuffer(neutral, "<f4")
    assert np.array_equal(v, np.r_[np.zeros(52), 0, 0, 0, 1, 0, 0, 0, np.float32(81 / 30.0)].astype(np.float32))


def test_a_script_the_audio_does_not_say_is_a_warning_message(gen, pcm):
    messages, code = stream(client(gen), {"text": "Bananas grow on tall green plants in the tropics."}, pcm)
    assert code == 1000 and messages[-1] == {"done": True, "frames": 81}
    notes = [m for m in messages if "warning" in m]
    assert len(notes) == 1 and "does not match the streamed audio" in notes[0]["warning"]
    assert 40 < messages.index(notes[0]) < 80  # judged from 2 s of audio on: between the frames


def test_an_end_without_audio_is_the_neutral_frame_and_done(gen):
    messages, code = stream(client(gen), {}, b"")
    assert code == 1000
    assert [set(m) for m in messages[1:]] == [{"frame", "time", "blendshapes", "head_rotation", "head_translation",
                                               "neutral"}, {"done", "frames"}]
    assert messages[1]["frame"] == 0 and messages[2] == {"done": True, "frames": 0}


@pytest.mark.parametrize("first, code, message", [
    (b"\x00\x01", 1003, "the first message must be the start: a JSON text message such as "
                        '{"sample_rate": 16000, "emotion": "happy"}, not audio'),
    ("hello", 1003, "the start message is not JSON"),
    ("[1, 2]", 1003, "the start message must be a JSON object"),
    ({"emotion": "bored"}, 1008, "unknown emotion 'bored'; choose one of: neutral, happy, sad, surprised, fear, "
                                 "disgusted, angry, contempt"),
    ({"intensity": 1.5}, 1008, "intensity: must be between 0 and 1, got 1.5"),
    ({"gaze": "60,0"}, 1008, "gaze: each angle must be within +-45 degrees, got 60,0"),
    ({"gaze": [1, 2, 3]}, 1008, 'gaze: expected a string "YAW,PITCH" or a list [yaw, pitch] (degrees), got [1, 2, 3]'),
    ({"free_gaze": "yes"}, 1008, 'free_gaze: expected true or false, got "yes"'),
    ({"seed": -1}, 1008, "seed: must be between 0 and 4294967295, got -1"),
    ({"text": "hi", "language": "xx"}, 1008, "unknown language 'xx' (known: en, es, fr, de, it, pt, ru, ja, zh, ko)"),
    ({"sample_rate": 100}, 1008, "sample_rate: expected a whole number of Hz from 8000 to 96000, got 100"),
    ({"format": "csv"}, 1008, 'format: "csv" is not one of json, binary'),
    ({"fps": 60}, 1008, "fps: a stream is sent at the model's 30 frames per second"),
    ({"colour": "red"}, 1008, "unknown field 'colour'; a start message takes: sample_rate, format, emotion, "
                              "intensity, seed, gaze, free_gaze, distance, guidance, text, language, steps, sampler, "
                              "mouth_steps, teacher_blend, opening_share"),
])
def test_a_bad_start_is_one_error_and_a_close(gen, first, code, message):
    c = client(gen)
    error, got = refused(c, first if isinstance(first, (bytes, str)) else json.dumps(first))
    assert error == {"error": message} and got == code
    assert c.get("/health").json()["streams"]["open"] == 0


def test_controls_as_json_values_are_the_forms(gen, pcm):
    """gaze as a list, guidance as an object, numbers as numbers: the motion of the same values as text."""
    short = pcm[: 16000 * 2]  # 1 s
    as_json, _ = stream(client(gen), {"gaze": [10, -5], "guidance": {"audio": 2}, "seed": 4}, short)
    as_text, _ = stream(client(gen), {"gaze": "10,-5", "guidance": "audio=2", "seed": "4"}, short)
    assert as_json == as_text and len(as_json) == 1 + 30 + 2


def test_the_api_key_from_a_header_or_the_query(gen):
    c = client(gen, api_key="s3cret")
    error, code = refused(c, None)
    assert code == 1008 and error["error"] == ("this server needs an API key: send the header 'Authorization: Bearer "
                                               "KEY' or 'X-API-Key: KEY' or the query parameter '?api_key=KEY'")
    for url, headers in (("/v1/stream", {"X-API-Key": "nope"}), ("/v1/stream?api_key=nope", {}),
                         ("/v1/stream", {"Authorization": "Bearer nope"})):
        assert refused(c, None, url, headers) == ({"error": "the API key is not this server's"}, 1008)
    for url, headers in (("/v1/stream", {"Authorization": "Bearer s3cret"}), ("/v1/stream", {"X-API-Key": "s3cret"}),
                         ("/v1/stream?api_key=s3cret", {})):
        messages, code = stream(c, {}, b"", url=url, headers=headers)
        assert code == 1000 and messages[0]["started"] and messages[-1] == {"done": True, "frames": 0}


def test_a_page_of_another_origin_is_refused(gen):
    c = client(gen, cors_origins=["https://app.example"])
    error, code = refused(c, None, headers={"Origin": "https://evil.example"})
    assert code == 1008 and "https://evil.example may not open a stream" in error["error"]
    assert stream(c, {}, b"", headers={"Origin": "https://app.example"})[1] == 1000
    assert stream(c, {}, b"", headers={"Origin": "http://testserver"})[1] == 1000  # the server's own pages


def _open_streams(c) -> int:
    return c.get("/health").json()["streams"]["open"]


def _wait_until(condition, seconds: float = 10.0) -> bool:
    deadline = time.time() + seconds
    while not condition() and time.time() < deadline:
        time.sleep(0.02)
    return condition()


def test_too_many_streams_is_1013_and_a_stream_that_leaves_frees_its_place(gen, pcm):
    c = client(gen, max_streams=1)
    with c.websocket_connect("/v1/stream") as held:
        held.send_text(json.dumps({"seed": 1}))
        assert held.receive_json()["started"]
        assert _open_streams(c) == 1
        error, code = refused(c, None)
        assert code == 1013 and error == {"error": "the server is busy: 1 streams are open, the most it takes "
                                                   "(--max-streams 1); try again later"}
        # the client goes away mid-stream, with 10 s of audio sent (3 s of work): the rest is not animated
        for _ in range(4):
            for i in range(0, len(pcm), CHUNK):
                held.send_bytes(pcm[i : i + CHUNK])
        assert "frame" in held.receive_json()
        t0 = time.time()
        held.close(1001)
        assert _wait_until(lambda: _open_streams(c) == 0)
        freed = time.time() - t0
    assert freed < 1.5, f"the place was freed {freed:.2f} s after the client left"
    health = c.get("/health").json()["streams"]
    assert {k: health[k] for k in ("open", "max_streams", "done")} == {"open": 0, "max_streams": 1, "done": 1}
    # the stream's windows went through the server's window batcher (anim3d.serve.batcher); how many were done
    # before the client left depends on the machine's load (one on a busy CI machine), none is left waiting
    assert health["windows"]["windows"] >= 1 and health["windows"]["waiting"] == 0
    messages, code = stream(c, {}, pcm[:16000])  # a new stream is taken
    assert code == 1000 and messages[-1]["done"]
    log = [json.loads(line) for line in c.log.getvalue().splitlines()]
    ws = [(x["method"], x["status"]) for x in log if x["path"] == "/v1/stream"]
    assert ws == [("WEBSOCKET", 1013), ("WEBSOCKET", 1001), ("WEBSOCKET", 1000)]


def test_audio_over_the_limit_closes_the_stream(gen, pcm):
    messages, code = stream(client(gen, max_seconds=1.0), {}, pcm)
    assert code == 1008
    assert messages[-1] == {"error": "the stream's audio is longer than this server's limit of 1 s (--max-seconds)"}
    frames = [m for m in messages if "frame" in m]
    assert 20 <= len(frames) <= 30  # the first second's frames came before


def test_text_where_audio_was_expected_and_silence_past_the_timeout(gen, pcm):
    c = client(gen, timeout=0.5)
    with c.websocket_connect("/v1/stream") as ws:
        ws.send_text("{}")
        assert ws.receive_json()["started"]
        ws.send_bytes(pcm[:CHUNK])
        ws.send_text('{"stop": 1}')
        assert ws.receive_json() == {"error": 'expected binary PCM audio or the text message {"end": true}, got '
                                              "'{\"stop\": 1}'"}
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_text()
        assert e.value.code == 1003
    assert refused(c, None) == ({"error": "no start message within 0.5 s (--timeout)"}, 1008)


def test_warnings_are_kept_per_thread():
    """Two threads warning at once each collect their own, every time (not once per place in the code)."""
    from anim3d.errors import warn_input
    from anim3d.serve.capture import collected

    barrier = threading.Barrier(2)
    got = {}

    def work(name):
        with collected() as notes:
            for i in range(3):
                barrier.wait(5)
                warn_input(None, f"{name} {i}")
        got[name] = notes

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert got == {"a": ["a 0", "a 1", "a 2"], "b": ["b 0", "b 1", "b 2"]}
    with pytest.warns(UserWarning, match="outside"):  # outside a collected() block: as before
        warn_input(None, "outside")
