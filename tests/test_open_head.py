"""The embedded open head: asset contract, every one of the 52 ARKit morph targets means what its name
says, measured on the mesh, the neutral mouth and the expression shapes' amplitudes, and its texture."""

import numpy as np
import pytest
import torch

from anim3d.channels import ARKIT_NAMES, INDEX
from anim3d.motion import Motion
from anim3d.flame.head import HeadModel
from anim3d.flame.open_head import load_head_npz, load_open_head, motion_to_vertices

MM = 1e-3
REQUIRED_LANDMARKS = (
    "upper_lip_inner", "lower_lip_inner", "upper_lip_outer", "lower_lip_outer", "mouth_corner_left",
    "mouth_corner_right", "chin", "nose_tip", "left_eye_upper_lid", "left_eye_lower_lid", "right_eye_upper_lid",
    "right_eye_lower_lid", "left_brow_inner", "right_brow_inner", "left_brow_outer", "right_brow_outer", "tongue_tip",
)
SYMMETRIC = ("jawOpen", "jawForward", "mouthClose", "mouthFunnel", "mouthPucker", "mouthRollLower", "mouthRollUpper",
             "mouthShrugLower", "mouthShrugUpper", "browInnerUp", "cheekPuff", "tongueOut")
# MediaPipe ids on the subject's left side (+X): upper/lower outer lip, upper/lower inner lip
L_UP_OUT, L_LO_OUT, L_UP_IN, L_LO_IN = 269, 405, 311, 402
R_UP_OUT, R_LO_OUT, R_UP_IN, R_LO_IN = 39, 181, 81, 178


@pytest.fixture(scope="module")
def head() -> HeadModel:
    return load_open_head()


@pytest.fixture(scope="module")
def shaped(head):
    """name -> vertices with that one morph target at weight 1 (no skinning)."""
    return {n: head.vertices + head.morph_targets[INDEX[n]] for n in ARKIT_NAMES}


def y(v, i):
    return float(v[i, 1])


def lm(head, name):
    return head.landmarks[name]


def gap(head, v, upper, lower):
    return y(v, lm(head, upper)) - y(v, lm(head, lower))


# ---------------------------------------------------------------- asset contract
def test_asset_contract(head):
    head.validate()
    assert 1000 <= head.num_vertices <= 20000
    mp = np.asarray(head.parts["mediapipe_468"])
    assert mp.shape == (468,) and len(np.unique(mp)) == 468 and mp.max() < head.num_vertices
    for name in REQUIRED_LANDMARKS:
        assert 0 <= head.landmarks[name] < head.num_vertices, name
    for part in ("left_eyeball", "right_eyeball", "teeth", "tongue", "mouth_cavity", "neck", "skull", "lips"):
        assert len(head.parts[part]) > 0, part
    assert np.isfinite(head.morph_targets).all()
    assert head.uvs is not None and head.uvs.min() >= 0 and head.uvs.max() <= 1
    # every shape moves something visibly, nothing flies off
    size = np.linalg.norm(head.morph_targets, axis=2).max(axis=1)
    assert (size > 0.5 * MM).all(), [ARKIT_NAMES[k] for k in np.flatnonzero(size <= 0.5 * MM)]
    assert (size < 40 * MM).all()
    # eyeballs ride the eye joints, lower teeth and tongue the jaw
    w = head.skin_weights
    assert np.allclose(w[head.parts["left_eyeball"], 3], 1) and np.allclose(w[head.parts["right_eyeball"], 4], 1)
    assert np.allclose(w[head.parts["tongue"], 2], 1)


def test_mediapipe_correspondence_and_orientation(head):
    v = head.vertices[head.parts["mediapipe_468"]]
    assert np.argmax(v[:, 2]) in (1, 4, 19, 94, 195, 5)  # the nose is the most forward point
    assert v[152, 1] == pytest.approx(v[:, 1].min(), abs=2 * MM)  # the chin is the lowest
    assert v[10, 1] > v[168, 1] > v[1, 1] > v[13, 1] > v[152, 1]  # forehead > nasion > nose > mouth > chin
    assert v[263, 0] > 0 > v[33, 0]  # the subject's left eye is on +X
    ipd = np.linalg.norm(head.joints[3] - head.joints[4])
    assert 0.055 < ipd < 0.07  # metres


