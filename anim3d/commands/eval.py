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
  anim3d eval --videos ../shared/realvideo/clips --sections real --seeds 0,1,2 --folds 5

Sections: real (lip sync at lag 0, at each clip's audio-video offset estimated without
any method, and at each method's best lag, with speaker-bootstrap intervals, per speaker
and tier; timing by DTW; lips shut and opening per phone class; head motion; blinks), script (clips whose
manifest row has a transcript, animated with and without it: r, and the real bilabial closures the generated
lips follow), languages (held-out synthetic voices of each --language-corpora corpus, from the audio
alone and with the script: bilabial closure and lip error), synthetic (held-out
closure, LVE/MVE/FDD), stochastic (diversity overall and per part: head, blinks, brows,
mouth; lip sync per seed), emotion (recognition, intensity monotonicity), control (gaze
and head-distance requests vs what the motion does).

Speakers come from a manifest (DIR/manifest.tsv or DIR/../manifest.tsv, or --manifest;
columns file, speaker_group, tier, language, transcript), else from each file's name without a trailing clip number.
--folds K adds the speaker-held-out protocol (docs/evaluation.md): every method, and the
teacher blend share chosen on the other folds, scored on clips of speakers it never saw.

Tracking results and recognised phones are cached in ~/.cache/anim3d ($ANIM3D_CACHE),
keyed by content."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    from anim3d.eval.run import DEFAULT_SECTIONS, DEFAULT_VIDEOS, SECTIONS  # light module: numpy only

    p.add_argument("--videos", default=DEFAULT_VIDEOS, help=f"folder of talking-face videos with audio, or several separated by commas (default {DEFAULT_VIDEOS})")
    p.add_argument("--manifest", action="append", default=[], metavar="FILE", help="clip manifest (TSV with file, speaker_group, tier); default: the folder's own when present")
    p.add_argument("--model", default="default", help="checkpoint folder, 'default', or 'none' for baselines only")
    p.add_argument("--out", default="eval_report", help="output folder for report.md and PNGs (default ./eval_report)")
    p.add_argument("--quick", action="store_true", help="2 clips x 10 s, fewer samples and intensities")
    p.add_argument("--synthetic", default=None, metavar="SHARDS", help="shards root whose 'val' split is the held-out synthetic speech (default: synthesise a few utterances now)")
    p.add_argument("--clips", type=int, default=None, help="use only the first N videos (default all; 2 with --quick)")
    p.add_argument("--seconds", type=float, default=None, help="use only the first S seconds of each video (default whole; 10 with --quick)")
    p.add_argument("--sections", default=",".join(DEFAULT_SECTIONS),
                   help=f"comma-separated subset of {','.join(SECTIONS)} (default all but expression, which takes about half an hour)")
    p.add_argument("--steps", type=int, default=None, help="sampler steps for the model (default: the model's)")
    p.add_argument("--seeds", type=_seeds, default=None, help="comma-separated seeds of the stochastic methods on real speakers (default: --seed)")
    p.add_argument("--folds", type=_folds, default=None, metavar="K", help="add K speaker-held-out folds over the real clips")
    p.add_argument("--language-corpora", default="", metavar="DIRS",
                   help="comma-separated corpora of 'anim3d data synth --language CODE' for the languages section (their "
                        "validation split: up to 40 lines each, 4 with --quick)")
    p.add_argument("--blend-grid", type=_grid, default=(), metavar="SHARES", help="teacher blend shares the folds choose from (default 0,0.15,0.3,0.45,0.6)")


def _seeds(text: str) -> tuple[int, ...]:
    from anim3d.commands.options import seed

    return tuple(seed(x) for x in text.split(",") if x.strip())


def _folds(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        k = 0
    if k < 2:
        raise argparse.ArgumentTypeError(f"needs a whole number >= 2, got {text!r}")
    return k


def _grid(text: str) -> tuple[float, ...]:
    from anim3d.errors import Anim3dError
    from anim3d.eval.folds import parse_grid

    try:
        return parse_grid(text)
    except Anim3dError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


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
        manifests=tuple(args.manifest),
        seeds=args.seeds,
        folds=args.folds,
        blend_grid=args.blend_grid,
        language_corpora=tuple(x.strip() for x in args.language_corpora.split(",") if x.strip()),
    )
    path = run_eval(cfg)
    print(f"report: {path}")
    return 0
