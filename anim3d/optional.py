"""Optional dependencies: a clear error naming the extra to install, not an ImportError."""

from __future__ import annotations

import importlib
from types import ModuleType

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
