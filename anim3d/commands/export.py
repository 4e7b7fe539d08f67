"""``anim3d export``: convert a motion to engine formats (GLB, Live Link CSV, NPZ, preview MP4)."""

from __future__ import annotations

import argparse

NAME = "export"
ORDER = 30
HELP = "export a motion to .glb, Live Link Face .csv, .npz or a preview .mp4"
DESCRIPTION = """Convert a Motion (.npz) or a Live Link Face take (.csv) to another format, chosen
by the output's extension:

  .glb         glTF 2.0 binary: the open head with 52 ARKit morph targets and the animation;
  .glb / .vrm  with --avatar: your own glTF/GLB/VRM character with the animation added
  .csv         Live Link Face take (Unreal's Live Link Face importer, Blender add-ons)
  .npz         anim3d Motion
  .mp4         512x512 preview video of the head, with --audio muxed in

With --audio the sound is written beside a .glb as .wav (glTF has no ratified audio).

  anim3d export motion.npz -o talking.glb --audio speech.wav
  anim3d export motion.npz --avatar my_avatar.vrm -o talking.vrm
  anim3d export take.csv -o take.npz
  anim3d export motion.npz -o preview.mp4 --audio speech.wav"""

OUTPUTS = (".glb", ".vrm", ".csv", ".npz", ".mp4")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from anim3d.commands import options

    p.add_argument("input", help="a Motion .npz or a Live Link Face .csv")
    p.add_argument("-o", "--output", required=True, help="output file: .glb, .vrm, .csv, .npz or .mp4")
    p.add_argument("--avatar", help="your glTF/GLB/VRM character with ARKit-named morph targets (output .glb/.vrm)")
    p.add_argument("--audio", help="speech to write beside a .glb (.wav) or mux into an .mp4")
    p.add_argument("--fps", type=options.fps, help="resample the motion to this frame rate first")
    p.add_argument("--size", type=options.int_range(16, 4096, "pixels"), default=512, help="preview video size in pixels (default 512)")


def run(args: argparse.Namespace) -> int:
    import os

    from anim3d.errors import InputError

    ext = os.path.splitext(args.output)[1].lower()
    if ext not in OUTPUTS:
        raise InputError(args.output, f"unsupported output type {ext or '(none)'}: use one of {', '.join(OUTPUTS)}")
    if args.avatar and ext not in (".glb", ".vrm"):
        raise InputError(args.output, "--avatar needs a .glb or .vrm output")
    if ext == ".vrm" and not args.avatar:
        raise InputError(args.output, "a .vrm output needs --avatar (your VRM); the open head is written as .glb")
    if args.audio and ext not in (".glb", ".vrm", ".mp4"):
        raise InputError(args.output, "--audio goes with a .glb/.vrm (written beside) or an .mp4 (muxed)")

    from anim3d.fileio import check_outputs
    from anim3d.exporters.gltf import sidecar_path
    from anim3d.exporters.motion_io import load_motion, save_motion

    sidecar = args.audio is not None and ext in (".glb", ".vrm")
    written = [args.output] + ([str(sidecar_path(args.output))] if sidecar else [])
    check_outputs(written, [args.input, args.audio, args.avatar])

    motion = load_motion(args.input)
    if args.fps:
        motion = motion.resample(args.fps)
    if args.audio:
        from anim3d.audio import load_audio

        load_audio(args.audio)  # bad audio fails before anything is written
    if args.avatar:
        from anim3d.exporters.retarget import retarget

        report = retarget(motion, args.avatar, args.output, audio=args.audio)
        print(report.summary())
    else:
        save_motion(motion, args.output, audio=args.audio, size=args.size)
    extra = f" (+ {sidecar_path(args.output)})" if sidecar else ""
    print(f"wrote {args.output}{extra}: {motion.num_frames} frames at {motion.fps:g} fps ({motion.duration:.2f} s)")
    return 0
