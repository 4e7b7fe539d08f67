"""``anim3d blender-addon``: write the Blender add-on."""

from __future__ import annotations

import argparse

NAME = "blender-addon"
ORDER = 45
HELP = "write the Blender add-on (a zip for Edit > Preferences > Add-ons > Install from file)"
DESCRIPTION = """Write the anim3d add-on for Blender (3.0 or later) as a zip.

In Blender: Edit > Preferences > Add-ons > Install from file, pick the zip, tick "anim3d: face animation from
speech", and set the add-on's "anim3d command" to this anim3d (its path is printed below). Then select a mesh with
ARKit shape keys (any common spelling), and in the 3D view's sidebar (N) > anim3d pick the audio, emotion,
intensity and seed and press "Animate from audio": the shape keys (and an armature's head and eye bones) are
keyed at the scene's frame rate from the current frame on, and the audio is added as a sound strip. From
Blender's Python: bpy.ops.anim3d.animate_from_audio(filepath="line.wav", emotion="happy", intensity=0.7, seed=3)

  anim3d blender-addon -o anim3d_blender.zip"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, help="the add-on zip to write (.zip)")


def run(args: argparse.Namespace) -> int:
    import os
    import shutil
    import sys

    from anim3d.errors import InputError
    from anim3d.exporters.blender_addon import write_addon
    from anim3d.fileio import check_outputs

    if not args.output.lower().endswith(".zip"):
        raise InputError(args.output, "the add-on is a .zip file")
    check_outputs([args.output])
    write_addon(args.output)
    if not args.quiet:
        exe = shutil.which("anim3d") or os.path.abspath(sys.argv[0])
        print(f"wrote {args.output}; in the add-on's preferences, set the anim3d command to {exe}")
    return 0
