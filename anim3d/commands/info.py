"""``anim3d info``: describe a Motion NPZ or an audio/video file."""

from __future__ import annotations

import argparse

NAME = "info"
ORDER = 90
HELP = "describe a Motion NPZ or an audio/video file"
DESCRIPTION = """Print what a file holds: for a Motion NPZ its frames, fps, duration and the most
active ARKit channels; for audio or video its duration and level after decoding to 16 kHz mono.

  anim3d info motion.npz
  anim3d info speech.wav"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="a Motion .npz, or any audio/video file")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    if args.file.lower().endswith(".npz"):
        from anim3d.channels import ARKIT_NAMES
        from anim3d.motion import Motion

        m = Motion.load_npz(args.file)
        print(f"{args.file}: Motion, {m.num_frames} frames at {m.fps:g} fps ({m.duration:.2f} s)")
        rng = m.blendshapes.max(0) - m.blendshapes.min(0) if m.num_frames else np.zeros(52)
        top = np.argsort(-rng)[:8]
        print("most active channels: " + ", ".join(f"{ARKIT_NAMES[i]} ({rng[i]:.2f})" for i in top))
        if m.num_frames:
            deg = np.degrees(np.linalg.norm(m.head_rotation, axis=1))
            print(f"head rotation: max {deg.max():.1f} deg; translation: max {np.abs(m.head_translation).max() * 100:.1f} cm")
        return 0
    from anim3d.audio import load_audio

    a = load_audio(args.file, allow_silent=True)
    rms = float(np.sqrt(np.mean(a.samples**2)))
    db = 20 * np.log10(max(rms, 1e-10))
    print(f"{args.file}: audio, {a.duration:.2f} s, decoded to {a.sample_rate} Hz mono, RMS {db:.1f} dBFS")
    return 0
