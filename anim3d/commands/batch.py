"""``anim3d batch``: many lines animated from a manifest (or a folder of audio), resumable, in parallel."""

from __future__ import annotations

import argparse

NAME = "batch"
ORDER = 12
HELP = "animate many lines from a CSV/TSV manifest or a folder of audio; resumable, --workers N processes"
DESCRIPTION = """Animate every line of a manifest, as `anim3d animate` would one by one, with the model loaded once per worker.

MANIFEST is a CSV or TSV file with a header: `audio` (a path relative to the manifest) and `output` (a file
name relative to --out; its extension picks the format: .glb .csv .npz .mp4), and optional per-line controls
named like animate's options: emotion, intensity, seed, gaze (YAW,PITCH in degrees, or "free"), distance,
style (a take whose style to follow, .npz or Live Link .csv, relative to the manifest), text, language. An empty cell takes animate's default (the seed: --seed). Or MANIFEST is a folder: each audio
file in it becomes a line whose output is NAME.npz (--format picks another).

  anim3d batch lines.csv --out takes/ --workers 2
  anim3d batch recordings/ --out takes/ --format glb

  lines.csv:
    audio,output,emotion,intensity,seed,text
    vo/line1.wav,line1.glb,happy,0.6,3,
    vo/line2.wav,line2.csv,,,,"I'll be right back."

The whole manifest is checked before any work (exit 2 names the row). Each line's outputs are written
atomically, then a record of its key (a hash of the audio's and style take's bytes, the line's settings, the model
and the anim3d version) in DIR/.anim3d-batch/: a rerun skips the lines already done and redoes those whose audio or settings
changed, so an interrupted run resumes where it stopped. A line that fails (missing or corrupt audio...) does not
stop the others. DIR/batch_results.csv lists every line: ok, skipped or failed (with the error) and its seconds.
Exit 0 when every line is ok or skipped, 1 when some failed, 2 for a bad manifest.

--dask tcp://HOST:8786 runs the lines on a Dask distributed cluster (pip install 'anim3d[cluster]'), each worker
loading the model once; a worker that dies has its line redone on another. The workers write the outputs: they
need the same anim3d and model, and must reach the audio files and --out at the same paths (the same machine or a
shared filesystem). An unreachable scheduler exits 2."""

def add_arguments(p: argparse.ArgumentParser) -> None:
    from anim3d.commands import options

    p.add_argument("manifest", help="a CSV/TSV manifest (columns audio, output, optional controls) or a folder of audio files")
    p.add_argument("--out", required=True, metavar="DIR", help="the folder the outputs are written to (made if missing)")
    p.add_argument("--workers", type=options.int_range(1, 64), default=1,
                   help="worker processes, each with the model loaded once (default 1)")
    p.add_argument("--format", choices=("glb", "csv", "npz"), default="npz",
                   help="with a folder as MANIFEST: the outputs' format (default npz)")
    p.add_argument("--dask", metavar="SCHEDULER_ADDRESS",
                   help="run the lines on a Dask distributed cluster (tcp://HOST:8786) instead of local processes; the "
                        "workers need the same anim3d and model installed and must reach the audio and --out at the "
                        "same paths (the same machine or a shared filesystem); needs anim3d[cluster]")
    p.add_argument("--checkpoint", help="a motion model checkpoint folder (default: the shipped model)")


def run(args: argparse.Namespace) -> int:
    from anim3d.commands.batch_jobs import run_batch
    from anim3d.errors import Anim3dError

    if args.dask is not None and args.workers != 1:
        raise Anim3dError("--workers and --dask: choose one (with --dask the cluster's workers run the lines)")
    return run_batch(args.manifest, args.out, workers=args.workers, fmt=args.format, checkpoint=args.checkpoint,
                     device=args.device, default_seed=args.seed, quiet=args.quiet, dask=args.dask)