def test_symmetric_rest_and_mirror_map(head):
    m = np.asarray(head.parts["mirror"])
    assert np.array_equal(m[m], np.arange(head.num_vertices))
    np.testing.assert_allclose(head.vertices[m] * [-1, 1, 1], head.vertices, atol=1e-6)


def test_asset_errors(tmp_path):
    from anim3d.errors import InputError

    with pytest.raises(InputError, match="not found"):
        load_head_npz(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(InputError, match="bad.npz"):
        load_head_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "partial.npz", vertices=np.zeros((3, 3)))
    with pytest.raises(InputError, match="missing faces"):
        load_head_npz(tmp_path / "partial.npz")


# ---------------------------------------------------------------- symmetry of shapes
def mirrored(head, delta):
    return delta[np.asarray(head.parts["mirror"])] * np.array([-1.0, 1.0, 1.0])


@pytest.mark.parametrize("left", [n for n in ARKIT_NAMES if n.endswith("Left")])
def test_left_right_pairs_mirror(head, left):
    right = left[:-4] + "Right"
    dl, dr = head.morph_targets[INDEX[left]], head.morph_targets[INDEX[right]]
    np.testing.assert_allclose(mirrored(head, dl), dr, atol=1e-6)
    # and they are not symmetric themselves (a side really is a side)
    if left not in ("jawLeft", "mouthLeft"):
        assert np.abs(mirrored(head, dl) - dl).max() > 0.5 * MM


@pytest.mark.parametrize("name", SYMMETRIC)
def test_unsided_shapes_are_symmetric(head, name):
    d = head.morph_targets[INDEX[name]]
    np.testing.assert_allclose(mirrored(head, d), d, atol=1e-6)


# ---------------------------------------------------------------- eyes
def test_blink_closes_only_that_eye(head, shaped):
    v0 = head.vertices
    for side, other in (("Left", "right"), ("Right", "left")):
        v = shaped[f"eyeBlink{side}"]
        s = side.lower()
        assert gap(head, v, f"{s}_eye_upper_lid", f"{s}_eye_lower_lid") < 0.15 * gap(head, v0, f"{s}_eye_upper_lid", f"{s}_eye_lower_lid")
        assert abs(gap(head, v, f"{other}_eye_upper_lid", f"{other}_eye_lower_lid")
                   - gap(head, v0, f"{other}_eye_upper_lid", f"{other}_eye_lower_lid")) < 0.05 * MM


def test_squint_wide_and_lid_follow(head, shaped):
    v0 = head.vertices
    g0 = gap(head, v0, "left_eye_upper_lid", "left_eye_lower_lid")
    sq = shaped["eyeSquintLeft"]
    assert y(sq, lm(head, "left_eye_lower_lid")) > y(v0, lm(head, "left_eye_lower_lid")) + 1 * MM
    assert gap(head, sq, "left_eye_upper_lid", "left_eye_lower_lid") < g0 - 2 * MM
    assert gap(head, shaped["eyeWideLeft"], "left_eye_upper_lid", "left_eye_lower_lid") > g0 + 2 * MM
    up = lm(head, "left_eye_upper_lid")
    assert y(shaped["eyeLookDownLeft"], up) < y(v0, up) - 1 * MM  # the lid follows the gaze down
    assert y(shaped["eyeLookUpLeft"], up) > y(v0, up) + 1 * MM


def iris_direction(head, verts, side):
    ids = head.parts[f"{side}_iris"]
    eye = head.parts[f"{side}_eyeball"]
    d = verts[ids].mean(0) - verts[eye].mean(0)
    return d / np.linalg.norm(d)


