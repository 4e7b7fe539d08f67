"""Gaze: eyeLook* channels move the portrait's irises inside the lids, and the warp moves the iris pixels."""

import numpy as np
import pytest

from anim3d.channels import EYE_MAX_YAW
from anim3d.render.gaze import EYES, from_eye_coords, place_irises, to_eye_coords
from test_render_drive import _motion, rig_and_portrait, synthetic_head  # noqa: F401 - fixtures


def test_eye_coordinates_round_trip(rig_and_portrait):
    _, p = rig_and_portrait
    lm = p.landmarks.astype(np.float64)
    for upper, lower in EYES:
        centre = lm[list(upper) + list(lower), :2].mean(0)
        pts = lm[list(upper[2:7]) + list(lower[2:7]), :2] * 0.5 + centre * 0.5  # inside the opening
        sv = to_eye_coords(lm, pts, upper, lower)
        assert np.all((sv[:, 1] > 0) & (sv[:, 1] < 1))
        np.testing.assert_allclose(from_eye_coords(lm, sv, upper, lower), pts, atol=1e-6)


def test_neutral_keeps_the_irises_and_gaze_moves_one_eye(rig_and_portrait):
    rig, p = rig_and_portrait
    left, right = rig.iris_ids  # Motion order: the subject's left eye (image right) first
    assert p.landmarks[left[0], 0] > p.landmarks[right[0], 0]
    from anim3d.render.drive import drive_landmarks

    rest = drive_landmarks(rig, _motion())[0]
    np.testing.assert_allclose(rest[np.r_[left, right], :2], p.landmarks[np.r_[left, right], :2], atol=0.5)
    out = drive_landmarks(rig, _motion(eyeLookOutLeft=1.0))[0]  # the left eye looks to the subject's left: image right
    dx = out[left[0], 0] - rest[left[0], 0]
    assert dx == pytest.approx(rig.eye_radius_px * np.sin(EYE_MAX_YAW), rel=0.05)
    np.testing.assert_allclose(out[right, :2], rest[right, :2], atol=1e-4)
    down = drive_landmarks(rig, _motion(eyeLookDownRight=1.0))[0]
    assert down[right[0], 1] > rest[right[0], 1] + 2  # image y grows downwards


def test_irises_stay_between_closing_lids(rig_and_portrait):
    rig, p = rig_and_portrait
    lm = np.repeat(p.landmarks[None].astype(np.float64), 2, 0)
    upper, lower = EYES[0]
    lm[1, list(lower), 1] = lm[1, list(upper), 1] + 1.0  # the lids nearly shut
    far = np.array([[[40.0, -30.0], [0.0, 0.0]]] * 2)  # a huge gaze shift for the first eye
    out = place_irises(lm.copy(), rig.iris_ids, rig.iris_sv, far)
    for t in range(2):
        sv = to_eye_coords(out[t], out[t, rig.iris_ids[0], :2], upper, lower)
        assert np.all((sv[:, 0] > 0.1) & (sv[:, 0] < 0.9) & (sv[:, 1] >= 0.07) & (sv[:, 1] <= 0.93))


def test_gaze_moves_the_iris_pixels(rig_and_portrait):
    from anim3d.render.flow import backward_flow, build_warp_mesh, driven_vertices
    from anim3d.render.drive import drive_landmarks

    rig, p = rig_and_portrait
    mesh = build_warp_mesh(p.landmarks, p.size)
    lm = drive_landmarks(rig, _motion(eyeLookOutLeft=1.0))[0]
    fm = backward_flow(mesh, driven_vertices(mesh, lm), p.size)
    c = lm[rig.iris_ids[0][0], :2]  # the driven iris centre samples the portrait's iris centre
    src = fm.source_xy[int(c[1]), int(c[0])].numpy()
    assert np.linalg.norm(src - p.landmarks[rig.iris_ids[0][0], :2]) < 1.5
    assert np.linalg.norm(c - p.landmarks[rig.iris_ids[0][0], :2]) > 5
