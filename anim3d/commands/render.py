"""``anim3d render``: a talking 512x512 portrait video from speech, a Motion NPZ or a Live Link take."""

from __future__ import annotations

import argparse
import os

NAME = "render"
ORDER = 30
HELP = "speech / motion + a face photo -> talking-portrait MP4 (optionally side by side with the mesh head)"
DESCRIPTION = """Animate a face photo with the same Motion that drives the mesh head, as a 512x512 H.264 MP4
with the audio muxed in. The input is speech (animated with the motion model, same controls and seed as
`anim3d animate`), a Motion .npz or a Live Link Face .csv (give --audio to add sound to those).

  anim3d render speech.wav --portrait face.jpg -o talk.mp4
  anim3d render speech.wav --portrait face.jpg -o talk.mp4 --side-by-side --emotion happy --seed 3
  anim3d render take.npz --portrait face.jpg --audio speech.wav -o talk.mp4
  anim3d render take.csv --portrait face.jpg -o talk.mp4 --warp-only     # the baseline without the network"""

MOTION_EXTS = (".npz", ".csv")  # exporters.motion_io.MOTION_INPUTS


def add_arguments(p: argparse.ArgumentParser) -> None:
    from anim3d.commands import options

    p.add_argument("input", help="speech audio (wav, flac, mp3, ...), a Motion .npz or a Live Link Face .csv")
    p.add_argument("--portrait", required=True, help="a photo with one face (any size; it is found, cropped and aligned)")
    p.add_argument("-o", "--output", required=True, help="output .mp4")
    p.add_argument("--side-by-side", action="store_true", help="put the mesh head next to the portrait (1024x512)")
    p.add_argument("--audio", help="audio to mux when the input is a .npz/.csv (for speech input, the speech itself)")
    p.add_argument("--renderer", help="renderer checkpoint folder (default: the shipped models/renderer_default)")
    p.add_argument("--warp-only", action="store_true", help="skip the refinement network (3D-aided warp only)")
    p.add_argument("--batch", type=options.int_range(1, 256), default=8, help="frames per batch (default 8)")
    options.add_motion_arguments(p)  # used when the input is speech


def run(args: argparse.Namespace) -> int:
    import time

    from anim3d.audio import load_audio
    from anim3d.device import resolve_device
    from anim3d.errors import InputError
    from anim3d.fileio import check_outputs
    from anim3d.render.pipeline import DEFAULT_CHECKPOINT, PortraitRenderer, RenderSettings, render_video
    from anim3d.render.portrait import prepare_portrait

    if not args.output.lower().endswith(".mp4"):
        raise InputError(args.output, "the output must be an .mp4 file")
    check_outputs([args.output], [args.input, args.portrait, args.audio, args.style, args.transcript])
    device = resolve_device(args.device)
    if device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        import torch

        # The renderer's ops are small (128x128 maps, 8-frame batches): one thread is 5x faster
        # than two on a shared 2-core CPU (benchmarks/bench_render.py: 22 vs 4 frames/s), where
        # a second OpenMP thread mostly waits for a core. OMP_NUM_THREADS overrides.
        torch.set_num_threads(1)
    t0 = time.perf_counter()
    portrait = prepare_portrait(args.portrait)  # the cheap check first: a bad photo fails before any model runs
    if args.input.lower().endswith(MOTION_EXTS):
        from anim3d.exporters.motion_io import load_motion

        motion = load_motion(args.input)
        audio = load_audio(args.audio) if args.audio else None
    else:
        from anim3d.commands.options import motion_settings
        from anim3d.inference import animate

        audio = load_audio(args.input)
        motion = animate(audio, motion_settings(args), checkpoint=args.checkpoint, device=device, show_progress=not args.quiet)
    if motion.num_frames == 0:
        raise InputError(args.input, "the motion has no frames")
    renderer = PortraitRenderer(portrait, checkpoint=args.renderer or DEFAULT_CHECKPOINT, device=device,
                                warp_only=args.warp_only)
    settings = RenderSettings(batch=args.batch, side_by_side=args.side_by_side, warp_only=args.warp_only)
    n = render_video(portrait, motion, args.output, audio=audio, settings=settings, renderer=renderer)
    took = time.perf_counter() - t0
    if not args.quiet:
        print(f"wrote {args.output}: {n} frames ({n / motion.fps:.1f} s) in {took:.1f} s ({n / max(took, 1e-9):.1f} frames/s)")
    return 0