@pytest.mark.parametrize("side", ["Left", "Right"])
def test_eye_look_rotates_gaze(head, side):
    """eyeLook* turn that eyeball (on its joint) the right way and leave the other."""
    names = [f"eyeLook{d}{side}" for d in ("Down", "Up", "In", "Out")]
    bs = np.zeros((5, 52), np.float32)
    for k, n in enumerate(names):
        bs[k + 1, INDEX[n]] = 1.0
    v = motion_to_vertices(head, Motion(bs, np.zeros((5, 3)), np.zeros((5, 3)))).numpy()
    s, o = side.lower(), ("right" if side == "Left" else "left")
    rest = iris_direction(head, v[0], s)
    assert rest[2] > 0.95  # looking forward (+Z) at rest
    down, up, look_in, look_out = (iris_direction(head, v[k], s) for k in range(1, 5))
    assert down[1] < rest[1] - 0.2 and up[1] > rest[1] + 0.2
    nose = -1.0 if side == "Left" else 1.0  # the nose is toward -X from the left eye
    assert (look_in[0] - rest[0]) * nose > 0.2
    assert (look_out[0] - rest[0]) * nose < -0.2
    for k in range(1, 5):
        np.testing.assert_allclose(iris_direction(head, v[k], o), iris_direction(head, v[0], o), atol=1e-5)


# ---------------------------------------------------------------- jaw
def test_jaw_open(head, shaped):
    v0, v = head.vertices, shaped["jawOpen"]
    assert gap(head, v, "upper_lip_inner", "lower_lip_inner") > gap(head, v0, "upper_lip_inner", "lower_lip_inner") + 10 * MM
    assert y(v, lm(head, "chin")) < y(v0, lm(head, "chin")) - 10 * MM
    assert abs(y(v, lm(head, "upper_lip_outer")) - y(v0, lm(head, "upper_lip_outer"))) < 2 * MM
    lower = head.parts["lower_teeth"]
    assert v[lower, 1].mean() < v0[lower, 1].mean() - 5 * MM
    upper = head.parts["upper_teeth"]
    np.testing.assert_allclose(v[upper], v0[upper], atol=1e-9)


def test_jaw_forward_left_right(head, shaped):
    c = lm(head, "chin")
    v0 = head.vertices
    assert shaped["jawForward"][c, 2] > v0[c, 2] + 3 * MM
    assert shaped["jawLeft"][c, 0] > v0[c, 0] + 3 * MM  # toward the subject's left (+X)
    assert shaped["jawRight"][c, 0] < v0[c, 0] - 3 * MM


def test_mouth_close_closes_lips_with_jaw_open(head):
    v0 = head.vertices
    t = head.morph_targets
    open_ = v0 + t[INDEX["jawOpen"]]
    closed = open_ + t[INDEX["mouthClose"]]
    lip_gap = lambda v: y(v, lm(head, "upper_lip_inner")) - y(v, lm(head, "lower_lip_inner"))  # noqa: E731
    assert lip_gap(open_) > 10 * MM
    assert abs(lip_gap(closed)) < 0.2 * lip_gap(open_)
    assert abs(y(closed, lm(head, "chin")) - y(open_, lm(head, "chin"))) < 2 * MM  # the jaw stays open


# ---------------------------------------------------------------- mouth
def corners(head, v):
    return v[lm(head, "mouth_corner_left")], v[lm(head, "mouth_corner_right")]


def test_funnel_and_pucker(head, shaped):
    v0 = head.vertices
    w0 = np.linalg.norm(np.subtract(*corners(head, v0)))
    for name in ("mouthFunnel", "mouthPucker"):
        v = shaped[name]
        for k in ("upper_lip_outer", "lower_lip_outer"):
            assert v[lm(head, k), 2] > v0[lm(head, k), 2] + 3 * MM, (name, k)  # lips push forward
        assert np.linalg.norm(np.subtract(*corners(head, v))) < w0 - 5 * MM, name  # the mouth narrows
    inner = lambda v: y(v, lm(head, "upper_lip_inner")) - y(v, lm(head, "lower_lip_inner"))  # noqa: E731
    assert inner(shaped["mouthFunnel"]) > inner(v0) + 2 * MM  # a funnel opens, a pucker does not
    assert inner(shaped["mouthPucker"]) < inner(v0) + 1 * MM


