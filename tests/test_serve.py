"""anim3d serve: the HTTP API through FastAPI's TestClient (and once through a real uvicorn server): every
endpoint, every error status, the same motion as animate() and the same bytes as `anim3d animate -o`."""

from __future__ import annotations

import io
import json
import math
import os
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from anim3d.audio import load_audio, save_wav  # noqa: E402
from anim3d.channels import ARKIT_NAMES  # noqa: E402
from anim3d.serve import app as serve_app  # noqa: E402
from anim3d.serve.app import create_app  # noqa: E402
from anim3d.serve.config import ServerConfig  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TEXT = "Hello! This is anim3d."  # what the first 2.7 s of examples/hello.wav say
CONTROLS = {"emotion": "happy", "intensity": "0.6", "seed": "3", "gaze": "10,-5", "distance": "0.05",
            "guidance": "audio=2,emotion=1.5", "text": TEXT, "language": "en"}
CLI_CONTROLS = ["--emotion", "happy", "--intensity", "0.6", "--seed", "3", "--gaze=10,-5", "--distance", "0.05",
                "--guidance", "audio=2,emotion=1.5", "--text", TEXT, "--language", "en"]


@pytest.fixture(scope="module")
def gen():
    from anim3d.inference import load_model

    return load_model()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """The first 2.7 s of examples/hello.wav (its first sentence) as a 16 kHz WAV."""
    audio = load_audio(REPO / "examples" / "hello.wav")
    path = tmp_path_factory.mktemp("serve") / "line.wav"
    save_wav(path, audio.samples[: int(2.7 * audio.sample_rate)], audio.sample_rate)
    return path


@pytest.fixture(scope="module")
def wav(clip) -> bytes:
    return clip.read_bytes()


def client(gen, **config) -> TestClient:
    log = io.StringIO()
    c = TestClient(create_app(ServerConfig(access_log=log, **config), generator=gen))
    c.log = log
    return c


def post(c, wav: bytes, name: str = "line.wav", headers=None, **fields):
    return c.post("/v1/animate", files={"audio": (name, wav, "audio/wav")}, data=fields, headers=headers or {})


def test_json_is_the_motion_animate_gives_for_the_same_seed(gen, clip, wav):
    from anim3d.inference import MotionSettings, animate

    c = client(gen)
    r = post(c, wav, **CONTROLS)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"fps", "channels", "blendshapes", "head_rotation", "head_translation", "warnings"}
    settings = MotionSettings(emotion="happy", intensity=0.6, seed=3, gaze=(math.radians(10), math.radians(-5)),
                              distance=0.05, guidance={"audio": 2.0, "emotion": 1.5}, text=TEXT, language="en")
    motion = animate(load_audio(clip), settings, checkpoint=gen)
    assert body["fps"] == 30.0 and body["channels"] == list(ARKIT_NAMES) and body["warnings"] == []
    assert np.array_equal(np.array(body["blendshapes"], np.float32), motion.blendshapes)
    assert np.array_equal(np.array(body["head_rotation"], np.float32), motion.head_rotation)
    assert np.array_equal(np.array(body["head_translation"], np.float32), motion.head_translation)
    assert len(body["blendshapes"]) == 81 and len(body["blendshapes"][0]) == 52
    # free_gaze is gaze=None; another seed is another take
    free = post(c, wav, seed="3", free_gaze="true").json()
    assert np.array_equal(np.array(free["blendshapes"], np.float32),
                          animate(load_audio(clip), seed=3, gaze=None, checkpoint=gen).blendshapes)
    assert free["blendshapes"] != post(c, wav, seed="4", free_gaze="true").json()["blendshapes"]


