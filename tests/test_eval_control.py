"""Gaze / distance control measurement and the per-seed / per-part stochastic measures (anim3d.eval)."""

import numpy as np
import pytest

from anim3d.channels import INDEX
from anim3d.eval.baselines import Method
from anim3d.eval.control import (
    evaluate_controls, head_yaw_pitch, measure_distance, measure_gaze, response, summarize_distance, summarize_gaze,
)
from anim3d.eval.stochastic import part_diversity, seed_spread
from anim3d.motion import Motion
from anim3d.motion_codec import gaze_angles


def obedient(gain=1.0, head_share=0.25):
    """A fake method that turns the eyes by ``gain`` x the requested gaze (via eyeLook* weights),
    the head by ``head_share`` of it, and offsets the head by the requested distance."""
    from anim3d.channels import EYE_MAX_DOWN, EYE_MAX_UP, EYE_MAX_YAW

    def generate(audio, seed=0, fps=30.0, gaze=(0.0, 0.0), distance=0.0, **_):
        m = Motion.neutral(60, fps)
        yaw, pitch = gain * gaze[0], gain * gaze[1]
        b = m.blendshapes
        if yaw > 0:  # toward the subject's left: left eye out, right eye in
            b[:, INDEX["eyeLookOutLeft"]] = b[:, INDEX["eyeLookInRight"]] = yaw / EYE_MAX_YAW
        else:
            b[:, INDEX["eyeLookInLeft"]] = b[:, INDEX["eyeLookOutRight"]] = -yaw / EYE_MAX_YAW
        if pitch > 0:
            b[:, INDEX["eyeLookDownLeft"]] = b[:, INDEX["eyeLookDownRight"]] = pitch / EYE_MAX_DOWN
        else:
            b[:, INDEX["eyeLookUpLeft"]] = b[:, INDEX["eyeLookUpRight"]] = -pitch / EYE_MAX_UP
        m.head_rotation[:, 1] = head_share * gaze[0]  # yaw about +Y
        m.head_translation[:, 2] = distance
        return m

    return Method("obedient", generate, controls=("gaze", "distance"))


def test_head_yaw_pitch_conventions():
    yp = head_yaw_pitch(np.array([[0, np.radians(20), 0], [np.radians(10), 0, 0], [0, 0, 0]]))
    np.testing.assert_allclose(yp, [[20, 0], [0, 10], [0, 0]], atol=1e-9)  # +Y yaw = left, +X pitch = down


def test_measure_gaze_reads_the_eye_channels():
    m = obedient().generate(None, gaze=(np.radians(10), np.radians(-5)))
    eye, head = measure_gaze(m)
    assert eye == pytest.approx((10, -5), abs=1e-4)
    assert head[0] == pytest.approx(2.5, abs=1e-4) and head[1] == pytest.approx(0, abs=1e-6)
    assert np.degrees(gaze_angles(m.blendshapes)[0]) == pytest.approx([10, -5], abs=1e-4)
    assert measure_distance(obedient().generate(None, distance=0.05)) == pytest.approx(0.05)


def test_response_slope_r_and_error():
    r = response([-1, 0, 1, 2], [-0.5, 0, 0.5, 1.0])
    assert r["slope"] == pytest.approx(0.5) and r["r"] == pytest.approx(1.0) and r["mae"] == pytest.approx(0.5)
    assert np.isnan(response([1, 1], [0, 2])["slope"])


@pytest.mark.parametrize("gain", [1.0, 0.5, 0.0])
def test_control_evaluation_measures_how_far_the_method_follows(gain):
    samples = evaluate_controls(obedient(gain), [None, None], progress=False)
    g, d = summarize_gaze(samples), summarize_distance(samples)
    assert len(g["rows"]) == 5 and len(d["rows"]) == 5
    if gain == 0:
        assert np.isnan(g["yaw"]["r"]) and g["yaw"]["slope"] == pytest.approx(0, abs=1e-6)
    else:
        assert g["yaw"]["slope"] == pytest.approx(gain, abs=1e-3) and g["pitch"]["slope"] == pytest.approx(gain, abs=1e-3)
        assert g["yaw"]["r"] == pytest.approx(1.0)
    assert g["head_yaw"]["slope"] == pytest.approx(0.25, abs=1e-3)
    assert d["response"]["slope"] == pytest.approx(1.0) and d["response"]["mae"] < 1e-6


