"""Real-speaker lip sync of one or more motion checkpoints, the number training runs are compared by.

    python scripts/real_lipsync.py CHECKPOINT[,CHECKPOINT...] [--seeds 0,1,2] [--videos DIR]

For each checkpoint ('default' = the shipped model): the Pearson r between the generated mouth opening (open-head
inner-lip gap) and the speaker's MediaPipe-tracked one at each clip's audio-video offset, per clip and as the mean
over the clips and seeds (what ``anim3d eval`` reports as "r (AV offset)" for one seed), and the share of frames
with the lips shut (opening under ``anim3d.eval.mouth.SHUT_BELOW``, 0.1 mm). Tracking is cached (``anim3d.eval.real``), so a checkpoint takes
about 20 s per seed for the 4 evaldata clips once the cache holds them.
"""

from __future__ import annotations

import argparse

import numpy as np

from anim3d.eval.mouth import SHUT_BELOW
from anim3d.paths import evaldata_dir



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", help="comma-separated checkpoint folders, or 'default'")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    ap.add_argument("--videos", default=str(evaldata_dir() / "video"))
    args = ap.parse_args()

    from anim3d.eval.real import find_videos, load_clip, score_motion
    from anim3d.pipeline import _load, animate, load_default_model

    seeds = [int(s) for s in args.seeds.split(",")]
    clips = [load_clip(v, None, False) for v in find_videos(args.videos)]
    for ck in args.checkpoints.split(","):
        gen = load_default_model() if ck == "default" else _load(ck)
        per_clip, shut = [], []
        for c in clips:
            rs = []
            for s in seeds:
                res = score_motion(c.name, "model", animate(c.audio, checkpoint=gen, seed=s), c.track, c.offset.lag)
                rs.append(res.r_av)
                shut.append(float(np.mean(res.curve < SHUT_BELOW)))
            per_clip.append(float(np.mean(rs)))
        clips_txt = " / ".join(f"{c.name} {r:.3f}" for c, r in zip(clips, per_clip))
        print(f"{ck}: real r {np.mean(per_clip):.4f} ({clips_txt}); lips shut on {np.mean(shut):.3f} of frames", flush=True)


if __name__ == "__main__":
    main()
