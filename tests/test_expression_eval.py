"""anim3d.eval.expression: the landmark features, acted-clip labels, the rows of the table, monotonicity, the
contact sheet, and the open head tracked at rest and at a frown (MediaPipe)."""

import numpy as np
import pytest

from anim3d.eval import expression as E
from anim3d.landmarks import BROW_L, BROW_R


def _face(corner_up=0.0, width=1.0, brow_up=0.0):
    """A 478 x 3 MediaPipe-like landmark set (normalised image coordinates, y down) with the features' points."""
    lm = np.zeros((478, 3), np.float32)
    lm[:, :2] = 0.5
    lm[33], lm[263] = (0.4, 0.4, 0), (0.6, 0.4, 0)  # outer eye corners: inter-ocular 0.2
    lm[133], lm[362] = (0.45, 0.4, 0), (0.55, 0.4, 0)
    lm[159], lm[145], lm[386], lm[374] = (0.42, 0.39, 0), (0.42, 0.41, 0), (0.58, 0.39, 0), (0.58, 0.41, 0)
    lm[13], lm[14] = (0.5, 0.6, 0), (0.5, 0.6, 0)
    lm[61], lm[291] = (0.5 - 0.05 * width, 0.6 - corner_up, 0), (0.5 + 0.05 * width, 0.6 - corner_up, 0)
    lm[2], lm[0] = (0.5, 0.52, 0), (0.5, 0.56, 0)
    for i in BROW_L + BROW_R:
        lm[i] = (0.5 + (0.1 if i in BROW_L else -0.1), 0.35 - brow_up, 0)
    # the frontal frame reads left-right pairs: make them symmetric about x = 0.5
    from anim3d.landmarks import SYMMETRIC_PAIRS

    for a, b in SYMMETRIC_PAIRS:
        if not lm[a].any() or lm[a, 0] == 0.5:
            lm[a], lm[b] = (0.6, 0.45, 0), (0.4, 0.45, 0)
    return lm


def test_face_features_in_interocular_units():
    f0 = E.face_features(_face()[None])[0][0]
    assert f0[0] == pytest.approx(0.0, abs=1e-6)
    assert f0[1] == pytest.approx(0.5, abs=1e-6)  # 0.1 / 0.2
    assert f0[2] == pytest.approx(0.05 / 0.2, abs=1e-6)
    assert f0[3] == pytest.approx(0.1, abs=1e-6)
    assert f0[4] == pytest.approx(0.2, abs=1e-6)
    f1 = E.face_features(_face(corner_up=0.01, width=1.2, brow_up=0.02)[None])[0][0]
    np.testing.assert_allclose(f1[:3] - f0[:3], [0.05, 0.1, 0.1], atol=1e-6)


def test_acted_label():
    assert E.acted_label("spectre_W036_level_3_happy_007.mp4") == ("happy", 3)
    assert E.acted_label("spectre_W023_level_2_surprised_010.mp4") == ("surprised", 2)
    assert E.acted_label("EAMM_M030_sad_3_001.mp4") == ("sad", 3)
    assert E.acted_label("spectre_W015_level_1_neutral_030.mp4") == ("neutral", 1)
    assert E.acted_label("LipNet_bbaf2n.mpg") is None
    assert E.acted_label("happy_birthday_talk.mp4") is None  # an emotion word alone is not a label


def test_monotone():
    assert E.monotone([0.01, 0.02, 0.03]) and E.monotone([-0.01, -0.02, -0.04])
    assert E.monotone([0.010, 0.009, 0.03])  # a step back within the noise floor
    assert not E.monotone([0.02, 0.005, 0.03])
    assert not E.monotone([-0.02, 0.0, -0.03])


def _rendered(scale=1.0):
    from anim3d.emotions import EMOTIONS

    feats = {(0, "neutral", 1.0): np.zeros(5)}
    weights = {(0, "neutral", 1.0): np.zeros(52)}
    for e in EMOTIONS[1:]:
        for i in E.INTENSITIES:
            feats[(0, e, i)] = np.array([-0.05, 0.05, 0.0, 0.0, 0.0]) * i * scale
            w = np.zeros(52)
            w[5] = i
            weights[(0, e, i)] = w
    return E.Rendered(feats, weights, tracked=10, tried=10, audios=1)