def test_methods_without_the_control_are_skipped():
    m = Method("deaf", lambda audio, seed=0, fps=30.0, **_: Motion.neutral(10), controls=("emotion",))
    assert evaluate_controls(m, [None], progress=False) == []


def test_part_diversity_separates_head_blinks_brows():
    a, b = Motion.neutral(30), Motion.neutral(30)
    b.blendshapes[:, INDEX["eyeBlinkLeft"]] = 0.6
    b.blendshapes[:, INDEX["eyeBlinkRight"]] = 0.8  # blinks differ by (0.6, 0.8): L2 = 1.0
    d = part_diversity([a, b])
    assert d["blinks"] == pytest.approx(1.0) and d["brows"] == 0 and d["head (deg)"] == 0 and d["mouth"] == 0
    c = Motion.neutral(30)
    c.head_rotation[:, 0] = np.radians(3.0)
    assert part_diversity([a, c])["head (deg)"] == pytest.approx(3.0)


def test_seed_spread_in_points():
    s = seed_spread([0.95, 0.97, 0.94])
    assert s["best"] == 0.97 and s["worst"] == 0.94 and s["gap_points"] == pytest.approx(3.0)
    assert s["mean"] == pytest.approx(np.mean([0.95, 0.97, 0.94]))


def test_a_checkpoint_takes_gaze_and_distance_requests(tmp_path):
    from anim3d.audio import audio_from_array
    from anim3d.eval.baselines import available_methods
    from anim3d.models.checkpoint import save_checkpoint
    from anim3d.models.config import get_config
    from anim3d.models.motion_transformer import MotionTransformer

    cfg = get_config("tiny")
    save_checkpoint(tmp_path / "ck", MotionTransformer(cfg), cfg)
    methods = available_methods(str(tmp_path / "ck"), "cpu", steps=1)
    model = next(m for m in methods if m.name.startswith("model"))
    assert {"gaze", "distance"} <= set(model.controls)
    audio = audio_from_array(0.1 * np.sin(np.arange(16000) * 0.1).astype(np.float32), 16000)
    samples = evaluate_controls(model, [audio], progress=False)
    assert len(samples) == 10 and all(np.isfinite(s.achieved).all() for s in samples)


def test_stochastic_reports_parts_and_closure_per_seed():
    from anim3d.eval.stochastic import evaluate_stochastic
    from anim3d.eval.synthetic import SynthUtterance
    from anim3d.phones import Phone

    phones = [Phone("SIL", 0, 0.2), Phone("M", 0.2, 0.3), Phone("AA", 0.3, 0.5), Phone("P", 0.5, 0.6), Phone("SIL", 0.6, 1.0)]
    gt = Motion.neutral(30)
    gt.blendshapes[9:18, INDEX["jawOpen"]] = 0.5  # open for AA only

    def gen(audio, seed=0, fps=30.0, **_):
        m = Motion.neutral(30)
        m.blendshapes[:, INDEX["jawOpen"]] = 0.5  # never closes...
        if seed % 2 == 0:
            m.blendshapes[6:9, INDEX["jawOpen"]] = 0.0  # ...except even seeds close for M
        m.blendshapes[:, INDEX["eyeBlinkLeft"]] = 0.1 * seed
        return m

    utt = SynthUtterance("u", None, gt, phones)
    (res,) = evaluate_stochastic([utt], [Method("m", gen, stochastic=True)], num_samples=3, progress=False)
    assert res.closures == 2  # M and P
    assert res.closure_per_seed == pytest.approx([0.5, 0.0, 0.5])  # seeds 0, 1, 2: M closes on even seeds
    assert res.parts["blinks"] > 0 and res.parts["head (deg)"] == 0 and res.parts["brows"] == 0
