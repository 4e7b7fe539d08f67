"""The audio-video offset estimator (anim3d.eval.avsync) on synthetic clips with a known shift."""

import numpy as np
import pytest

from anim3d.eval import metrics as M
from anim3d.eval.avsync import (choose_offset, energy_onsets, estimate_av_offset, offset_from_signal, peak_sharpness,
                                 speech_energy)

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


# ---------------------------------------------------------------- which offset is trusted


def lag_curve_with_peak(peak: int, max_lag: int = 10, width: float = 2.0, height: float = 0.5) -> np.ndarray:
    """A correlation-per-lag curve (2 * max_lag + 1,) with one smooth peak at ``peak``."""
    lags = np.arange(-max_lag, max_lag + 1)
    return height * np.exp(-0.5 * ((lags - peak) / width) ** 2)


def test_agreeing_sharp_peak_is_used_with_high_confidence():
    lag, used = choose_offset(lag_curve_with_peak(6), lag_curve_with_peak(5), 10)
    assert (lag, used) == (6, "full window")


def test_disagreeing_signals_fall_back_to_the_tight_window():
    """Energy peaks at +8, onsets at -6: the full window is not trusted, and within +/-3 the
    energy prefers +3 and the onsets -3, so they disagree there too: lag 0."""
    assert choose_offset(lag_curve_with_peak(8), lag_curve_with_peak(-6), 10) == (0, "lag 0")
    # energy at +9 (an edge-like broad peak) but within +/-3 both signals prefer +2
    energy = lag_curve_with_peak(9, width=4.0) + lag_curve_with_peak(2, width=1.0, height=0.2)
    onset = lag_curve_with_peak(2, width=1.0)
    lag, used = choose_offset(energy, onset, 10)
    assert used == "tight window" and lag == 2


def test_a_peak_at_the_window_edge_is_not_trusted_even_when_both_agree():
    lag, used = choose_offset(lag_curve_with_peak(10), lag_curve_with_peak(10), 10)
    assert used == "tight window" and lag == 3  # the closest the tight window allows, both signals agree there


def test_a_flat_peak_is_not_trusted():
    flat = 0.3 + 0.001 * np.arange(21)  # rises by 0.02 over the window: no distinct peak
    assert peak_sharpness(flat) < 0.03
    lag, used = choose_offset(flat, flat, 10)
    assert used == "tight window" and lag == 3


def test_in_sync_clip_gives_lag_0_with_high_confidence():
    mouth = mouth_curve(seed=7)
    off = estimate_av_offset(speech_for(mouth, 0), SR, mouth, FPS)
    assert off.lag == 0 and off.used == "full window" and off.confidence == "high"
    assert off.energy_lag == 0 and off.agreement <= 1 and off.sharpness > 0.03


@pytest.mark.parametrize("k", [2, 7])
def test_known_offset_is_reported_with_its_rule(k):
    mouth = mouth_curve(seed=8)
    off = estimate_av_offset(speech_for(mouth, k), SR, mouth, FPS)
    assert off.lag == k and off.used == "full window"
    assert off.r == pytest.approx(off.curve[k + 10])


def test_silence_gives_lag_0_with_low_confidence():
    mouth = mouth_curve(seed=9)
    off = estimate_av_offset(np.zeros(int(len(mouth) / FPS * SR), np.float32), SR, mouth, FPS)
    assert off.lag == 0 and off.confidence == "low"
