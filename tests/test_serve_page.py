"""The page at ``GET /`` (anim3d/serve/static): served with its config and vendored files (TestClient), and in a
real browser: headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by selenium) opens the page
served by ``anim3d serve``, uploads examples/hello.wav, animates it, and the head's morph-target influences, read
from the page while the audio plays, are the motion the server gives for the same controls at the time the page
shows; the download buttons give the server's bytes; the microphone (Chromium's fake capture device, fed
examples/hello.wav) is recorded and streamed live. A screenshot of the page is kept: in the test's tmp folder,
and at ``$ANIM3D_PAGE_SCREENSHOT`` when set (the README's docs/serve_page.png is made so)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from anim3d.serve.app import create_app  # noqa: E402
from anim3d.serve.config import ServerConfig  # noqa: E402
from anim3d.serve.page import STATIC  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HELLO = REPO / "examples" / "hello.wav"
SCREENSHOT_ENV = "ANIM3D_PAGE_SCREENSHOT"


@pytest.fixture(scope="module")
def gen():
    from anim3d.inference import load_model

    return load_model()


def page_config(html: str) -> dict:
    start = html.index('<script id="anim3d-config" type="application/json">') + len(
        '<script id="anim3d-config" type="application/json">')
    return json.loads(html[start:html.index("</script>", start)])


def test_the_page_and_its_files_are_served_without_the_key_and_the_page_asks_for_it(gen):
    from anim3d.channels import ARKIT_NAMES
    from anim3d.exporters.gltf_read import split_glb

    c = TestClient(create_app(ServerConfig(api_key="sesame", access_log=open(os.devnull, "w")), generator=gen))
    r = c.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    config = page_config(r.text)
    assert config["api_key"] is True and config["channels"] == list(ARKIT_NAMES)
    assert config["emotions"] == list(gen.cfg.emotions) and "en" in config["languages"]
    for path in ("/static/page.js", "/static/vendor/three/three.module.js",
                 "/static/vendor/three/addons/loaders/GLTFLoader.js"):
        r = c.get(path)
        assert r.status_code == 200 and "javascript" in r.headers["content-type"], path
    r = c.get("/head.glb")
    assert r.status_code == 200 and r.headers["content-type"] == "model/gltf-binary"
    doc = json.loads(split_glb("head.glb", r.content)[0])
    assert doc["meshes"][0]["extras"]["targetNames"] == list(ARKIT_NAMES)
    assert {n["name"] for n in doc["nodes"]} >= {"root", "neck", "jaw", "left_eye", "right_eye"}
    assert c.get("/static/../app.py").status_code == 404
    assert c.post("/v1/animate").status_code == 401  # the API still needs the key
    assert page_config(TestClient(create_app(ServerConfig(access_log=open(os.devnull, "w")), generator=gen))
                       .get("/").text)["api_key"] is False


def test_every_static_file_is_package_data():
    with open(REPO / "pyproject.toml", "rb") as f:
        globs = tomllib.load(f)["tool"]["setuptools"]["package-data"]["anim3d.serve"]
    files = {p.relative_to(STATIC.parent).as_posix() for p in STATIC.rglob("*") if p.is_file()}
    assert {"static/vendor/three/LICENSE", "static/index.html", "static/page.js"} <= files
    shipped = {p.relative_to(STATIC.parent).as_posix() for g in globs for p in STATIC.parent.glob(g) if p.is_file()}
    assert files - shipped == set(), "not in [tool.setuptools.package-data] anim3d.serve"


# ---------------------------------------------------------------------------------------------- the browser
def _browser_tools() -> tuple[str, str]:
    pytest.importorskip("selenium")
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("needs Debian's chromium and chromium-driver (scripts/install_system_deps.sh)")
    return chromium, driver


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``anim3d serve --port 0`` in a subprocess (the model loaded at start-up): its URL."""
    log_path = tmp_path_factory.mktemp("page-server") / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "anim3d", "serve", "--port", "0", "-q"], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=log)
    try:
        t0 = time.monotonic()
        url = None
        while url is None and proc.poll() is None and time.monotonic() - t0 < 180:
            for line in log_path.read_text().splitlines():
                if "listening on " in line:
                    url = line.split("listening on ")[1].split()[0]
            time.sleep(0.05)
        assert url, f"the server did not start:\n{log_path.read_text()}"
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium, driver_path = _browser_tools()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    folder = tmp_path_factory.mktemp("chromium")
    downloads = folder / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,960",
                f"--user-data-dir={folder / 'profile'}", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                "--autoplay-policy=no-user-gesture-required", "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={HELLO}",
                "--disable-breakpad"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(driver_path), options=options)
    drv.downloads = downloads
    drv.set_script_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()


