"""Reading a Motion from any file the exporters accept (Motion NPZ or Live Link Face CSV)."""

from __future__ import annotations

import os

from anim3d.errors import InputError
from anim3d.motion import Motion

MOTION_INPUTS = (".npz", ".csv")


def load_motion(path: str | os.PathLike) -> Motion:
    """A Motion from ``.npz`` (anim3d Motion) or ``.csv`` (Live Link Face take)."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext == ".npz":
        return Motion.load_npz(path)
    if ext == ".csv":
        from exporters.livelink import read_livelink_csv

        return read_livelink_csv(path)[0]
    raise InputError(path, f"unsupported motion file type {ext or '(none)'}: use a Motion .npz or a Live Link Face .csv")
