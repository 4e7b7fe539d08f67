"""The phone-posterior front end (models.phone_features): layout, running CMN, and the same numbers whether
the audio comes whole or in a stream."""

import numpy as np
import pytest

from anim3d.models import phone_features as pf


@pytest.fixture(scope="module")
def speech():
    """The repository's own speech (examples/hello.wav, 7.9 s)."""
    from pathlib import Path

    from anim3d.audio import load_audio, resample

    audio = load_audio(Path(__file__).resolve().parents[1] / "examples" / "hello.wav")
    x = np.asarray(audio.samples, np.float32)
    return resample(x, audio.sample_rate, 16000) if audio.sample_rate != 16000 else x


def test_running_mean_is_the_windowed_mean_topped_up_with_the_prior():
    rng = np.random.default_rng(0)
    c = rng.normal(size=(700, 13)).astype(np.float32) + 5.0
    got = pf.running_mean(c)
    for t in (0, 10, 99, 100, 250, 299, 300, 450, 699):
        window = c[max(0, t - pf.CMN_FRAMES + 1) : t + 1]
        fill = max(0, pf.CMN_PRIOR_FRAMES - len(window))
        want = (window.sum(axis=0) + fill * pf.CMN_PRIOR) / (len(window) + fill)
        assert np.allclose(got[t], want, atol=1e-3), t


def test_layout_posteriors_and_energy(speech):
    fe = pf.PhoneFrontEnd()
    n = 150  # 5 s
    f = fe(speech[: 5 * 16000], n)
    assert f.shape == (n, 3 * pf.N_FEATURES) == (n, fe.dim)
    per = f.reshape(n * 3, pf.N_FEATURES)
    assert np.allclose(per[:, : pf.N_PHONES].sum(axis=1), pf.POSTERIOR_SCALE, atol=1e-4)
    assert (per[:, : pf.N_PHONES] >= 0).all()
    # log energy: speech frames are louder than the quietest ones by a wide margin
    e = per[:, -1] / pf.ENERGY_SCALE
    assert np.percentile(e, 90) - np.percentile(e, 10) > 5.0
    # silence is silence
    sil = fe.model.phones.index("SIL")
    quiet = fe(np.zeros(16000, np.float32), 30).reshape(90, pf.N_FEATURES)
    assert (quiet[:, : pf.N_PHONES].argmax(axis=1) == sil).mean() > 0.9


def _stream(fe, x, total, cache=None):
    """Features of ``x`` fed in 100 ms chunks with the buffer the streaming animator keeps."""
    from anim3d.models.audio_features import subframe_centers

    keep = fe.history_samples + 16000
    done, received, got = 0, 0, []
    last_instant = subframe_centers(0, total, 30.0, 16000, 3).reshape(total, 3)[:, -1]
    while done < total:
        received = min(len(x), received + 1600)
        final = received == len(x)
        ready = total if final else int(np.sum(last_instant + fe.lookahead_samples <= received))
        if ready > done:
            offset = max(0, received - keep)
            got.append(fe(x[offset:received], ready - done, start_frame=done, sample_offset=offset, cache=cache))
            done = ready
    return np.concatenate(got)


def test_streamed_features_equal_the_whole_file(speech):
    """Fed in 100 ms chunks, with the buffer the streaming animator keeps, every frame whose audio has arrived
    gets the numbers the whole file gives (the running mean and the deltas' look-ahead see the same samples)."""
    fe = pf.PhoneFrontEnd()
    x = speech[: 8 * 16000]
    total = int(round(len(x) / 16000 * 30))
    whole = fe(x, total)
    streamed = _stream(fe, x, total)
    assert streamed.shape == whole.shape
    assert np.abs(streamed - whole).max() < 1e-3
    # a buffer without the running mean's history gives other numbers (the test above can fail)
    late = fe(x[5 * 16000 :], 30, start_frame=200, sample_offset=5 * 16000)
    assert np.abs(late - whole[200:230]).max() > 1e-2


def test_a_stream_cache_gives_the_same_numbers_and_computes_each_frame_once(speech, monkeypatch):
    fe = pf.PhoneFrontEnd()
    x = speech[: 8 * 16000]
    total = int(round(len(x) / 16000 * 30))
    whole = fe(x, total)
    computed = []
    real_cepstra = pf.sa.cepstra

    def counting(*a, **k):
        c = real_cepstra(*a, **k)
        computed.append(len(c))
        return c

    monkeypatch.setattr(pf.sa, "cepstra", counting)
    uncached = _stream(fe, x, total)
    without = sum(computed)
    computed.clear()
    cache = fe.stream_cache()
    cached = _stream(fe, x, total, cache)
    assert np.abs(cached - whole).max() < 1e-3
    assert np.abs(cached - uncached).max() < 1e-6
    stream_frames = 1 + (len(x) - pf.sa.WINDOW) // pf.HOP
    # each frame once, give or take the last chunk's partial window; without the cache, the 3 s history each time
    assert sum(computed) <= stream_frames + 10, (sum(computed), stream_frames)
    assert without > 5 * stream_frames
    # only the running mean's window is kept
    assert len(cache.c) <= pf.CMN_FRAMES + 2 * pf.DELTA_REACH + 40
