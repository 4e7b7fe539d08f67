"""Audio front ends: speech samples -> one feature vector per motion frame.

- ``LogMelFrontEnd`` (default, no weights): log-mel spectra (+ log energy) computed on short windows
  centred at ``subframes`` evenly spaced instants inside every motion frame. Features for a range of
  frames depend only on the samples around those frames, so offline and streaming give the same numbers.
- ``TransformersFrontEnd``: the last hidden states of a local Wav2Vec2 / HuBERT folder (transformers'
  ``save_pretrained`` layout), interpolated to the motion frame times. Nothing is downloaded.

``normalize_window`` standardises a window's features (per channel mean removed, one scale) so that the
model sees relative spectra: it removes microphone gain and much of the channel colour, which is what
differs most between the synthetic training voices and real recordings.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from anim3d.errors import InputError

N_FFT = 400  # 25 ms at 16 kHz
POWER_FLOOR = 1e-6


@lru_cache(maxsize=8)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 60.0, fmax: float | None = None) -> np.ndarray:
    """(n_fft // 2 + 1) x n_mels triangular HTK-mel filters (slaney-style area normalisation)."""
    fmax = fmax or sample_rate / 2
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    inv = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    pts = inv(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    fb = np.zeros((len(freqs), n_mels), np.float32)
    for m in range(n_mels):
        lo, c, hi = pts[m], pts[m + 1], pts[m + 2]
        up = (freqs - lo) / (c - lo)
        down = (hi - freqs) / (hi - c)
        fb[:, m] = np.maximum(0, np.minimum(up, down)) * (2.0 / (hi - lo))
    return fb


def subframe_centers(start_frame: int, num_frames: int, fps: float, sample_rate: int, subframes: int) -> np.ndarray:
    """(num_frames * subframes,) sample indices of the analysis instants, evenly inside each frame."""
    frame = start_frame + np.arange(num_frames)[:, None] + (np.arange(subframes)[None] + 0.5) / subframes
    return np.round(frame.reshape(-1) / fps * sample_rate).astype(np.int64)


class LogMelFrontEnd:
    """Weight-free log-mel features: num_frames x subframes * (n_mels + 1)."""

    def __init__(self, sample_rate: int = 16000, n_mels: int = 64, subframes: int = 3, fps: float = 30.0):
        self.sample_rate, self.n_mels, self.subframes, self.fps = sample_rate, n_mels, subframes, fps
        self.dim = subframes * (n_mels + 1)
        self._fb = mel_filterbank(sample_rate, N_FFT, n_mels)
        self._window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)

    def __call__(self, samples: np.ndarray, num_frames: int, start_frame: int = 0, sample_offset: int = 0) -> np.ndarray:
        """Features of frames [start_frame, start_frame + num_frames); ``samples[0]`` is sample ``sample_offset``
        of the stream. Samples outside the given array count as silence."""
        centers = subframe_centers(start_frame, num_frames, self.fps, self.sample_rate, self.subframes) - sample_offset
        idx = centers[:, None] + np.arange(-N_FFT // 2, N_FFT // 2)[None]  # N x n_fft
        x = np.asarray(samples, np.float32)
        valid = (idx >= 0) & (idx < len(x))
        frames = np.where(valid, x[np.clip(idx, 0, max(len(x) - 1, 0))] if len(x) else 0.0, 0.0).astype(np.float32)
        frames = frames - frames.mean(axis=1, keepdims=True)
        spec = np.abs(np.fft.rfft(frames * self._window, axis=1)) ** 2  # N x (n_fft/2+1)
        mel = np.log(spec @ self._fb + POWER_FLOOR)  # N x n_mels
        energy = np.log(spec.sum(axis=1, keepdims=True) / N_FFT + POWER_FLOOR)  # N x 1
        feats = np.concatenate([mel, energy], axis=1).astype(np.float32)
        return feats.reshape(num_frames, self.dim)


class TransformersFrontEnd:
    """Hidden states of a local Wav2Vec2 / HuBERT model (any transformers audio encoder with that interface)."""

    def __init__(self, path: str, sample_rate: int = 16000, fps: float = 30.0, device="cpu", context_seconds: float = 1.0):
        import torch
        from transformers import AutoConfig, AutoModel

        if not os.path.isdir(path):
            raise InputError(path, "audio encoder folder not found (expected a transformers save_pretrained folder)")
        try:
            config = AutoConfig.from_pretrained(path, local_files_only=True)
            self.model = AutoModel.from_pretrained(path, local_files_only=True).to(device).eval()
        except (OSError, ValueError) as e:
            raise InputError(path, f"not a usable transformers audio encoder ({e})") from None
        self.torch, self.device = torch, device
        self.sample_rate, self.fps, self.context = sample_rate, fps, context_seconds
        self.dim = int(config.hidden_size)
        self.subframes = 1

    def __call__(self, samples: np.ndarray, num_frames: int, start_frame: int = 0, sample_offset: int = 0) -> np.ndarray:
        torch = self.torch
        sr = self.sample_rate
        t0 = start_frame / self.fps - self.context  # analyse with some left context
        lo = max(0, int(t0 * sr) - sample_offset)
        hi = min(len(samples), int((start_frame + num_frames) / self.fps * sr) + int(0.1 * sr) - sample_offset)
        seg = np.asarray(samples[lo:hi], np.float32)
        if len(seg) < 800:  # the conv front end needs ~50 ms
            seg = np.pad(seg, (0, 800 - len(seg)))
        seg = (seg - seg.mean()) / (seg.std() + 1e-5)
        with torch.inference_mode():
            h = self.model(torch.from_numpy(seg)[None].to(self.device)).last_hidden_state[0].float().cpu().numpy()  # N x H
        n = h.shape[0]
        seg_start = (lo + sample_offset) / sr
        step = len(seg) / sr / n
        t = (start_frame + np.arange(num_frames) + 0.5) / self.fps  # frame centres (s)
        pos = np.clip((t - seg_start) / step - 0.5, 0, n - 1)
        i0 = np.floor(pos).astype(int)
        i1 = np.minimum(i0 + 1, n - 1)
        w = (pos - i0)[:, None].astype(np.float32)
        return ((1 - w) * h[i0] + w * h[i1]).astype(np.float32)


def normalize_window(feats, mask):
    """Standardise each window: B x L x F features, B x L bool mask (True = audio present).

    Per-channel mean over the present frames is removed and everything is divided by one scale
    (the std over present frames and channels, floored so silence is not blown up). Absent frames -> 0.
    """
    import torch

    m = mask[..., None].to(feats.dtype)  # B x L x 1
    n = m.sum(dim=1, keepdim=True).clamp_min(1.0)  # B x 1 x 1
    mean = (feats * m).sum(dim=1, keepdim=True) / n  # B x 1 x F
    centred = (feats - mean) * m
    var = (centred**2).sum(dim=(1, 2), keepdim=True) / (n * feats.shape[-1])  # B x 1 x 1
    scale = torch.sqrt(var).clamp_min(1.0)
    return centred / scale