def test_mouth_left_right(head, shaped):
    v0 = head.vertices
    for name, sign in (("mouthLeft", 1), ("mouthRight", -1)):
        for c0, c1 in zip(corners(head, v0), corners(head, shaped[name])):
            assert (c1[0] - c0[0]) * sign > 3 * MM, name


@pytest.mark.parametrize("name,axis,sign,min_mm", [
    ("mouthSmileLeft", 1, 1, 3), ("mouthFrownLeft", 1, -1, 3), ("mouthDimpleLeft", 2, -1, 2), ("mouthStretchLeft", 0, 1, 3),
])
def test_corner_shapes(head, shaped, name, axis, sign, min_mm):
    """The left corner moves the named way (up, down, back, outward); the right one stays."""
    v0, v = head.vertices, shaped[name]
    left, right = lm(head, "mouth_corner_left"), lm(head, "mouth_corner_right")
    assert (v[left, axis] - v0[left, axis]) * sign > min_mm * MM
    assert np.abs(v[right] - v0[right]).max() < 0.3 * MM
    if name == "mouthSmileLeft":
        assert v[left, 0] > v0[left, 0]  # a smile also widens


def test_roll_and_shrug(head, shaped):
    v0 = head.vertices
    assert shaped["mouthRollLower"][lm(head, "lower_lip_outer"), 2] < v0[lm(head, "lower_lip_outer"), 2] - 2 * MM
    assert shaped["mouthRollUpper"][lm(head, "upper_lip_outer"), 2] < v0[lm(head, "upper_lip_outer"), 2] - 2 * MM
    assert y(shaped["mouthShrugLower"], lm(head, "lower_lip_outer")) > y(v0, lm(head, "lower_lip_outer")) + 2 * MM
    assert y(shaped["mouthShrugUpper"], lm(head, "upper_lip_outer")) > y(v0, lm(head, "upper_lip_outer")) + 1.5 * MM


def test_press_lower_down_upper_up(head, shaped):
    v0 = head.vertices
    thick = lambda v, up, lo: v[up, 1] - v[lo, 1]  # noqa: E731
    p = shaped["mouthPressLeft"]
    assert thick(p, L_UP_OUT, L_LO_OUT) < thick(v0, L_UP_OUT, L_LO_OUT) - 2 * MM
    assert abs(thick(p, R_UP_OUT, R_LO_OUT) - thick(v0, R_UP_OUT, R_LO_OUT)) < 0.3 * MM
    d = shaped["mouthLowerDownLeft"]
    assert d[L_LO_IN, 1] < v0[L_LO_IN, 1] - 3 * MM and abs(d[R_LO_IN, 1] - v0[R_LO_IN, 1]) < 0.3 * MM
    u = shaped["mouthUpperUpLeft"]
    assert u[L_UP_IN, 1] > v0[L_UP_IN, 1] + 3 * MM and abs(u[R_UP_IN, 1] - v0[R_UP_IN, 1]) < 0.3 * MM


# ---------------------------------------------------------------- brows, cheeks, nose, tongue
def test_brows(head, shaped):
    v0 = head.vertices
    dy = lambda name, k: y(shaped[name], lm(head, k)) - y(v0, lm(head, k))  # noqa: E731
    assert dy("browDownLeft", "left_brow_inner") < -3 * MM and dy("browDownLeft", "left_brow_outer") < -3 * MM
    assert abs(dy("browDownLeft", "right_brow_inner")) < 0.3 * MM
    assert dy("browInnerUp", "left_brow_inner") > 3 * MM and dy("browInnerUp", "right_brow_inner") > 3 * MM
    assert dy("browInnerUp", "left_brow_outer") < dy("browInnerUp", "left_brow_inner")
    assert dy("browOuterUpLeft", "left_brow_outer") > 3 * MM
    assert dy("browOuterUpLeft", "left_brow_inner") < dy("browOuterUpLeft", "left_brow_outer")
    assert abs(dy("browOuterUpLeft", "right_brow_outer")) < 0.3 * MM


