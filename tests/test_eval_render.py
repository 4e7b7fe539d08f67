"""The renderer's measurement helpers (identity distance, jitter)."""

import numpy as np

from anim3d.eval.render import align_rms, frame_jitter, stillest_window_jitter


def test_identity_distance_ignores_similarity_but_not_shape():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(478, 2)) * 40 + 200
    ang = 0.2
    r = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    b = 1.3 * a @ r.T + [10, -5]
    assert align_rms(a, b) < 1e-9
    c = b + rng.normal(size=b.shape) * 2.0
    assert align_rms(a, c) > 0.01


def test_jitter_and_the_stillest_window():
    rng = np.random.default_rng(1)
    lm = np.zeros((300, 478, 2))
    lm[:, 263, 0] = 100.0  # eye distance 100 px
    lm += rng.normal(size=lm.shape) * 0.5  # tracking noise everywhere
    lm[:150] += rng.normal(size=(150, 478, 2)) * 5.0  # a restless first half
    j = frame_jitter(lm)
    assert j.shape == (299,)
    still = stillest_window_jitter(lm, window=90)
    assert still < j[:140].mean() / 5
    assert abs(still - j[160:].mean()) < 0.2 * j[160:].mean()
