"""Emotion control: a small classifier trained on teacher motions for the 8 emotions, then
the recognition rate per requested emotion and intensity of any method with an emotion
control, and an intensity-monotonicity check.

Classifier: multinomial logistic regression (L2-regularised, fitted with scipy's L-BFGS)
on per-clip statistics of a Motion (``clip_features``). It is written here in ~30 lines
because scikit-learn is not a dependency of the project and scipy does the optimisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anim3d.channels import ARKIT_NAMES, INDEX
from anim3d.motion import Motion

INTENSITIES = (0.25, 0.5, 0.75, 1.0)
TRAIN_INTENSITIES = (0.4, 0.7, 1.0)
# Harvard / CMU-arctic style sentences for the training phone sequences (all CMU-dict words).
TRAIN_TEXTS = (
    "the birch canoe slid on the smooth planks",
    "glue the sheet to the dark blue background",
    "it is easy to tell the depth of a well",
    "these days a chicken leg is a rare dish",
    "rice is often served in round bowls",
    "the juice of lemons makes fine punch",
    "the box was thrown beside the parked truck",
    "four hours of steady work faced us",
    "a large size in stockings is hard to sell",
    "the boy was there when the sun rose",
)

_PAIRS = [(n, n[:-4] + "Right") for n in ARKIT_NAMES if n.endswith("Left") and n[:-4] + "Right" in INDEX]


def clip_features(motion: Motion) -> np.ndarray:
    """Per-clip statistics -> (F,) float64: mean and std of the 52 weights, mean |left-right|
    of each L/R pair (contempt is one-sided), mean head rotation and mean head speed."""
    b = motion.blendshapes.astype(np.float64)  # T x 52
    asym = np.array([np.abs(b[:, INDEX[l]] - b[:, INDEX[r]]).mean() for l, r in _PAIRS])
    rot = motion.head_rotation.astype(np.float64)  # T x 3
    speed = np.linalg.norm(np.diff(rot, axis=0), axis=1).mean() * motion.fps if len(rot) > 1 else 0.0
    return np.concatenate([b.mean(0), b.std(0), asym, rot.mean(0), [speed]])


def synthetic_phones(text: str, rng: np.random.Generator, rate: float = 1.0):
    """Phone timings for ``text`` without audio: CMU-dict phones, vowels ~120 ms and
    consonants ~70 ms (x a random factor in [0.7, 1.3], / ``rate``), 0.3 s silence around."""
    from anim3d.phones import Phone
    from anim3d.phonetic import text_to_phones
    from anim3d.phones import VOWELS

    t = 0.3
    phones = [Phone("SIL", 0.0, t)]
    for p in text_to_phones(text):
        d = (0.12 if p in VOWELS else 0.07) * rng.uniform(0.7, 1.3) / rate
        phones.append(Phone(p, t, t + d))
        t += d
    phones.append(Phone("SIL", t, t + 0.3))
    return phones, t + 0.3


@dataclass
class EmotionClassifier:
    labels: tuple[str, ...]
    mean: np.ndarray  # F
    scale: np.ndarray  # F
    weights: np.ndarray  # (F + 1) x K, last row the bias

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """N x F (or F) -> N x K softmax probabilities."""
        x = (np.atleast_2d(features) - self.mean) / self.scale
        z = np.hstack([x, np.ones((x.shape[0], 1))]) @ self.weights  # N x K
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, features: np.ndarray) -> list[str]:
        return [self.labels[i] for i in self.probabilities(features).argmax(axis=1)]


def fit_classifier(features: np.ndarray, labels: list[str], l2: float = 1e-2) -> EmotionClassifier:
    """Multinomial logistic regression on N x F features."""
    from scipy.optimize import minimize

    classes = tuple(dict.fromkeys(labels))
    y = np.array([classes.index(l) for l in labels])
    mean = features.mean(0)
    scale = features.std(0) + 1e-6
    x = np.hstack([(features - mean) / scale, np.ones((len(y), 1))])  # N x (F+1)
    n, f = x.shape
    k = len(classes)
    onehot = np.eye(k)[y]  # N x K

    def loss(w_flat):
        w = w_flat.reshape(f, k)
        z = x @ w
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        nll = -np.log(p[np.arange(n), y] + 1e-12).mean() + 0.5 * l2 * (w[:-1] ** 2).sum()
        grad = x.T @ (p - onehot) / n
        grad[:-1] += l2 * w[:-1]
        return nll, grad.ravel()

    res = minimize(loss, np.zeros(f * k), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return EmotionClassifier(classes, mean, scale, res.x.reshape(f, k))


def train_on_teacher(seeds: range = range(4), progress: bool = True) -> tuple[EmotionClassifier, float]:
    """Train on teacher motions (all emotions x TRAIN_INTENSITIES x texts x seeds; neutral
    once per text and seed). Returns (classifier, accuracy on held-out teacher seeds)."""
    from anim3d.teacher import EMOTIONS, phones_to_motion
    from anim3d.progress import progress as bar

    def make(seed_list):
        feats, labels = [], []
        jobs = [
            (e, i, t, s)
            for s in seed_list
            for t in range(len(TRAIN_TEXTS))
            for e in EMOTIONS
            for i in ((1.0,) if e == "neutral" else TRAIN_INTENSITIES)
        ]
        it = bar(jobs, desc="emotion classifier: teacher clips", unit="clip") if progress else jobs
        for e, i, t, s in it:
            rng = np.random.default_rng(1000 * s + t)
            phones, dur = synthetic_phones(TRAIN_TEXTS[t], rng, rate=rng.uniform(0.8, 1.25))
            m = phones_to_motion(phones, dur, emotion=e, intensity=i, seed=10_000 + 97 * s + t)
            feats.append(clip_features(m))
            labels.append(e)
        return np.array(feats), labels

    xtr, ytr = make(list(seeds))
    clf = fit_classifier(xtr, ytr)
    xte, yte = make([max(seeds) + 1])
    acc = float(np.mean([p == t for p, t in zip(clf.predict(xte), yte)]))
    return clf, acc


@dataclass
class EmotionResult:
    method: str
    requested: str
    intensity: float
    predicted: str
    prob_requested: float  # classifier probability of the requested emotion


def evaluate_emotions(method, clf: EmotionClassifier, audios, *, intensities=INTENSITIES, seed: int = 0, progress=True):
    """Run ``method`` for every emotion x intensity x audio clip and classify the results."""
    from anim3d.progress import progress as bar

    jobs = [(e, i, k) for e in clf.labels for i in ((1.0,) if e == "neutral" else intensities) for k in range(len(audios))]
    out: list[EmotionResult] = []
    for e, i, k in bar(jobs, desc=f"emotion control: {method.name}", unit="clip") if progress else jobs:
        m = method.generate(audios[k], seed=seed + k, emotion=e, intensity=i)
        p = clf.probabilities(clip_features(m))[0]
        out.append(EmotionResult(method.name, e, i, clf.labels[int(p.argmax())], float(p[clf.labels.index(e)])))
    return out


def summarize_emotions(results: list[EmotionResult]):
    """-> (rates {emotion: {intensity: recognition rate}}, monotonic {emotion: (share rising, spearman)},
    overall recognition rate)."""
    from anim3d.eval import metrics as M

    rates: dict[str, dict[float, float]] = {}
    mono: dict[str, tuple[float, float]] = {}
    for e in dict.fromkeys(r.requested for r in results):
        rows = [r for r in results if r.requested == e]
        by_i = {}
        for i in sorted({r.intensity for r in rows}):
            sel = [r for r in rows if r.intensity == i]
            by_i[i] = M.recognition_rate([r.predicted for r in sel], [r.requested for r in sel])
        rates[e] = by_i
        if e != "neutral" and len(by_i) > 1:
            levels = sorted(by_i)
            mean_prob = [np.mean([r.prob_requested for r in rows if r.intensity == i]) for i in levels]
            mono[e] = M.monotonicity(levels, mean_prob)
    overall = M.recognition_rate([r.predicted for r in results], [r.requested for r in results])
    return rates, mono, overall
