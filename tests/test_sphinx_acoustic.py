"""pocketsphinx's acoustic model read and scored by anim3d.sphinx_acoustic (the model ships in the wheel)."""

import itertools

import numpy as np
import pytest

from anim3d import sphinx_acoustic as sa


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
    from anim3d.data.phones import VOWELS
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


def test_the_model_definition_gives_every_senone_one_phone_and_its_neighbours():
    """mdef's triphones: base, left and right are CI phones, each CD senone serves one base phone's state, and
    the neighbour tables are distributions over the CI phones."""
    import os

    phones, tri = sa.read_mdef(os.path.join(sa.model_dir(), "mdef"))
    assert phones == sa.load_model().phones and len(tri) > 100_000
    assert tri[:, :3].min() >= 0 and tri[:, :3].max() < len(phones)
    for j in range(3):  # a senone is tied within one phone's state j
        base_of = {}
        for s, b in zip(tri[:, 3 + j].tolist(), tri[:, 0].tolist()):
            assert base_of.setdefault(s, b) == b
    ctx = sa.load_context_model()
    S = ctx.log_weights.shape[2]
    assert ctx.bounds[0] == 0 and ctx.bounds[-1] == S == tri[:, 3:].max() + 1
    assert np.allclose(ctx.left.sum(axis=1), 1) and np.allclose(ctx.right.sum(axis=1), 1)
    # P has senones of its own beyond the CI ones (its contexts are told apart)
    p = phones.index("P")
    a, b = ctx.bounds[p], ctx.bounds[p + 1]
    assert b - a > 3


def test_context_posteriors_are_distributions_and_the_top_phone_shortcut_is_close(evaldata):
    """Each half of a row (left, right neighbours) sums to 1; scoring only the 6 likeliest phones' senones
    gives nearly the numbers of scoring all of them; and the right neighbour of the frames before a pause
    is the pause (SIL) more often than chance."""
    from anim3d.audio import load_audio, resample

    audio = load_audio(evaldata / "audio" / "B08_sb_example1.wav")
    x = np.asarray(audio.samples, np.float64)
    if audio.sample_rate != 16000:
        x = resample(x, audio.sample_rate, 16000)
    f = sa.features(x)[::3]
    m = sa.load_model()
    full = sa.context_posteriors(f, top_phones=len(m.phones))
    fast = sa.context_posteriors(f)
    P = len(m.phones)
    assert full.shape == (len(f), 2 * P)
    assert np.allclose(full[:, :P].sum(axis=1), 1, atol=1e-4) and np.allclose(fast[:, P:].sum(axis=1), 1, atol=1e-4)
    assert np.abs(fast - full).mean() < 0.005
    sil = m.phones.index("SIL")
    best = sa.ci_phone_loglik(sa.features(x)[::3]).argmax(axis=1)
    before_pause = [t for t in range(len(best) - 1) if best[t] != sil and best[t + 1] == sil]
    assert len(before_pause) >= 3
    assert full[before_pause, P + sil].mean() > 5 / P
