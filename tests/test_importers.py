"""Real-data importers: the ARKit solve on synthetic landmarks, video/Live Link/FLAME imports, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from anim3d.channels import ARKIT_NAMES, INDEX
from anim3d.data.importers.solve import GAZE_CHANNELS, UNSOLVED_CHANNELS, ArkitSolver, SolverConfig, gaze_weights
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
    # the plain bounded least squares (no priors) recovers the weights exactly
    exact = SolverConfig(smooth_sigma_frames=0.0, sparsity=0.0, secondary_cost=1.0, distance_weight=0.0)
    solved = ArkitSolver(head, config=exact).fit(to_mediapipe(lm), neutral=np.arange(10))
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
    # the default priors (sparsity, distance rows, smoothing) bias the weights, but not far
    # (on this random basis, collinear shapes can trade places: no bound on the max)
    default = ArkitSolver(head).fit(to_mediapipe(lm), neutral=np.arange(10))
    solved_k = [INDEX[n] for n in ARKIT_NAMES if n not in UNSOLVED_CHANNELS]
    err = np.abs(default.weights[:, solved_k] - w[:, solved_k])
    assert err.mean() < 0.1, err.mean()


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


# ------------------------------------------------------------------ FLAME sequences


def test_flame_to_arkit_inverts_a_linear_map():
    from anim3d.data.importers.flame_seq import flame_to_arkit

    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(50 + 3, 52)) * np.r_[np.ones(50), 0.05 * np.ones(3)][:, None]  # jaw rows in radians
    w = np.clip(rng.uniform(-0.5, 1.2, size=(6, 52)), 0, 1)
    target = w @ matrix.T  # T x 53
    got = flame_to_arkit(target[:, :50], target[:, 50:], matrix)
    np.testing.assert_allclose(got, w, atol=1e-6)
    # more expression coefficients than the map knows: the extra ones are ignored
    got = flame_to_arkit(np.concatenate([target[:, :50], np.zeros((6, 50))], 1), target[:, 50:], matrix)
    np.testing.assert_allclose(got, w, atol=1e-6)


def test_eye_pose_to_gaze_inverts_motion_eye_rotations():
    from anim3d.data.importers.flame_seq import eye_pose_to_gaze
    from anim3d.motion import Motion

    bs = np.zeros((3, 52), np.float32)
    bs[1, INDEX["eyeLookOutLeft"]] = bs[1, INDEX["eyeLookInRight"]] = 0.6
    bs[2, INDEX["eyeLookDownLeft"]] = bs[2, INDEX["eyeLookDownRight"]] = 0.5
    m = Motion(bs, np.zeros((3, 3)), np.zeros((3, 3)), 30)
    eyes = m.eye_rotations().reshape(3, 6)
    got = eye_pose_to_gaze(eyes)
    gaze = [INDEX[n] for n in GAZE_CHANNELS]
    np.testing.assert_allclose(got[:, gaze], bs[:, gaze], atol=1e-5)


def test_read_flame_sequence_errors(tmp_path):
    from anim3d.data.importers.flame_seq import read_flame_sequence

    good = tmp_path / "seq.npz"
    np.savez(good, exp=np.zeros((5, 10)), jaw=np.zeros((5, 3)), fps=25)
    d = read_flame_sequence(good)
    assert d["fps"] == 25.0 and d["expression"].shape == (5, 10) and d["neck_pose"].shape == (5, 3)

    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="junk.npz.*not a readable NPZ"):
        read_flame_sequence(tmp_path / "junk.npz")
    np.savez(tmp_path / "nojaw.npz", expression=np.zeros((5, 10)), fps=30)
    with pytest.raises(InputError, match="nojaw.npz.*'jaw_pose'"):
        read_flame_sequence(tmp_path / "nojaw.npz")
    np.savez(tmp_path / "nofps.npz", expression=np.zeros((5, 10)), jaw_pose=np.zeros((5, 3)))
    with pytest.raises(InputError, match="nofps.npz.*fps"):
        read_flame_sequence(tmp_path / "nofps.npz")
    np.savez(tmp_path / "short.npz", expression=np.zeros((5, 10)), jaw_pose=np.zeros((4, 3)), fps=30)
    with pytest.raises(InputError, match="short.npz.*'jaw_pose' must be 5 x 3"):
        read_flame_sequence(tmp_path / "short.npz")
    np.savez(tmp_path / "nan.npz", expression=np.full((5, 10), np.nan), jaw_pose=np.zeros((5, 3)), fps=30)
    with pytest.raises(InputError, match="nan.npz.*NaN"):
        read_flame_sequence(tmp_path / "nan.npz")


# ------------------------------------------------------------------ Live Link Face


def test_find_take_audio(tmp_path):
    from anim3d.data.importers.livelink import find_take_audio

    csv = tmp_path / "Slate_1_iPhone_raw.csv"
    csv.write_text("Timecode,BlendShapeCount\n")
    with pytest.raises(InputError, match="Slate_1_iPhone_raw.csv.*no audio beside the take"):
        find_take_audio(csv)
    (tmp_path / "Slate_1_iPhone.mov").write_bytes(b"x")
    assert find_take_audio(csv).endswith("Slate_1_iPhone.mov")
