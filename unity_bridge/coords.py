"""Coordinate conversion at the edge: anim3d's right-handed frame -> Unity's left-handed frame.

anim3d (and glTF): right-handed, Y up, the face looking down +Z, so the subject's left is +X.
Unity: left-handed, Y up, a humanoid facing +Z. Mirroring X maps one onto the other (the
same choice UniVRM makes for VRM 1.0): a point (x, y, z) -> (-x, y, z); a rotation with
quaternion (x, y, z, w) -> (x, -y, -z, w) (a rotation axis is a pseudovector: it mirrors
and flips sign).
"""

from __future__ import annotations

import numpy as np


def rotvec_to_quat(rotvec: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 4) quaternions (x, y, z, w), w >= 0."""
    rv = np.asarray(rotvec, np.float64)
    angle = np.linalg.norm(rv, axis=-1, keepdims=True)  # ... x 1
    half = 0.5 * angle
    # sin(a/2)/a, with its limit 1/2 near zero
    k = np.where(angle > 1e-8, np.sin(half) / np.maximum(angle, 1e-30), 0.5 - angle**2 / 48.0)
    q = np.concatenate([rv * k, np.cos(half)], axis=-1)
    return np.where(q[..., 3:4] < 0, -q, q)


def unity_position(p: np.ndarray) -> np.ndarray:
    """(..., 3) right-handed position -> Unity left-handed position."""
    p = np.asarray(p, np.float64)
    return p * np.array([-1.0, 1.0, 1.0])


def unity_quat(q: np.ndarray) -> np.ndarray:
    """(..., 4) right-handed quaternion (x, y, z, w) -> Unity left-handed quaternion (x, y, z, w)."""
    q = np.asarray(q, np.float64)
    return q * np.array([1.0, -1.0, -1.0, 1.0])


def unity_quat_from_rotvec(rotvec: np.ndarray) -> np.ndarray:
    return unity_quat(rotvec_to_quat(rotvec))
