"""``anim3d train-opening``: learn the mouth opening from videos of real speakers (``anim3d.training.opening``)."""

from __future__ import annotations

import argparse

NAME = "train-opening"
ORDER = 45
HELP = "learn the mouth opening from talking-face videos and add it to a motion model"
DESCRIPTION = """Learn how far real speakers' lips part from their voices: track every video's lips (cached),
estimate its audio-video offset, train a small conv net from the motion model's audio features to the
tracked lip gap, and write OUT: a copy of the motion model with the net (opening.safetensors) and an
opening share in its inference settings (the share of the learned opening in the jaw).

The videos' speakers, sources and licence notes (from a manifest: DIR/manifest.tsv, DIR/../manifest.tsv
or --manifest) are recorded in the net's metadata: a model trained on clips under a research-only
licence inherits it. `anim3d animate --opening-share 0` animates without the learned opening.

  anim3d train-opening --videos ../shared/realvideo/clips --out runs/opening
  anim3d train-opening --videos a/,b/ --model runs/mine --share 1 --out runs/mine_opening

Which clips and shares hold on speakers a net never heard: python -m anim3d.eval.folds --opening-shares
(docs/evaluation.md)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    from anim3d.commands.options import int_range, unit_interval

    p.add_argument("--videos", required=True, help="folder of talking-face videos with audio, or several separated by commas")
    p.add_argument("--manifest", action="append", default=[], metavar="FILE",
                   help="clip manifest (TSV with file, speaker_group, license_note...); default: the folder's own")
    p.add_argument("--model", default="default", help="the motion model checkpoint the net serves ('default': the shipped one)")
    p.add_argument("--out", required=True, help="checkpoint folder to write (the model, the net, the share)")
    p.add_argument("--share", type=unit_interval, default=1.0, help="the learned opening's share in the jaw (default 1)")
    p.add_argument("--members", type=int_range(1, 16), default=3, help="nets trained from different seeds, averaged (default 3)")
    p.add_argument("--steps", type=int_range(1, 100000), default=300, help="training steps per net (default 300)")


def run(args: argparse.Namespace) -> int:
    import json
    import os
    import shutil
    import sys

    import torch

    from anim3d.device import resolve_device
    from anim3d.errors import Anim3dError
    from anim3d.eval.manifest import clip_infos, load_manifests
    from anim3d.eval.opening import OpeningFamily
    from anim3d.eval.real import find_videos_in, load_clips
    from anim3d.fileio import atomic_output, check_output_folder, output_group
    from anim3d.inference import load_model
    from anim3d.models.checkpoint import CONFIG_FILE, DEFAULT_DIR, WEIGHTS_FILE, config_document
    from anim3d.models.config import InferenceConfig
    from anim3d.models.opening import OpeningConfig, save_opening
    from anim3d.progress import progress
    from anim3d.training.opening import OpeningTraining

    model_dir = str(DEFAULT_DIR) if args.model == "default" else args.model
    if os.path.realpath(model_dir) == os.path.realpath(args.out):
        raise Anim3dError(f"{args.out}: is the --model checkpoint; train-opening writes a new folder and never over the model it reads")
    check_output_folder(args.out)
    folders = [f for f in args.videos.split(",") if f.strip()]
    videos = find_videos_in(folders)  # InputError for a bad folder, before any work
    infos = clip_infos(videos, load_manifests(folders, args.manifest))
    device = resolve_device(args.device)
    gen = load_model(model_dir, device)
    if device.type == "cpu":
        torch.set_num_threads(1)  # a net this small trains faster on one thread of a busy 2-core machine

    skipped: dict = {}
    clips = load_clips(videos, progress=True, skipped=skipped)
    for name, why in skipped.items():
        print(f"skipped {name}: {why}", file=sys.stderr)
    training = OpeningTraining(steps=args.steps, seed=args.seed)
    family = OpeningFamily(gen, cfg=OpeningConfig(members=args.members), training=training,
                           on_step=lambda done, total: bar.update(1))
    for c in progress(clips, desc="features", unit="clip"):
        family.examples(c)
    bar = progress(total=args.members * args.steps, desc="training", unit="step")
    net = family.net(clips)
    bar.close()
    net.cfg.metadata["clips"] = [_clip_record(infos[c.name], c) for c in clips]

    inference = InferenceConfig.from_dict(gen.inference.to_dict() | {"opening_share": args.share})
    doc = config_document(gen.cfg, inference, gen.metadata)
    os.makedirs(args.out, exist_ok=True)
    with output_group():
        with atomic_output(os.path.join(args.out, WEIGHTS_FILE)) as tmp:
            shutil.copyfile(os.path.join(model_dir, WEIGHTS_FILE), tmp)
        with atomic_output(os.path.join(args.out, CONFIG_FILE)) as tmp:
            with open(tmp, "w") as f:
                json.dump(doc, f, indent=1)
        save_opening(args.out, net)
    speakers = len({infos[c.name].group for c in clips})
    print(f"learned opening: {len(clips)} clips of {speakers} speakers, {sum(c.frames / c.track.fps for c in clips) / 60:.1f} min; "
          f"share {args.share:g}")
    print(f"checkpoint: {args.out} (use: anim3d animate speech.wav -o out.glb --checkpoint {args.out})")
    return 0


def _clip_record(info, clip) -> dict:
    """What the model card says of one training clip."""
    return {"file": info.file, "speaker": info.speaker, "group": info.group, "seconds": round(clip.frames / clip.track.fps, 2),
            "source": info.source, "licence": info.licence}
