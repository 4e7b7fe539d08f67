"""Head motion: prosody (pitch and energy accents) -> nods, tilts and turns, plus idle sway.

Angles: pitch about +X (positive nods down), yaw about +Y (positive turns toward the
subject's left, +X), roll about +Z. Head rotation = Ry(yaw) Rx(pitch) Rz(roll).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anim3d.phones import SIL, VOWELS, Phone


@dataclass
class Prosody:
    energy: np.ndarray  # (T,) dB relative to the utterance's loudest frames
    pitch: np.ndarray  # (T,) semitones relative to the utterance median, 0 where unvoiced
    voiced: np.ndarray  # (T,) bool


def _analysis_frames(samples: np.ndarray, sample_rate: int, num_frames: int, fps: float, first_frame: int = 0,
                     sample_offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """T x W mean-removed 40 ms frames centred on the times of motion frames first_frame.. (``samples[0]`` is
    sample ``sample_offset`` of the audio), and their dB relative to the loud (95th percentile) frames."""
    x = np.asarray(samples, np.float64)
    win = int(0.04 * sample_rate)
    centers = ((first_frame + np.arange(num_frames)) / fps * sample_rate).astype(np.int64) - sample_offset
    idx = centers[:, None] + np.arange(-win // 2, win - win // 2)[None]  # T x W
    frames = np.where((idx >= 0) & (idx < len(x)), x[np.clip(idx, 0, len(x) - 1)], 0.0)
    frames = frames - frames.mean(axis=1, keepdims=True)
    rms = np.sqrt((frames ** 2).mean(axis=1) + 1e-10)
    db = 20 * np.log10(rms + 1e-8)
    return frames, db - np.percentile(db, 95)


def energy_db(samples: np.ndarray, sample_rate: int, num_frames: int, fps: float, first_frame: int = 0,
              sample_offset: int = 0) -> np.ndarray:
    """(T,) float32 loudness at the times of motion frames first_frame.., dB relative to their loud frames
    (``Prosody.energy``); ``samples[0]`` is sample ``sample_offset`` of the audio."""
    return _analysis_frames(samples, sample_rate, num_frames, fps, first_frame, sample_offset)[1].astype(np.float32)


def prosody_from_audio(samples: np.ndarray, sample_rate: int, num_frames: int, fps: float) -> Prosody:
    """Frame energy and autocorrelation pitch (70-400 Hz) at the motion's frame times."""
    frames, db = _analysis_frames(samples, sample_rate, num_frames, fps)
    win = frames.shape[1]
    frames = frames * np.hanning(win)[None]
    n = 1 << int(np.ceil(np.log2(2 * win)))
    spec = np.fft.rfft(frames, n=n, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, n=n, axis=1)[:, :win]  # T x lags
    ac = ac / (ac[:, :1] + 1e-12)
    lo, hi = int(sample_rate / 400), min(int(sample_rate / 70), win - 1)
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    peak = ac[np.arange(num_frames), lag]
    voiced = (peak > 0.45) & (db > -35)
    f0 = sample_rate / lag
    semis = np.zeros(num_frames)
    if voiced.any():
        semis[voiced] = 12 * np.log2(f0[voiced] / np.median(f0[voiced]))
    return Prosody(db.astype(np.float32), semis.astype(np.float32), voiced)


def prosody_from_phones(phones: list[Phone], num_frames: int, fps: float) -> Prosody:
    """A stand-in when there is no audio: vowels loud (long ones louder), consonants softer."""
    t = np.arange(num_frames) / fps
    db = np.full(num_frames, -60.0)
    pitch = np.zeros(num_frames)
    for p in phones:
        m = (t >= p.start) & (t < p.end)
        if p.label == SIL:
            continue
        if p.label in VOWELS:
            db[m] = -12.0 + 40.0 * min(p.duration, 0.2)
            pitch[m] = 8.0 * (min(p.duration, 0.2) - 0.1) / 0.1
        else:
            db[m] = -25.0
    return Prosody(db.astype(np.float32), pitch.astype(np.float32), db > -20)


