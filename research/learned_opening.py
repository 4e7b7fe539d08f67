"""How much of a real speaker's mouth opening can be learnt from the audio features the model reads, on speakers
never seen?

    python research/learned_opening.py [--videos DIR,DIR] [--folds 5] [--context 8] [--alpha 30]

A linear probe: ridge regression from the phone front end's features (the default model's input: posteriors
of pocketsphinx's CI phones and log energy, 3 subframes a frame) of the frames t-C..t+C to the tracked inner-lip
gap at t (each clip's curve standardised; the video read at the clip's audio-video offset). Fitted on the
training folds' speakers, scored on the held-out fold's (``anim3d.eval.folds``), beside the shipped model and
the blend of the two. The probe's opening drives jawOpen alone; the score is the evaluation's (r at the AV
offset of the open head's lip gap).
"""

from __future__ import annotations

import argparse

import numpy as np


def stacked(feats: np.ndarray, context: int) -> np.ndarray:
    """T x F -> T x (2C + 1) F: each frame with its C neighbours on each side (edges repeated)."""
    pad = np.pad(feats, ((context, context), (0, 0)), mode="edge")
    return np.concatenate([pad[i : i + len(feats)] for i in range(2 * context + 1)], axis=1)


def aligned_target(clip, n: int, fps: float) -> np.ndarray:
    """The clip's tracked lip gap at the audio's frame times (n frames at ``fps``), standardised."""
    rt = clip.track
    t_video = np.arange(n) / fps - clip.offset.lag / rt.fps  # audio time t shows video time t - lag
    y = np.interp(t_video * rt.fps, np.arange(len(rt.mouth)), rt.mouth)
    return (y - y.mean()) / (y.std() + 1e-9)


class Probe:
    def __init__(self, gen, context: int, alpha: float):
        self.gen, self.context, self.alpha = gen, context, alpha
        self._feats: dict = {}

    def features(self, audio) -> np.ndarray:
        from anim3d.eval.cache import audio_hash

        key = audio_hash(audio)
        if key not in self._feats:
            f = self.gen.features(audio)  # T x 129
            self._feats[key] = stacked((f - f.mean(0)) / (f.std(0) + 1e-6), self.context)
        return self._feats[key]

    def fit(self, train):
        x = np.concatenate([self.features(c.audio) for c in train])
        y = np.concatenate([aligned_target(c, len(self.features(c.audio)), self.gen.cfg.fps) for c in train])
        mu, sd = x.mean(0), x.std(0) + 1e-6
        xs = (x - mu) / sd
        w = np.linalg.solve(xs.T @ xs + self.alpha * len(xs) / 1000 * np.eye(xs.shape[1]), xs.T @ (y - y.mean()))
        return lambda audio: ((self.features(audio) - mu) / sd) @ w


def main() -> None:
    from anim3d.eval.baselines import Method
    from anim3d.eval.folds import BlendFamily, Candidate, Scorer, fixed, fold_summary, print_folds, run_folds
    from anim3d.eval.manifest import clip_infos, load_manifests
    from anim3d.eval.real import find_videos_in, load_clips
    from anim3d.inference import load_model
    from anim3d.motion import Motion

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", default="/work/shared/realvideo/clips,/work/shared/evaldata/video")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--context", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=30.0)
    args = ap.parse_args()
    folders = args.videos.split(",")
    videos = find_videos_in(folders)
    infos = clip_infos(videos, load_manifests(folders, []))
    clips = load_clips(videos, progress=False, skipped={})
    scorer = Scorer(clips, [0])
    gen = load_model()
    probe = Probe(gen, args.context, args.alpha)
    family = BlendFamily(gen)

    def probe_candidate(mix: float) -> Candidate:
        def fit(train):
            predict = probe.fit(train)

            def generate(audio, seed=0, fps=30.0, **_):
                base = family.method(0.3).generate(audio, seed=seed, fps=gen.cfg.fps)
                p = predict(audio)  # T: standardised opening
                jaw = np.clip(0.25 + 0.12 * p, 0, 1)
                out = base.copy()
                j = out.blendshapes[:, 17]  # jawOpen
                out.blendshapes[:, 17] = (1 - mix) * j + mix * jaw[: len(j)]
                return out if abs(out.fps - fps) < 1e-6 else out.resample(fps)

            return Method(f"probe mix {mix:g}", generate, "ridge probe", stochastic=True)

        return Candidate(f"probe jaw, mix {mix:g} with the shipped mouth", fit, True)

    cands = [fixed(family.method(0.3)), probe_candidate(1.0), probe_candidate(0.5)]
    groups = {c.name: infos[c.name].group for c in clips}
    results = run_folds(clips, groups, cands, args.folds, scorer, progress=False)
    print_folds(results, fold_summary(results))
    del Motion


if __name__ == "__main__":
    main()
