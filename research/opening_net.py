"""Which learned opening follows speakers it never heard best: how big a net, how many members, which inputs, which
training data?

    python research/opening_net.py [--videos DIR,DIR] [--synthetic /work/corpus/h10_1h] [--only NAME,NAME]

Each variant is trained with ``anim3d.training.opening.train_opening`` on the clips of 4 speaker folds
(``anim3d.eval.folds.make_folds``, 5 folds) and scored on the fifth: the Pearson r between the net's opening
and the tracked inner-lip gap at the clip's audio-video offset, mean over the fold's clips, then over folds.
This is the net alone, before it drives the open head's jaw (``python -m anim3d.eval.folds --opening-shares``
scores the whole motion). Variants:

- shipped: 3 members, width 32, 3 dilated layers, dropout 0.5, 300 steps, each clip also at 0.92x and 1.08x;
- 1 member, 5 members; width 64 with dropout 0.3; 600 steps; no speed perturbation;
- + log-mel: 40 log-mel bands (3 subframes) beside the phone features, standardised per clip;
- + synthetic: the teacher's lip gap (``eval.mouth.blendshape_opening``) on 10 min of a synthetic corpus's
  training split beside the real clips.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np


def log_mel(x: np.ndarray, frames: int, fps: float, bands: int = 40) -> np.ndarray:
    """16 kHz samples -> frames x 3 * bands log-mel (25 ms windows every 10 ms, 3 subframes per frame), per-clip
    standardised."""
    hz = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    edges = hz(np.linspace(mel(60), mel(7600), bands + 2))
    freqs = np.fft.rfftfreq(512, 1 / 16000)
    fb = np.stack([np.clip(np.minimum((freqs - a) / (b - a), (c - freqs) / (c - b)), 0, None)
                   for a, b, c in zip(edges, edges[1:], edges[2:])])
    x = np.pad(np.asarray(x, np.float64), (200, 200))
    n = 1 + (len(x) - 400) // 160
    spec = np.abs(np.fft.rfft(np.stack([x[i * 160 : i * 160 + 400] for i in range(n)]) * np.hanning(400), 512)) ** 2
    m = np.log(spec @ fb.T + 1e-6)
    idx = np.clip(np.round(np.arange(frames) * 100 / fps).astype(int), 0, len(m) - 1)
    sub = np.concatenate([m[np.clip(idx + k, 0, len(m) - 1)] for k in (-1, 0, 1)], axis=1)
    return ((sub - sub.mean(0)) / (sub.std(0) + 1e-6)).astype(np.float32)


def main() -> None:
    from anim3d.eval.folds import make_folds
    from anim3d.eval.manifest import clip_infos, load_manifests
    from anim3d.eval.real import find_videos_in, load_clips
    from anim3d.inference import load_model
    from anim3d.models.opening import OpeningConfig
    from anim3d.training.opening import OpeningExample, OpeningTraining, clip_examples, sped_up, train_opening

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", default="/work/shared/realvideo/clips,/work/shared/evaldata/video")
    ap.add_argument("--synthetic", default="/work/corpus/h10_1h")
    ap.add_argument("--only", default="", help="comma-separated variant names (default all)")
    args = ap.parse_args()
    folders = args.videos.split(",")
    videos = find_videos_in(folders)
    infos = clip_infos(videos, load_manifests(folders, []))
    clips = load_clips(videos, progress=False, skipped={})
    gen = load_model()
    fps = gen.cfg.fps
    folds = make_folds({c.name: infos[c.name].group for c in clips}, 5)
    speeds = {c.name: clip_examples(gen, c.audio, c.track.mouth, c.track.fps, c.offset.lag) for c in clips}

    def with_mel(c, e, speed):
        audio = c.audio if speed == 1.0 else sped_up(c.audio, speed)
        x, _ = gen.samples(audio)
        return OpeningExample(np.concatenate([e.feats, log_mel(x, len(e.feats), fps)], axis=1), e.target)

    mel = {c.name: [with_mel(c, e, s) for e, s in zip(speeds[c.name], (1.0, 0.92, 1.08))] for c in clips}
    synthetic = []
    if args.synthetic:
        from anim3d.eval.mouth import blendshape_opening
        from anim3d.motion_codec import array_to_motion
        from anim3d.training.data import load_examples

        for e in load_examples(args.synthetic, "train", gen.front_end, fps, limit=171):  # about 10 min
            g = blendshape_opening(array_to_motion(e.motion, fps))
            synthetic.append(OpeningExample(e.feats.astype(np.float32), ((g - g.mean()) / (g.std() + 1e-9)).astype(np.float32)))

    shipped = OpeningConfig()
    variants = {
        "shipped": (shipped, OpeningTraining(), speeds, 3, False),
        "1 member": (dataclasses.replace(shipped, members=1), OpeningTraining(), speeds, 3, False),
        "5 members": (dataclasses.replace(shipped, members=5), OpeningTraining(), speeds, 3, False),
        "width 64, dropout 0.3": (dataclasses.replace(shipped, hidden=64, dropout=0.3), OpeningTraining(), speeds, 3, False),
        "600 steps": (shipped, OpeningTraining(steps=600), speeds, 3, False),
        "no speed perturbation": (shipped, OpeningTraining(), speeds, 1, False),
        "+ log-mel": (shipped, OpeningTraining(), mel, 3, False),
        "+ synthetic": (shipped, OpeningTraining(), speeds, 3, True),
    }
    only = [v for v in args.only.split(",") if v]
    for name, (cfg, training, examples, n_speeds, synth) in variants.items():
        if only and name not in only:
            continue
        means = []
        for held in folds:
            train = [e for c in clips if c.name not in held for e in examples[c.name][:n_speeds]]
            net = train_opening(train + (synthetic if synth else []), cfg, training)
            rs = [np.corrcoef(net.opening(examples[n][0].feats), examples[n][0].target)[0, 1] for n in held]
            means.append(float(np.mean(rs)))
        print(f"{name:24s} held-out r of the net {np.mean(means):.3f} (folds {min(means):.3f}..{max(means):.3f})", flush=True)


if __name__ == "__main__":
    main()