def test_cheeks_nose_tongue(head, shaped):
    v0 = head.vertices
    for side, sign in (("left", 1), ("right", -1)):
        c = lm(head, f"{side}_cheek")
        assert (shaped["cheekPuff"][c, 0] - v0[c, 0]) * sign > 3 * MM  # cheeks bulge outward
    face = np.asarray(head.parts["mediapipe_468"])
    rise = shaped["cheekSquintLeft"][face, 1] - v0[face, 1]
    below_left_eye = (v0[face, 0] > 0.015) & (v0[face, 1] < v0[lm(head, "left_eye_lower_lid"), 1]) & (v0[face, 1] > v0[lm(head, "nose_tip"), 1])
    assert rise[below_left_eye].max() > 2 * MM
    assert np.abs(rise[v0[face, 0] < -0.01]).max() < 0.3 * MM
    n_l, n_r = lm(head, "left_nostril"), lm(head, "right_nostril")
    assert y(shaped["noseSneerLeft"], n_l) > y(v0, n_l) + 2 * MM
    assert abs(y(shaped["noseSneerLeft"], n_r) - y(v0, n_r)) < 0.3 * MM
    tip = lm(head, "tongue_tip")
    assert shaped["tongueOut"][tip, 2] > v0[tip, 2] + 15 * MM
    assert shaped["tongueOut"][tip, 2] > v0[lm(head, "lower_lip_outer"), 2]  # out past the lips


# ---------------------------------------------------------------- posing
def test_motion_to_vertices_pose_and_translation(head):
    t = 3
    rot = np.zeros((t, 3), np.float32)
    rot[1, 1] = 0.3  # yaw toward the subject's left
    tr = np.zeros((t, 3), np.float32)
    tr[2] = [0.01, 0.02, -0.03]
    v = motion_to_vertices(head, Motion(np.zeros((t, 52)), rot, tr))
    assert isinstance(v, torch.Tensor) and v.shape == (t, head.num_vertices, 3)
    np.testing.assert_allclose(v[0].numpy(), head.vertices, atol=1e-6)
    nose = lm(head, "nose_tip")
    assert v[1, nose, 0] > head.vertices[nose, 0] + 0.01  # the face turns toward +X
    np.testing.assert_allclose(v[2].numpy(), head.vertices + tr[2], atol=1e-6)
    # the rest of the body does not turn with the head: the bottom of the neck stays
    neck = head.parts["neck"]
    bottom = neck[head.vertices[neck, 1] < head.vertices[neck, 1].min() + 1e-4]
    np.testing.assert_allclose(v[1, bottom].numpy(), head.vertices[bottom], atol=1e-5)
    # array inputs work as well as a Motion
    w = np.zeros(52, np.float32)
    w[INDEX["jawOpen"]] = 1
    np.testing.assert_allclose(motion_to_vertices(head, w)[0].numpy(), head.vertices + head.morph_targets[INDEX["jawOpen"]], atol=1e-5)


def test_committed_asset_matches_the_build_code(head):
    """Rebuilding from the MediaPipe landmarks stored in the asset reproduces it (the asset is
    not stale with respect to flame/open_head_*.py)."""
    from anim3d.flame.open_head import ASSET_PATH
    from anim3d.flame.open_head_build import build_rest, to_head_model, uv_layout
    from anim3d.flame.open_head_morphs import build_morphs
    from anim3d.flame.open_head_texture import bake_texture

    with np.load(ASSET_PATH) as z:
        raw = z["source_landmarks"].astype(np.float64)
    rest = build_rest(raw)
    rebuilt = to_head_model(rest, build_morphs(rest))
    np.testing.assert_array_equal(rebuilt.faces, head.faces)
    np.testing.assert_allclose(rebuilt.vertices, head.vertices, atol=1e-6)
    np.testing.assert_allclose(rebuilt.morph_targets, head.morph_targets, atol=1e-6)
    assert rebuilt.landmarks == head.landmarks
    np.testing.assert_allclose(uv_layout(rest), head.uvs, atol=1e-6)
    assert np.abs(bake_texture(rest, uv_layout(rest)).astype(int) - head.texture).max() <= 1


