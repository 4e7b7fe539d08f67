"""Tracked face landmarks -> ARKit-52 weights and head pose, solved against a head model.

Per frame: remove the head pose with a similarity Procrustes of the rigid landmarks onto
the head's neutral landmark vertices, subtract the speaker's identity offset (the
difference between their face and the head, estimated on the clip's most neutral frames),
then solve the 52 weights by bounded least squares in [0, 1] against the head's morph
targets at the landmark vertices (scipy ``lsq_linear`` on a 52 x 52 reduced system, so a
frame costs about a millisecond). Landmarks are smoothed in time first. Gaze (eyeLook*)
comes from the iris landmarks, which the mesh basis does not see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anim3d.channels import ARKIT_NAMES, EYE_MAX_DOWN, EYE_MAX_UP, EYE_MAX_YAW, INDEX
from anim3d.tracking import (
    LEFT_EYE_INNER,
    LEFT_EYE_OUTER,
    LEFT_IRIS_CENTER,
    RIGHT_EYE_INNER,
    RIGHT_EYE_OUTER,
    RIGHT_IRIS_CENTER,
    RIGID_LANDMARKS,
    eye_openness,
    mouth_opening,
    rotvec_from_matrix,
    similarity_align,
    to_metric_image,
)
from flame.head import HeadModel

GAZE_CHANNELS = tuple(n for n in ARKIT_NAMES if n.startswith("eyeLook"))
# Channels the landmarks cannot tell: gaze (solved from the irises instead) and the tongue.
UNSOLVED_CHANNELS = GAZE_CHANNELS + ("tongueOut",)
EYEBALL_RADIUS_OVER_EYE_WIDTH = 0.4  # ~12 mm eyeball radius / ~30 mm eye-corner distance


@dataclass
class SolverConfig:
    smooth_sigma_frames: float = 0.8  # Gaussian smoothing of the aligned landmarks over time
    z_weight: float = 0.3  # MediaPipe's depth is less reliable than x, y
    ridge: float = 1e-4  # Tikhonov weight, relative to the basis' mean diagonal
    neutral_fraction: float = 0.1  # share of frames (mouth most closed, eyes open) taken as neutral
    solve_gaze: bool = True
    vertical_fov_deg: float = 30.0  # assumed camera, for the head's depth in metres


@dataclass
class Solved:
    """weights T x 52 in [0, 1]; head_rotation T x 3 axis-angle (relative to facing the
    camera upright); head_translation T x 3 metres (relative to the clip's median position);
    residual T (RMS landmark error after the fit, metres)."""

    weights: np.ndarray
    head_rotation: np.ndarray
    head_translation: np.ndarray
    residual: np.ndarray


class ArkitSolver:
    """Fits ARKit weights to MediaPipe landmarks against ``head``'s morph targets.

    landmark_vertices: 468 vertex indices, the head vertex of each MediaPipe mesh landmark
    (default ``head.parts["mediapipe_468"]``).
    """

    def __init__(self, head: HeadModel, landmark_vertices: np.ndarray | None = None, config: SolverConfig | None = None):
        if landmark_vertices is None:
            if "mediapipe_468" not in head.parts:
                raise ValueError(f"head {head.name!r} has no parts['mediapipe_468'] landmark map")
            landmark_vertices = head.parts["mediapipe_468"]
        idx = np.asarray(landmark_vertices, dtype=np.int64)
        if idx.shape != (468,):
            raise ValueError(f"landmark_vertices must hold 468 vertex indices, got shape {idx.shape}")
        self.config = config or SolverConfig()
        self.neutral = np.asarray(head.vertices, np.float64)[idx]  # 468 x 3
        basis = np.asarray(head.morph_targets, np.float64)[:, idx]  # 52 x 468 x 3
        self.active = np.array([n not in UNSOLVED_CHANNELS for n in ARKIT_NAMES])
        w = np.array([1.0, 1.0, self.config.z_weight])
        b = (basis[self.active] * np.sqrt(w)).reshape(int(self.active.sum()), -1).T  # 1404 x K
        gram = b.T @ b
        gram += self.config.ridge * np.mean(np.diag(gram)) * np.eye(len(gram))
        self._chol = np.linalg.cholesky(gram)  # K x K lower, gram = L L^T
        self._bt = b.T  # K x 1404
        self._sqrt_w = np.sqrt(w)
        self._basis = basis

    # ------------------------------------------------------------- pose
    def align(self, points: np.ndarray):
        """T x 478 x 3 (project frame, image-height units) -> aligned T x 478 x 3 in the
        head's frame (metres), scale s (T, image units per metre), R (T x 3 x 3), t (T x 3)
        with points ~= s R aligned + t."""
        rigid = RIGID_LANDMARKS
        s, r, t = similarity_align(self.neutral[rigid], points[:, rigid])
        aligned = np.einsum("tji,tnj->tni", r, points - t[:, None, :]) / s[:, None, None]
        return aligned, s, r, t

    # ---------------------------------------------------------- weights
    def solve_weights(self, displacement: np.ndarray) -> np.ndarray:
        """T x 468 x 3 displacements from the neutral (metres) -> T x 52 weights in [0, 1]."""
        from scipy.linalg import solve_triangular
        from scipy.optimize import lsq_linear

        d = (displacement * self._sqrt_w).reshape(len(displacement), -1)  # T x 1404
        rhs = d @ self._bt.T  # T x K  (B^T d)
        # min |B w - d|^2 + ridge |w|^2  ==  min |L^T w - L^-1 B^T d|^2 (up to a constant)
        y = solve_triangular(self._chol, rhs.T, lower=True).T  # T x K
        lt = self._chol.T
        k = lt.shape[0]
        out = np.zeros((len(d), len(ARKIT_NAMES)))
        active = np.flatnonzero(self.active)
        for i in range(len(d)):
            res = lsq_linear(lt, y[i], bounds=(np.zeros(k), np.ones(k)), method="bvls")
            out[i, active] = res.x
        return out

    def fit(self, landmarks: np.ndarray, aspect: float = 1.0, neutral: np.ndarray | None = None) -> Solved:
        """T x 478 x 3 MediaPipe landmarks -> Solved (weights, pose, residual).

        aspect: the video's W / H. neutral: indices of frames with a neutral face (default:
        ``neutral_frames``, the most closed mouths with open eyes).
        """
        from scipy.ndimage import gaussian_filter1d

        cfg = self.config
        points = to_metric_image(landmarks, aspect)  # T x 478 x 3
        if cfg.smooth_sigma_frames > 0 and len(points) > 1:
            points = gaussian_filter1d(points, cfg.smooth_sigma_frames, axis=0, mode="nearest")
        aligned, s, r, t = self.align(points)
        mesh = aligned[:, :468]
        ref = neutral_frames(landmarks, aspect, cfg.neutral_fraction) if neutral is None else np.asarray(neutral)
        identity = (mesh[ref] - self.neutral).mean(0)  # 468 x 3: the speaker's face minus the head's
        disp = mesh - self.neutral - identity
        weights = self.solve_weights(disp)
        if cfg.solve_gaze:
            weights[:, [INDEX[n] for n in GAZE_CHANNELS]] = gaze_weights(aligned)[:, :]
        fitted = np.einsum("tk,knc->tnc", weights, self._basis)
        residual = np.sqrt(((fitted - disp) ** 2).sum(-1).mean(-1))
        rotation = rotvec_from_matrix(r)
        # pinhole camera: depth = focal (image-height units) / (image units per metre)
        f = 0.5 / np.tan(np.radians(cfg.vertical_fov_deg) / 2)
        depth = f / s
        centre = t  # image position of the head's origin, image-height units
        x = (centre[:, 0] - aspect / 2) * depth / f
        y = (centre[:, 1] + 0.5) * depth / f
        translation = np.stack([x, y, -depth], axis=-1)
        translation -= np.median(translation, axis=0)
        return Solved(
            weights=np.clip(weights, 0, 1).astype(np.float32),
            head_rotation=rotation.astype(np.float32),
            head_translation=translation.astype(np.float32),
            residual=residual.astype(np.float32),
        )


def neutral_frames(landmarks: np.ndarray, aspect: float, fraction: float) -> np.ndarray:
    """Indices of the clip's most neutral frames: mouth among the most closed ``fraction``
    of frames, taken from those with the eyes at least as open as the median."""
    n = len(landmarks)
    count = max(1, int(round(fraction * n)))
    eyes = eye_openness(landmarks, aspect).mean(-1)
    open_eyes = np.flatnonzero(eyes >= np.median(eyes))
    mouth = mouth_opening(landmarks, aspect)[open_eyes]
    return open_eyes[np.argsort(mouth, kind="stable")[:count]]


def gaze_weights(aligned: np.ndarray) -> np.ndarray:
    """T x 478 x 3 pose-aligned landmarks (head frame) -> T x 8 eyeLook* weights (GAZE_CHANNELS order).

    Each iris centre's offset from the middle of its eye corners, over the eye's width,
    turned into yaw/pitch angles with an eyeball radius of 0.4 eye widths; the clip's median
    offset counts as looking straight ahead (talking-head footage mostly looks at the camera).
    """
    out = {}
    for side, iris, inner, outer in (("Left", LEFT_IRIS_CENTER, LEFT_EYE_INNER, LEFT_EYE_OUTER),
                                     ("Right", RIGHT_IRIS_CENTER, RIGHT_EYE_INNER, RIGHT_EYE_OUTER)):
        centre = 0.5 * (aligned[:, inner] + aligned[:, outer])  # T x 3
        width = np.linalg.norm(aligned[:, outer] - aligned[:, inner], axis=-1)  # T
        off = (aligned[:, iris] - centre) / width[:, None]
        off -= np.median(off, axis=0)
        r = EYEBALL_RADIUS_OVER_EYE_WIDTH
        yaw = np.arcsin(np.clip(off[:, 0] / r, -1, 1))  # + towards the subject's left (+X)
        pitch = -np.arcsin(np.clip(off[:, 1] / r, -1, 1))  # + looks down (-Y)
        toward_left = np.clip(yaw / EYE_MAX_YAW, -1, 1)
        look_out = np.clip(toward_left if side == "Left" else -toward_left, 0, 1)
        look_in = np.clip(-toward_left if side == "Left" else toward_left, 0, 1)
        out[f"eyeLookOut{side}"] = look_out
        out[f"eyeLookIn{side}"] = look_in
        out[f"eyeLookDown{side}"] = np.clip(pitch / EYE_MAX_DOWN, 0, 1)
        out[f"eyeLookUp{side}"] = np.clip(-pitch / EYE_MAX_UP, 0, 1)
    return np.stack([out[n] for n in GAZE_CHANNELS], axis=-1)
