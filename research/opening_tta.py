"""Question: does the learned opening follow speakers it never heard better when it also hears the line sped up
and slowed down (the speeds it was trained on, ``anim3d.training.opening.SPEEDS``) and averages the three jaws,
mapped back to the line's time (test-time augmentation)?

Speaker-held-out: 5 folds by speaker group of the realvideo clips and the evaldata videos, an opening net trained
on the other folds' clips (as ``python -m anim3d.eval.folds --opening-shares``), used at the shipped share with and
without the augmentation. Prints the mean r at the AV offset over folds for both.

    .venv/bin/python research/opening_tta.py
"""

from __future__ import annotations

import dataclasses
import sys
import warnings

import numpy as np

from anim3d.eval.baselines import Method
from anim3d.eval.folds import Candidate, Scorer, fold_summary, print_folds, run_folds
from anim3d.eval.manifest import clip_infos, load_manifests
from anim3d.eval.opening import OpeningFamily
from anim3d.eval.real import find_videos_in, load_clips
from anim3d.inference import animate, load_model
from anim3d.inference.opening import learned_jaw
from anim3d.training.opening import SPEEDS, sped_up

FOLDERS = ["../shared/realvideo/clips", "../shared/evaldata/video"]


def tta_jaw(gen, net, audio, frames: int) -> np.ndarray:
    """(frames,) jawOpen: the mean of the net's jaw on the audio at speed 1 and ``SPEEDS``, each at the line's
    frame times (at speed s, the line's frame t is heard at frame t / s)."""
    t = np.arange(frames, dtype=np.float64)
    jaws = []
    for s in (1.0, *SPEEDS):
        feats = gen.features(audio if s == 1.0 else sped_up(audio, s))
        j = learned_jaw(net, feats)
        jaws.append(np.interp(t / s, np.arange(len(j)), j))
    return np.mean(jaws, axis=0).astype(np.float32)


def tta_method(family: OpeningFamily, net, share: float) -> Method:
    gen = family.gen

    def generate(audio, seed: int = 0, fps: float = 30.0, **controls):
        base = gen.opening, gen.inference, gen.learned_jaw
        gen.opening, gen.inference = net, dataclasses.replace(base[1], opening_share=share)
        gen.learned_jaw = lambda feats: tta_jaw(gen, net, audio, len(feats))
        try:
            m = animate(audio, checkpoint=gen, seed=seed, **controls)
        finally:
            gen.opening, gen.inference = base[:2]
            del gen.learned_jaw  # back to the class's method
        return m if abs(m.fps - fps) < 1e-6 else m.resample(fps)

    return Method(f"opening + speeds {SPEEDS} averaged (share {share:g})", generate, "tta", stochastic=True)


def main():
    warnings.simplefilter("ignore")
    videos = find_videos_in(FOLDERS)
    infos = clip_infos(videos, load_manifests(FOLDERS, []))
    clips = load_clips(videos, progress=False, skipped={})
    gen = load_model()
    share = gen.inference.opening_share
    family = OpeningFamily(gen)
    cands = [Candidate(f"opening (share {share:g})", lambda train: family.method(family.net(train), share), True),
             Candidate(f"opening + speeds averaged (share {share:g})", lambda train: tta_method(family, family.net(train), share), True)]
    groups = {c.name: infos[c.name].group for c in clips}
    print(f"{len(clips)} clips, {len(set(groups.values()))} speakers", flush=True)
    results = run_folds(clips, groups, cands, 5, Scorer(clips, (0,)), progress=False)
    print_folds(results, fold_summary(results))


if __name__ == "__main__":
    sys.exit(main())
