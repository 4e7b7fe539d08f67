"""Real-speaker results summarised per method: means with speaker-bootstrap intervals, per
speaker, per tier, timing, lips shut and openings per phone class (pure functions of the
``real.ClipResult`` rows and the clips' ``manifest.ClipInfo``)."""

from __future__ import annotations

import numpy as np

from anim3d.eval.articulation import PHONE_CLASSES
from anim3d.eval.real import ClipResult, per_clip
from anim3d.eval.stats import Estimate, speaker_bootstrap, speaker_mean

REAL = "real (tracked)"


def nanmean(x) -> float:
    """Mean of the finite values; NaN (without a warning) when there are none."""
    v = np.asarray(x, dtype=np.float64).reshape(-1)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def methods_of(results: list[ClipResult]) -> list[str]:
    """The methods in the order they were run (the real speaker first)."""
    return list(dict.fromkeys(r.method for r in results))


def _values(results, method: str, attr: str, clips: list[str]) -> np.ndarray:
    by_clip = per_clip(results, method, attr)
    return np.array([by_clip.get(c, np.nan) for c in clips])  # clips


def estimate(results, infos: dict, method: str, attr: str) -> Estimate:
    """Mean over clips of ``attr`` (each clip's mean over seeds), speaker-bootstrap interval."""
    clips = sorted({r.clip for r in results if r.method == method})
    return speaker_bootstrap(_values(results, method, attr, clips), [infos[c].group for c in clips])


def per_speaker(results, infos: dict, method: str, attr: str = "r_av") -> dict[str, float]:
    """Speaker group -> mean of ``attr`` over its clips."""
    by_clip = per_clip(results, method, attr)
    groups: dict[str, list[float]] = {}
    for c, v in by_clip.items():
        groups.setdefault(infos[c].group, []).append(v)
    return {g: nanmean(v) for g, v in sorted(groups.items())}


def per_tier(results, infos: dict, method: str, attr: str = "r_av") -> dict[str, tuple[float, int]]:
    """Tier ("A", "B", "C", or "-" for clips without one) -> (mean of ``attr``, clips)."""
    by_clip = per_clip(results, method, attr)
    tiers: dict[str, list[float]] = {}
    for c, v in by_clip.items():
        tiers.setdefault(infos[c].tier or "-", []).append(v)
    return {t: (nanmean(v), len(v)) for t, v in sorted(tiers.items())}


def class_means(results, method: str) -> dict[str, tuple[float, int]]:
    """Phone class -> (mean over clips of the clip's mean relative opening, phones in all)."""
    out = {}
    for cls in PHONE_CLASSES:
        per: dict[str, list[float]] = {}
        counts: dict[str, int] = {}
        for r in results:
            if r.method != method or cls not in r.classes:
                continue
            value, n = r.classes[cls]
            per.setdefault(r.clip, []).append(value)
            counts[r.clip] = n
        out[cls] = (nanmean([nanmean(v) for v in per.values()]), int(sum(counts.values())))
    return out


def seed_means(results, method: str, attr: str = "r_av") -> dict[int, float]:
    """Seed -> mean over clips of ``attr`` for that seed."""
    seeds: dict[int, list[float]] = {}
    for r in results:
        if r.method == method:
            seeds.setdefault(r.seed, []).append(getattr(r, attr))
    return {s: nanmean(v) for s, v in sorted(seeds.items())}


def method_summary(results, infos: dict, method: str) -> dict:
    """Everything the report's summary row shows for one method."""
    clips = sorted({r.clip for r in results if r.method == method})
    rows = [r for r in results if r.method == method]
    return {
        "method": method,
        "clips": len(clips),
        "speakers": len({infos[c].group for c in clips}),
        "r": estimate(results, infos, method, "r"),
        "r_av": estimate(results, infos, method, "r_av"),
        "r_best": estimate(results, infos, method, "r_best"),
        "r_av_speakers": speaker_mean(_values(results, method, "r_av", clips), [infos[c].group for c in clips]),
        "timing_ms": nanmean(_values(results, method, "timing_ms", clips)),
        "timing_abs_ms": nanmean(_values(results, method, "timing_abs_ms", clips)),
        "xcorr_ms": float(np.median([r.xcorr_ms for r in rows])),
        "shut": nanmean(_values(results, method, "shut", clips)),
        "dp": nanmean([r.dp for r in rows]),
        "dp_smooth": nanmean([r.dp_smooth for r in rows]),
        "blinks": nanmean([r.blinks for r in rows]),
        "source": rows[0].source,
    }
