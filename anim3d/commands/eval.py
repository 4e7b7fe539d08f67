"""``anim3d eval``: measure lip sync, head motion, blinks, stochasticity, emotion, gaze and distance
control against real speakers and held-out synthetic speech, with baselines in the same run."""

from __future__ import annotations

import argparse

NAME = "eval"
ORDER = 60
HELP = "evaluate the model and baselines; write a Markdown report with plots"
DESCRIPTION = """Evaluate every available method (loudness -> jaw, pocketsphinx phones -> teacher,
the model) against real talking-face videos (MediaPipe-tracked ground truth) and held-out
synthetic speech, and write report.md + PNG plots into --out.

  anim3d eval                                # evaldata videos, default model, ./eval_report
  anim3d eval --videos my_clips/ --out rep/  # any folder of talking-face videos with audio
  anim3d eval --model none --quick           # baselines only, 2 clips x 10 s

Sections: real (lip sync at lag 0, at each clip's audio-video offset estimated without
any method, and at each method's best lag; head motion; blinks), synthetic (held-out
closure, LVE/MVE/FDD), stochastic (diversity overall and per part: head, blinks, brows,
mouth; lip sync per seed), emotion (recognition, intensity monotonicity), control (gaze
and head-distance requests vs what the motion does).

Tracking results are cached in ~/.cache/anim3d/tracking (keyed by file hash)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    from anim3d.eval.run import DEFAULT_VIDEOS, SECTIONS  # light module: numpy only

    p.add_argument("--videos", default=DEFAULT_VIDEOS, help=f"folder of talking-face videos with audio (default {DEFAULT_VIDEOS})")
    p.add_argument("--model", default="default", help="checkpoint folder, 'default', or 'none' for baselines only")
    p.add_argument("--out", default="eval_report", help="output folder for report.md and PNGs (default ./eval_report)")
    p.add_argument("--quick", action="store_true", help="2 clips x 10 s, fewer samples and intensities")
    p.add_argument("--synthetic", default=None, metavar="SHARDS", help="shards root whose 'val' split is the held-out synthetic speech (default: synthesise a few utterances now)")
    p.add_argument("--clips", type=int, default=None, help="use only the first N videos (default all; 2 with --quick)")
    p.add_argument("--seconds", type=float, default=None, help="use only the first S seconds of each video (default whole; 10 with --quick)")
    p.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)} (default all)")
    p.add_argument("--steps", type=int, default=None, help="sampler steps for the model (default: the model's)")


def run(args: argparse.Namespace) -> int:
    from anim3d.device import resolve_device
    from anim3d.eval.run import EvalConfig, run_eval
    from anim3d.fileio import check_output_folder

    check_output_folder(args.out)
    device = str(resolve_device(args.device))
    cfg = EvalConfig(
        videos=args.videos,
        model=None if str(args.model).lower() == "none" else args.model,
        out=args.out,
        quick=args.quick,
        synthetic=args.synthetic,
        seed=args.seed,
        device=device,
        steps=args.steps,
        seconds=args.seconds,
        clips=args.clips,
        sections=tuple(x.strip() for x in args.sections.split(",") if x.strip()),
        progress=not args.quiet,
    )
    path = run_eval(cfg)
    print(f"report: {path}")
    return 0
