"""The phone-posterior front end (models.phone_features): layout, running CMN, and the same numbers whether
the audio comes whole or in a stream."""

import numpy as np
import pytest

from models import phone_features as pf


@pytest.fixture(scope="module")
def speech(evaldata):
    from anim3d.audio import load_audio, resample

    audio = load_audio(evaldata / "audio" / "B01_jfk.flac")
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
    from models.audio_features import subframe_centers

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


@pytest.mark.parametrize("smoothing", [0.0, 0.9])
def test_streamed_features_equal_the_whole_file(speech, smoothing):
    """Fed in 100 ms chunks, with the buffer the streaming animator keeps, every frame whose audio has arrived
    gets the numbers the whole file gives (the running mean and the deltas' look-ahead see the same samples;
    the forward filter forgets where it started)."""
    fe = pf.PhoneFrontEnd(smoothing=smoothing)
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


def test_a_warped_filterbank_moves_every_filter_by_the_warp():
    sa = pf.sa
    hz = np.arange(sa.N_FFT // 2 + 1) * sa.SAMPLE_RATE / sa.N_FFT
    centre = lambda w: (w * hz).sum(axis=1) / w.sum(axis=1)  # noqa: E731  (each filter's centre of mass, Hz)
    plain, up, down = (sa.mel_filters(sa.SAMPLE_RATE, a) for a in (1.0, 1.1, 0.9))
    assert np.allclose(centre(up) / centre(plain), 1.1, atol=0.02)
    assert np.allclose(centre(down) / centre(plain), 0.9, atol=0.02)
    assert not plain.flags.writeable  # cached and shared: nobody may change it


def test_a_warped_front_end_streams_like_its_whole_file_and_unwarped_is_unchanged(speech):
    fe = pf.PhoneFrontEnd()
    x = speech[: 4 * 16000]
    total = int(round(len(x) / 16000 * 30))
    whole = fe(x, total)
    assert np.array_equal(fe.warped(1.0)(x, total), whole)
    warped = fe.warped(0.9)
    assert warped.model is fe.model and fe.warp == 1.0
    w_whole = warped(x, total)
    assert np.abs(w_whole - whole).max() > 0.5  # another spectrum, other posteriors
    cache = warped.stream_cache()
    assert np.abs(_stream(warped, x, total, cache) - w_whole).max() < 1e-3  # the cache keeps the warp


def test_forward_filter_keeps_a_phone_through_a_one_frame_blip_and_is_the_identity_without_memory():
    P = pf.N_PHONES
    post = np.full((20, P), 0.2 / (P - 1))
    post[:, 3] = 0.8  # phone 3 throughout ...
    post[10] = 0.2 / (P - 1)
    post[10, 7] = 0.8  # ... but for one frame that looks like phone 7
    out = pf.forward_filter(post, 0.9)
    assert np.allclose(out.sum(axis=1), 1.0)
    assert out[10].argmax() == 3 and post[10].argmax() == 7
    assert out[12:].argmax(axis=1).tolist() == [3] * 8
    # staying is no likelier than moving (stay = 1 / P): every frame stands alone
    assert np.allclose(pf.forward_filter(post, 1.0 / P), post / post.sum(axis=1, keepdims=True))
    # a real change of phone gets through after a few frames
    post[12:] = post[10]
    assert pf.forward_filter(post, 0.9)[16].argmax() == 7


def test_the_config_asks_for_the_smoothing_and_a_bad_value_is_refused():
    from models.audio_features import build_front_end
    from models.config import get_config

    cfg = get_config("tiny", audio_encoder="phones", audio_dim=3 * pf.N_FEATURES, phone_smoothing=0.9)
    fe = build_front_end(cfg)
    assert fe.smoothing == 0.9 and fe.history_samples > pf.PhoneFrontEnd().history_samples
    with pytest.raises(ValueError, match="stay probability"):
        pf.PhoneFrontEnd(smoothing=1.0)


def test_the_phone_context_follows_the_subframes_and_streams_like_the_whole_file(speech):
    """With ``context`` the 129 numbers per frame are unchanged and 84 follow (left and right neighbours, each
    a distribution x POSTERIOR_SCALE), and a stream gets the whole file's numbers."""
    fe = pf.PhoneFrontEnd(context=True)
    x = speech[: 8 * 16000]
    total = int(round(len(x) / 16000 * 30))
    whole = fe(x, total)
    assert whole.shape == (total, 3 * pf.N_FEATURES + pf.N_CONTEXT) == (total, fe.dim)
    assert np.array_equal(whole[:, : 3 * pf.N_FEATURES], pf.PhoneFrontEnd()(x, total))
    ctx = whole[:, 3 * pf.N_FEATURES :]
    assert np.allclose(ctx[:, : pf.N_PHONES].sum(axis=1), pf.POSTERIOR_SCALE, atol=1e-3)
    assert np.allclose(ctx[:, pf.N_PHONES :].sum(axis=1), pf.POSTERIOR_SCALE, atol=1e-3)
    streamed = _stream(fe, x, total, cache=fe.stream_cache())
    assert np.abs(streamed - whole).max() < 1e-3
