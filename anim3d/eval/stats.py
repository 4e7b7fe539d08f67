"""Means with confidence intervals over clips, resampling speakers.

Clips of one speaker are not independent (a speaker who is easy to follow is easy in all of
their clips), so the interval is a cluster bootstrap: speakers are drawn with replacement and
every clip of a drawn speaker enters the mean. With one clip per speaker it is the ordinary
bootstrap over clips. Percentile interval, ``RESAMPLES`` draws, a fixed seed (the same data give
the same interval).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    mean: float  # mean over clips
    lo: float  # confidence interval
    hi: float
    n: int  # clips with a finite value
    speakers: int  # speakers among them

    def __str__(self) -> str:
        if not np.isfinite(self.mean):
            return "n/a"
        return f"{self.mean:.3f} [{self.lo:.3f}, {self.hi:.3f}]"


def speaker_bootstrap(values: Sequence[float], speakers: Sequence[str], *, resamples: int = RESAMPLES,
                      level: float = LEVEL, seed: int = 0) -> Estimate:
    """Mean of ``values`` (one per clip) with a cluster-bootstrap interval over ``speakers``
    (one id per clip). NaN values are left out."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    s = np.asarray(list(speakers), dtype=object).reshape(-1)
    if v.size != s.size:
        raise ValueError(f"{v.size} values but {s.size} speaker ids")
    ok = np.isfinite(v)
    v, s = v[ok], s[ok]
    if v.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0, 0)
    ids, inverse = np.unique(s.astype(str), return_inverse=True)
    sums = np.bincount(inverse, weights=v, minlength=ids.size)  # per speaker
    counts = np.bincount(inverse, minlength=ids.size).astype(np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, ids.size, size=(resamples, ids.size))  # resamples x speakers
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [a, 1.0 - a])
    return Estimate(float(v.mean()), float(lo), float(hi), int(v.size), int(ids.size))


def speaker_mean(values: Sequence[float], speakers: Sequence[str]) -> float:
    """Mean over speakers of each speaker's mean over their clips (NaN values left out)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    s = np.asarray([str(x) for x in speakers], dtype=object)
    ok = np.isfinite(v)
    if not ok.any():
        return float("nan")
    per = {}
    for x, k in zip(v[ok], s[ok]):
        per.setdefault(k, []).append(x)
    return float(np.mean([np.mean(x) for x in per.values()]))
