"""``anim3d train``: train the motion diffusion transformer on a corpus from the data engine."""

from __future__ import annotations

import argparse

NAME = "train"
ORDER = 40
HELP = "train the motion model on a corpus (anim3d data synth output)"
DESCRIPTION = """Train the motion diffusion transformer. The corpus is a folder written by `anim3d data synth`
(train and val splits; val holds voices not seen in training). Every epoch validates on the held-out
voices (bilabial closure rate, lip error) and writes the EMA weights to RUN as a checkpoint folder
(config.json + model.safetensors, usable with `anim3d animate --checkpoint RUN`), plus RUN/state/ for --resume.

  anim3d train --data corpus/ --config fast --out runs/fast
  anim3d train --data corpus/ --config fast --out runs/fast --resume --epochs 20
  anim3d train --data my_takes/ --init default --out runs/mine   # fine-tune the shipped model
  anim3d train --data corpus/ --data prompts/ --init default --out runs/mix   # several corpora

The same command runs on several GPUs or machines under a launcher (Hugging Face Accelerate): every process
draws the same global batch (--batch-size) and computes its share, the main one validates and writes.

  accelerate launch --multi_gpu --num_processes 8 -m anim3d train --data corpus/ --out runs/big --batch-size 256
  torchrun --nproc_per_node 8 -m anim3d train --data corpus/ --out runs/big --batch-size 256"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    from anim3d.models.config import CONFIG_NAMES

    p.add_argument("--data", required=True, action="append",
                   help="corpus folder (anim3d data synth --out, anim3d import --out); repeat to train on several")
    p.add_argument("--config", default="fast", choices=CONFIG_NAMES, help="model size (default fast; vasa = 8 layers, width 512)")
    p.add_argument("--out", required=True, help="run folder (checkpoint + training state)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps-per-epoch", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=32,
                   help="windows per optimizer step, over all processes and accumulation steps (default 32)")
    p.add_argument("--grad-accum", type=int, default=1, metavar="N",
                   help="gradient accumulation: each process computes its share of the batch in N micro-batches (default 1)")
    p.add_argument("--mixed-precision", default="auto", choices=["auto", "no", "bf16", "fp16"],
                   help="auto (default): the launcher's setting under accelerate launch, else bf16 on CUDA "
                        "(fp16 where bf16 is not supported), no on CPU")
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--ema", type=float, default=0.998)
    p.add_argument("--max-minutes", type=float, help="stop after this much training time (the checkpoint is saved)")
    p.add_argument("--val-utterances", type=int, default=24, help="held-out utterances sampled at every validation")
    p.add_argument("--no-augment", action="store_true", help="turn off feature augmentation")
    p.add_argument("--audio-conv-layers", type=int, help="residual temporal conv blocks over the audio before the transformer (default: the config's; may be added to an --init model)")
    p.add_argument("--bilabial-weight", type=float, default=0.0, help="extra loss weight on the frames around each p/b/m's middle (default 0)")
    p.add_argument("--audio-encoder", help="'phones' (posteriors of pocketsphinx's real-speech acoustic model) or a local "
                   "Wav2Vec2/HuBERT folder, instead of log-mel; with --init, the audio input layer starts afresh")
    p.add_argument("--resume", action="store_true", help="continue from RUN/state")
    p.add_argument("--inference", metavar="FILE",
                   help="a JSON object of inference settings to write into the checkpoint (steps, sampler, guidance, "
                        "guidance_channels, group_steps, teacher_blend, overlap); default: the --init checkpoint's")
    p.add_argument("--init", metavar="CHECKPOINT", help="fine-tune: start from this checkpoint folder ('default' = the shipped model); its config wins over --config")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default 1: on a busy 2-core machine more threads thrash)")


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import os

    import torch

    from anim3d.errors import Anim3dError
    from anim3d.training import TrainConfig, train
    from anim3d import progress
    from anim3d.training.distributed import Share, make_accelerator
    from anim3d.training.data import load_examples
    from anim3d.models.front_ends import build_front_end, front_end_dim
    from anim3d.models.config import get_config

    from anim3d.fileio import check_output_folder

    for root in args.data:
        if not os.path.isdir(root):
            raise Anim3dError(f"{root}: corpus folder not found")
    check_output_folder(args.out)
    accelerator = make_accelerator(args.device, args.mixed_precision)  # under a launcher: this process's device
    Share.of(accelerator, args.grad_accum, args.batch_size)  # a batch that does not split: the error before any work
    if not accelerator.is_main_process:
        progress.set_enabled(False)  # one progress bar, the main process's
    device = accelerator.device
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    enc = args.audio_encoder or "logmel"
    dim = front_end_dim(enc)
    overrides = {"audio_encoder": enc, "audio_dim": dim} if args.audio_encoder else {}
    if args.audio_conv_layers is not None:
        overrides["audio_conv_layers"] = args.audio_conv_layers
    cfg = get_config(args.config, **{"audio_dim": dim, **overrides})
    init = None
    if args.init:
        from anim3d.models.checkpoint import DEFAULT_DIR as DEFAULT_CHECKPOINT
        from anim3d.models.checkpoint import read_config

        init = str(DEFAULT_CHECKPOINT) if args.init == "default" else args.init
        if os.path.realpath(init) == os.path.realpath(args.out):
            raise Anim3dError(f"{args.out}: is the --init checkpoint; training writes a new run folder and never over the model it reads")
        cfg, _ = read_config(init)  # a clear error when it is not a checkpoint folder
        cfg = dataclasses.replace(cfg, **overrides)
    inference = _read_inference_file(args.inference) if args.inference else {}
    fe = build_front_end(cfg, device=device)
    tcfg = TrainConfig(
        model=args.config, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size,
        lr=args.lr, ema=args.ema, seed=args.seed, augment=not args.no_augment, val_utterances=args.val_utterances,
        max_minutes=args.max_minutes, model_overrides=overrides, init=init, bilabial_weight=args.bilabial_weight,
        inference=inference, grad_accum=args.grad_accum, mixed_precision=args.mixed_precision,
    )
    tr, va = [], []
    for root in args.data:  # each corpus's train split trains, each one's held-out voices validate
        tr += load_examples(root, "train", fe, cfg.fps)
        va += load_examples(root, "val", fe, cfg.fps, limit=args.val_utterances)
    say = print if accelerator.is_main_process else (lambda *a: None)
    say(f"{len(tr)} training utterances ({sum(e.motion.shape[0] for e in tr) / cfg.fps / 60:.1f} min), {len(va)} held-out"
        + (f"; {accelerator.num_processes} processes" if accelerator.num_processes > 1 else ""))
    train(tr, va, args.out, tcfg, resume=args.resume, log=say, accelerator=accelerator)
    say(f"checkpoint: {args.out} (use: anim3d animate speech.wav -o out.glb --checkpoint {args.out})")
    return 0


def _read_inference_file(path: str) -> dict:
    """The inference settings in a JSON file, checked against ``InferenceConfig``."""
    import json

    from anim3d.errors import InputError
    from anim3d.models.config import InferenceConfig

    try:
        with open(path) as f:
            data = json.load(f)
        InferenceConfig.from_dict(data)
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (OSError, ValueError, TypeError) as e:
        raise InputError(path, f"not a JSON object of inference settings ({e})") from None
    return data
