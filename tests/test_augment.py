"""Audio augmentation: each transform does what it says, measured on the signal."""

from __future__ import annotations

import numpy as np
import pytest

from anim3d.audio import Audio
from anim3d.data import augment as A
from anim3d.phones import Phone
from anim3d.motion import Motion

SR = 16000


def _speechlike(seconds=2.0, seed=0):
    """Harmonic 'voiced' segments with syllable-rate amplitude changes."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 15))
    env = np.clip(np.sin(2 * np.pi * 3 * t), 0, None)
    return (0.2 * x * env + 0.001 * rng.standard_normal(len(t))).astype(np.float32)


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


@pytest.mark.parametrize("kind", A.NOISE_KINDS)
@pytest.mark.parametrize("snr", [5.0, 20.0])
def test_noise_snr(kind, snr):
    x = _speechlike()
    y = A.add_noise(x, snr, np.random.default_rng(1), kind)
    measured = 20 * np.log10(_rms(x) / _rms(y - x))
    assert measured == pytest.approx(snr, abs=0.2)


def test_noise_colors_differ():
    rng = np.random.default_rng(0)
    def hf_share(n):
        s = np.abs(np.fft.rfft(n)) ** 2
        f = np.fft.rfftfreq(len(n), 1 / SR)
        return s[f > 2000].sum() / s.sum()
    white, pink, brown = (A.colored_noise(SR, k, rng) for k in ("white", "pink", "brown"))
    assert hf_share(white) > hf_share(pink) > hf_share(brown)


def test_reverb_adds_a_tail():
    x = np.zeros(SR, np.float32)
    x[1000:1160] = np.hanning(160)  # a click
    y = A.reverb(x, SR, rt60=0.5, rng=np.random.default_rng(0), wet=0.6)
    tail = slice(1160 + int(0.05 * SR), 1160 + int(0.3 * SR))
    assert _rms(y[tail]) > 100 * (_rms(x[tail]) + 1e-9)
    assert len(y) == len(x)


def test_eq_tilt_and_band_limit():
    rng = np.random.default_rng(0)
    x = A.colored_noise(SR, "white", rng)
    def ratio(z):
        s = np.abs(np.fft.rfft(z)) ** 2
        f = np.fft.rfftfreq(len(z), 1 / SR)
        return s[f > 4000].sum() / s[(f > 100) & (f < 500)].sum()
    assert ratio(A.eq_tilt(x, SR, 3.0)) > 2 * ratio(x) > 4 * ratio(A.eq_tilt(x, SR, -3.0))
    bl = A.band_limit(x, SR)
    s = np.abs(np.fft.rfft(bl)) ** 2
    f = np.fft.rfftfreq(len(bl), 1 / SR)
    assert s[f > 5000].sum() < 0.01 * s[(f > 500) & (f < 3000)].sum()


def test_gain():
    x = _speechlike()
    assert 20 * np.log10(_rms(A.gain(x, -6.0)) / _rms(x)) == pytest.approx(-6.0, abs=0.01)
    loud = A.gain(x, 30.0)
    assert np.abs(loud).max() <= 0.99 + 1e-6


@pytest.mark.parametrize("codec", list(A.CODECS))
def test_codec_round_trip(codec):
    x = _speechlike(1.5)
    y = A.codec_roundtrip(x, SR, codec, 24000)
    assert y.shape == x.shape and y.dtype == np.float32
    c = np.corrcoef(x, y)[0, 1]
    assert 0.8 < c < 0.99999, c  # aligned and close, yet really lossy


def test_speed_change_adjusts_phones_and_motion():
    x = _speechlike(2.0)
    phones = [Phone("SIL", 0.0, 0.5), Phone("AA", 0.5, 2.0)]
    audio, ph, f = A.change_speed(Audio(x, SR), phones, 1.08)
    assert f == pytest.approx(1.08, abs=0.01)
    assert audio.duration == pytest.approx(2.0 / f, abs=2 / SR)
    assert ph[1].start == pytest.approx(0.5 / f) and ph[-1].end == pytest.approx(2.0 / f)
    # the envelope peaks move with the phones: syllable peak at 1/12 s -> 1/(12 f)
    env = np.abs(audio.samples[: int(0.2 * SR)])
    assert np.argmax(np.convolve(env, np.ones(200) / 200, "same")) / SR == pytest.approx(1 / 12 / f, abs=0.01)
    n = 60
    m = Motion(np.tile(np.linspace(0, 1, n)[:, None], (1, 52)), np.zeros((n, 3)), np.zeros((n, 3)))
    m2 = A.change_speed_motion(m, 1.25)
    assert m2.num_frames == 48 and m2.fps == 30.0
    assert m2.blendshapes[-1, 0] == pytest.approx(1.0, abs=0.03)


def test_random_augment_is_seeded_and_described():
    a = Audio(_speechlike(), SR)
    y1, d1 = A.random_augment(a, np.random.default_rng(3))
    y2, d2 = A.random_augment(a, np.random.default_rng(3))
    assert d1 == d2 and np.array_equal(y1.samples, y2.samples)
    descs = {A.random_augment(a, np.random.default_rng(s))[1].split("(")[0] for s in range(20)}
    assert len(descs) >= 3
    assert np.isfinite(y1.samples).all() and len(y1.samples) == len(a.samples)
