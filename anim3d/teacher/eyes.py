"""Blinks and gaze.

Blinks: a Poisson process at the speaker's rate with a refractory time, plus blinks at
phrase ends (pauses after speech), each a fast close (~80 ms), a short hold and a slower
opening (~170 ms). Gaze: fixations of 0.4-2.5 s around the main gaze direction with quick
saccades between them and occasional larger glances away.
Gaze angles: yaw positive toward the subject's left (+X), pitch positive down.
"""

from __future__ import annotations

import numpy as np

from anim3d.channels import EYE_MAX_DOWN, EYE_MAX_UP, EYE_MAX_YAW, INDEX
from anim3d.phones import SIL, Phone


def blink_times(phones: list[Phone], duration: float, rate_per_min: float, rng: np.random.Generator) -> np.ndarray:
    """Onset times (s) of blinks: spontaneous ones (a renewal process at 75 % of
    ``rate_per_min``) plus some at phrase ends, about ``rate_per_min`` in all for ordinary speech."""
    out: list[float] = []
    refractory = 0.8
    mean_gap = 60.0 / (0.75 * rate_per_min)
    t = rng.uniform(0.0, mean_gap)  # a random phase: the speaker was already talking
    while t < duration:
        out.append(t)
        t += refractory + rng.exponential(max(mean_gap - refractory, 0.3))
    for a, b in zip(phones[:-1], phones[1:]):  # phrase ends
        if a.label != SIL and b.label == SIL and b.duration > 0.15 and rng.random() < 0.25:
            tb = b.start + rng.uniform(0.0, 0.1)
            if tb < duration and all(abs(tb - x) > 1.0 for x in out):
                out.append(tb)
    return np.array(sorted(out))


def blink_curve(times: np.ndarray, onsets: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(T,) left and right eyelid closure from blink onsets."""
    left = np.zeros(len(times))
    right = np.zeros(len(times))
    for t0 in onsets:
        close, hold, open_ = rng.uniform(0.06, 0.1), rng.uniform(0.02, 0.05), rng.uniform(0.13, 0.2)
        depth = rng.uniform(0.9, 1.0)
        for arr, shift in ((left, 0.0), (right, rng.uniform(-0.008, 0.008))):
            u = times - (t0 + shift)
            v = np.zeros(len(times))
            c = (u >= 0) & (u < close)
            v[c] = 0.5 - 0.5 * np.cos(np.pi * u[c] / close)
            h = (u >= close) & (u < close + hold)
            v[h] = 1.0
            o = (u >= close + hold) & (u < close + hold + open_)
            v[o] = 0.5 + 0.5 * np.cos(np.pi * (u[o] - close - hold) / open_)
            np.maximum(arr, depth * v, out=arr)
    return left, right


def gaze_track(times: np.ndarray, gaze: tuple[float, float], spread: float, rng: np.random.Generator) -> np.ndarray:
    """(T, 2) gaze yaw and pitch (radians) wandering around ``gaze``."""
    out = np.zeros((len(times), 2))
    duration = times[-1] + 1e-3 if len(times) else 0.0
    t = 0.0
    cur = np.array(gaze, np.float64) + rng.normal(0, 0.03, 2) * spread
    while t < duration:
        if rng.random() < 0.15:  # a glance away (thinking), then back
            dwell = rng.uniform(0.4, 1.2)
            tgt = np.array(gaze) + np.array([rng.choice([-1, 1]) * rng.uniform(0.12, 0.25), rng.uniform(-0.15, 0.1)]) * spread
        else:
            dwell = rng.uniform(0.4, 2.5)
            tgt = np.array(gaze) + rng.normal(0, [0.05, 0.03]) * spread
        saccade = 0.04 + 0.1 * float(np.abs(tgt - cur).max())
        m = (times >= t) & (times < t + dwell)
        ramp = np.clip((times[m] - t) / saccade, 0.0, 1.0)[:, None]
        out[m] = cur[None] + ramp * (tgt - cur)[None]
        cur, t = tgt, t + dwell
    return out


def gaze_channels(b: np.ndarray, yaw_pitch: np.ndarray) -> None:
    """Write eyeLook* channels of ``b`` (T x 52) from (T, 2) yaw/pitch, in place."""
    yaw, pitch = yaw_pitch[:, 0], yaw_pitch[:, 1]
    toward_left = np.clip(yaw / EYE_MAX_YAW, -1.0, 1.0)
    b[:, INDEX["eyeLookOutLeft"]] = np.clip(toward_left, 0.0, 1.0)
    b[:, INDEX["eyeLookInRight"]] = np.clip(toward_left, 0.0, 1.0)
    b[:, INDEX["eyeLookInLeft"]] = np.clip(-toward_left, 0.0, 1.0)
    b[:, INDEX["eyeLookOutRight"]] = np.clip(-toward_left, 0.0, 1.0)
    for side in ("Left", "Right"):
        b[:, INDEX[f"eyeLookDown{side}"]] = np.clip(pitch / EYE_MAX_DOWN, 0.0, 1.0)
        b[:, INDEX[f"eyeLookUp{side}"]] = np.clip(-pitch / EYE_MAX_UP, 0.0, 1.0)