def test_rows_ratio_target_and_monotone():
    ref = E.Reference(np.zeros(5), np.array([0.02, 0.03, 0.03, 0.02, 0.02]), {"a": np.zeros(5)},
                      {"sad": [("x.mp4", 3, np.array([-0.05, 0.01, 0.0, 0.0, 0.0]))]})
    rows = {(r["emotion"], r["feature"]): r for r in E.expression_rows(ref, _rendered(0.9))}
    sad = rows[("sad", "corner")]
    assert sad["ratio"] == pytest.approx(0.9) and sad["met"] and sad["monotone"]
    assert rows[("sad", "width")]["ratio"] is None  # real change under one population sd: no ratio
    assert rows[("happy", "corner")]["real"] is None  # no acted clip
    low = {(r["emotion"], r["feature"]): r for r in E.expression_rows(ref, _rendered(0.5))}
    assert low[("sad", "corner")]["met"] is False


def test_expression_weights_and_contact_sheet(tmp_path):
    from PIL import Image

    from anim3d.flame.open_head import load_open_head

    r = _rendered()
    w = E.expression_weights(r, "sad", 0.67)
    assert w[5] == pytest.approx(0.67) and (w >= 0).all()
    assert not E.expression_weights(r, "neutral", 1.0).any()
    out = tmp_path / "sheet.png"
    E.contact_sheet(load_open_head(), r, out, cell=48)
    assert Image.open(out).size == (8 * 48, 3 * 48)  # emotions across, intensities down


def test_open_head_tracked_at_rest_and_frowning():
    """MediaPipe finds the rendered open head; its neutral mouth sits at the lip line like real speakers'
    (+0.004 +- 0.017), and a frown moves the tracked corners down."""
    pytest.importorskip("mediapipe")
    from anim3d.channels import INDEX
    from anim3d.flame.open_head import load_open_head

    head = load_open_head()
    w = np.zeros((2, 52), np.float32)
    w[1, INDEX["mouthFrownLeft"]] = w[1, INDEX["mouthFrownRight"]] = 0.5
    rest, n = E.render_features(head, w[:1])
    frown, m = E.render_features(head, w[1:])
    assert n == m == 1
    assert abs(rest[0]) < 0.03 and 0.5 < rest[1] < 0.62
    assert frown[0] < rest[0] - 0.02


def test_rows_against_the_teacher():
    """Emotions without an acted clip get a ratio against the teacher's shapes where the teacher moves the feature
    by at least TEACHER_MIN; a Rendered without teacher renders (the portrait video's) has none."""
    r = _rendered()
    r.features[(0, E.teacher_key("fear"), 1.0)] = np.array([-0.0625, 0.05, 0.004, 0.0, 0.0])
    rows = {(x["emotion"], x["feature"]): x for x in E.expression_rows(None, r)}
    assert rows[("fear", "corner")]["teacher_ratio"] == pytest.approx(0.8) and rows[("fear", "corner")]["teacher_met"] is False
    assert rows[("fear", "width")]["teacher_ratio"] == pytest.approx(1.0) and rows[("fear", "width")]["teacher_met"]
    assert rows[("fear", "brow")]["teacher"] == pytest.approx(0.004) and rows[("fear", "brow")]["teacher_ratio"] is None
    assert rows[("contempt", "corner")]["teacher"] is None and rows[("fear", "corner")]["ratio"] is None
    assert all(x["teacher"] is None for x in E.expression_rows(None, _rendered()))


def test_render_emotions_renders_the_teacher_shapes():
    """The teacher's fear (brows up, eyes wide) on the neutral frames, rendered and tracked: the brows rise and the
    eyes open against the neutral frames, while a method whose fear is neutral shows no change."""
    from anim3d.motion import Motion

    class Still:  # a Method whose every emotion is the rest face
        def generate(self, audio, seed=0, emotion="neutral", intensity=1.0):
            return Motion.neutral(2, 30.0)

    r = E.render_emotions(Still(), [None], emotions=["fear"], intensities=(1.0,), stride=1, teacher=("fear",))
    assert r.tracked == r.tried == 6
    t = r.teacher_change("fear")
    assert t[2] > 0.02 and t[3] > 0.01  # brow, eye
    assert np.abs(r.change("fear", 1.0)).max() < 1e-6
    assert r.teacher_change("contempt") is None