def test_csv_and_npz_are_the_bytes_anim3d_animate_writes(gen, clip, wav, tmp_path):
    cli = subprocess.run([sys.executable, "-m", "anim3d", "animate", str(clip), "-o", str(tmp_path / "take.csv"),
                          "-o", str(tmp_path / "take.npz"), "-q", *CLI_CONTROLS],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    c = client(gen)
    csv = post(c, wav, format="csv", **CONTROLS)
    assert csv.status_code == 200 and csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.headers["content-disposition"] == 'attachment; filename="line.csv"'
    assert csv.content == (tmp_path / "take.csv").read_bytes()
    npz = post(c, wav, format="npz", **CONTROLS)
    assert npz.status_code == 200 and npz.headers["content-type"] == "application/octet-stream"
    assert npz.content == (tmp_path / "take.npz").read_bytes()
    # an .npz is a zip, whose members could carry the time they were written: numpy's savez gives each the zip
    # format's fixed first date instead, so two writes of one motion are the same bytes whenever they happen
    with zipfile.ZipFile(io.BytesIO(npz.content)) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert sorted(z.namelist()) == sorted(f"{k}.npy" for k in ("format", "blendshapes", "blendshape_names",
                                                                   "head_rotation", "head_translation", "fps"))


def test_glb_is_save_motions_glb_without_audio(gen, clip, wav, tmp_path):
    from anim3d.exporters.motion_io import save_motion
    from anim3d.inference import animate

    r = post(client(gen), wav, format="glb", seed="5")
    assert r.status_code == 200 and r.headers["content-type"] == "model/gltf-binary"
    assert r.content[:4] == b"glTF"
    save_motion(animate(load_audio(clip), seed=5, checkpoint=gen), tmp_path / "take.glb")
    assert r.content == (tmp_path / "take.glb").read_bytes()
    (n,) = struct.unpack_from("<I", r.content, 12)
    assert '"audio"' not in r.content[20:20 + n].decode()  # no sound referenced: the client has it


def _mp3(path: Path, samples: np.ndarray, rate: int) -> None:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libmp3lame", rate=rate)
        stream.layout = "mono"
        planar = np.ascontiguousarray(samples[None, :], np.float32)
        for i in range(0, planar.shape[1], 1152):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planar[:, i:i + 1152]), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def test_an_mp3_upload_is_decoded_as_animate_decodes_the_file(gen, clip, tmp_path):
    from anim3d.inference import animate

    audio = load_audio(clip)
    path = tmp_path / "line.mp3"
    _mp3(path, audio.samples, audio.sample_rate)
    r = post(client(gen), path.read_bytes(), name="line.mp3", seed="2")
    assert r.status_code == 200, r.text
    motion = animate(load_audio(path), seed=2, checkpoint=gen)
    assert np.array_equal(np.array(r.json()["blendshapes"], np.float32), motion.blendshapes)


def test_bad_audio_is_400_naming_the_upload(gen):
    c = client(gen)
    r = post(c, b"RIFF\x00\x00\x00\x00WAVEnot really", name="broken.wav")
    assert r.status_code == 400
    msg = r.json()["error"]
    assert msg.startswith("broken.wav: ") and "anim3d-serve-" not in msg
    r = post(c, _wav_bytes(np.zeros(16000, np.float32)), name="quiet.wav")
    assert r.status_code == 400 and r.json()["error"] == "quiet.wav: audio is silent (peak below -80 dBFS)"


def _wav_bytes(samples: np.ndarray, rate: int = 16000) -> bytes:
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((samples * 32767).astype("<i2").tobytes())
    return buf.getvalue()


@pytest.mark.parametrize("fields, message", [
    ({"emotion": "bored"}, "unknown emotion 'bored'; choose one of: neutral, happy, sad, surprised, fear, disgusted, "
                           "angry, contempt"),
    ({"intensity": "1.5"}, "intensity: must be between 0 and 1, got 1.5"),
    ({"gaze": "10"}, "gaze: expected YAW,PITCH in degrees, e.g. 10,-5; got '10'"),
    ({"gaze": "60,0"}, "gaze: each angle must be within +-45 degrees, got 60,0"),
    ({"distance": "0.5"}, "distance must be a head offset in metres within +-0.3, got 0.5"),
    ({"guidance": "lips=2"}, "unknown guidance condition 'lips'; choose from audio, prev, emotion, gaze, distance, style"),
    ({"seed": "-1"}, "seed: must be between 0 and 4294967295, got -1"),
    ({"sampler": "heun"}, "sampler: 'heun' is not one of ddim, dpmpp_2m, euler_ancestral"),
    ({"text": "hi", "language": "xx"}, "unknown language 'xx' (known: en, es, fr, de, it, pt, ru, ja, zh, ko)"),
    ({"format": "fbx"}, "format: 'fbx' is not one of json, glb, csv, npz"),
])
def test_a_control_the_model_cannot_use_is_422_with_the_clis_message(gen, wav, fields, message):
    r = post(client(gen), wav, **fields)
    assert r.status_code == 422 and r.json() == {"error": message}


