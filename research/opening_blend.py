"""With the learned opening driving the jaw, does another teacher blend share (the rule-based mouth in the lips and
jaw) follow speakers never heard better than the shipped 0.3?

    python research/opening_blend.py [--shares 0.3,0,0.15,0.5] [--videos DIR,DIR]

For each share: the shipped model at that teacher blend with an opening net trained on the other folds' clips
(share 0.75), mean r at the AV offset over 5 speaker-held-out folds (``anim3d.eval.folds``). The nets do not
depend on the teacher blend, so each fold's net is trained once.
"""

from __future__ import annotations

import argparse


def main() -> None:
    from anim3d.eval.folds import Scorer, fold_summary, opening_candidate, run_folds
    from anim3d.eval.manifest import clip_infos, load_manifests
    from anim3d.eval.opening import OpeningFamily
    from anim3d.eval.real import find_videos_in, load_clips
    from anim3d.inference import load_model

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shares", default="0.3,0,0.15,0.5")
    ap.add_argument("--videos", default="/work/shared/realvideo/clips,/work/shared/evaldata/video")
    args = ap.parse_args()
    folders = args.videos.split(",")
    videos = find_videos_in(folders)
    infos = clip_infos(videos, load_manifests(folders, []))
    clips = load_clips(videos, progress=False, skipped={})
    groups = {c.name: infos[c.name].group for c in clips}
    gen = load_model()
    family = OpeningFamily(gen)
    for share in (float(s) for s in args.shares.split(",")):
        gen.inference.teacher_blend = share
        cand = opening_candidate(family, 0.75)
        cand.name += f", teacher blend {share:g}"
        s = fold_summary(run_folds(clips, groups, [cand], 5, Scorer(clips, [0]), progress=False))[cand.name]
        print(f"teacher blend {share:g}: held-out r {s['mean']:.4f} (folds {s['min']:.3f}..{s['max']:.3f})", flush=True)


if __name__ == "__main__":
    main()
