"""Evaluation metrics as pure numpy functions (no I/O, no models).

Conventions: curves are (T,) float arrays at one frame rate; vertex sequences are
T x V x 3 (metres); sample sets are N x T x D. Times in seconds, frames at ``fps``;
frame i is the instant i / fps (as in ``Motion``).

Sources of the definitions:
- lip vertex error: VOCA / MeshTalk / FaceFormer — per frame, the maximal L2 error over
  the lip vertices; averaged over frames.
- FDD (upper-face dynamics deviation): CodeTalker — per upper-face vertex, the standard
  deviation over time of its displacement norm from the template, ground truth minus
  prediction, averaged over the vertices.
- dP (head-motion intensity): VASA-1 — mean frame-to-frame head rotation.
- diversity, mean-of-samples and closest-sample error: ProbTalk3D.
"""

from __future__ import annotations

from itertools import combinations
from typing import Iterable, Sequence

import numpy as np

from anim3d.phones import BILABIALS, OPEN_VOWELS


# ------------------------------------------------------------------ lip-sync curves


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equal-length curves; NaN when either is constant."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"curves differ in length: {a.size} vs {b.size}")
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    if den < 1e-12:
        return float("nan")
    return float((a * b).sum() / den)


def lagged_pearson(generated: np.ndarray, reference: np.ndarray, lag: int) -> float:
    """Correlation of generated[t + lag] with reference[t] over their overlap.

    lag > 0: the generated curve is late by ``lag`` frames.
    """
    g = np.asarray(generated, dtype=np.float64).reshape(-1)
    r = np.asarray(reference, dtype=np.float64).reshape(-1)
    n = min(g.size, r.size)
    g, r = g[:n], r[:n]
    if lag >= 0:
        return pearson(g[lag:], r[: n - lag])
    return pearson(g[: n + lag], r[-lag:])


def best_lag(generated: np.ndarray, reference: np.ndarray, max_lag: int = 10) -> tuple[int, float]:
    """(lag, correlation) maximising ``lagged_pearson`` over lags in [-max_lag, max_lag].

    A copy of the reference delayed by k frames is found at lag = +k.
    """
    best = (0, float("-inf"))
    for lag in range(-max_lag, max_lag + 1):
        r = lagged_pearson(generated, reference, lag)
        if np.isfinite(r) and r > best[1]:
            best = (lag, r)
    if not np.isfinite(best[1]):
        return 0, float("nan")
    return best


# ------------------------------------------------------------------ mesh errors


def _check_verts(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"expected two T x V x 3 arrays of one shape, got {pred.shape} and {gt.shape}")
    return pred, gt


def lip_vertex_error(pred: np.ndarray, gt: np.ndarray, lip_idx: Sequence[int]) -> float:
    """Mean over frames of the maximal L2 error over the lip vertices (metres)."""
    pred, gt = _check_verts(pred, gt)
    idx = np.asarray(lip_idx, dtype=np.int64)
    err = np.linalg.norm(pred[:, idx] - gt[:, idx], axis=-1)  # T x L
    return float(err.max(axis=1).mean())


def mean_vertex_error(pred: np.ndarray, gt: np.ndarray, idx: Sequence[int] | None = None) -> float:
    """Mean L2 vertex error over frames and vertices (metres)."""
    pred, gt = _check_verts(pred, gt)
    if idx is not None:
        idx = np.asarray(idx, dtype=np.int64)
        pred, gt = pred[:, idx], gt[:, idx]
    return float(np.linalg.norm(pred - gt, axis=-1).mean())


def upper_face_dynamics_deviation(
    pred: np.ndarray, gt: np.ndarray, template: np.ndarray, upper_idx: Sequence[int]
) -> float:
    """FDD (CodeTalker): mean over upper-face vertices of std_t|gt - template| - std_t|pred - template|.

    Positive: the prediction's upper face moves less than the ground truth's.
    """
    pred, gt = _check_verts(pred, gt)
    idx = np.asarray(upper_idx, dtype=np.int64)
    tpl = np.asarray(template, dtype=np.float64)[idx]  # U x 3
    dyn_gt = np.linalg.norm(gt[:, idx] - tpl, axis=-1).std(axis=0)  # U
    dyn_pred = np.linalg.norm(pred[:, idx] - tpl, axis=-1).std(axis=0)  # U
    return float((dyn_gt - dyn_pred).mean())