def wait_for(what: str, fn, timeout: float, every: float = 0.1):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        value = fn()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def state(drv, expr: str = "anim3dState"):
    return drv.execute_script(f"return window.anim3dState ? {expr} : null")


def open_page(drv, url: str) -> None:
    drv.get(url + "/")
    wait_for("the head to load", lambda: state(drv, "anim3dState.phase") not in (None, "loading"), 120)
    assert state(drv, "anim3dState.phase") == "idle", state(drv, "anim3dState.status")


def console_errors(drv) -> list[str]:
    return [e["message"] for e in drv.get_log("browser") if e["level"] == "SEVERE"]


def reference(url: str, fields: dict, fmt: str):
    r = httpx.post(url + "/v1/animate", files={"audio": ("hello.wav", HELLO.read_bytes(), "audio/wav")},
                   data={**fields, "format": fmt}, timeout=180)
    assert r.status_code == 200, r.text
    return r.json() if fmt == "json" else r.content


def pose_at(motion: dict, t: float) -> dict:
    """The motion's 52 weights at ``t`` s, linearly between frames, held at the ends (as a glTF LINEAR clip)."""
    w = np.asarray(motion["blendshapes"])
    times = np.arange(len(w)) / motion["fps"]
    return {name: float(np.interp(t, times, w[:, k])) for k, name in enumerate(motion["channels"])}


