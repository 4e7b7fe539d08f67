"""Which audio features tell a p/b/m from the other closures (t d k g n ng dh th), learnt on synthetic voices
and tested on held-out synthetic voices and on a real voice with known phones?

    python research/place_cues.py [--train /work/corpus/h8_piper_2h] [--real /work/corpus/ast3]

For every such consonant, the features of the 7 frames (233 ms) around its middle (each utterance's mean
removed) feed a logistic regression (torch, L2) trained on the synthetic corpus's train split; the script
prints its ROC AUC on that split, on the corpus's held-out voices and on the real voice (a corpus made by
``anim3d import transcribed``; one copy of each sentence), for the phone front end (the default model's
input), log-mel and both. A linear probe: what the features carry in plain view, not what a model could
learn from them.

The recorded answer's fourth row, the phone front end with its context (``--phone-context``: the neighbours of
the frame's likely context-dependent senones, an experiment removed since), needs ``git checkout
experiments-2026-12``; this version prints the other three rows with the current front ends.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from known_phones_check import BILABIALS, OTHER_CLOSURES, auc  # noqa: E402  (a sibling script)

HALF = 3  # frames on each side of the middle


def collect(root: str, split: str, front_ends: dict, max_segments: int):
    """({front end: segments x features}, labels) for the p/b/m and other closures of a split."""
    from anim3d.data.shards import ShardDataset

    X: dict = {k: [] for k in front_ends}
    y: list = []
    seen: set = set()
    for u in ShardDataset(root, split):
        if len(y) >= max_segments:
            break
        if u.text in seen:  # a transcribed corpus holds several copies of a sentence
            continue
        seen.add(u.text)
        T = u.motion.num_frames
        feats = {k: fe(u.audio.samples, T) for k, fe in front_ends.items()}
        feats = {k: f - f.mean(axis=0, keepdims=True) for k, f in feats.items()}
        for p in u.phones:
            if p.label in BILABIALS or p.label in OTHER_CLOSURES:
                m = int((p.start + p.end) / 2 * 30)
                if HALF <= m and m + HALF + 1 <= T:
                    for k in front_ends:
                        X[k].append(feats[k][m - HALF : m + HALF + 1].ravel())
                    y.append(p.label in BILABIALS)
    return {k: np.array(v, np.float32) for k, v in X.items()}, np.array(y)


def probe(Xtr, ytr, tests, steps: int = 400, l2: float = 1e-2, seed: int = 0) -> list[float]:
    """Train a logistic regression on standardised features; AUC on the training set and on each test set."""
    import torch

    mu, sd = Xtr.mean(axis=0), Xtr.std(axis=0) + 1e-3
    std = lambda X: torch.from_numpy((X - mu) / sd)  # noqa: E731
    torch.manual_seed(seed)
    w = torch.zeros(Xtr.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.01)
    xt, yt = std(Xtr), torch.from_numpy(ytr.astype(np.float32))
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt) + l2 * (w**2).sum()
        loss.backward()
        opt.step()
    with torch.no_grad():
        scores = [((std(X) @ w + b).numpy(), y) for X, y in [(Xtr, ytr), *tests]]
    return [auc(s[y], s[~y]) for s, y in scores]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", default="/work/corpus/h8_piper_2h", help="synthetic corpus (train and val splits)")
    ap.add_argument("--real", default="/work/corpus/ast3", help="a real voice imported with anim3d import transcribed")
    ap.add_argument("--segments", type=int, default=3000, help="training segments (default 3000)")
    args = ap.parse_args()

    from anim3d.models.audio_features import LogMelFrontEnd
    from anim3d.models.phone_features import PhoneFrontEnd

    fes = {"log-mel": LogMelFrontEnd(16000, 64, 3, 30.0), "phones": PhoneFrontEnd()}
    tr, va, rv = (collect(root, split, fes, args.segments) for root, split in ((args.train, "train"), (args.train, "val"), (args.real, "all")))
    print(f"segments (p/b/m + others): train {len(tr[1])}, held-out synthetic {len(va[1])}, real voice {len(rv[1])}")
    print(f"{'features':22s} {'train':>8s} {'held-out synthetic':>20s} {'real voice':>12s}")
    for name in ("phones", "log-mel", "phones + log-mel"):
        pick = (lambda d: np.concatenate([d[0]["phones"], d[0]["log-mel"]], axis=1)) if name == "phones + log-mel" else (lambda d, n=name: d[0][n])
        a = probe(pick(tr), tr[1], [(pick(va), va[1]), (pick(rv), rv[1])])
        print(f"{name:22s} {a[0]:8.3f} {a[1]:20.3f} {a[2]:12.3f}")


if __name__ == "__main__":
    main()