# ------------------------------------------------------------------ phone-conditioned rates


def _label(p) -> str:
    return p.label if hasattr(p, "label") else p[0]


def _span(p) -> tuple[float, float]:
    return (p.start, p.end) if hasattr(p, "start") else (p[1], p[2])


def middle_frame(start: float, end: float, fps: float) -> int:
    """The frame nearest the phone's middle (frame i is the instant i / fps)."""
    return int(np.floor(0.5 * (start + end) * fps + 0.5))


def _phone_windows(opening, phones: Iterable, fps: float, labels: Sequence[str], tolerance: int):
    """Yield the slice of ``opening`` within +/- ``tolerance`` frames of the middle frame of
    each phone whose label is in ``labels`` (phones outside the curve are skipped)."""
    x = np.asarray(opening, dtype=np.float64).reshape(-1)
    for p in phones:
        if _label(p) not in labels:
            continue
        m = middle_frame(*_span(p), fps)
        lo, hi = max(0, m - tolerance), min(x.size, m + tolerance + 1)
        if lo < hi:
            yield x[lo:hi]


def bilabial_closure_rate(
    opening: np.ndarray,
    phones: Iterable,
    fps: float,
    *,
    closed_below: float,
    tolerance: int = 1,
    labels: Sequence[str] = BILABIALS,
) -> tuple[float, int]:
    """Share of P/B/M phones whose lips close (``opening <= closed_below``) within
    +/- ``tolerance`` frames of the phone's middle frame. Returns (rate, number of phones);
    rate is NaN when there are none."""
    windows = list(_phone_windows(opening, phones, fps, labels, tolerance))
    hits = sum(bool(w.min() <= closed_below) for w in windows)
    return (hits / len(windows) if windows else float("nan")), len(windows)


def open_vowel_jaw_rate(
    opening: np.ndarray,
    phones: Iterable,
    fps: float,
    *,
    open_above: float,
    tolerance: int = 1,
    labels: Sequence[str] = OPEN_VOWELS,
) -> tuple[float, int]:
    """Share of open vowels (AA AE AO AW AY) whose mouth opens (``opening >= open_above``)
    within +/- ``tolerance`` frames of the phone's middle. Returns (rate, count)."""
    windows = list(_phone_windows(opening, phones, fps, labels, tolerance))
    hits = sum(bool(w.max() >= open_above) for w in windows)
    return (hits / len(windows) if windows else float("nan")), len(windows)


# ------------------------------------------------------------------ head and eyes


def rotation_steps(rotvecs: np.ndarray) -> np.ndarray:
    """T x 3 axis-angle -> T-1 geodesic angles (radians) between consecutive rotations."""
    from scipy.spatial.transform import Rotation

    r = np.asarray(rotvecs, dtype=np.float64).reshape(-1, 3)
    if r.shape[0] < 2:
        return np.zeros(0)
    rot = Rotation.from_rotvec(r)
    rel = rot[1:] * rot[:-1].inv()
    return rel.magnitude()


def smooth_rotations(rotvecs: np.ndarray, window: int) -> np.ndarray:
    """Savitzky-Golay smoothing (order 2, ``window`` frames) of T x 3 axis-angle rotations,
    to remove tracker jitter before measuring dP; unchanged when window < 3 or T < window."""
    from scipy.signal import savgol_filter

    r = np.asarray(rotvecs, dtype=np.float64).reshape(-1, 3)
    if window < 3 or r.shape[0] < window:
        return r
    return savgol_filter(r, window | 1, 2, axis=0)


def head_motion_intensity(rotvecs: np.ndarray, fps: float = 30.0, smooth: int = 0) -> float:
    """VASA-1's dP: mean frame-to-frame head rotation, in degrees per frame at 30 fps
    (curves at other rates are scaled to 30 fps so that clips compare). ``smooth`` > 2
    first applies ``smooth_rotations`` with that window."""
    steps = rotation_steps(smooth_rotations(rotvecs, smooth) if smooth > 2 else rotvecs)
    if steps.size == 0:
        return float("nan")
    return float(np.degrees(steps.mean()) * fps / 30.0)