def _smooth(x: np.ndarray, fps: float, seconds: float) -> np.ndarray:
    n = max(1, int(round(seconds * fps)))
    k = np.hanning(2 * n + 1)
    k /= k.sum()
    return np.convolve(np.pad(x, n, mode="edge"), k, mode="valid")


def accents(pro: Prosody, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Frames of prosodic accents and their strengths (0-1), from energy and pitch peaks."""
    from scipy.signal import find_peaks

    e = _smooth(np.clip((pro.energy + 30.0) / 30.0, 0.0, 1.0), fps, 0.06)
    p = _smooth(np.where(pro.voiced, np.clip(pro.pitch / 4.0, -1.0, 1.0), 0.0), fps, 0.06)
    s = e + 0.6 * p
    peaks, props = find_peaks(s, distance=max(1, int(0.35 * fps)), prominence=0.25)
    strength = np.clip(props["prominences"] / 1.2, 0.0, 1.0) if len(peaks) else np.zeros(0)
    return peaks, strength


def pulse(t: np.ndarray, t0: float, width: float) -> np.ndarray:
    """A smooth one-sided bump starting at t0 and peaking width later (gamma-like)."""
    u = np.clip((t - t0) / width, 0.0, None)
    return u * np.exp(1.0 - u)


def head_motion(pro: Prosody, phones: list[Phone], num_frames: int, fps: float, rng: np.random.Generator, *,
                energy: float, sway_speed: float, posture: np.ndarray, gaze: tuple[float, float],
                distance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Returns head rotation (T x 3 axis-angle), translation (T x 3 m), euler (T x 3: pitch,
    yaw, roll) and the accent frames (used for brow raises)."""
    from scipy.spatial.transform import Rotation

    t = np.arange(num_frames) / fps
    euler = np.zeros((num_frames, 3))  # pitch, yaw, roll
    # idle sway: a few slow sinusoids per axis (0.05-0.4 Hz)
    amp = np.array([0.025, 0.04, 0.015]) * energy
    for axis in range(3):
        for _ in range(3):
            f = rng.uniform(0.05, 0.4) * sway_speed
            euler[:, axis] += amp[axis] / 3 * rng.uniform(0.5, 1.5) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    # accents: nods (pitch down then back), some with a tilt or a turn
    peaks, strength = accents(pro, fps)
    for f, s in zip(peaks, strength):
        t0 = t[f] - 0.08
        width = rng.uniform(0.1, 0.18)
        k = pulse(t, t0, width) - 0.35 * pulse(t, t0 + 2.2 * width, width)  # down, small overshoot up
        euler[:, 0] += energy * (0.02 + 0.05 * s) * rng.uniform(0.6, 1.2) * k
        u = rng.random()
        if u < 0.3:
            euler[:, 2] += energy * 0.03 * s * rng.choice([-1.0, 1.0]) * pulse(t, t0, 1.5 * width)
        elif u < 0.5:
            euler[:, 1] += energy * 0.04 * s * rng.choice([-1.0, 1.0]) * pulse(t, t0, 2.0 * width)
    # phrase ends: a slow settle downward in the pause after speech
    for a, b in zip(phones[:-1], phones[1:]):
        if b.label == SIL and a.label != SIL and b.duration > 0.15:
            euler[:, 0] += energy * 0.02 * pulse(t, b.start - 0.1, 0.3)
    # the head follows the main gaze a little, plus the emotion's posture
    euler[:, 0] += 0.25 * gaze[1] + posture[0]
    euler[:, 1] += 0.25 * gaze[0] + posture[1]
    euler[:, 2] += posture[2]
    rot = Rotation.from_euler("YXZ", euler[:, [1, 0, 2]]).as_rotvec() if num_frames else np.zeros((0, 3))
    # translation: sway in millimetres, a lean with nods, the distance offset along +Z
    trans = np.zeros((num_frames, 3))
    for axis, a in enumerate((0.004, 0.003, 0.005)):
        f = rng.uniform(0.05, 0.3) * sway_speed
        trans[:, axis] = a * energy * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    trans[:, 2] += distance + 0.05 * (euler[:, 0] - euler[:, 0].mean())
    trans[:, 1] -= 0.03 * (euler[:, 0] - euler[:, 0].mean())
    return rot.astype(np.float32), trans.astype(np.float32), euler, peaks
