"""ARKit -> FLAME mapping: fitted against a FLAME-form model's own bases, and the
Motion -> FLAME parameters -> mesh path for the open head."""

import numpy as np
import pytest
import torch

from anim3d.channels import INDEX
from anim3d.motion import Motion
from anim3d.flame.arkit_mapping import (ArkitFlameMap, FlameModel, fit_arkit_to_flame, flame_head_model,
                                 flame_params_to_vertices, map_motion_to_flame, open_head_as_flame)
from anim3d.flame.open_head import load_open_head, motion_to_vertices
from anim3d.flame.open_head_build import JAW_OPEN_ANGLE


@pytest.fixture(scope="module")
def head():
    return load_open_head()


@pytest.fixture(scope="module")
def flame_form(head):
    return open_head_as_flame(head)


def scrambled_flame(fm: FlameModel, seed: int = 0) -> tuple[FlameModel, np.ndarray, np.ndarray]:
    """The same head with its expression basis mixed by a random orthogonal matrix, its
    vertices in a shuffled order and the whole model shifted: the fit must undo all three."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(52, 52)))
    perm = rng.permutation(fm.num_vertices)
    inv = np.argsort(perm)
    shift = np.array([0.01, -0.02, 0.03])
    return FlameModel(
        v_template=fm.v_template[perm] + shift, shapedirs=fm.shapedirs[perm], exprdirs=(fm.exprdirs @ q)[perm],
        posedirs=fm.posedirs, J_regressor=fm.J_regressor[:, perm], weights=fm.weights[perm], parents=fm.parents,
        faces=inv[fm.faces],
    ), q, inv


def test_open_head_flame_form_reproduces_joints(head, flame_form):
    np.testing.assert_allclose(flame_form.joints(), head.joints, atol=1e-6)
    params_zero = flame_params_to_vertices(flame_form, map_motion_to_flame(Motion.neutral(1), fit_stub()))
    np.testing.assert_allclose(params_zero[0].numpy(), head.vertices, atol=1e-6)


def fit_stub() -> ArkitFlameMap:
    return ArkitFlameMap(np.zeros((52, 52)), np.zeros((52, 3)))


def test_fit_recovers_basis_and_jaw(head, flame_form):
    model, q, inv = scrambled_flame(flame_form)
    amap = fit_arkit_to_flame(model, head)
    assert amap.matrix.shape == (52 + 3, 52)
    jaw_open = amap.jaw[INDEX["jawOpen"]]
    # jawOpen is a rotation about +X (opening downward) by the angle the morph bakes in
    assert abs(jaw_open[0] - JAW_OPEN_ANGLE) < 0.02 and np.abs(jaw_open[1:]).max() < 0.01
    others = np.delete(amap.jaw, INDEX["jawOpen"], axis=0)
    assert np.abs(others).max() < 0.02  # nothing else rotates the jaw
    assert amap.residual.max() < 0.05, amap.residual
    # mapped coefficients rebuild every shape on the face (FLAME has no tongue: tongueOut is not seen)
    face = inv[np.asarray(head.parts["mediapipe_468"])]
    for k in range(52):
        if k == INDEX["jawOpen"] or k == INDEX["tongueOut"]:
            continue
        rebuilt = model.exprdirs[face] @ amap.expression[k]
        target = head.morph_targets[k, head.parts["mediapipe_468"]]
        assert np.linalg.norm(rebuilt - target) <= 0.05 * np.linalg.norm(target), k


def test_fitted_flame_means_the_shapes(head, flame_form):
    """On the FLAME-form mesh (different vertex order and basis), the mapped parameters
    still do what the names say: jawOpen opens the lips, eyeBlinkLeft closes the left lids."""
    model, _, inv = scrambled_flame(flame_form, seed=1)
    amap = fit_arkit_to_flame(model, head)
    at = lambda i: int(inv[i])  # open-head vertex id -> scrambled id  # noqa: E731

    def mesh(name, w=1.0):
        bs = np.zeros((1, 52), np.float32)
        if name:
            bs[0, INDEX[name]] = w
        return flame_params_to_vertices(model, map_motion_to_flame(Motion(bs, np.zeros((1, 3)), np.zeros((1, 3))), amap))[0].numpy()

    rest = mesh(None)
    lm = head.landmarks
    gap = lambda v, a, b: v[at(lm[a]), 1] - v[at(lm[b]), 1]  # noqa: E731
    opened = mesh("jawOpen")
    assert gap(opened, "upper_lip_inner", "lower_lip_inner") > gap(rest, "upper_lip_inner", "lower_lip_inner") + 0.01
    assert opened[at(lm["chin"]), 1] < rest[at(lm["chin"]), 1] - 0.01
    blink = mesh("eyeBlinkLeft")
    assert gap(blink, "left_eye_upper_lid", "left_eye_lower_lid") < 0.3 * gap(rest, "left_eye_upper_lid", "left_eye_lower_lid")
    assert abs(gap(blink, "right_eye_upper_lid", "right_eye_lower_lid") - gap(rest, "right_eye_upper_lid", "right_eye_lower_lid")) < 1e-4


def test_same_motion_drives_both_paths(head, flame_form):
    """Motion -> FLAME params -> FLAME-form mesh matches Motion -> open head (morphs + LBS)."""
    amap = fit_arkit_to_flame(flame_form, head)
    rng = np.random.default_rng(0)
    t = 6
    bs = rng.uniform(0, 0.5, (t, 52)) * (rng.uniform(0, 1, (t, 52)) < 0.25)
    bs[:, INDEX["jawOpen"]] = np.linspace(0, 1, t)
    bs[:, INDEX["tongueOut"]] = 0.0  # the tongue rides the jaw differently in the two paths
    motion = Motion(bs, rng.normal(0, 0.15, (t, 3)), rng.normal(0, 0.02, (t, 3)))
    a = motion_to_vertices(head, motion)
    b = flame_params_to_vertices(flame_form, map_motion_to_flame(motion, amap))
    face = torch.as_tensor(head.parts["mediapipe_468"])
    err = (a[:, face] - b[:, face]).norm(dim=-1).max().item()
    assert err < 0.003, err  # metres: the morph path interpolates the jaw linearly, FLAME rotates it
    assert (a[-1] - a[0]).norm(dim=-1).max() > 0.02  # the motion does move the mesh


def test_flame_head_model_and_save_load(head, flame_form, tmp_path):
    amap = fit_arkit_to_flame(flame_form, head)
    amap.save(tmp_path / "map.npz")
    back = ArkitFlameMap.load(tmp_path / "map.npz")
    np.testing.assert_allclose(back.matrix, amap.matrix)
    hm = flame_head_model(flame_form, amap)
    hm.validate()
    # baking the mapped parameters as morph targets gives back the open head's own shapes
    k = INDEX["mouthSmileLeft"]
    face = head.parts["mediapipe_468"]  # what the fit sees
    np.testing.assert_allclose(hm.morph_targets[k][face], head.morph_targets[k][face], atol=2e-4)
