import numpy as np
import pytest

from anim3d.channels import ARKIT_NAMES, INDEX
from anim3d.errors import MotionError
from anim3d.motion import Motion


def _wave_motion(n=90, fps=30.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fps
    bs = 0.5 + 0.4 * np.sin(2 * np.pi * (0.5 + rng.random(52))[None, :] * t[:, None] + rng.random(52))
    rot = np.stack([0.2 * np.sin(2 * np.pi * 0.3 * t), 0.3 * np.sin(2 * np.pi * 0.2 * t), 0.05 * t], 1)
    tr = np.stack([0.01 * np.sin(t), 0.02 * np.cos(t), 0.001 * t], 1)
    return Motion(bs, rot, tr, fps)


def test_npz_round_trip(tmp_path):
    m = _wave_motion()
    p = tmp_path / "m.npz"
    m.save_npz(p)
    back = Motion.load_npz(p)
    assert back.fps == m.fps
    np.testing.assert_array_equal(back.blendshapes, m.blendshapes)
    np.testing.assert_array_equal(back.head_rotation, m.head_rotation)
    np.testing.assert_array_equal(back.head_translation, m.head_translation)
    with np.load(p) as z:
        assert list(z["blendshape_names"]) == list(ARKIT_NAMES)


def test_npz_columns_matched_by_name(tmp_path):
    m = _wave_motion()
    order = np.random.default_rng(1).permutation(52)
    p = tmp_path / "shuffled.npz"
    np.savez(p, blendshapes=m.blendshapes[:, order], blendshape_names=np.array(ARKIT_NAMES)[order],
             head_rotation=m.head_rotation, head_translation=m.head_translation, fps=np.array(30.0))
    np.testing.assert_array_equal(Motion.load_npz(p).blendshapes, m.blendshapes)


def test_bad_npz_files_give_clear_errors(tmp_path):
    missing = tmp_path / "nope.npz"
    with pytest.raises(MotionError, match="nope.npz: file not found"):
        Motion.load_npz(missing)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip")
    with pytest.raises(MotionError, match="junk.npz: not a readable NPZ"):
        Motion.load_npz(junk)
    partial = tmp_path / "partial.npz"
    np.savez(partial, blendshapes=np.zeros((3, 52)))
    with pytest.raises(MotionError, match="missing blendshape_names"):
        Motion.load_npz(partial)
    nan = tmp_path / "nan.npz"
    m = _wave_motion(10)
    bs = m.blendshapes.copy()
    bs[4, 7] = np.nan
    np.savez(nan, blendshapes=bs, blendshape_names=np.array(ARKIT_NAMES), head_rotation=m.head_rotation,
             head_translation=m.head_translation, fps=np.array(30.0))
    with pytest.raises(MotionError, match=r"nan.npz: blendshapes has NaN.*frame 4"):
        Motion.load_npz(nan)


def test_nan_and_shape_errors_in_constructor():
    with pytest.raises(MotionError, match="NaN"):
        Motion(np.full((2, 52), np.nan), np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(MotionError, match=r"\(frames, 52\)"):
        Motion(np.zeros((2, 51)), np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(MotionError, match="head_rotation"):
        Motion(np.zeros((2, 52)), np.zeros((3, 3)), np.zeros((2, 3)))
    with pytest.raises(MotionError, match="fps"):
        Motion(np.zeros((2, 52)), np.zeros((2, 3)), np.zeros((2, 3)), fps=0)


def test_resample_keeps_timing():
    m = _wave_motion(n=91, fps=30.0)  # 3.033 s
    up = m.resample(60.0)
    assert up.fps == 60.0
    assert abs(up.duration - m.duration) <= 1 / 60
    # every 2nd frame at 60 fps is an original frame at 30 fps
    np.testing.assert_allclose(up.blendshapes[::2][: m.num_frames], m.blendshapes[: len(up.blendshapes[::2])], atol=1e-5)
    np.testing.assert_allclose(up.head_rotation[::2][: m.num_frames], m.head_rotation[: len(up.head_rotation[::2])], atol=1e-5)
    # an event at t = 1.5 s stays at 1.5 s after a round trip through 24 fps
    ev = Motion.neutral(90, 30.0)
    ev.blendshapes[45, INDEX["jawOpen"]] = 1.0
    down = ev.resample(24.0).resample(30.0)
    assert int(np.argmax(down.channel("jawOpen"))) == 45


def test_rotation_interpolation_is_slerp():
    # 0 -> 0.4 rad about Y: the midpoint is 0.2 rad about Y
    m = Motion(np.zeros((2, 52)), np.array([[0, 0, 0], [0, 0.4, 0]]), np.zeros((2, 3)), fps=1.0)
    mid = m.sample([0.5])
    np.testing.assert_allclose(mid.head_rotation[0], [0, 0.2, 0], atol=1e-6)


def test_slice_and_concatenate():
    m = _wave_motion(90)
    a, b = m[:40], m[40:]
    assert len(a) == 40 and len(b) == 50
    joined = Motion.concatenate([a, b])
    np.testing.assert_array_equal(joined.blendshapes, m.blendshapes)
    s = m.slice_time(1.0, 2.0)
    assert len(s) == 30
    np.testing.assert_array_equal(s.blendshapes, m.blendshapes[30:60])
    with pytest.raises(ValueError):
        Motion.concatenate([a, a.resample(60)])


def test_eye_rotations_follow_look_channels():
    m = Motion.neutral(4)
    m.blendshapes[0, INDEX["eyeLookOutLeft"]] = 1.0  # left eye looks to the subject's left (+X)
    m.blendshapes[0, INDEX["eyeLookInRight"]] = 1.0  # right eye looks to the subject's left too
    m.blendshapes[1, INDEX["eyeLookUpLeft"]] = 1.0
    m.blendshapes[1, INDEX["eyeLookUpRight"]] = 1.0
    from scipy.spatial.transform import Rotation

    rots = m.eye_rotations()
    forward = np.array([0.0, 0.0, 1.0])
    for eye in range(2):
        g0 = Rotation.from_rotvec(rots[0, eye]).apply(forward)
        assert g0[0] > 0.4 and abs(g0[1]) < 1e-6  # toward +X
        g1 = Rotation.from_rotvec(rots[1, eye]).apply(forward)
        assert g1[1] > 0.3 and abs(g1[0]) < 1e-6  # up
    np.testing.assert_allclose(rots[2], 0.0)


def test_saved_files_get_normal_permissions(tmp_path):
    import os
    import stat

    p = tmp_path / "perm.npz"
    Motion.neutral(3).save_npz(p)
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o666 & ~mask
