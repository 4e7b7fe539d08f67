"""Optional dependencies: a clear error naming the extra to install, not an ImportError."""

from __future__ import annotations

import contextlib
import importlib
import os
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
    """A MediaPipe solution (FaceMesh, FaceDetection) built and first run with its native logs silenced."""

    def __init__(self, make: Callable[[], Any]):
        with native_stderr_silenced():
            self._solution = make()
        self._started = False

    def process(self, image):
        if self._started:
            return self._solution.process(image)
        with native_stderr_silenced():
            out = self._solution.process(image)
        self._started = True
        return out

    def close(self) -> None:
        self._solution.close()

    def __enter__(self) -> "QuietSolution":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def mediapipe(purpose: str) -> ModuleType:
    """The mediapipe module (the ``video`` extra), imported without its protobuf deprecation warning."""
    import warnings

    # mediapipe 0.10.14 calls a deprecated protobuf API on every frame; hide that one warning
    warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
    with warnings.catch_warnings(), native_stderr_silenced():
        warnings.simplefilter("ignore")
        return require("mediapipe", purpose)
