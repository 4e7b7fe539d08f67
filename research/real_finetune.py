"""Does fine-tuning the motion model on real speakers' tracked mouths make it follow speakers it never heard?

    python research/real_finetune.py prepare --imported DIR --out FOLDS   # one real corpus per fold
    python research/real_finetune.py train --out FOLDS --synthetic CORPUS [--folds 0,1] [--steps 1200]
    python research/real_finetune.py score --out FOLDS                    # held-out scores per fold

The clips of ../shared/realvideo and ../shared/evaldata are dealt into speaker-held-out folds exactly as
``anim3d.eval.folds`` deals them. For fold k, the model is fine-tuned from the shipped one on the synthetic
corpus plus the real clips (imported with ``anim3d import video --align-audio``: MediaPipe-tracked, solved to
ARKit, shifted by each clip's audio-video offset) of every speaker outside fold k; the tracked videos teach the
mouth only (``anim3d.training.data.MOUTH_ONLY_SOURCES``). Each fold's model is scored on fold k's clips only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

VIDEOS = ["/work/shared/realvideo/clips", "/work/shared/evaldata/video"]
K = 5


def fold_groups() -> list[set[str]]:
    """The speaker groups of each fold (as ``anim3d.eval.folds`` makes them for these clips)."""
    from anim3d.eval.folds import make_folds
    from anim3d.eval.manifest import clip_infos, load_manifests
    from anim3d.eval.real import find_videos_in, load_clips

    videos = find_videos_in(VIDEOS)
    infos = clip_infos(videos, load_manifests(VIDEOS, []))
    clips = load_clips(videos, progress=False, skipped={})
    groups = {c.name: infos[c.name].group for c in clips}
    return [{groups[n] for n in fold} for fold in make_folds(groups, K)]


def prepare(imported: Path, out: Path) -> None:
    from anim3d.data.shards import write_index

    folds = fold_groups()
    for k, held in enumerate(folds):
        d = out / f"fold{k}" / "real"
        d.mkdir(parents=True, exist_ok=True)
        n = 0
        for shard in sorted(imported.glob("*.npz")):
            group = shard.name.split("__")[0]
            if group not in held:
                link = d / shard.name
                if not link.exists():
                    link.symlink_to(shard)
                n += 1
        write_index(d, val_voices=[])
        print(f"fold {k}: holds out {sorted(held)[:5]}...; {n} training clips")


def train(out: Path, synthetic: str, folds: list[int], steps: int, repeat: int) -> None:
    for k in folds:
        run = out / f"fold{k}" / "run"
        real = str(out / f"fold{k}" / "real")
        cmd = ["/work/main/.venv/bin/anim3d", "train", "--data", synthetic] + ["--data", real] * repeat + [
            "--init", "default", "--out", str(run), "--epochs", str(steps // 200), "--steps-per-epoch", "200",
            "--lr", "2e-4", "--batch-size", "24", "--ema", "0.998", "--val-utterances", "8", "--bilabial-weight", "16",
            "--seed", "11", "--threads", "1", "-q"]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, env=dict(os.environ, OMP_NUM_THREADS="1"))


def score(out: Path, seeds: list[int]) -> None:
    from anim3d.eval.baselines import available_methods
    from anim3d.eval.folds import (BlendFamily, Candidate, Scorer, blend_share_candidate, fixed, fold_summary,
                                   print_folds, run_folds, settings_method)
    from anim3d.eval.manifest import clip_infos, load_manifests
    from anim3d.eval.real import find_videos_in, load_clips
    from anim3d.inference import load_model

    videos = find_videos_in(VIDEOS)
    infos = clip_infos(videos, load_manifests(VIDEOS, []))
    clips = load_clips(videos, progress=False, skipped={})
    groups = {c.name: infos[c.name].group for c in clips}
    scorer = Scorer(clips, seeds)
    folds = fold_groups()

    def per_fold(share: float | None) -> Candidate:
        def fit(train):
            held = set(groups.values()) - {groups[c.name] for c in train}
            k = next(i for i, f in enumerate(folds) if f == held)
            gen = load_model(out / f"fold{k}" / "run")
            m = settings_method(gen, {} if share is None else {"teacher_blend": share}, label=f"fine-tuned (fold {k})")
            m.name = f"fine-tuned, blend {'checkpoint' if share is None else share}, fold {k}"
            return m

        return Candidate(f"fine-tuned without the held-out speakers, blend {'0.3' if share is None else share}", fit, True)

    cands = [fixed(m) for m in available_methods(None)]
    cands += [fixed(settings_method(load_model(), {})), per_fold(None), per_fold(0.0), per_fold(0.6)]
    cands.append(blend_share_candidate(BlendFamily(load_model()), scorer))
    results = run_folds(clips, groups, cands, K, scorer, progress=False)
    print_folds(results, fold_summary(results))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("prepare", "train", "score"))
    ap.add_argument("--imported", default="/work/corpus/realvideo_import/aligned")
    ap.add_argument("--out", default="/work/corpus/folds")
    ap.add_argument("--synthetic", default="/work/corpus/h10_1h")
    ap.add_argument("--folds", default=",".join(str(k) for k in range(K)))
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--repeat", type=int, default=4, help="how many times the real corpus is listed (its weight)")
    ap.add_argument("--seeds", default="0")
    a = ap.parse_args()
    if a.what == "prepare":
        prepare(Path(a.imported), Path(a.out))
    elif a.what == "train":
        train(Path(a.out), a.synthetic, [int(k) for k in a.folds.split(",")], a.steps, a.repeat)
    else:
        score(Path(a.out), [int(s) for s in a.seeds.split(",")])


if __name__ == "__main__":
    main()
