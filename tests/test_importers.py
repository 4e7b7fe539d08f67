"""Real-data importers: the ARKit solve on synthetic landmarks, video/Live Link/FLAME imports, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from anim3d.channels import ARKIT_NAMES, INDEX
from anim3d.data.importers.solve import GAZE_CHANNELS, UNSOLVED_CHANNELS, ArkitSolver, gaze_weights
from anim3d.errors import InputError
from anim3d import tracking as tr
from flame.head import HeadModel


def synthetic_head(seed: int = 0) -> HeadModel:
    """A head whose vertices are MediaPipe's reference landmarks (metres) and whose morph
    targets are smooth random local displacement fields (zero for the unsolved channels)."""
    rng = np.random.default_rng(seed)
    ref = tr.reference_face()[:468] * (0.095 / 0.118)  # image-height units -> ~metres
    v = len(ref)
    targets = np.zeros((52, v, 3), np.float32)
    for k, name in enumerate(ARKIT_NAMES):
        if name in UNSOLVED_CHANNELS:
            continue
        centre = ref[rng.integers(v)]
        falloff = np.exp(-((ref - centre) ** 2).sum(-1) / (2 * 0.02**2))  # 2 cm radius
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        targets[k] = 0.006 * falloff[:, None] * direction
    targets[:, tr.RIGID_LANDMARKS] *= 0.05  # the rigid points barely move
    return HeadModel(
        vertices=ref.astype(np.float32),
        faces=np.array([[0, 1, 2]], np.int32),
        morph_targets=targets,
        joints=np.zeros((5, 3), np.float32),
        skin_weights=np.tile(np.array([1, 0, 0, 0, 0], np.float32), (v, 1)),
        parts={"mediapipe_468": np.arange(v)},
        name="synthetic",
    )


def smooth_weights(rng, t: int, k: int) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    w = gaussian_filter1d(rng.normal(size=(t, k)), 4, axis=0)
    w = np.clip(w / w.std(0) * 0.35, 0, 1)  # about half the time at 0, like real weights
    return w


def to_mediapipe(points, aspect=1.0):
    p = np.asarray(points, dtype=np.float64)
    return np.stack([p[..., 0] / aspect, -p[..., 1], -p[..., 2] / aspect], axis=-1).astype(np.float32)


def test_solver_recovers_weights_and_pose_from_synthetic_landmarks():
    rng = np.random.default_rng(1)
    head = synthetic_head()
    t = 80
    w = smooth_weights(rng, t, 52)
    w[:, [INDEX[n] for n in UNSOLVED_CHANNELS]] = 0
    w[:10] = 0  # a neutral start
    rot = Rotation.from_rotvec(np.stack([0.15 * np.sin(np.arange(t) / 9), 0.2 * np.cos(np.arange(t) / 13), 0.05 * np.sin(np.arange(t) / 7)], 1))
    verts = head.vertices + np.einsum("tk,kvc->tvc", w, head.morph_targets)  # T x 468 x 3 metres
    scale = 1.2  # image-height units per metre: a face ~11 % of the frame height
    pts = scale * np.einsum("tij,tvj->tvi", rot.as_matrix(), verts) + np.array([0.5, -0.5, 0.0])
    # irises at the eye centres so the landmark array is complete
    lm = np.concatenate([pts, np.repeat(pts[:, [33]], 10, axis=1)], axis=1)
    solver = ArkitSolver(head)
    solver.config.smooth_sigma_frames = 0.0
    solved = solver.fit(to_mediapipe(lm), neutral=np.arange(10))
    assert solved.weights.shape == (t, 52) and solved.weights.dtype == np.float32
    assert solved.weights.min() >= 0 and solved.weights.max() <= 1
    for name in ARKIT_NAMES:
        if name in UNSOLVED_CHANNELS:
            continue
        k = INDEX[name]
        err = np.abs(solved.weights[:, k] - w[:, k]).max()
        assert err < 0.06, (name, err)
    np.testing.assert_allclose(solved.head_rotation, rot.as_rotvec(), atol=2e-3)
    assert solved.residual.max() < 2e-4  # metres


def test_gaze_from_irises():
    # eye corners at +-1 around the centre (width 2), iris moved towards the subject's left and down
    aligned = np.zeros((3, 478, 3))
    for inner, outer, iris, cx in ((tr.LEFT_EYE_INNER, tr.LEFT_EYE_OUTER, tr.LEFT_IRIS_CENTER, 3.0),
                                   (tr.RIGHT_EYE_INNER, tr.RIGHT_EYE_OUTER, tr.RIGHT_IRIS_CENTER, -3.0)):
        aligned[:, inner] = (cx - np.sign(cx), 0, 0)
        aligned[:, outer] = (cx + np.sign(cx), 0, 0)
        aligned[:, iris] = (cx, 0, 0)
        aligned[1, iris] = (cx + 0.3, 0, 0)  # looks to the subject's left
        aligned[2, iris] = (cx, -0.2, 0)  # looks down
    g = dict(zip(GAZE_CHANNELS, gaze_weights(aligned).T))
    assert g["eyeLookOutLeft"][1] > 0.5 and g["eyeLookInRight"][1] > 0.5
    assert g["eyeLookInLeft"][1] == 0 and g["eyeLookOutRight"][1] == 0
    assert g["eyeLookDownLeft"][2] > 0.5 and g["eyeLookUpLeft"][2] == 0
    assert all(v[0] == 0 for v in g.values())  # the median gaze counts as straight ahead
