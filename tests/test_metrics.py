"""Evaluation metrics on hand-made cases with known answers."""

import numpy as np
import pytest

from anim3d.phones import Phone
from anim3d.eval import metrics as M


def _curve(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = np.convolve(rng.standard_normal(n + 20), np.ones(5) / 5, mode="same")[10 : n + 10]
    return x


def test_pearson_self_and_sign():
    x = _curve()
    assert M.pearson(x, x) == pytest.approx(1.0)
    assert M.pearson(x, -2 * x + 3) == pytest.approx(-1.0)
    assert np.isnan(M.pearson(x, np.ones_like(x)))
    with pytest.raises(ValueError):
        M.pearson(x, x[:-1])


@pytest.mark.parametrize("k", [0, 3, -4, 7])
def test_best_lag_finds_shift(k):
    ref = _curve(400, seed=1)
    gen = np.roll(ref, k)  # generated is late by k frames
    lag, r = M.best_lag(gen, ref, max_lag=10)
    assert lag == k
    assert r > 0.97
    # with a lag window too small the shifted copy is not found at full correlation
    if abs(k) > 2:
        _, r_small = M.best_lag(gen, ref, max_lag=1)
        assert r_small < 0.9


def test_lip_vertex_error_is_max_over_lip_per_frame():
    gt = np.zeros((2, 4, 3))
    pred = gt.copy()
    pred[0, 1, 0] = 0.003  # lip vertex, frame 0
    pred[0, 2, 1] = 0.001  # lip vertex, smaller
    pred[1, 2, 2] = 0.004  # lip vertex, frame 1
    pred[1, 3, 0] = 0.5  # not a lip vertex
    assert M.lip_vertex_error(pred, gt, [1, 2]) == pytest.approx((0.003 + 0.004) / 2)
    assert M.mean_vertex_error(pred, gt) == pytest.approx((0.003 + 0.001 + 0.004 + 0.5) / 8)
    with pytest.raises(ValueError):
        M.lip_vertex_error(pred[:, :3], gt, [1])


def test_fdd():
    t = np.linspace(0, 2 * np.pi, 50)
    tpl = np.zeros((3, 3))
    gt = np.zeros((50, 3, 3))
    gt[:, 0, 1] = 0.002 * (1 + np.sin(t))  # upper vertex moves
    pred = gt.copy()
    pred[:, 0, 1] *= 0.5  # moves half as much
    expected = (np.abs(gt[:, 0, 1]).std() - np.abs(pred[:, 0, 1]).std()) / 1
    assert M.upper_face_dynamics_deviation(pred, gt, tpl, [0]) == pytest.approx(expected)
    assert M.upper_face_dynamics_deviation(gt, gt, tpl, [0, 1]) == pytest.approx(0.0)


def test_bilabial_closure_detected_exactly_where_lips_meet():
    fps = 30
    opening = np.full(60, 0.3)
    opening[20] = 0.0  # lips meet at frame 20 only
    at = Phone("M", 19.5 / fps, 20.5 / fps)  # middle = frame 20
    near = Phone("B", 20.5 / fps, 21.5 / fps)  # middle = frame 21: within +/-1
    far = Phone("P", 21.5 / fps, 22.5 / fps)  # middle = frame 22: 2 frames away
    other = Phone("AA", 19.5 / fps, 20.5 / fps)
    assert M.bilabial_closure_rate(opening, [at, other], fps, closed_below=0.05) == (1.0, 1)
    assert M.bilabial_closure_rate(opening, [near], fps, closed_below=0.05) == (1.0, 1)
    assert M.bilabial_closure_rate(opening, [far], fps, closed_below=0.05) == (0.0, 1)
    assert M.bilabial_closure_rate(opening, [at, near, far], fps, closed_below=0.05)[0] == pytest.approx(2 / 3)
    assert M.bilabial_closure_rate(opening, [far], fps, closed_below=0.05, tolerance=2) == (1.0, 1)
    rate, n = M.bilabial_closure_rate(opening, [other], fps, closed_below=0.05)
    assert n == 0 and np.isnan(rate)


def test_open_vowel_jaw_rate():
    fps = 30
    opening = np.zeros(40)
    opening[10] = 0.4
    hit = Phone("AA", 9.5 / fps, 10.5 / fps)
    miss = Phone("AE", 29.5 / fps, 30.5 / fps)
    closed = Phone("IY", 9.5 / fps, 10.5 / fps)  # not an open vowel
    assert M.open_vowel_jaw_rate(opening, [hit, miss, closed], fps, open_above=0.2) == (0.5, 2)


def test_head_motion_intensity():
    # constant rotation speed of 0.5 deg per frame about Y
    ang = np.radians(0.5) * np.arange(31)
    rot = np.stack([np.zeros_like(ang), ang, np.zeros_like(ang)], axis=1)
    assert M.head_motion_intensity(rot, fps=30) == pytest.approx(0.5)
    assert M.head_motion_intensity(rot, fps=60) == pytest.approx(1.0)  # 0.5 deg/frame at 60 fps = 1 deg per 30-fps frame
    assert M.head_motion_intensity(np.zeros((10, 3))) == pytest.approx(0.0)


def test_blinks():
    fps = 30
    closure = np.zeros(fps * 60)  # one minute
    for start in (100, 500, 900):
        closure[start : start + 4] = 1.0
    closure[1300] = 0.45  # not a blink
    assert M.blink_rate_from_closure(closure, fps) == pytest.approx(3.0)
    openness = 0.3 * (1 - 0.9 * closure)
    assert M.blink_rate_from_closure(M.closure_from_openness(openness), fps) == pytest.approx(3.0)
    assert M.count_events(np.array([0, 1, 0.45, 1, 0]), on=0.5, off=0.4) == 1  # hysteresis


def test_stochastic_measures():
    gt = np.zeros((10, 2))
    a = np.zeros((10, 2)); a[:, 0] = 1.0
    b = np.zeros((10, 2)); b[:, 0] = -1.0
    c = np.zeros((10, 2)); c[:, 1] = 3.0
    s = np.stack([a, b, c])
    # pairs: |a-b| = 2, |a-c| = sqrt(10), |b-c| = sqrt(10)
    assert M.diversity(s) == pytest.approx((2 + 2 * np.sqrt(10)) / 3)
    assert M.mean_of_samples_error(s, gt) == pytest.approx(1.0)  # mean = (0, 1)
    assert M.closest_sample_error(s, gt) == pytest.approx(1.0)
    assert M.diversity(np.stack([a, a])) == 0.0
    with pytest.raises(ValueError):
        M.diversity(s[:1])


def test_emotion_measures():
    assert M.recognition_rate(["happy", "sad", "sad"], ["happy", "sad", "angry"]) == pytest.approx(2 / 3)
    rises, rho = M.monotonicity([1.0, 0.25, 0.5, 0.75], [0.9, 0.1, 0.4, 0.6])
    assert rises == 1.0 and rho == pytest.approx(1.0)
    rises, rho = M.monotonicity([0.25, 0.5, 0.75, 1.0], [0.5, 0.4, 0.6, 0.3])
    assert rises == pytest.approx(1 / 3) and rho < 0


def test_stochastic_measures_on_vertices_average_per_vertex():
    gt = np.zeros((4, 10, 3))
    a = gt.copy(); a[..., 0] = 0.002  # every vertex 2 mm off
    b = gt.copy(); b[..., 0] = -0.002
    s = np.stack([a, b])
    assert M.diversity(s) == pytest.approx(0.004)
    assert M.closest_sample_error(s, gt) == pytest.approx(0.002)
    assert M.mean_of_samples_error(s, gt) == pytest.approx(0.0)


def test_head_motion_intensity_smoothing_removes_jitter_only():
    rng = np.random.default_rng(0)
    ang = np.radians(0.3) * np.arange(90)
    rot = np.stack([np.zeros_like(ang), ang, np.zeros_like(ang)], axis=1)
    jitter = rot + np.radians(0.5) * rng.standard_normal(rot.shape)
    assert M.head_motion_intensity(rot, smooth=9) == pytest.approx(0.3, rel=1e-3)  # a steady turn is kept
    assert M.head_motion_intensity(jitter) > 0.6
    assert M.head_motion_intensity(jitter, smooth=9) < 0.45
