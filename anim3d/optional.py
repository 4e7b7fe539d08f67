"""Optional dependencies: a clear error naming the extra to install, not an ImportError."""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
from types import ModuleType
from typing import Any, Callable, Iterator

from anim3d.errors import Anim3dError

# module -> (pip distribution, anim3d extra)
_EXTRAS = {
    "mediapipe": ("mediapipe==0.10.14", "video"),
    "cv2": ("opencv-contrib-python", "video"),
    "skimage": ("scikit-image", "video"),
    "pocketsphinx": ("pocketsphinx", "core"),  # a core dependency since the default model hears its phones
    "matplotlib": ("matplotlib", "eval"),
    "fastapi": ("fastapi", "serve"),
    "uvicorn": ("uvicorn", "serve"),
    "multipart": ("python-multipart", "serve"),
    "websockets": ("websockets", "serve"),
    "distributed": ("dask[distributed]", "cluster"),
    "dask": ("dask[distributed]", "cluster"),
}


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` (e.g. "mediapipe" or "skimage.data"), or raise Anim3dError saying what to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        dist, extra = _EXTRAS.get(top, (top, "all"))
        if extra == "core":
            raise Anim3dError(f"{purpose} needs the package {dist}, which is not installed; install it with: pip install {dist}") from None
        raise Anim3dError(
            f"{purpose} needs the optional package {dist}, which is not installed; "
            f"install it with: pip install 'anim3d[{extra}]'"
        ) from None


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the body. MediaPipe's C++ side (absl, TFLite) logs
    there when a graph starts and on its first frame, whatever GLOG/TF_CPP settings say; anim3d's
    own errors are exceptions, so nothing of ours is lost."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class QuietSolution:
    """A MediaPipe solution (FaceMesh, FaceDetection) built and run for its first ``QUIET_CALLS`` images with its
    native logs silenced: a tracking graph starts its landmark model on a later frame than its detector."""

    QUIET_CALLS = 5

    def __init__(self, make: Callable[[], Any]):
        with native_stderr_silenced():
            self._solution = make()
        self._calls = 0

    def process(self, image):
        if self._calls >= self.QUIET_CALLS:
            return self._solution.process(image)
        self._calls += 1
        with native_stderr_silenced():
            return self._solution.process(image)

    def close(self) -> None:
        self._solution.close()

    def __enter__(self) -> "QuietSolution":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# the lines MediaPipe's C++ side (absl, glog, TFLite) writes to file descriptor 2
_NATIVE_LOG = re.compile(rb"(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.]+:\d+\]|INFO: Created TensorFlow Lite"
                         rb"|WARNING: All log messages before absl::InitializeLog)")


def _without_native_logs(line: bytes) -> bytes:
    """A line of stderr without the native log that starts in it (a progress bar's text may precede it)."""
    m = _NATIVE_LOG.search(line)
    return line if m is None else line[: m.start()]
_filter: list = []  # the running filter's thread, when started


def filter_native_logs() -> None:
    """From now on, drop MediaPipe's native log lines from this process's stderr and pass everything else.

    The C++ graphs log from their own threads at any time while they run, straight to file descriptor 2, and
    GLOG/TF_CPP settings do not stop them; so fd 2 becomes a pipe that a thread reads, forwarding every line
    but those (``_NATIVE_LOG``) to the real stderr. For the command line only (``anim3d.cli`` turns it on):
    a library must not take over its host's stderr. At exit the pipe is drained before the process ends."""
    import atexit
    import threading

    if _filter:
        return
    sys.stderr.flush()
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward():
        pending = b""
        while True:
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            out = b""
            for line in lines:
                kept = _without_native_logs(line)
                out += kept + b"\n" if kept == line else kept
            if b"\r" in pending and _NATIVE_LOG.search(pending) is None:
                out, pending = out + pending, b""  # a progress bar's \r line: no newline will come
            if out:
                os.write(real, out)
        os.write(real, _without_native_logs(pending))

    thread = threading.Thread(target=forward, name="anim3d-stderr", daemon=True)
    thread.start()
    _filter.append(thread)

    def drain():
        # the pipe's last writer closes (the thread forwards what is left); what the graphs' threads still
        # log while the process shuts down goes nowhere
        sys.stderr.flush()
        os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
        thread.join(timeout=2.0)

    atexit.register(drain)


def mediapipe(purpose: str) -> ModuleType:
    """The mediapipe module (the ``video`` extra), imported without its protobuf deprecation warning."""
    import warnings

    # mediapipe 0.10.14 calls a deprecated protobuf API on every frame; hide that one warning
    warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
    with warnings.catch_warnings(), native_stderr_silenced():
        warnings.simplefilter("ignore")
        return require("mediapipe", purpose)
