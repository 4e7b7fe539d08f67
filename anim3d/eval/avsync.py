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

Trust: on short or hard clips the energy curve's maximum can sit far from the true offset
(at the window's edge, or on a broad plateau). The offset used is therefore chosen by
``choose_offset`` from both signals:

1. ``"full window"``: the energy lag within +/- ``max_lag``, when the onset lag agrees with it
   (within ``AGREE`` frames), it is not at the window's edge, and its peak stands out (the
   correlation at it exceeds every correlation ``SEPARATION`` or more frames away by at
   least ``MIN_SHARPNESS``);
2. ``"tight window"``: otherwise both signals again within +/- ``TIGHT_LAG`` frames (0.10-0.12 s
   at 25-30 fps: about the lips' lead plus a small muxing offset), when they agree there;
3. ``"lag 0"``: otherwise the file's own alignment.

Confidence: "high" (1), "medium" (2), "low" (3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anim3d.eval import metrics as M

SPEECH_BAND = (300.0, 3400.0)  # Hz, telephone speech band
N_FFT = 512


AGREE = 1  # frames: the energy and onset lags agree when this close
SEPARATION = 3  # frames: the lags that compete with the peak are this far from it or farther
MIN_SHARPNESS = 0.03  # the peak must beat every competing lag's correlation by this much
TIGHT_LAG = 3  # frames: the tight window is +/- this
CONFIDENCE = {"full window": "high", "tight window": "medium", "lag 0": "low"}


@dataclass
class AVOffset:
    lag: int  # frames used for scoring; > 0: the audio is late relative to the video
    r: float  # correlation of the speech energy with the mouth at ``lag``
    r0: float  # the same at lag 0
    onset_lag: int  # the lag from the onset signal within +/- max_lag (cross-check)
    onset_r: float
    curve: np.ndarray  # correlation per lag, -max_lag..max_lag (energy signal)
    fps: float = 30.0
    energy_lag: int = 0  # the energy signal's own best lag within +/- max_lag
    sharpness: float = float("nan")  # energy peak minus the best correlation SEPARATION+ frames away
    used: str = "full window"  # "full window", "tight window" or "lag 0" (see ``choose_offset``)

    @property
    def agreement(self) -> int:
        """|energy lag - onset lag| in frames, over the full window."""
        return abs(self.energy_lag - self.onset_lag)

    @property
    def confidence(self) -> str:
        return CONFIDENCE[self.used]


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


def peak_sharpness(curve: np.ndarray, separation: int = SEPARATION) -> float:
    """How far the maximum of a lag curve (L,) stands above every value ``separation`` or more
    lags away from it; NaN when the curve has no finite value or nothing is that far away."""
    c = np.asarray(curve, dtype=np.float64)
    if not np.isfinite(c).any():
        return float("nan")
    k = int(np.nanargmax(c))
    far = np.abs(np.arange(c.size) - k) >= separation
    if not (far & np.isfinite(c)).any():
        return float("nan")
    return float(c[k] - np.nanmax(c[far]))


def _argmax_within(curve: np.ndarray, max_lag: int, window: int) -> int | None:
    """The lag (-window..window) maximising a lag curve indexed -max_lag..max_lag; None if all NaN."""
    w = min(window, max_lag)
    part = curve[max_lag - w : max_lag + w + 1]
    if not np.isfinite(part).any():
        return None
    return int(np.nanargmax(part)) - w


def choose_offset(energy_curve: np.ndarray, onset_curve: np.ndarray, max_lag: int, tight: int = TIGHT_LAG) -> tuple[int, str]:
    """(lag, how it was chosen) from the energy and onset lag curves (each 2 * max_lag + 1, lags
    -max_lag..max_lag): "full window", "tight window" (+/- ``tight`` lags) or "lag 0"; the rules
    are in the module's docstring."""
    e_full = _argmax_within(energy_curve, max_lag, max_lag)
    o_full = _argmax_within(onset_curve, max_lag, max_lag)
    if e_full is not None and o_full is not None:
        sharp = peak_sharpness(energy_curve)
        if (abs(e_full - o_full) <= AGREE and abs(e_full) < max_lag
                and np.isfinite(sharp) and sharp >= MIN_SHARPNESS):
            return e_full, "full window"
    e_tight = _argmax_within(energy_curve, max_lag, tight)
    o_tight = _argmax_within(onset_curve, max_lag, tight)
    if e_tight is not None and o_tight is not None and abs(e_tight - o_tight) <= AGREE:
        return e_tight, "tight window"
    return 0, "lag 0"


def estimate_av_offset(samples: np.ndarray, sample_rate: int, mouth: np.ndarray, fps: float,
                       max_lag: int = 10, valid: np.ndarray | None = None) -> AVOffset:
    """The clip's audio-video offset from its audio and its tracked mouth opening (T,).

    Frames where the tracker found no face (``valid`` False) are filled with the clip's
    median opening so that they do not drive the correlation."""
    mouth = np.asarray(mouth, dtype=np.float64).reshape(-1)
    if valid is not None and (~np.asarray(valid, bool)).any() and np.asarray(valid, bool).any():
        mouth = np.where(valid, mouth, np.median(mouth[np.asarray(valid, bool)]))
    energy = speech_energy(samples, sample_rate, fps, mouth.size)
    energy_lag, _, curve = offset_from_signal(energy, mouth, max_lag)
    onset_lag, onset_r, onset_curve = offset_from_signal(energy_onsets(energy), energy_onsets(mouth), max_lag)
    lag, used = choose_offset(curve, onset_curve, max_lag, min(TIGHT_LAG, max_lag))
    return AVOffset(lag, float(curve[lag + max_lag]), float(curve[max_lag]), onset_lag, onset_r, curve, float(fps),
                    energy_lag, peak_sharpness(curve), used)
