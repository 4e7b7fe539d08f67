"""Issue #28: the gain per expression channel that makes the portrait video move as far as the open head.

Question: for one expression channel group at a time (both sides at weight W, a still frame, no speech, no head pose),
how far do the five expression features (anim3d.eval.expression.face_features) move when MediaPipe re-tracks (a) the
open head rendered alone (flame.preview, as the expression eval does) and (b) the portrait rendered by
anim3d.render.pipeline (drive, warp, network)? The gain that makes (b) equal (a), least squares over the five
features, per training portrait; the shipped gain (anim3d.render.drive.EXPRESSION_GAINS) is the median over them.
The evaldata portrait is not among them: it judges the gains (research/portrait_expression.py).

    .venv/bin/python research/portrait_expression_gain.py [--weight 0.6] [--gains current|none] [--speech AUDIO]

--speech: instead of a still frame, the model's neutral motion on the first 3 s of AUDIO (every 6th frame), with the
group added at W to every frame, against that motion (the tracker reads a talking mouth differently from a closed one).
The judging lines (examples/hello.wav, evaldata B08) are not to be used here.

Results: research/portrait_expression.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# frames of ../shared/realvideo and the evaldata videos: frontal, lips visible, different people
TRAINING = ("../shared/realvideo/clips/spectre_W015_level_1_neutral_030.mp4", "../shared/evaldata/video/Obama_clip1.mp4",
            "../shared/realvideo/clips/spectre_00002.mp4", "../shared/realvideo/clips/lip_reading_deeplearning_sample1.mp4",
            "../shared/realvideo/clips/MimicTalk_German_20s.mp4")
# expression channel groups (ARKit prefixes, both sides); the speech channels (jaw, lips, blinks) are left alone
GROUPS = ("mouthSmile", "mouthFrown", "mouthDimple", "noseSneer", "browDown", "browInnerUp", "browOuterUp", "eyeWide",
          "eyeSquint", "cheekSquint")
MIN_HEAD = 0.01  # features the head moves less than this (inter-ocular units) do not enter the fit


def main() -> None:
    import torch

    torch.set_num_threads(1)
    from anim3d.channels import ARKIT_NAMES
    from anim3d.eval.expression import FEATURES, face_features, render_features
    from anim3d.flame.open_head import load_open_head
    from anim3d.motion import Motion
    from anim3d.render.pipeline import PortraitRenderer
    from anim3d.tracking import track_image

    sys.path.insert(0, str(Path(__file__).parent))
    from portrait_expression import portrait_of

    ap = argparse.ArgumentParser()
    ap.add_argument("--weight", type=float, default=0.6)
    ap.add_argument("--speech", help="fit on speech: the model's neutral motion on this audio's first 3 s")
    ap.add_argument("--gains", choices=("current", "none"), default="none",
                    help="none: fit from scratch (the drive without gains); current: check the shipped gains")
    a = ap.parse_args()
    head = load_open_head()

    if a.speech:
        from anim3d.audio import load_audio
        from anim3d.eval.baselines import model_method

        audio = load_audio(a.speech)
        audio.samples = audio.samples[: 3 * audio.sample_rate]
        base = model_method().generate(audio, seed=0, emotion="neutral", intensity=1.0)[::6]
    else:
        base = Motion.neutral(1)

    def weights(group: str | None) -> Motion:
        w = base.blendshapes.copy()
        if group:
            cols = [i for i, n in enumerate(ARKIT_NAMES) if n.startswith(group)]
            w[:, cols] = np.clip(w[:, cols] + a.weight, 0, 1)
        return Motion(w, base.head_rotation, base.head_translation, base.fps)

    head_ch = {}
    h0 = render_features(head, weights(None).blendshapes)[0]  # mean over the frames
    for g in GROUPS:
        head_ch[g] = render_features(head, weights(g).blendshapes)[0] - h0
    gains = {g: [] for g in GROUPS}
    print(f"weight {a.weight:g}, {'speech ' + a.speech + f' ({base.num_frames} frames)' if a.speech else 'a still frame'}, drive gains: {a.gains}; change of ({', '.join(FEATURES)}) against the still neutral frame")
    for spec in TRAINING:
        r = PortraitRenderer(portrait_of(spec), gains=None if a.gains == "current" else {})

        def video(g):
            return face_features(np.stack([track_image(f) for f in r.frames(weights(g))]))[0].mean(0)

        v0 = video(None)
        print(spec)
        for g in GROUPS:
            h, v = head_ch[g], video(g) - v0
            use = np.abs(h) >= MIN_HEAD
            gain = float(h[use] @ v[use] / max(v[use] @ v[use], 1e-9)) if use.any() else np.nan  # nan: nothing to fit
            gains[g].append(gain)
            print(f"  {g:12s} head " + " ".join(f"{x:+.3f}" for x in h) + "  video " + " ".join(f"{x:+.3f}" for x in v)
                  + f"  gain {gain:.2f}", flush=True)
    print("median gain over the training portraits (min, max):")
    for g in GROUPS:
        if np.isnan(gains[g]).all():
            print(f"  {g:12s} n/a (the open head moves no feature by {MIN_HEAD:g}; keeps 1)")
        else:
            print(f"  {g:12s} {np.nanmedian(gains[g]):.2f} ({np.nanmin(gains[g]):.2f}, {np.nanmax(gains[g]):.2f})")


if __name__ == "__main__":
    main()
