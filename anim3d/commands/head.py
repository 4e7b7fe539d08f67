"""``anim3d head``: a 3D head of your own from one portrait photo, as a GLB."""

from __future__ import annotations

import argparse

NAME = "head"
ORDER = 35
HELP = "a photo -> your own 3D head (GLB with the 52 ARKit morph targets and FLAME joints, textured from the photo)"
DESCRIPTION = """Build a head from a portrait: the open head's face takes the shape of the photo's face (its
MediaPipe landmarks, made symmetric) and its colours (the photo projected on the face; hair and skin colours
from the photo over the rest of the head), with the open head's eyes, teeth, 52 ARKit morph targets and FLAME
joints. The GLB loads in Blender, Unity, Unreal, Godot and three.js.
Animate it with `anim3d export take.npz --avatar me.glb`; `anim3d render --side-by-side` builds the same head
from its portrait for the mesh half.

  anim3d head --portrait face.jpg -o me.glb
  anim3d animate line.wav -o line.npz && anim3d export line.npz --avatar me.glb -o me_talking.glb"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--portrait", required=True, help="a photo with one face (any size; it is found, cropped and aligned)")
    p.add_argument("-o", "--output", required=True, help="the head to write (.glb)")


def run(args: argparse.Namespace) -> int:
    from anim3d.errors import InputError
    from anim3d.exporters.gltf import write_head_glb
    from anim3d.fileio import check_outputs
    from anim3d.render.portrait import prepare_portrait
    from anim3d.render.portrait_head import portrait_head

    if not args.output.lower().endswith(".glb"):
        raise InputError(args.output, "the head is written as a .glb file")
    check_outputs([args.output], [args.portrait])
    head = portrait_head(prepare_portrait(args.portrait))
    write_head_glb(head, args.output)
    if not args.quiet:
        print(f"wrote {args.output}: {head.num_vertices} vertices, 52 morph targets, "
              f"{head.texture.shape[1]}x{head.texture.shape[0]} texture")
    return 0