def test_the_condition_error_is_the_one_animate_raises(gen):
    from anim3d.inference import ConditionError, MotionSettings
    from anim3d.inference.settings import check_conditions

    with pytest.raises(ConditionError) as e:
        check_conditions(MotionSettings(emotion="bored"), gen.cfg.emotions)
    c = client(gen)
    assert post(c, b"", emotion="bored").json() == {"error": str(e.value)}  # checked before the audio is read
    assert c.post("/v1/animate", data={"emotion": "happy"}).json() == {"error": "audio: Field required"}


def test_a_script_the_audio_does_not_say_comes_back_as_a_warning(gen, wav):
    r = post(client(gen), wav, text="Bananas grow on tall green plants in the tropics.")
    assert r.status_code == 200
    assert len(r.json()["warnings"]) == 1 and json.loads(r.headers["x-anim3d-warnings"]) == r.json()["warnings"]


def test_too_long_and_too_big_are_413_naming_the_limit(gen, wav):
    r = post(client(gen, max_seconds=2.0), wav)
    assert r.status_code == 413
    assert r.json() == {"error": "line.wav: the audio is longer than this server's limit of 2 s (--max-seconds)"}
    big = {"error": "the upload is larger than this server's limit of 0.05 MB (--max-upload-mb)"}
    c = client(gen, max_upload_mb=0.05)  # the clip is 86 kB
    r = post(c, wav)  # the audio part over the limit (the body is within the limit and the room for the fields)
    assert r.status_code == 413 and r.json() == big
    r = post(c, wav * 14)  # a body over limit + room: refused from Content-Length before it is read
    assert r.status_code == 413 and r.json() == big
    boundary = "anim3dtest"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"a.wav\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode()

    def chunked():  # no Content-Length: counted as it arrives
        yield head
        for _ in range(16):
            yield wav
        yield f"\r\n--{boundary}--\r\n".encode()

    r = c.post("/v1/animate", content=chunked(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413 and r.json() == big


def test_api_key_from_the_option_or_the_environment(gen, wav, monkeypatch):
    c = client(gen, api_key="s3cret")
    for headers in ({}, {"Authorization": "Bearer nope"}, {"X-API-Key": "nope"}, {"Authorization": "s3cret"}):
        r = post(c, wav, headers=headers, emotion="bored")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", headers
        assert "API key" in r.json()["error"]
    for headers in ({"Authorization": "Bearer s3cret"}, {"X-API-Key": "s3cret"}):
        assert post(c, wav, headers=headers, emotion="bored").status_code == 422  # past the key, to the controls
    assert c.get("/health").status_code == 200  # health and docs need no key
    assert c.get("/docs").status_code == 200
    monkeypatch.setenv("ANIM3D_API_KEY", "from-env")
    assert ServerConfig.key_from_environment(None) == "from-env"
    assert ServerConfig.key_from_environment("given") == "given"
    monkeypatch.setenv("ANIM3D_API_KEY", "")
    assert ServerConfig.key_from_environment(None) is None
    assert post(client(gen), wav, emotion="bored").status_code == 422  # no key configured: none needed


@pytest.fixture
def held(monkeypatch):
    """animate_upload replaced by a job that waits for ``release``; ``started`` is set once it runs."""
    started, release = threading.Event(), threading.Event()

    def slow(*args, **kwargs):
        started.set()
        release.wait(20)
        from anim3d.serve.job import Result

        return Result("json", {"fps": 30.0, "channels": [], "blendshapes": [], "head_rotation": [],
                               "head_translation": []})

    monkeypatch.setattr(serve_app, "animate_upload", slow)
    yield started, release
    release.set()


def _in_thread(fn):
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", fn()))
    t.start()
    return t, out


def test_queue_full_is_503_with_retry_after(gen, wav, held):
    started, release = held
    with client(gen, max_queue=0) as c:
        t, out = _in_thread(lambda: post(c, wav))
        assert started.wait(10)
        assert c.get("/health").json()["queue"] == {"running": 1, "waiting": 0, "max_queue": 0, "workers": 1,
                                                     "done": 0, "mean_seconds": None}
        r = post(c, wav)
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        assert "busy" in r.json()["error"] and "--max-queue 0" in r.json()["error"]
        release.set()
        t.join(10)
        assert out["r"].status_code == 200
        deadline = time.time() + 5
        while c.get("/health").json()["queue"]["done"] < 1 and time.time() < deadline:
            time.sleep(0.02)
        assert post(c, wav).status_code == 200  # room again


def test_timeout_is_504_and_the_running_job_keeps_its_place(gen, wav, held):
    started, release = held
    with client(gen, timeout=0.3, max_queue=1) as c:
        r = post(c, wav)
        assert r.status_code == 504
        assert r.json() == {"error": "the request took longer than this server's limit of 0.3 s (--timeout)"}
        assert started.is_set() and c.get("/health").json()["queue"]["running"] == 1  # torch cannot be stopped
        r = post(c, wav)  # waits behind it, times out and is cancelled: it never runs
        assert r.status_code == 504
        release.set()
        deadline = time.time() + 5
        while c.get("/health").json()["queue"]["running"] and time.time() < deadline:
            time.sleep(0.02)
        assert c.get("/health").json()["queue"]["waiting"] == 0


def test_cors_header_only_for_an_allowed_origin(gen, wav):
    c = client(gen, cors_origins=["https://app.example"], api_key="k")
    ok = c.get("/health", headers={"Origin": "https://app.example"})
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in c.get("/health", headers={"Origin": "https://evil.example"}).headers
    pre = c.options("/v1/animate", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                                            "Access-Control-Request-Headers": "authorization"})
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "https://app.example"
    denied = post(c, wav, headers={"Origin": "https://app.example"})  # errors carry the header too
    assert denied.status_code == 401 and denied.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in client(gen).get("/health", headers={"Origin": "https://app.example"}).headers


def test_health_docs_and_the_access_log(gen):
    c = client(gen)
    h = c.get("/health")
    assert h.status_code == 200
    body = h.json()
    assert body["status"] == "ok" and body["model"] == "default" and body["queue"]["running"] == 0
    assert body["limits"] == {"max_upload_mb": 50.0, "max_seconds": 300.0, "timeout": 120.0, "api_key": False}
    assert c.get("/docs").status_code == 200 and "swagger" in c.get("/docs").text.lower()
    spec = c.get("/openapi.json").json()
    form = spec["paths"]["/v1/animate"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    props = spec["components"]["schemas"][form["$ref"].split("/")[-1]]["properties"] if "$ref" in form else form["properties"]
    assert {"audio", "format", "emotion", "gaze", "free_gaze", "guidance", "text", "language"} <= set(props)
    assert c.get("/nope").json() == {"error": "Not Found"}
    lines = [json.loads(line) for line in c.log.getvalue().splitlines()]
    assert [(x["method"], x["path"], x["status"]) for x in lines][:2] == [("GET", "/health", 200), ("GET", "/docs", 200)]
    assert lines[-1]["status"] == 404
    assert all(set(x) == {"time", "method", "path", "status", "duration_ms", "client"} for x in lines)
    assert lines[0]["time"].endswith("Z") and lines[0]["client"].startswith("testclient:")


def test_anim3d_serve_runs_a_real_server(wav, tmp_path):
    """The command: uvicorn on a free port, the model loaded at start-up, access lines on stderr."""
    err = tmp_path / "stderr.txt"
    with open(err, "w") as f:
        proc = subprocess.Popen([sys.executable, "-m", "anim3d", "serve", "--port", "0", "-q", "--max-queue", "2"],
                                stderr=f, stdout=subprocess.DEVNULL, env=dict(os.environ, ANIM3D_API_KEY="k"))
    try:
        url = None
        deadline = time.time() + 120
        while url is None and time.time() < deadline and proc.poll() is None:
            for line in err.read_text().splitlines():
                if "listening on " in line:
                    url = line.split("listening on ")[1].split()[0]
            time.sleep(0.1)
        assert url, err.read_text()
        with urllib.request.urlopen(url + "/health", timeout=10) as r:
            health = json.load(r)
        assert health["model"] == "default" and health["queue"]["max_queue"] == 2 and health["limits"]["api_key"]
        import httpx

        r = httpx.post(url + "/v1/animate", files={"audio": ("line.wav", wav)}, data={"format": "csv"},
                       headers={"Authorization": "Bearer k"}, timeout=60)
        assert r.status_code == 200 and r.text.startswith("Timecode,")
    finally:
        proc.terminate()
        proc.wait(20)
    access = [json.loads(line) for line in err.read_text().splitlines() if line.startswith("{")]
    assert [(a["path"], a["status"]) for a in access] == [("/health", 200), ("/v1/animate", 200)]
    assert access[1]["client"].startswith("127.0.0.1:")
