"""Tracked face landmarks -> ARKit-52 weights and head pose, solved against a head model.

Per frame: remove the head pose with a similarity Procrustes of the rigid landmarks (those
no shape of the head moves) onto the head's neutral landmark vertices, subtract the
speaker's identity offset (their face minus the head, estimated on the clip's most neutral
frames), then solve the weights by bounded least squares in [0, 1] against the head's morph
targets at the landmark vertices (scipy ``lsq_linear`` on a K x K reduced system, ~10 ms a
frame). Landmarks are smoothed in time first. Gaze (eyeLook*) comes from the iris
landmarks, which the mesh basis does not see; tongueOut is not solved.

Plain least squares is not enough on MediaPipe's landmarks (measured on renders of the open
head with known weights, tests/test_roundtrip_tracking.py): opposing lip shapes fit the
noise, MediaPipe follows the chin and the face outline only part of the way, and the pose
removal leaves ~1 mm of error under head motion. So the solve adds: an L1 cost per shape
(``sparsity``, larger for the less common shapes), rows for landmark-pair distances (lid
gaps, lip gaps, brow heights: untouched by pose errors), and a lower weight for the outline.
An optional calibration, measured by tracking renders of the head
(``anim3d.data.importers.textured``): ``basis``, a shape basis of what the tracker sees of each
morph target (``tracked_basis``). On renders of the open head it does not reach r >= 0.9 on
the small mouth shapes under head sway; the
calibrated ``decoder.LandmarkDecoder`` does (tests/test_roundtrip_tracking.py), but only on
renders, so this solve remains the importer's default for real videos.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anim3d.channels import ARKIT_NAMES, EYE_MAX_DOWN, EYE_MAX_UP, EYE_MAX_YAW, INDEX
from anim3d.landmarks import (FACE_OVAL, LEFT_EYE_INNER, LEFT_EYE_OUTER, LEFT_IRIS_CENTER, RIGHT_EYE_INNER,
                              RIGHT_EYE_OUTER, RIGHT_IRIS_CENTER, RIGID_LANDMARKS)
from anim3d.tracking import (
    eye_openness,
    mouth_opening,
    rotvec_from_matrix,
    similarity_align,
    to_metric_image,
)
from anim3d.flame.head import HeadModel

GAZE_CHANNELS = tuple(n for n in ARKIT_NAMES if n.startswith("eyeLook"))
# Channels the landmarks cannot tell: gaze (solved from the irises instead) and the tongue.
UNSOLVED_CHANNELS = GAZE_CHANNELS + ("tongueOut",)
PRIMARY_CHANNELS = (
    "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthSmileLeft", "mouthSmileRight",
    "eyeBlinkLeft", "eyeBlinkRight", "browInnerUp", "browDownLeft", "browDownRight",
    "browOuterUpLeft", "browOuterUpRight",
)
CHIN, NOSE_TIP = 152, 1  # MediaPipe landmarks
# Landmark pairs whose distance the solve also fits: eyelid gaps, inner and outer lip gaps,
# mouth width, mouth corners to the eyes and nose, brows to the eyes, lips to the nose.
DISTANCE_PAIRS = np.array([
    (159, 145), (158, 153), (160, 144), (386, 374), (385, 380), (387, 373),
    (13, 14), (82, 87), (312, 317), (81, 178), (311, 402), (0, 17),
    (61, 291), (78, 308), (61, 33), (291, 263), (61, 1), (291, 1),
    (105, 159), (334, 386), (107, 133), (336, 362), (70, 33), (300, 263),
    (0, 2), (17, 2),
])
EYEBALL_RADIUS_OVER_EYE_WIDTH = 0.4  # ~12 mm eyeball radius / ~30 mm eye-corner distance


@dataclass
class SolverConfig:
    smooth_sigma_frames: float = 0.8  # Gaussian smoothing of the aligned landmarks over time
    x_weight: float = 1.0
    z_weight: float = 0.3  # MediaPipe's depth is less reliable than x, y
    ridge: float = 1e-4  # Tikhonov weight, relative to each shape's squared size
    # L1 cost per unit weight (weights are >= 0, so it is linear), relative to each shape's
    # squared size: about the weight below which a channel is switched off. Without it,
    # pairs of opposing shapes (mouthRoll* against mouthUpperUp/LowerDown...) fit noise
    # and stay half on at rest.
    sparsity: float = 0.02
    neutral_fraction: float = 0.1  # share of frames taken as the neutral reference (neutral_frames)
    # Extra L1 factor for the less common shapes (everything but PRIMARY_CHANNELS): a prior
    # that an opening mouth is the jaw, lips apart with the jaw shut are rarer. MediaPipe
    # underestimates how far the chin drops, which otherwise lets mouthRollLower/ShrugLower/
    # LowerDown take over from jawOpen (on the evaldata speakers mouthRollLower sat at 0.37
    # on average with a factor of 5). At 40 the secondary shapes only come in for motions
    # the primary ones cannot explain at all: the import is mostly the 13 primary shapes.
    secondary_cost: float = 40.0
    # weight of the face-outline landmarks (FACE_OVAL): MediaPipe places the silhouette contour from the
    # image edge of the face and follows a dropping jaw only about a third of the way, so it counts less
    outline_weight: float = 0.2
    distance_weight: float = 3.0  # weight of the landmark-pair distance rows against positions
    solve_gaze: bool = True
    vertical_fov_deg: float = 30.0  # assumed camera, for the head's depth in metres
    rigid_tolerance: float = 0.001  # metres: rigid landmarks a shape moves more are left out of the pose


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

    def __init__(self, head: HeadModel, landmark_vertices: np.ndarray | None = None, config: SolverConfig | None = None,
                 basis: np.ndarray | None = None):
        if landmark_vertices is None:
            if "mediapipe_468" not in head.parts:
                raise ValueError(f"head {head.name!r} has no parts['mediapipe_468'] landmark map")
            landmark_vertices = head.parts["mediapipe_468"]
        idx = np.asarray(landmark_vertices, dtype=np.int64)
        if idx.shape != (468,):
            raise ValueError(f"landmark_vertices must hold 468 vertex indices, got shape {idx.shape}")
        self.config = config or SolverConfig()
        self.neutral = np.asarray(head.vertices, np.float64)[idx]  # 468 x 3
        self.active = np.array([n not in UNSOLVED_CHANNELS for n in ARKIT_NAMES])
        mesh_basis = np.asarray(head.morph_targets, np.float64)[:, idx]  # 52 x 468 x 3: the morph targets at the landmarks
        basis = mesh_basis if basis is None else np.asarray(basis, np.float64)
        if basis.shape != (52, 468, 3):
            raise ValueError(f"basis must be 52 x 468 x 3, got {basis.shape}")
        self.active &= np.abs(basis).reshape(52, -1).max(1) > 0
        # pose from the rigid landmarks that none of this head's shapes moves (brows move the
        # forehead, jawOpen the lower cheeks): expressions must not shift the pose. Chosen on
        # the mesh itself, also for a tracked basis (which is measured with this same set).
        moved = np.linalg.norm(mesh_basis[self.active][:, RIGID_LANDMARKS], axis=-1).max(0)  # R
        still = RIGID_LANDMARKS[moved < self.config.rigid_tolerance]
        self.rigid = still if len(still) >= 8 else RIGID_LANDMARKS
        w = np.array([self.config.x_weight, 1.0, self.config.z_weight])[None, :] * np.ones((468, 1))  # 468 x 3
        w[list(FACE_OVAL)] *= self.config.outline_weight
        b = (basis[self.active] * np.sqrt(w)).reshape(int(self.active.sum()), -1).T  # 1404 x K
        # distances between landmark pairs: unlike positions, untouched by errors of the
        # per-frame pose removal; linearised at the rest shape (d|pa - pb| = u . (dpa - dpb))
        pa, pb = DISTANCE_PAIRS[:, 0], DISTANCE_PAIRS[:, 1]
        u = self.neutral[pa] - self.neutral[pb]
        u /= np.linalg.norm(u, axis=-1, keepdims=True)  # F x 3
        self._dist_rows = np.einsum("kfc,fc->fk", basis[:, pa] - basis[:, pb], u)[:, self.active]  # F x K
        self._dist_scale = np.sqrt(self.config.distance_weight)
        b = np.concatenate([b, self._dist_scale * self._dist_rows], axis=0)  # (1404 + F) x K
        gram = b.T @ b
        diag = np.diag(gram).copy()  # K: each shape's own squared size at the landmarks
        # per-channel scaling: a shape that moves few landmarks (a blink) is penalised as
        # lightly, relative to its size, as one that moves many (jawOpen)
        gram += self.config.ridge * np.diag(diag) + 1e-9 * diag.mean() * np.eye(len(diag))
        self._chol = np.linalg.cholesky(gram)  # K x K lower, gram = L L^T
        names = [n for n, a in zip(ARKIT_NAMES, self.active) if a]
        factor = np.array([1.0 if n in PRIMARY_CHANNELS else self.config.secondary_cost for n in names])
        self._l1 = self.config.sparsity * diag * factor  # K
        self._bt = b.T  # K x (1404 + F)
        self._sqrt_w = np.sqrt(w)
        self._basis = basis
        # the point the head turns about (the Motion convention: rotation on the neck joint,
        # translation of the root), whose movement is the head translation
        joints = np.asarray(getattr(head, "joints", np.zeros((0, 3))), np.float64)
        self.pivot = joints[1] if len(joints) > 1 else np.zeros(3)

    # ------------------------------------------------------------- pose
    def align(self, points: np.ndarray):
        """T x 478 x 3 (project frame, image-height units) -> aligned T x 478 x 3 in the
        head's frame (metres), scale s (T, image units per metre), R (T x 3 x 3), t (T x 3)
        with points ~= s R aligned + t."""
        return align_to_head(points, self.neutral, return_transform=True, rigid=self.rigid)

    # ---------------------------------------------------------- weights
    def solve_weights(self, displacement: np.ndarray, distances: np.ndarray | None = None) -> np.ndarray:
        """T x 468 x 3 displacements from the neutral (metres) and T x F changes of the
        DISTANCE_PAIRS distances (metres; zeros when not given) -> T x 52 weights in [0, 1]."""
        from scipy.linalg import solve_triangular
        from scipy.optimize import lsq_linear

        d = (displacement * self._sqrt_w).reshape(len(displacement), -1)  # T x 1404
        if distances is None:
            distances = np.zeros((len(d), len(DISTANCE_PAIRS)))
        d = np.concatenate([d, self._dist_scale * distances], axis=1)  # T x (1404 + F)
        rhs = d @ self._bt.T - self._l1  # T x K  (B^T d - l1)
        # min 1/2 |B w - d|^2 + ridge/2 |w|^2 + l1 . w  ==  min 1/2 |L^T w - L^-1 (B^T d - l1)|^2 + const
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
        ref = neutral_frames(landmarks, aspect, cfg.neutral_fraction) if neutral is None else np.asarray(neutral)
        dist = pair_distances(points) / s[:, None]  # T x F, metres
        mesh = aligned[:, :468]
        rotation = rotvec_from_matrix(r)
        identity = (mesh[ref] - self.neutral).mean(0)  # 468 x 3: the speaker's face minus the head's
        disp = mesh - self.neutral - identity
        weights = self.solve_weights(disp, dist - dist[ref].mean(0))
        if cfg.solve_gaze:
            weights[:, [INDEX[n] for n in GAZE_CHANNELS]] = gaze_weights(aligned)[:, :]
        fitted = np.einsum("tk,knc->tnc", weights, self._basis)
        residual = np.sqrt(((fitted - disp) ** 2).sum(-1).mean(-1))
        # pinhole camera: depth = focal (image-height units) / (image units per metre)
        f = 0.5 / np.tan(np.radians(cfg.vertical_fov_deg) / 2)
        depth = f / s
        centre = s[:, None] * (r @ self.pivot) + t  # T x 3: image position of the pivot, image-height units
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


def pair_distances(points: np.ndarray) -> np.ndarray:
    """T x N x 3 -> T x F distances of the DISTANCE_PAIRS landmarks."""
    return np.linalg.norm(points[:, DISTANCE_PAIRS[:, 0]] - points[:, DISTANCE_PAIRS[:, 1]], axis=-1)


def align_to_head(points: np.ndarray, neutral: np.ndarray, return_transform: bool = False, rigid: np.ndarray | None = None):
    """T x N x 3 landmarks (project frame, N >= 468) -> the same points in the head's frame:
    a similarity Procrustes of the rigid landmarks onto ``neutral`` (468 x 3, metres) per
    frame, inverted. With ``return_transform`` also s (T), R (T x 3 x 3), t (T x 3) such
    that points ~= s R aligned + t."""
    rigid = RIGID_LANDMARKS if rigid is None else rigid
    s, r, t = similarity_align(neutral[rigid], points[:, rigid])
    aligned = np.einsum("tji,tnj->tni", r, points - t[:, None, :]) / s[:, None, None]
    return (aligned, s, r, t) if return_transform else aligned


def neutral_frames(landmarks: np.ndarray, aspect: float, fraction: float) -> np.ndarray:
    """Indices of the clip's most neutral frames: among the frames with the eyes at least as
    open as the median, the ``fraction`` with the smallest sum of standardised inner-lip gap,
    chin drop, lower lip to nose and brow height (each over the eye distance). Lips alone are
    not enough: lips pressed together over an open jaw (mouthClose) are closed too, and
    MediaPipe sees little of the chin's drop."""
    n = len(landmarks)
    count = max(1, int(round(fraction * n)))
    eyes = eye_openness(landmarks, aspect).mean(-1)
    open_eyes = np.flatnonzero(eyes >= np.median(eyes))
    lm = landmarks[open_eyes]
    p = to_metric_image(lm, aspect)
    iod = np.linalg.norm(p[:, LEFT_EYE_OUTER] - p[:, RIGHT_EYE_OUTER], axis=-1)

    def d(i: int, j: int) -> np.ndarray:
        return np.linalg.norm(p[:, i] - p[:, j], axis=-1) / iod

    brows = (d(105, 159) + d(334, 386) + d(107, 133) + d(336, 362)) / 4
    score = (_standardised(mouth_opening(lm, aspect)) + _standardised(d(CHIN, NOSE_TIP))
             + _standardised(d(17, 2)) + _standardised(brows))
    return open_eyes[np.argsort(score, kind="stable")[:count]]


def _standardised(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / max(float(x.std()), 1e-12)


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
