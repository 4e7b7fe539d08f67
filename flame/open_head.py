"""The embedded open head: loading the committed asset and driving it with a Motion.

    head = load_open_head()                       # HeadModel, cached
    verts = motion_to_vertices(head, motion)      # T x V x 3 torch tensor

The asset is built by ``scripts/build_open_head.py`` (see flame/open_head_geometry.py for
why its face is MediaPipe Face Mesh geometry); ``parts["mediapipe_468"][k]`` is the vertex
that corresponds to MediaPipe landmark k.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np

from anim3d.errors import InputError
from anim3d.flame.head import HeadModel

ASSET_PATH = Path(__file__).resolve().parent / "assets" / "open_head.npz"
_REQUIRED = ("vertices", "faces", "morph_targets", "joints", "skin_weights", "uvs", "landmark_names", "landmark_indices")


def load_head_npz(path: str | os.PathLike) -> HeadModel:
    """Read a head asset written by ``scripts/build_open_head.py``."""
    from anim3d.fileio import read_npz

    data = read_npz(path, what="head asset", not_found="head asset not found (run scripts/build_open_head.py)")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise InputError(path, f"head asset is missing {', '.join(missing)}")
    parts = {k[5:]: data[k].astype(np.int64) for k in data if k.startswith("part:")}
    landmarks = {str(n): int(i) for n, i in zip(data["landmark_names"], data["landmark_indices"])}
    head = HeadModel(
        vertices=data["vertices"].astype(np.float32),
        faces=data["faces"].astype(np.int32),
        morph_targets=data["morph_targets"].astype(np.float32),
        joints=data["joints"].astype(np.float32),
        skin_weights=data["skin_weights"].astype(np.float32),
        uvs=data["uvs"].astype(np.float32),
        parts=parts,
        landmarks=landmarks,
        name="anim3d_open_head",
        texture=data["texture"].astype(np.uint8) if "texture" in data else None,
    )
    try:
        head.validate()
    except AssertionError as e:
        raise InputError(path, f"inconsistent head asset ({e})") from None
    return head


@functools.lru_cache(maxsize=1)
def load_open_head() -> HeadModel:
    """The project's own head (cached). Treat the returned arrays as read-only."""
    return load_head_npz(ASSET_PATH)


def motion_arrays(motion_or_arrays: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Normalise the inputs of ``motion_to_vertices``.

    Accepts a ``Motion``; a dict with ``blendshapes`` and optional ``head_rotation``,
    ``head_translation``, ``eye_rotations``; a tuple (blendshapes[, head_rotation[, head_translation]]);
    or a bare T x 52 (or 52) array of weights. Returns (T x 52, T x 3, T x 3, T x 2 x 3).
    """
    from anim3d.motion import Motion

    if isinstance(motion_or_arrays, Motion):
        m = motion_or_arrays
        return m.blendshapes, m.head_rotation, m.head_translation, m.eye_rotations()
    if isinstance(motion_or_arrays, dict):
        d = dict(motion_or_arrays)
    elif isinstance(motion_or_arrays, (tuple, list)):
        d = dict(zip(("blendshapes", "head_rotation", "head_translation"), motion_or_arrays))
    else:
        d = {"blendshapes": motion_or_arrays}
    bs = np.asarray(d["blendshapes"], np.float32)
    if bs.ndim == 1:
        bs = bs[None]
    t = bs.shape[0]
    rot = np.asarray(d.get("head_rotation", np.zeros((t, 3))), np.float32).reshape(t, 3)
    tr = np.asarray(d.get("head_translation", np.zeros((t, 3))), np.float32).reshape(t, 3)
    eyes = d.get("eye_rotations")
    if eyes is None:
        eyes = Motion(bs, rot, tr).eye_rotations()
    return bs, rot, tr, np.asarray(eyes, np.float32).reshape(t, 2, 3)


_TENSOR_CACHE: dict[tuple[int, str], dict] = {}


def head_tensors(head: HeadModel, device=None) -> dict:
    """Torch copies of the head's arrays on ``device`` (cached per head object and device)."""
    import torch

    dev = torch.device(device) if device is not None else torch.device("cpu")
    key = (id(head), str(dev))
    hit = _TENSOR_CACHE.get(key)
    if hit is not None and hit["_head"] is head:
        return hit
    t = {
        "_head": head,
        "v_template": torch.as_tensor(head.vertices, dtype=torch.float32, device=dev),  # V x 3
        "morphs": torch.as_tensor(head.morph_targets, dtype=torch.float32, device=dev).reshape(52, -1),  # 52 x 3V
        "joints": torch.as_tensor(head.joints, dtype=torch.float32, device=dev),  # J x 3
        "weights": torch.as_tensor(head.skin_weights, dtype=torch.float32, device=dev),  # V x J
        "parents": torch.as_tensor(head.parents, dtype=torch.long, device=dev),
        "faces": torch.as_tensor(head.faces, dtype=torch.long, device=dev),  # F x 3
    }
    if len(_TENSOR_CACHE) > 8:
        _TENSOR_CACHE.clear()
    _TENSOR_CACHE[key] = t
    return t


def head_forward(head: HeadModel, blendshapes, pose, translation, device=None):
    """Morph targets, then LBS in the FLAME joint layout, then the root translation.

    blendshapes: T x 52; pose: T x 15 axis-angle (root, neck, jaw, left eye, right eye);
    translation: T x 3. Returns T x V x 3 (torch, float32, on ``device``).
    """
    import torch

    from anim3d.flame.lbs import batch_rigid_transform, batch_rodrigues, skin

    t = head_tensors(head, device)
    dev = t["v_template"].device
    bs = torch.as_tensor(blendshapes, dtype=torch.float32, device=dev)  # T x 52
    pose = torch.as_tensor(pose, dtype=torch.float32, device=dev)  # T x 15
    tr = torch.as_tensor(translation, dtype=torch.float32, device=dev)  # T x 3
    n = bs.shape[0]
    v = t["v_template"] + (bs @ t["morphs"]).reshape(n, -1, 3)  # T x V x 3
    rot = batch_rodrigues(pose.reshape(-1, 3)).reshape(n, -1, 3, 3)  # T x J x 3 x 3
    _, rel = batch_rigid_transform(rot, t["joints"].expand(n, -1, -1), t["parents"])
    return skin(v, rel, t["weights"]) + tr[:, None, :]


def motion_to_vertices(head: HeadModel, motion_or_arrays: Any, device=None):
    """Posed vertices for every frame: T x V x 3 torch tensor.

    Morph targets from the 52 weights; head rotation on the neck joint; eye rotations from
    ``Motion.eye_rotations()`` on the eye joints; head translation on the root.
    """
    bs, rot, tr, eyes = motion_arrays(motion_or_arrays)
    t = bs.shape[0]
    pose = np.zeros((t, 5, 3), np.float32)
    pose[:, 1] = rot
    pose[:, 3] = eyes[:, 0]
    pose[:, 4] = eyes[:, 1]
    return head_forward(head, bs, pose.reshape(t, 15), tr, device)
