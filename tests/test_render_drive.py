"""Motion -> driven portrait landmarks, against a small synthetic head with known morph targets."""

import numpy as np
import pytest

from anim3d.channels import INDEX
from anim3d.motion import Motion
from anim3d.render.drive import drive_landmarks, make_rig
from anim3d.landmarks import MOUTH_LOWER, MOUTH_UPPER
from anim3d.flame.head import HeadModel


def synthetic_head() -> HeadModel:
    """468 MediaPipe-ordered vertices (a real face shape, metres) with two known morph targets:
    jawOpen drops the lower lip and chin by up to 2 cm, eyeBlinkLeft lowers the left upper lid."""
    from anim3d.render.flow import face_triangles
    from anim3d.tracking import reference_face

    ref = reference_face()[:468]  # image-height units, Y up, +Z toward the camera
    iod = np.linalg.norm(ref[263] - ref[33])
    verts = (ref * 0.095 / iod).astype(np.float32)  # 9.5 cm between the outer eye corners
    morphs = np.zeros((52, 468, 3), np.float32)
    mouth_y = verts[[13, 14], 1].mean()
    chin_y = verts[152, 1]
    below = (verts[:, 1] < mouth_y) & ~np.isin(np.arange(468), MOUTH_UPPER)
    fall = np.clip((mouth_y - verts[:, 1]) / (mouth_y - chin_y), 0.3, 1.0)
    morphs[INDEX["jawOpen"], below, 1] = -0.02 * fall[below]
    morphs[INDEX["eyeBlinkLeft"], [386, 385, 387], 1] = verts[374, 1] - verts[386, 1]
    joints = np.array([[0, -0.05, -0.05], [0, -0.07, -0.06], [0, -0.03, -0.02], [0.03, 0.03, 0], [-0.03, 0.03, 0]], np.float32)
    skin = np.zeros((468, 5), np.float32)
    skin[:, 0] = 1
    return HeadModel(verts, face_triangles().astype(np.int32), morphs, joints, skin,
                     parts={"mediapipe_468": np.arange(468)}, name="synthetic")


@pytest.fixture(scope="module")
def rig_and_portrait():
    import skimage.data

    from anim3d.render.portrait import prepare_portrait

    p = prepare_portrait(skimage.data.astronaut(), size=256)
    return make_rig(synthetic_head(), p.landmarks, p.size), p


def _motion(n=1, **channels):
    m = Motion.neutral(n)
    for k, v in channels.items():
        m.blendshapes[:, INDEX[k]] = v
    return m


def test_neutral_motion_keeps_the_portrait(rig_and_portrait):
    rig, p = rig_and_portrait
    out = drive_landmarks(rig, _motion(3))
    assert out.shape == (3, 478, 3)
    np.testing.assert_allclose(out[1], p.landmarks, atol=1e-3)


def test_jaw_open_opens_the_mouth_downwards(rig_and_portrait):
    rig, p = rig_and_portrait
    out = drive_landmarks(rig, _motion(2, jawOpen=np.array([[0.0], [1.0]])[:, 0]))
    gap = out[:, 14, 1] - out[:, 13, 1]  # y grows downwards in the crop
    assert gap[1] > gap[0] + 5  # 2 cm at this face size is > 5 px of a 256 crop
    assert abs(out[1, 10, 1] - out[0, 10, 1]) < 0.1  # the forehead does not move
    assert abs(out[1, 13, 1] - out[0, 13, 1]) < 0.1  # the upper lip does not move


def test_blink_closes_only_the_left_eye(rig_and_portrait):
    rig, _ = rig_and_portrait
    out = drive_landmarks(rig, _motion(2, eyeBlinkLeft=np.array([0.0, 1.0])))
    left_gap = out[:, 374, 1] - out[:, 386, 1]
    right_gap = out[:, 145, 1] - out[:, 159, 1]
    assert left_gap[1] < 0.3 * left_gap[0]
    assert abs(right_gap[1] - right_gap[0]) < 1e-3


def test_head_yaw_turns_the_nose_and_translation_moves_and_scales(rig_and_portrait):
    rig, p = rig_and_portrait
    m = Motion.neutral(3)
    m.head_rotation[1] = [0, 0.3, 0]  # yaw about Y (up): the face turns toward +X = image right
    m.head_translation[2] = [0.02, 0, 0.05]  # 2 cm to the right, 5 cm toward the camera
    out = drive_landmarks(rig, m)
    nose_shift = out[1, 1, 0] - out[0, 1, 0]
    assert nose_shift > 3
    width = lambda lm: np.linalg.norm(lm[263, :2] - lm[33, :2])  # noqa: E731
    assert width(out[2]) > width(out[0]) * 1.05
    assert out[2, 168, 0] > out[0, 168, 0] + 2


def test_head_without_landmark_map_is_a_clear_error():
    from anim3d.errors import Anim3dError

    h = synthetic_head()
    h.parts = {}
    with pytest.raises(Anim3dError, match="mediapipe_468"):
        make_rig(h, np.zeros((478, 3), np.float32), 256)


def test_crossed_lips_meet_instead_of_passing():
    from anim3d.render.drive import uncross_lips

    lm = np.zeros((2, 478, 3), np.float32)
    lm[:, list(MOUTH_UPPER), 1] = 100.0
    lm[:, list(MOUTH_LOWER), 1] = [[104.0], [96.0]]  # frame 0 open by 4 px, frame 1 crossed by 4 px
    out = uncross_lips(lm.copy())
    assert np.allclose(out[0, 14, 1] - out[0, 13, 1], 4.0)
    assert np.allclose(out[1, 14, 1], 98.0) and np.allclose(out[1, 13, 1], 98.0)
