"""``anim3d animate``: speech in, facial animation files out."""

from __future__ import annotations

import argparse
import os

NAME = "animate"
ORDER = 10
HELP = "speech audio -> facial animation (.glb + .wav, Live Link .csv, .npz, preview .mp4)"
DESCRIPTION = """Animate a face from speech with the motion diffusion model (the shipped default unless --checkpoint).

The output format follows the extension of -o: .glb (glTF binary with the open head; the audio is
written beside it as .wav), .csv (Live Link Face), .npz (anim3d Motion), .mp4 (preview video).
Give -o several times for several formats.

  anim3d animate speech.wav -o out.glb
  anim3d animate speech.wav -o take.csv --emotion happy --intensity 0.7 --seed 3
  anim3d animate speech.wav -o take.npz --num-samples 4        # take.0.npz ... take.3.npz
  anim3d animate speech.wav -o out.glb --gaze 10,-5 --distance 0.05 --guidance audio=2,emotion=1.5"""

FORMATS = (".glb", ".csv", ".npz", ".mp4")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from anim3d.commands import options
    from models.config import CONDITIONS, EMOTIONS

    p.add_argument("audio", help="speech: wav, flac, mp3, ogg, m4a or a video's audio track")
    p.add_argument("-o", "--output", action="append", required=True, help=f"output file ({', '.join(FORMATS)}); repeatable")
    g = p.add_argument_group("controls")
    g.add_argument("--emotion", default="neutral", help=f"one of: {', '.join(EMOTIONS)} (default neutral)")
    g.add_argument("--intensity", type=options.unit_interval, default=1.0, help="emotion intensity 0..1 (default 1)")
    g.add_argument("--gaze", type=options.gaze_degrees, default=(0.0, 0.0), metavar="YAW,PITCH",
                   help="gaze direction in degrees, each within +-45: yaw toward the subject's left, pitch down (default 0,0)")
    g.add_argument("--free-gaze", action="store_true", help="let the model choose the gaze (ignore --gaze)")
    g.add_argument("--distance", type=options.finite_float, default=0.0, help="head forward offset in metres, + toward the camera (default 0)")
    g.add_argument("--style", help="reference clip whose speaking style to follow: a Motion .npz or a Live Link Face .csv")
    g = p.add_argument_group("sampling")
    g.add_argument("--steps", type=options.int_range(1, 200), help="sampler steps (default: the checkpoint's)")
    g.add_argument("--sampler", choices=("ddim", "dpmpp_2m", "euler_ancestral"), help="sampler (default: the checkpoint's)")
    g.add_argument("--guidance", type=options.guidance, help=f"classifier-free guidance per condition, e.g. audio=2,emotion=1.5 ({', '.join(CONDITIONS)})")
    g.add_argument("--mouth-steps", type=options.int_range(0, 200), metavar="K",
                   help="the mouth keeps the estimate of sampler step K while later steps refine the rest; "
                        "0 samples it with every step like the rest (default: the checkpoint's)")
    g.add_argument("--teacher-blend", type=options.unit_interval, metavar="SHARE",
                   help="share 0..1 of the rule-based mouth (visemes on the audio's recognised phones) blended into "
                        "the generated lips and jaw; 0 = the model's mouth alone (default: the checkpoint's)")
    g.add_argument("--num-samples", type=options.int_range(1, 64), default=1, help="N different takes (seeds seed..seed+N-1), generated in one batch")
    g = p.add_argument_group("model")
    g.add_argument("--checkpoint", help="a checkpoint folder (config.json + model.safetensors); default: the shipped model")
    g.add_argument("--audio-encoder", help="a local Wav2Vec2/HuBERT folder (only for checkpoints trained on it)")
    g.add_argument("--fps", type=options.fps, default=30.0, help="output frame rate (default 30)")


def _outputs(paths: list[str], n: int) -> list[list[str]]:
    """Per sample, the output paths (``take.npz`` -> ``take.0.npz``... when n > 1)."""
    from anim3d.errors import InputError

    for p in paths:
        if os.path.isdir(p):
            raise InputError(p, "is a folder; give a file name, e.g. " + os.path.join(p, "speech.glb"))
        if os.path.splitext(p)[1].lower() not in FORMATS:
            raise InputError(p, f"unknown output format (use {', '.join(FORMATS)})")
    if n == 1:
        return [paths]
    return [[f"{os.path.splitext(p)[0]}.{i}{os.path.splitext(p)[1]}" for p in paths] for i in range(n)]


def files_written(path: str) -> list[str]:
    """The files that writing ``path`` creates: a .glb also writes its audio beside it."""
    from exporters.gltf import sidecar_path

    return [path, str(sidecar_path(path))] if path.lower().endswith(".glb") else [path]


def write_motion(motion, path: str, audio) -> None:
    """Write one Motion to ``path`` in the format its extension names."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        motion.save_npz(path)
    elif ext == ".glb":
        from exporters.gltf import write_glb

        write_glb(motion, path, audio=audio.path or audio)
    elif ext == ".csv":
        from exporters.livelink import write_livelink_csv

        write_livelink_csv(motion, path)
    elif ext == ".mp4":
        try:
            from exporters.preview_video import write_preview_mp4
        except ImportError as e:
            from anim3d.errors import Anim3dError

            raise Anim3dError(f"{path}: preview video export is not available ({e})") from None
        write_preview_mp4(motion, path, audio=audio)


def run(args: argparse.Namespace) -> int:
    import math
    import time

    from anim3d.audio import load_audio
    from anim3d.fileio import check_outputs, output_group
    from anim3d.pipeline import DEFAULT_CHECKPOINT, _load, animate

    outs = _outputs(args.output, args.num_samples)
    check_outputs([f for paths in outs for p in paths for f in files_written(p)], [args.audio, args.style])
    audio = load_audio(args.audio)
    gaze = None if args.free_gaze else (math.radians(args.gaze[0]), math.radians(args.gaze[1]))
    gen = _load(str(args.checkpoint or DEFAULT_CHECKPOINT), args.device, args.audio_encoder)
    t0 = time.perf_counter()
    motions = animate(
        audio, emotion=args.emotion, intensity=args.intensity, gaze=gaze, distance=args.distance, style=args.style,
        seed=args.seed, steps=args.steps, guidance=args.guidance, num_samples=args.num_samples,
        checkpoint=gen, sampler=args.sampler, show_progress=not args.quiet,
        group_steps=None if args.mouth_steps is None else {"mouth": args.mouth_steps}, teacher_blend=args.teacher_blend,
    )
    took = time.perf_counter() - t0
    motions = motions if isinstance(motions, list) else [motions]
    with output_group():  # all outputs or none
        for motion, paths in zip(motions, outs):
            if abs(args.fps - motion.fps) > 1e-9:
                motion = motion.resample(args.fps)
            for path in paths:
                write_motion(motion, path, audio)
    if not args.quiet:
        print("\n".join(f"wrote {p}" for paths in outs for p in paths))
        print(f"animated {audio.duration:.1f} s of speech in {took:.2f} s ({audio.duration / max(took, 1e-9):.0f}x real time)")
    return 0