def count_events(signal: np.ndarray, on: float, off: float | None = None, min_frames: int = 1) -> int:
    """Number of excursions of ``signal`` above ``on`` (hysteresis: an event ends when the
    signal falls below ``off``, default ``on``) lasting at least ``min_frames`` frames."""
    x = np.asarray(signal, dtype=np.float64).reshape(-1)
    off = on if off is None else off
    count, inside, length = 0, False, 0
    for v in x:
        if not inside and v > on:
            inside, length = True, 1
        elif inside:
            if v < off:
                count += length >= min_frames
                inside = False
            else:
                length += 1
    if inside:
        count += length >= min_frames
    return count


def blink_rate_from_closure(closure: np.ndarray, fps: float, threshold: float = 0.5) -> float:
    """Blinks per minute from an eyelid closure curve in [0, 1] (1 = closed), e.g. the
    mean of eyeBlinkLeft/Right. Hysteresis at 0.8 x threshold."""
    x = np.asarray(closure, dtype=np.float64).reshape(-1)
    if x.size == 0:
        return float("nan")
    n = count_events(x, on=threshold, off=0.8 * threshold)
    return float(n / (x.size / fps) * 60.0)


def closure_from_openness(openness: np.ndarray) -> np.ndarray:
    """Tracked eye openness (T or T x 2, eyelid gap / eye width) -> closure in [0, 1]:
    1 - openness / (the clip's open-eye level, its 90th percentile)."""
    o = np.asarray(openness, dtype=np.float64)
    if o.ndim == 2:
        o = o.mean(axis=1)
    level = np.percentile(o, 90)
    if level <= 1e-9:
        return np.zeros_like(o)
    return np.clip(1.0 - o / level, 0.0, 1.0)


# ------------------------------------------------------------------ stochasticity (ProbTalk3D)


def _frame_l2(a: np.ndarray, b: np.ndarray) -> float:
    """Distance between two sequences: T x D -> mean over frames of the L2 norm over D;
    T x V x 3 (vertices) -> mean over frames and vertices of the per-vertex L2 distance."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if d.ndim == 3:
        return float(np.linalg.norm(d, axis=-1).mean())
    d = d.reshape(d.shape[0], -1)
    return float(np.linalg.norm(d, axis=1).mean())


def diversity(samples: np.ndarray) -> float:
    """Mean over all pairs of samples (N x T x D, or N x T x V x 3) of their distance
    (``_frame_l2``: per-frame L2 over D, or per-vertex L2 averaged over vertices)."""
    s = np.asarray(samples, dtype=np.float64)
    if s.shape[0] < 2:
        raise ValueError("diversity needs at least 2 samples")
    return float(np.mean([_frame_l2(s[i], s[j]) for i, j in combinations(range(s.shape[0]), 2)]))


def mean_of_samples_error(samples: np.ndarray, gt: np.ndarray) -> float:
    """Per-frame L2 error of the mean of the samples against the ground truth."""
    s = np.asarray(samples, dtype=np.float64)
    return _frame_l2(s.mean(axis=0), gt)


def closest_sample_error(samples: np.ndarray, gt: np.ndarray) -> float:
    """Per-frame L2 error of the sample nearest the ground truth."""
    s = np.asarray(samples, dtype=np.float64)
    return float(min(_frame_l2(x, gt) for x in s))


# ------------------------------------------------------------------ emotion control


def recognition_rate(predicted: Sequence, requested: Sequence) -> float:
    """Share of clips whose classified emotion equals the requested one."""
    if len(predicted) != len(requested) or not len(requested):
        raise ValueError("need equal, non-empty label lists")
    return float(np.mean([p == r for p, r in zip(predicted, requested)]))


def monotonicity(intensities: Sequence[float], scores: Sequence[float]) -> tuple[float, float]:
    """How an emotion's score follows its requested intensity: (share of consecutive
    intensity steps where the score rises, Spearman rank correlation)."""
    from scipy.stats import spearmanr

    order = np.argsort(np.asarray(intensities, dtype=np.float64))
    s = np.asarray(scores, dtype=np.float64)[order]
    if s.size < 2:
        return float("nan"), float("nan")
    rises = float(np.mean(np.diff(s) > 0))
    rho = spearmanr(np.asarray(intensities)[order], s).statistic
    return rises, float(rho)
