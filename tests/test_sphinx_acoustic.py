"""pocketsphinx's acoustic model read and scored by anim3d.models.sphinx_acoustic (the model ships in the wheel)."""

import itertools

import numpy as np
import pytest

from anim3d.models import sphinx_acoustic as sa


def test_the_wheel_model_reads_with_the_expected_shapes():
    m = sa.load_model()
    assert len(m.phones) == 42 and {"AA", "B", "SIL", "ZH"} <= set(m.phones)
    assert m.means.shape == m.variances.shape == (42, 3, 128, 13)
    assert m.log_weights.shape == (3, 128, 126)
    assert (m.variances >= sa.VAR_FLOOR).all() and (m.log_weights <= 0).all()
    # each CI senone's mixture weights over its codebook sum to about 1 (8-bit quantised)
    total = np.exp(m.log_weights).sum(axis=1)  # 3 x 126
    assert np.allclose(total, 1.0, atol=0.15)


def test_features_shape_cmn_and_deltas():
    x = np.random.default_rng(0).normal(scale=0.1, size=16000) * np.linspace(0.1, 1.0, 16000)  # 1 s, rising
    f = sa.features(x)
    assert f.shape == (1 + (16000 - sa.WINDOW) // 160, 39)
    c, d, dd = f[:, :13], f[:, 13:26], f[:, 26:]
    assert np.allclose(c.mean(axis=0), 0.0, atol=1e-4)  # batch CMN
    assert np.allclose(d[2:-2], c[4:] - c[:-4], atol=1e-4)  # c[t+2] - c[t-2]
    assert np.allclose(dd[3:-3], (c[6:] - c[2:-4]) - (c[4:-2] - c[:-6]), atol=1e-4)  # d[t+1] - d[t-1]
    assert d[2:-2, 0].mean() > 0  # the level rises, so c0's delta is positive on average
    assert sa.features(np.zeros(0)).shape == (0, 39)


def test_phone_loop_is_the_best_path_and_the_penalty_merges_phones():
    rng = np.random.default_rng(0)
    ll = rng.normal(size=(6, 3))
    pen = 0.7

    def cost(path):
        return sum(ll[t, p] for t, p in enumerate(path)) - pen * sum(a != b for a, b in zip(path, path[1:]))

    best = max(itertools.product(range(3), repeat=6), key=cost)
    assert cost(tuple(sa.phone_loop(ll, pen))) == pytest.approx(cost(best))
    assert list(sa.phone_loop(ll, 0.0)) == list(ll.argmax(axis=1))
    assert len(set(sa.phone_loop(ll, 100.0))) == 1


def test_speech_scores_like_its_phones(evaldata):
    """On real speech (a Harvard sentence), vowel frames score a vowel and the pause frames silence
    more often than chance (1 in 42) would allow."""
    from anim3d.audio import load_audio
    from anim3d.phones import VOWELS
    from anim3d.phonetic import recognize_phones

    audio = load_audio(evaldata / "audio" / "B08_sb_example1.wav")
    x = np.asarray(audio.samples, np.float64)
    if audio.sample_rate != 16000:
        from anim3d.audio import resample

        x = resample(x, audio.sample_rate, 16000)
    m = sa.load_model()
    best = np.array(m.phones)[sa.ci_phone_loglik(sa.features(x)).argmax(axis=1)]
    words = recognize_phones(audio, mode="words")  # the slow, accurate recogniser as the reference
    hits = [best[t] in VOWELS for p in words if p.label in VOWELS for t in range(int(p.start * 100) + 1, int(p.end * 100) - 1) if t < len(best)]
    assert len(hits) > 50 and np.mean(hits) > 0.6  # vowels are 15 of the 42 phones
