"""A Motion from and to any file format anim3d reads or writes, chosen by the file's extension."""

from __future__ import annotations

import os

from anim3d.errors import InputError
from anim3d.motion import Motion

MOTION_INPUTS = (".npz", ".csv")
MOTION_OUTPUTS = (".glb", ".csv", ".npz", ".mp4")


def load_motion(path: str | os.PathLike) -> Motion:
    """A Motion from ``.npz`` (anim3d Motion) or ``.csv`` (Live Link Face take)."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext == ".npz":
        return Motion.load_npz(path)
    if ext == ".csv":
        from anim3d.exporters.livelink import read_livelink_csv

        return read_livelink_csv(path)[0]
    raise InputError(path, f"unsupported motion file type {ext or '(none)'}: use a Motion .npz or a Live Link Face .csv")


def files_written(path: str | os.PathLike, audio=None) -> list[str]:
    """The files ``save_motion(motion, path, audio=audio)`` creates: a .glb with audio also writes a .wav beside it."""
    from anim3d.exporters.gltf import sidecar_path

    path = os.fspath(path)
    return [path, str(sidecar_path(path))] if audio is not None and path.lower().endswith(".glb") else [path]


def save_motion(motion: Motion, path: str | os.PathLike, *, audio=None, size: int = 512) -> None:
    """Write ``motion`` in the format ``path``'s extension names (``MOTION_OUTPUTS``).

    ``audio`` (a file path or an ``anim3d.audio.Audio``): a .glb gets it beside itself as .wav (the file's own
    sound, ``anim3d.audio.save_sidecar_wav``), an .mp4 gets it muxed; ``size``: an .mp4's width and height."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext == ".npz":
        motion.save_npz(path)
    elif ext == ".glb":
        from anim3d.exporters.gltf import write_glb

        write_glb(motion, path, audio=audio)
    elif ext == ".csv":
        from anim3d.exporters.livelink import write_livelink_csv

        write_livelink_csv(motion, path)
    elif ext == ".mp4":
        from anim3d.exporters.preview_video import write_preview_mp4

        write_preview_mp4(motion, path, audio=audio, size=size)
    else:
        raise InputError(path, f"unknown output format {ext or '(none)'} (use {', '.join(MOTION_OUTPUTS)})")
