"""Audio-video offset of a real talking-face clip, estimated without any animation method.

Lip-sync scores of every method are computed against the tracked mouth of a video whose
audio track may itself be shifted relative to the pictures (a muxing / editing offset in
the source file). SyncNet is what the literature uses to measure that offset; its weights
cannot be downloaded here, so the offset is estimated from two method-independent
signals of the audio:

- ``speech_energy``: log energy in the speech band (300-3400 Hz) per video frame, in a
  window of two frame periods centred on the frame's instant — the mouth opens wider on
  louder, more vocalic stretches;
- ``energy_onsets``: the positive part of its frame-to-frame rise (syllable onsets),
  matched with the positive part of the mouth opening's rise (a cross-check),

and the lag in +/- ``max_lag`` frames that maximises the Pearson correlation of the signal
with the tracked mouth opening. Convention as in ``metrics.best_lag``: lag > 0 means the
audio (and so anything animated from it) is late relative to the video by ``lag`` frames;
every method's curve is compared with the tracked mouth at that same lag.

The estimate also contains the physiological lead of the lips over the sound (a fraction
of a frame to a frame or two); that part is the same for every method in a clip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anim3d.eval import metrics as M

SPEECH_BAND = (300.0, 3400.0)  # Hz, telephone speech band
N_FFT = 512


@dataclass
class AVOffset:
    lag: int  # frames; > 0: the audio is late relative to the video
    r: float  # correlation of the audio signal with the mouth at ``lag``
    r0: float  # the same at lag 0
    onset_lag: int  # the lag from the onset signal (cross-check)
    onset_r: float
    curve: np.ndarray  # correlation per lag, -max_lag..max_lag (energy signal)
    fps: float = 30.0


def speech_energy(samples: np.ndarray, sample_rate: int, fps: float, num_frames: int, band=SPEECH_BAND) -> np.ndarray:
    """(num_frames,) log speech-band energy around each frame's instant i / fps (dB)."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    win = int(round(2 * sample_rate / fps))  # two frame periods
    n_fft = max(N_FFT, 1 << int(np.ceil(np.log2(max(win, 2)))))
    centres = np.round(np.arange(num_frames) / fps * sample_rate).astype(np.int64)
    idx = centres[:, None] + np.arange(-(win // 2), win - win // 2)[None]  # T x win
    valid = (idx >= 0) & (idx < x.size)
    frames = np.where(valid, x[np.clip(idx, 0, max(x.size - 1, 0))] if x.size else 0.0, 0.0)  # T x win
    spec = np.abs(np.fft.rfft(frames * np.hanning(win)[None], n=n_fft, axis=1)) ** 2  # T x bins
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    sel = (freqs >= band[0]) & (freqs <= band[1])
    return 10.0 * np.log10(spec[:, sel].sum(axis=1) / n_fft + 1e-10)


def energy_onsets(curve: np.ndarray, smooth: int = 3) -> np.ndarray:
    """(T,) positive part of the frame-to-frame rise of a (moving-average smoothed) curve:
    syllable onsets of a dB envelope, or the mouth opening up."""
    e = np.asarray(curve, dtype=np.float64)
    if smooth > 1 and e.size >= smooth:
        pad = np.pad(e, (smooth // 2, smooth - 1 - smooth // 2), mode="edge")  # no dips at the ends
        e = np.convolve(pad, np.ones(smooth) / smooth, mode="valid")
    d = np.diff(e, prepend=e[:1])
    return np.clip(d, 0.0, None)


def lag_curve(signal: np.ndarray, reference: np.ndarray, max_lag: int) -> np.ndarray:
    """Correlation of signal[t + lag] with reference[t] for lag = -max_lag..max_lag."""
    return np.array([M.lagged_pearson(signal, reference, lag) for lag in range(-max_lag, max_lag + 1)])


def offset_from_signal(signal: np.ndarray, mouth: np.ndarray, max_lag: int = 10) -> tuple[int, float, np.ndarray]:
    """(lag, correlation at it, correlation per lag) maximising corr(signal[t + lag], mouth[t])."""
    curve = lag_curve(signal, mouth, max_lag)
    if not np.isfinite(curve).any():
        return 0, float("nan"), curve
    k = int(np.nanargmax(curve))
    return k - max_lag, float(curve[k]), curve


def estimate_av_offset(samples: np.ndarray, sample_rate: int, mouth: np.ndarray, fps: float,
                       max_lag: int = 10, valid: np.ndarray | None = None) -> AVOffset:
    """The clip's audio-video offset from its audio and its tracked mouth opening (T,).

    Frames where the tracker found no face (``valid`` False) are filled with the clip's
    median opening so that they do not drive the correlation."""
    mouth = np.asarray(mouth, dtype=np.float64).reshape(-1)
    if valid is not None and (~np.asarray(valid, bool)).any() and np.asarray(valid, bool).any():
        mouth = np.where(valid, mouth, np.median(mouth[np.asarray(valid, bool)]))
    energy = speech_energy(samples, sample_rate, fps, mouth.size)
    lag, r, curve = offset_from_signal(energy, mouth, max_lag)
    onset_lag, onset_r, _ = offset_from_signal(energy_onsets(energy), energy_onsets(mouth), max_lag)
    return AVOffset(lag, r, float(curve[max_lag]), onset_lag, onset_r, curve, float(fps))