# ---------------------------------------------------------------- expression amplitudes and the neutral mouth
def test_neutral_mouth_is_neutral(head):
    """The portrait's smile is out of the rest mesh: the corners sit within 1 mm of the lips' middle line and
    the mouth is as wide as real speakers' (0.56 +- 0.03 inter-ocular units, tracked)."""
    v = head.vertices
    iod = np.linalg.norm(v[263] - v[33])
    corner = 0.5 * (v[61, 1] + v[291, 1]) - 0.5 * (v[13, 1] + v[14, 1])
    assert abs(corner) < 1 * MM
    assert 0.52 < np.linalg.norm(v[61] - v[291]) / iod < 0.62


def test_frown_sneer_and_upper_lip(head, shaped):
    """mouthFrown turns the mouth down (corners down and out, the middle up); noseSneer lifts the upper lip
    (as ARKit's does) and brings the inner brow down; mouthUpperUp lifts the lip's middle more than its corner."""
    v0 = head.vertices
    up_out = lm(head, "upper_lip_outer")
    f = shaped["mouthFrownLeft"]
    c = lm(head, "mouth_corner_left")
    assert f[c, 1] < v0[c, 1] - 8 * MM and f[c, 0] > v0[c, 0] + 5 * MM
    assert f[up_out, 1] > v0[up_out, 1] + 1 * MM
    both = v0 + head.morph_targets[INDEX["noseSneerLeft"]] + head.morph_targets[INDEX["noseSneerRight"]]
    assert both[up_out, 1] > v0[up_out, 1] + 6 * MM
    assert np.linalg.norm(both[2] - both[up_out]) < np.linalg.norm(v0[2] - v0[up_out]) - 4 * MM  # nose to lip shorter
    bi = lm(head, "left_brow_inner")
    assert both[bi, 1] < v0[bi, 1] - 10 * MM  # AU9's procerus share: the disgusted actor's brows come down 7.5 mm
    assert both[bi, 1] < (v0 + head.morph_targets[INDEX["browDownLeft"]])[bi, 1]  # more than browDown at the inner brow
    u = shaped["mouthUpperUpLeft"]
    assert u[L_UP_OUT, 1] - v0[L_UP_OUT, 1] > 2 * (u[c, 1] - v0[c, 1]) + 2 * MM


def test_smile_lifts_the_upper_lip_but_not_its_inner_edge(head):
    """mouthSmile lifts the upper lip's border and the skin above it with the corners (as a zygomatic smile and
    ARKit's mouthSmile do: nose to lip shorter); the lips' inner edges move together, so the inner-lip gap that
    speech and the lip-sync measures read is what it was."""
    v0 = head.vertices
    both = v0 + head.morph_targets[INDEX["mouthSmileLeft"]] + head.morph_targets[INDEX["mouthSmileRight"]]
    up_out, up_in, lo_in = lm(head, "upper_lip_outer"), lm(head, "upper_lip_inner"), lm(head, "lower_lip_inner")
    assert both[up_out, 1] > v0[up_out, 1] + 3 * MM
    assert np.linalg.norm(both[2] - both[up_out]) < np.linalg.norm(v0[2] - v0[up_out]) - 3 * MM
    assert abs((both[up_in, 1] - both[lo_in, 1]) - (v0[up_in, 1] - v0[lo_in, 1])) < 0.05 * MM
    one = v0 + head.morph_targets[INDEX["mouthSmileLeft"]]
    assert one[L_UP_OUT, 1] > one[R_UP_OUT, 1] + 2 * MM  # one side's smile lifts that side's lip


