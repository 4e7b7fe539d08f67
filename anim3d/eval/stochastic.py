"""Stochasticity (ProbTalk3D's measures) for methods whose seed changes the motion:
N samples per held-out utterance -> diversity (mean pairwise distance between samples),
mean-of-samples error and closest-sample error against the ground truth.

Distances are on the open head's vertices (mean per-frame L2 over the flattened T x V x 3
difference, in mm) when the head is available, else on the 52 blendshape weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anim3d.eval import metrics as M


@dataclass
class StochasticResult:
    method: str
    samples: int
    diversity: float
    mean_error: float
    closest_error: float
    space: str  # "vertices (mm)" or "blendshapes"


def _features(motion, space: str) -> np.ndarray:
    if space.startswith("vertices"):
        from anim3d.eval.synthetic import vertices

        return vertices(motion) * 1000.0  # T x V x 3, mm
    return motion.blendshapes.astype(np.float64)  # T x 52


def evaluate_stochastic(utterances, methods, *, num_samples: int = 5, seed: int = 0, progress: bool = True):
    """One StochasticResult per stochastic method, averaged over the utterances."""
    from anim3d.eval.synthetic import mesh_metrics_available
    from anim3d.progress import progress as bar

    space = "vertices (mm)" if mesh_metrics_available() is None else "blendshapes"
    out = []
    for m in [m for m in methods if m.stochastic]:
        div, mean_err, close_err = [], [], []
        for u in bar(utterances, desc=f"stochasticity: {m.name}", unit="utt") if progress else utterances:
            controls = {k: v for k, v in (u.controls or {}).items() if k in m.controls}
            motions = [m.generate(u.audio, seed=seed + s, fps=u.motion.fps, **controls) for s in range(num_samples)]
            n = min([u.motion.num_frames] + [x.num_frames for x in motions])
            samples = np.stack([_features(x[:n], space) for x in motions])  # N x T x ...
            gt = _features(u.motion[:n], space)
            div.append(M.diversity(samples))
            mean_err.append(M.mean_of_samples_error(samples, gt))
            close_err.append(M.closest_sample_error(samples, gt))
        out.append(
            StochasticResult(m.name, num_samples, float(np.mean(div)), float(np.mean(mean_err)), float(np.mean(close_err)), space)
        )
    return out
