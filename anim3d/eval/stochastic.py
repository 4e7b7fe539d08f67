"""Stochasticity (ProbTalk3D's measures) for methods whose seed changes the motion:
N samples per held-out utterance -> diversity (mean pairwise distance between samples),
mean-of-samples error and closest-sample error against the ground truth.

Distances are on the open head's vertices (mean per-frame L2 over the flattened T x V x 3
difference, in mm) when the head is available, else on the 52 blendshape weights.
Diversity is also reported per part, on the motion channels themselves: head rotation
(degrees), blinks (eyeBlinkLeft/Right), brows (browDown*, browInnerUp, browOuterUp*) and the
mouth/jaw channels, so that "different seeds give different head motion, blinks and brows"
is measured separately from the lips.

Lip sync per seed: the same samples' bilabial closure rate on the held-out utterances, and
(``real_lipsync_per_seed``) the real-speaker mouth correlation per seed at lag 0 and at each
clip's audio-video offset, to check that lip sync stays close to the best seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anim3d.channels import ARKIT_NAMES, INDEX
from anim3d.eval import metrics as M

PARTS = {
    "blinks": ("eyeBlinkLeft", "eyeBlinkRight"),
    "brows": ("browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight"),
    "mouth": tuple(n for n in ARKIT_NAMES if n.startswith(("jaw", "mouth"))),
}


def part_features(motion) -> dict[str, np.ndarray]:
    """{part: T x D}: head rotation in degrees (axis-angle x 180/pi) and the blendshape groups of PARTS."""
    b = motion.blendshapes.astype(np.float64)
    out = {"head (deg)": np.degrees(motion.head_rotation.astype(np.float64))}
    for part, names in PARTS.items():
        out[part] = b[:, [INDEX[n] for n in names]]
    return out


def part_diversity(motions) -> dict[str, float]:
    """Diversity (mean pairwise per-frame L2) of N motions per part."""
    n = min(x.num_frames for x in motions)
    feats = [part_features(x[:n]) for x in motions]
    return {p: M.diversity(np.stack([f[p] for f in feats])) for p in feats[0]}


@dataclass
class StochasticResult:
    method: str
    samples: int
    diversity: float
    mean_error: float
    closest_error: float
    space: str  # "vertices (mm)" or "blendshapes"
    parts: dict = None  # part -> diversity (head in degrees, blendshape groups in weight units)
    closure_per_seed: list = None  # pooled bilabial closure rate of each seed's samples
    closures: int = 0  # number of P/B/M phones per seed


def _features(motion, space: str) -> np.ndarray:
    if space.startswith("vertices"):
        from anim3d.eval.synthetic import vertices

        return vertices(motion) * 1000.0  # T x V x 3, mm
    return motion.blendshapes.astype(np.float64)  # T x 52


def evaluate_stochastic(utterances, methods, *, num_samples: int = 5, seed: int = 0, progress: bool = True):
    """One StochasticResult per stochastic method, averaged over the utterances."""
    from anim3d.eval.mouth import CLOSED_BELOW, mouth_opening
    from anim3d.progress import progress as bar

    space = "vertices (mm)"
    out = []
    for m in [m for m in methods if m.stochastic]:
        div, mean_err, close_err, parts = [], [], [], []
        hits, count = np.zeros(num_samples), 0
        for u in bar(utterances, desc=f"stochasticity: {m.name}", unit="utt") if progress else utterances:
            controls = {k: v for k, v in (u.controls or {}).items() if k in m.controls}
            motions = [m.generate(u.audio, seed=seed + s, fps=u.motion.fps, **controls) for s in range(num_samples)]
            n = min([u.motion.num_frames] + [x.num_frames for x in motions])
            samples = np.stack([_features(x[:n], space) for x in motions])  # N x T x ...
            gt = _features(u.motion[:n], space)
            div.append(M.diversity(samples))
            mean_err.append(M.mean_of_samples_error(samples, gt))
            close_err.append(M.closest_sample_error(samples, gt))
            parts.append(part_diversity(motions))
            for k, x in enumerate(motions):
                opening, source = mouth_opening(x)
                rate, n_ph = M.bilabial_closure_rate(opening, u.phones, x.fps, closed_below=CLOSED_BELOW[source])
                if n_ph:
                    hits[k] += rate * n_ph
            count += n_ph
        out.append(
            StochasticResult(m.name, num_samples, float(np.mean(div)), float(np.mean(mean_err)), float(np.mean(close_err)), space,
                             {p: float(np.mean([d[p] for d in parts])) for p in parts[0]},
                             list(hits / count) if count else [float("nan")] * num_samples, count)
        )
    return out


def real_lipsync_per_seed(clips, method, seeds) -> list[tuple[float, float]]:
    """For each seed: (mean r at lag 0, mean r at each clip's AV offset) of ``method`` over the
    real clips (``real.load_clip`` results)."""
    from anim3d.eval.real import score_motion

    out = []
    for s in seeds:
        rows = [score_motion(c.name, method.name, method.generate(c.audio, seed=s, fps=c.track.fps), c.track, c.offset.lag) for c in clips]
        out.append((float(np.nanmean([r.r for r in rows])), float(np.nanmean([r.r_av for r in rows]))))
    return out


def seed_spread(values) -> dict:
    """Per-seed scores -> best, worst, mean and the largest gap to the best, in points (x 100)."""
    v = np.asarray(values, np.float64)
    best = float(np.nanmax(v))
    return {"best": best, "worst": float(np.nanmin(v)), "mean": float(np.nanmean(v)), "gap_points": 100.0 * (best - float(np.nanmin(v)))}