# ---------------------------------------------------------------- texture
def test_texture_brows_lids_lips(head):
    """The baked texture shows brows, lash lines and lips where the landmarks put them, and its skin atlas has no
    seam: no skin triangle spans more than a sliver of the texture."""
    tex = head.texture
    assert tex is not None and tex.shape == (1024, 1024, 3) and tex.dtype == np.uint8
    uv = head.uvs

    def at(*ids):  # the texel at the middle of these vertices' UVs
        r, c = np.clip((uv[list(ids)].mean(0)[::-1] * tex.shape[0]).astype(int), 0, tex.shape[0] - 1)
        return tex[r, c].astype(float)

    forehead = at(151)
    brow = 0.5 * (at(105, 52) + at(334, 282))  # between the brows' upper and lower rows
    assert brow.sum() < 0.6 * forehead.sum()
    lash = np.array([at(i) for i in (160, 159, 158)]).mean(0)
    assert lash.sum() < 0.5 * forehead.sum()
    for lip in (at(0, 13), at(17, 14)):  # the middle of the upper and the lower lip
        assert lip[0] / lip[1] > 1.2 * forehead[0] / forehead[1]  # redder than skin
    skin = np.concatenate([head.parts["face"], head.parts["skull"]])
    on = np.isin(head.faces, skin).all(1)
    span = np.ptp(uv[head.faces[on]], axis=1).max(1)
    assert span.max() < 0.2  # a cut would stretch a triangle across the atlas (0.5 and more)


def test_glb_of_the_open_head_carries_the_texture(tmp_path, head):
    import io

    import pygltflib as g
    from PIL import Image

    from anim3d.exporters.gltf import write_glb

    out = write_glb(Motion.neutral(3), tmp_path / "open.glb", head=head)
    gl = g.GLTF2.load_binary(str(out))
    info = gl.materials[0].pbrMetallicRoughness.baseColorTexture
    assert info is not None
    view = gl.bufferViews[gl.images[gl.textures[info.index].source].bufferView]
    data = gl.binary_blob()[view.byteOffset: view.byteOffset + view.byteLength]
    img = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(float)
    assert img.shape == head.texture.shape and np.abs(img - head.texture).mean() < 3.0


def test_blender_shows_the_open_head_texture(tmp_path, head):
    """Blender's glTF importer gives the open head its 52 shape keys and a material whose base colour is the
    texture (an image node linked into the shader's Base Color)."""
    import json
    import os
    import shutil
    import subprocess

    from anim3d.exporters.gltf import write_glb

    assert shutil.which("blender"), "Debian's blender is a test dependency (scripts/install_system_deps.sh)"
    path = write_glb(Motion.neutral(3), tmp_path / "open.glb", head=head)
    report = tmp_path / "report.json"
    script = ("import bpy, json, numpy\n"
              "numpy.bool = bool\n"  # Debian bookworm's Blender 3.4 importer still calls np.bool
              "bpy.ops.wm.read_factory_settings(use_empty=True)\n"
              f"bpy.ops.import_scene.gltf(filepath={str(path)!r})\n"
              "mesh = [o for o in bpy.data.objects if o.type == 'MESH'][0]\n"
              "mat = mesh.active_material\n"
              "bsdf = [n for n in mat.node_tree.nodes if n.type == 'BSDF_PRINCIPLED'][0]\n"
              "src = [l.from_node.type for l in bsdf.inputs['Base Color'].links]\n"
              "json.dump({'keys': [k.name for k in mesh.data.shape_keys.key_blocks], 'base': src,\n"
              "           'images': [i.size[:] for i in bpy.data.images]}, open(" + repr(str(report)) + ", 'w'))\n")
    env = dict(os.environ, BLENDER_USER_CONFIG=str(tmp_path / "config"))
    proc = subprocess.run(["blender", "-b", "--factory-startup", "--python-expr", script], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0 and report.exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
    got = json.loads(report.read_text())
    assert got["keys"][1:] == list(ARKIT_NAMES)
    assert got["base"] == ["TEX_IMAGE"]
    assert [1024, 1024] in [list(s) for s in got["images"]]
