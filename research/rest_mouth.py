"""Does a mouth that stays open in pauses, as real speakers' does, follow real mouths better on speakers it
never saw?

    python research/rest_mouth.py [--videos DIR,DIR] [--folds 5] [--seeds 0]

Real speakers keep the mouth about half open in silence (relative to their 95th-percentile opening) while the
model and the rule-based mouth shut it (``anim3d eval``'s openings per phone class). Candidates, each chosen
on the training folds' clips and scored on the held-out fold's (``anim3d.eval.folds``):
- the teacher blend share alone (grid);
- the blend share and the rule mouth's rest opening in pauses (``SpeakerStyle.rest_open``);
- the same, with the rule mouth taking over the silent frames (share ``sil_share`` there).
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

SHARES = (0.45, 0.6, 0.75, 0.9, 1.0)
RESTS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6)
SIL_SHARES = (None, 1.0)


class Family:
    """Per clip and seed: the model's motion (share 0), the recognised phones and the loudness; any
    (share, rest, sil_share) mouth is made from them without running the model again."""

    def __init__(self, gen):
        self.gen = gen
        self._parts: dict = {}

    def parts(self, audio, seed):
        from anim3d.eval.cache import audio_hash
        from anim3d.inference import animate
        from anim3d.phonetic import SAMPLE_RATE, phones_from_loglik
        from anim3d.teacher.head import energy_db

        key = (audio_hash(audio), seed)
        if key not in self._parts:
            motion = animate(audio, checkpoint=self.gen, seed=seed, teacher_blend=0.0)
            x, n = self.gen.samples(audio)
            _, loglik, first = self.gen.front_end.features_and_loglik(x, n)
            phones = phones_from_loglik(loglik, x, first)
            energy = energy_db(x, SAMPLE_RATE, n, self.gen.cfg.fps)
            self._parts[key] = (motion, phones, energy)
        return self._parts[key]

    def method(self, share, rest, sil_share):
        from anim3d.eval.baselines import Method
        from anim3d.inference.mouth_blend import BLEND_CHANNELS
        from anim3d.teacher.core import speech_mouth
        from anim3d.teacher.speaker import SpeakerStyle

        def generate(audio, seed=0, fps=30.0, **_):
            motion, phones, energy = self.parts(audio, seed)
            n = motion.num_frames
            rule = speech_mouth(phones, n, fps=motion.fps, energy=energy, speaker=SpeakerStyle(rest_open=rest))
            w = np.full((n, 1), share, np.float32)
            if sil_share is not None:
                t = np.arange(n) / motion.fps
                sil = np.zeros(n, bool)
                for p in phones:
                    if p.label == "SIL":
                        sil |= (t >= p.start) & (t < p.end)
                w[sil] = sil_share
            out = motion.copy()
            ch = list(BLEND_CHANNELS)
            out.blendshapes[:, ch] = (1 - w) * motion.blendshapes[:, ch] + w * rule[:n, ch]
            return out if abs(out.fps - fps) < 1e-6 else out.resample(fps)

        name = f"share {share:g} rest {rest:g}" + ("" if sil_share is None else f" silence share {sil_share:g}")
        return Method(name, generate, name, stochastic=True)


def chooser(family, scorer, grid, label):
    from anim3d.eval.folds import Candidate

    def fit(train):
        names = [c.name for c in train]
        scores = {g: scorer.mean(family.method(*g), names) for g in grid}
        best = max(grid, key=lambda g: scores[g])
        m = family.method(*best)
        m.description = f"best on training folds {scores[best]:.3f}"
        return m

    return Candidate(label, fit, True)


def main() -> None:
    from anim3d.eval.folds import Scorer, fixed, fold_summary, print_folds, run_folds
    from anim3d.eval.manifest import clip_infos, load_manifests
    from anim3d.eval.real import find_videos_in, load_clips
    from anim3d.inference import load_model

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", default="/work/shared/realvideo/clips,/work/shared/evaldata/video")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seeds", default="0")
    args = ap.parse_args()
    folders = args.videos.split(",")
    videos = find_videos_in(folders)
    infos = clip_infos(videos, load_manifests(folders, []))
    clips = load_clips(videos, progress=False, skipped={})
    scorer = Scorer(clips, [int(s) for s in args.seeds.split(",")])
    family = Family(load_model())
    cands = [
        fixed(family.method(0.3, 0.0, None)),
        chooser(family, scorer, [(s, 0.0, None) for s in SHARES], "share chosen per fold"),
        chooser(family, scorer, list(itertools.product(SHARES, RESTS, [None])), "share and rest opening chosen per fold"),
    ]
    groups = {c.name: infos[c.name].group for c in clips}
    results = run_folds(clips, groups, cands, args.folds, scorer, progress=False)
    print_folds(results, fold_summary(results))


if __name__ == "__main__":
    main()
