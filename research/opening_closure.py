"""On which frames must the learned opening leave the jaw to the motion model, so that the lips still meet on p/b/m
(held-out synthetic closure >= 0.95) without losing what the net gains on real speakers?

    python research/opening_closure.py [--corpora /work/corpus/h10_1h,/work/corpus/h12_check] [--seeds 0,1]
        [--videos ../shared/realvideo/clips,../shared/evaldata/video] [--share 0.75]

For each rule (which frames keep the motion's own jaw when it is lower than the learned one), with the shipped
checkpoint's net: bilabial closure on the corpora's held-out voices (``eval.checkpoints.heldout_score``), and
the mean r at the AV offset over 5 speaker-held-out folds of the real clips, a net trained per fold
(``eval.folds`` with the opening candidate). Rules:

- never: the learned jaw everywhere;
- pressed: wherever the motion presses its lips (mean mouthPress >= 0.03);
- closing (shipped, ``anim3d.inference.opening.closing``): pressed, and the press peaks or the jaw is lowest
  among the frame and its neighbours.
"""

from __future__ import annotations

import argparse

import numpy as np


def rules():
    from anim3d.inference import opening as O

    def pressed(b):
        return np.asarray(b)[:, list(O.PRESS)].mean(axis=1) >= O.PRESSED

    return {"never": lambda b: np.zeros(len(b), bool), "pressed": pressed, "closing (shipped)": O.closing}


def main() -> None:
    from anim3d.eval.checkpoints import heldout_examples, heldout_score, rule_mouths
    from anim3d.eval.folds import Scorer, fold_summary, opening_candidate, run_folds
    from anim3d.eval.manifest import clip_infos, load_manifests
    from anim3d.eval.opening import OpeningFamily
    from anim3d.eval.real import find_videos_in, load_clips
    from anim3d.inference import load_model
    from anim3d.inference import opening as O

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpora", default="/work/corpus/h10_1h,/work/corpus/h12_check")
    ap.add_argument("--videos", default="/work/shared/realvideo/clips,/work/shared/evaldata/video")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--share", type=float, default=0.75)
    args = ap.parse_args()
    gen = load_model()
    gen.inference.opening_share = args.share
    corpora = args.corpora.split(",")
    examples = heldout_examples(gen, corpora, 1000)
    mouths = rule_mouths(gen, corpora, 1000, examples)
    folders = args.videos.split(",")
    videos = find_videos_in(folders)
    infos = clip_infos(videos, load_manifests(folders, []))
    clips = load_clips(videos, progress=False, skipped={})
    groups = {c.name: infos[c.name].group for c in clips}
    family = OpeningFamily(gen)
    keep = O.closing
    try:
        for name, rule in rules().items():
            O.closing = rule
            closure = [heldout_score(gen, examples, mouths, seed=int(s)).closure for s in args.seeds.split(",")]
            cand = opening_candidate(family, args.share)
            cand.name = f"{cand.name}, {name}"
            summary = fold_summary(run_folds(clips, groups, [cand], 5, Scorer(clips, [0]), progress=False))[cand.name]
            print(f"{name:18s} closure {min(closure):.3f}-{max(closure):.3f} (seeds {args.seeds}); "
                  f"held-out r {summary['mean']:.3f} (folds {summary['min']:.3f}..{summary['max']:.3f})", flush=True)
    finally:
        O.closing = keep


if __name__ == "__main__":
    main()
