"""The audio-video offset estimator (anim3d.eval.avsync) on synthetic clips with a known shift."""

import numpy as np
import pytest

from anim3d.eval import metrics as M
from anim3d.eval.avsync import energy_onsets, estimate_av_offset, offset_from_signal, speech_energy

FPS, SR = 30.0, 16000


def mouth_curve(seconds=12.0, seed=0):
    """A syllable-like mouth opening: smoothed random bursts, >= 0."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FPS)
    x = np.clip(rng.normal(size=n), 0, None) * (rng.random(n) < 0.35)
    k = np.hanning(7)
    return np.convolve(x, k / k.sum(), mode="same")


def speech_for(mouth, delay_frames, seed=1):
    """Voiced-sounding audio whose loudness follows ``mouth`` delayed by ``delay_frames`` (audio late)."""
    rng = np.random.default_rng(seed)
    n = int(len(mouth) / FPS * SR)
    t = np.arange(n) / SR
    env = np.interp(t * FPS - delay_frames, np.arange(len(mouth)), mouth, left=0.0, right=0.0)
    carrier = sum(np.sin(2 * np.pi * h * 140 * t) / h for h in range(1, 20)) + 0.3 * rng.normal(size=n)
    return (env * carrier + 1e-3 * rng.normal(size=n)).astype(np.float32)


@pytest.mark.parametrize("k", [-4, 0, 3, 6])
def test_offset_of_a_shifted_clip_is_found(k):
    mouth = mouth_curve()
    audio = speech_for(mouth, k)
    off = estimate_av_offset(audio, SR, mouth, FPS, max_lag=10)
    assert off.lag == k
    assert abs(off.onset_lag - k) <= 1  # the onset cross-check agrees (dB onsets rise up to a frame early)
    assert off.r > 0.5 and off.curve.shape == (21,)
    if k:
        assert off.r > off.r0 + 0.1  # shifting matters


def test_convention_matches_best_lag_of_a_late_method():
    """A 'method' that copies the audio envelope is late by the same lag the offset reports."""
    mouth = mouth_curve(seed=3)
    audio = speech_for(mouth, 5)
    energy = speech_energy(audio, SR, FPS, len(mouth))
    lag, _ = M.best_lag(energy, mouth, 10)
    off = estimate_av_offset(audio, SR, mouth, FPS)
    assert lag == off.lag == 5


def test_untracked_frames_do_not_drive_the_estimate():
    mouth = mouth_curve(seed=4)
    audio = speech_for(mouth, 2)
    bad = mouth.copy()
    valid = np.ones(len(mouth), bool)
    valid[100:130] = False
    bad[100:130] = 50.0  # a tracker failure: a huge spike
    assert estimate_av_offset(audio, SR, bad, FPS, valid=valid).lag == 2


def test_silence_and_flat_mouth_give_no_crash():
    lag, r, curve = offset_from_signal(np.zeros(60), np.ones(60), 5)
    assert lag == 0 and np.isnan(r) and curve.shape == (11,)
    assert np.all(energy_onsets(np.ones(10)) == 0)
