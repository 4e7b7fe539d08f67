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
  anim3d animate speech.wav -o out.glb --gaze 10,-5 --distance 0.05 --guidance audio=2,emotion=1.5
  anim3d animate line.wav -o line.glb --text "I'll be right back."      # the mouth follows the script's phones
  anim3d animate line.wav -o line.csv --transcript line.txt --language de

With --text or --transcript the words are aligned to the audio: the lips close on every p, b and m, touch the
teeth on f and v and round where the script says. A script the audio does not say (another take, an ad-lib,
another line) is detected: one warning, and the line is animated from the audio alone. Languages: en, es, fr,
de, it, pt, ru, ja (in kana), zh, ko; without a script any language animates from the audio."""

FORMATS = (".glb", ".csv", ".npz", ".mp4")  # exporters.motion_io.MOTION_OUTPUTS (named here: --help stays light)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from anim3d.commands import options

    p.add_argument("audio", help="speech: wav, flac, mp3, ogg, m4a or a video's audio track")
    p.add_argument("-o", "--output", action="append", required=True, help=f"output file ({', '.join(FORMATS)}); repeatable")
    options.add_motion_arguments(p, batch=True)
    g = p.add_argument_group("output")
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


def run(args: argparse.Namespace) -> int:
    import time

    from anim3d.audio import load_audio
    from anim3d.commands.options import motion_settings
    from anim3d.fileio import check_outputs, output_group
    from anim3d.inference import animate, load_model
    from anim3d.exporters.motion_io import files_written, save_motion

    outs = _outputs(args.output, args.num_samples)
    check_outputs([f for paths in outs for p in paths for f in files_written(p, args.audio)],
                  [args.audio, args.style, args.transcript])
    audio = load_audio(args.audio)
    gen = load_model(args.checkpoint, args.device, args.audio_encoder)
    t0 = time.perf_counter()
    motions = animate(audio, motion_settings(args), checkpoint=gen, num_samples=args.num_samples,
                      show_progress=not args.quiet)
    took = time.perf_counter() - t0
    motions = motions if isinstance(motions, list) else [motions]
    with output_group():  # all outputs or none
        for motion, paths in zip(motions, outs):
            if abs(args.fps - motion.fps) > 1e-9:
                motion = motion.resample(args.fps)
            for path in paths:
                save_motion(motion, path, audio=args.audio)
    if not args.quiet:
        print("\n".join(f"wrote {p}" for paths in outs for p in paths))
        print(f"animated {audio.duration:.1f} s of speech in {took:.2f} s ({audio.duration / max(took, 1e-9):.0f}x real time)")
    return 0