def keep_screenshot(drv, tmp_path: Path) -> Path:
    path = tmp_path / "serve_page.png"
    drv.save_screenshot(str(path))
    if os.environ.get(SCREENSHOT_ENV):
        out = Path(os.environ[SCREENSHOT_ENV])
        tmp = out.with_name(out.name + ".tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, out)
    return path


@pytest.mark.slow
def test_an_uploaded_wav_plays_while_the_head_moves_with_it(browser, server, tmp_path):
    from PIL import Image
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    drv = browser
    open_page(drv, server)
    drv.find_element(By.ID, "file").send_keys(str(HELLO))
    Select(drv.find_element(By.ID, "emotion")).select_by_value("happy")
    seed = drv.find_element(By.ID, "seed")
    seed.clear()
    seed.send_keys("3")
    drv.find_element(By.ID, "animate").click()
    wait_for("the answer", lambda: state(drv, "anim3dState.phase") in ("playing", "done", "error"), 180)
    assert state(drv, "anim3dState.error") is None, state(drv, "anim3dState.error")

    samples, shot = [], None
    while True:
        s = drv.execute_script("return anim3dState.sample()")
        if s["phase"] != "playing":
            break
        samples.append(s)
        if shot is None and s["time"] > 1.0:
            shot = keep_screenshot(drv, tmp_path)
        time.sleep(0.2)
    assert state(drv, "anim3dState.phase") == "done"
    duration = state(drv, "anim3dState.duration")
    assert abs(duration - 7.895) < 0.05  # the clip is as long as the audio
    clock = samples[-1]["clock"]
    print(f"clock: {clock}; {len(samples)} samples over {samples[-1]['time']:.2f} s of the clip")

    # it played: the clip time went on through the line, the audio with it (or the page's clock where the audio
    # clock does not move, as the page reports)
    times = [s["time"] for s in samples]
    assert len(samples) >= 8 and times == sorted(times) and times[-1] - times[0] > 4.0, times
    if clock == "audio":
        # playing all along (a sample may catch the audio just ended, the page not yet drawn since)
        assert all(not s["audioPaused"] or s["audioTime"] >= duration for s in samples), \
            [(s["time"], s["audioTime"], s["audioPaused"]) for s in samples]
        assert all(abs(s["time"] - s["audioTime"]) < 0.35 for s in samples), \
            [(s["time"], s["audioTime"]) for s in samples]
    else:
        assert clock == "performance", clock
    # the head moved, and each pose shown is the server's motion at the time the page showed it
    fields = state(drv, "anim3dState.lastForm")
    assert fields["emotion"] == "happy" and fields["seed"] == "3"
    motion = reference(server, fields, "json")
    jaw = [s["weights"]["jawOpen"] for s in samples]
    assert max(jaw) - min(jaw) > 0.05, jaw
    assert len({tuple(np.round(s["influences"], 4)) for s in samples}) >= len(samples) // 2
    for s in samples:
        want = pose_at(motion, s["time"])
        got = s["weights"]
        assert set(got) == set(want)
        worst = max(abs(got[k] - want[k]) for k in want)
        assert worst < 2e-3, (s["time"], worst)

    # the screenshot shows the head (not a blank canvas)
    assert shot is not None and shot.stat().st_size > 20_000
    canvas = drv.find_element(By.ID, "canvas")
    box = (canvas.location["x"], canvas.location["y"], canvas.location["x"] + canvas.size["width"],
           canvas.location["y"] + canvas.size["height"])
    pixels = np.asarray(Image.open(shot).convert("L").crop(box), np.float32)
    assert pixels.std() > 10, pixels.std()

    # the downloads are the server's bytes for the same request
    for kind in ("glb", "csv"):
        drv.find_element(By.ID, f"download-{kind}").click()
        path = drv.downloads / f"hello.{kind}"
        wait_for(f"hello.{kind}", lambda p=path: p.exists() and p.stat().st_size > 0, 60)
        time.sleep(0.2)
        assert path.read_bytes() == reference(server, fields, kind), kind
    assert console_errors(drv) == []


@pytest.mark.slow
def test_a_recording_and_a_live_stream_from_the_microphone(browser, server):
    """Chromium's fake microphone plays examples/hello.wav: a recording is animated, and live mode moves the head
    with the frames the stream sends back."""
    from selenium.webdriver.common.by import By

    drv = browser
    open_page(drv, server)
    drv.find_element(By.ID, "record").click()
    wait_for("recording", lambda: state(drv, "anim3dState.phase") in ("recording", "error"), 30)
    assert state(drv, "anim3dState.error") is None, state(drv, "anim3dState.error")
    time.sleep(2.5)
    drv.find_element(By.ID, "record").click()
    wait_for("the recording", lambda: state(drv, "anim3dState.status").startswith("recording.wav"), 30)
    seconds = drv.execute_script("const a = document.getElementById('audio'); return isFinite(a.duration) ? "
                                 "a.duration : null")
    drv.find_element(By.ID, "animate").click()
    wait_for("the answer", lambda: state(drv, "anim3dState.phase") in ("playing", "done", "error"), 180)
    assert state(drv, "anim3dState.error") is None, state(drv, "anim3dState.error")
    duration = state(drv, "anim3dState.duration")
    assert 2.0 < duration < 4.0, duration  # about the 2.5 s recorded
    if seconds is not None:
        assert abs(seconds - duration) < 0.1, (seconds, duration)
    wait_for("the end of the clip", lambda: state(drv, "anim3dState.phase") == "done", 30)

    drv.find_element(By.ID, "live").click()
    wait_for("live frames", lambda: state(drv, "anim3dState.liveFrames") >= 45 or state(drv, "anim3dState.error"),
             120)
    assert state(drv, "anim3dState.error") is None, state(drv, "anim3dState.error")
    assert state(drv, "anim3dState.liveChannels")[17] == "jawOpen"
    jaw = []
    for _ in range(10):
        jaw.append(drv.execute_script("return anim3dState.sample().weights.jawOpen"))
        time.sleep(0.15)
    frames = state(drv, "anim3dState.liveFrames")
    drv.find_element(By.ID, "live").click()
    print(f"recorded {duration:.2f} s; live: {frames} frames when stopped, jawOpen {np.round(jaw, 3).tolist()}")
    wait_for("the end of the stream", lambda: state(drv, "anim3dState.phase") in ("idle", "error"), 180)
    assert state(drv, "anim3dState.status").startswith("Live stream ended"), state(drv, "anim3dState.status")
    assert len(set(jaw)) > 1, jaw  # the head moved with the frames
    assert state(drv, "anim3dState.sample().weights.jawOpen") == 0  # and rests after the end
    assert console_errors(drv) == []
