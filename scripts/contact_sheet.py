#!/usr/bin/env python
"""Render the open head at each of the 52 ARKit shapes (weight 1) into one contact sheet,
and the neutral / jawOpen / smile / blink strip used in the README.

    python scripts/contact_sheet.py --out contact_sheet.png --strip docs/head_strip.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STRIP = (("neutral", ()), ("jawOpen", ("jawOpen",)), ("smile", ("mouthSmileLeft", "mouthSmileRight")),
         ("blink", ("eyeBlinkLeft", "eyeBlinkRight")))


def _label(img: np.ndarray, text: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    im = Image.fromarray(img)
    ImageDraw.Draw(im).text((6, 4), text, fill=(255, 255, 255))
    return np.asarray(im)


def render_weights(head, weight_sets, size, camera):
    from anim3d.flame.open_head import motion_to_vertices
    from anim3d.flame.preview import render_previews

    w = np.stack(weight_sets).astype(np.float32)
    verts = motion_to_vertices(head, w)
    return render_previews(head, verts, size=size, camera=camera)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("contact_sheet.png"))
    ap.add_argument("--strip", type=Path, default=None, help="also write the 4-image README strip here")
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--zoom", type=float, default=2.2, help="larger frames the face tighter (1 = whole head)")
    ap.add_argument("--yaw", type=float, default=0.0, help="camera yaw in degrees")
    args = ap.parse_args(argv)

    from PIL import Image

    from anim3d.channels import ARKIT_NAMES, INDEX
    from anim3d.flame.open_head import load_open_head
    from anim3d.flame.preview import default_camera

    head = load_open_head()
    cam = default_camera(head, margin=1.15 / args.zoom)
    cam.yaw_deg = args.yaw
    sets = []
    for k in range(52):
        w = np.zeros(52, np.float32)
        w[k] = 1.0
        sets.append(w)
    imgs = render_weights(head, sets, args.size, cam)
    cols = 8
    rows = int(np.ceil(52 / cols))
    sheet = np.zeros((rows * args.size, cols * args.size, 3), np.uint8)
    for k, name in enumerate(ARKIT_NAMES):
        r, c = divmod(k, cols)
        sheet[r * args.size:(r + 1) * args.size, c * args.size:(c + 1) * args.size] = _label(imgs[k], name)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(args.out)
    print(f"wrote {args.out}")
    if args.strip:
        sets = []
        for _, names in STRIP:
            w = np.zeros(52, np.float32)
            for n in names:
                w[INDEX[n]] = 1.0
            sets.append(w)
        strip = render_weights(head, sets, 256, default_camera(head, margin=0.85))
        strip = np.concatenate([_label(im, lab) for im, (lab, _) in zip(strip, STRIP)], 1)
        args.strip.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(strip).save(args.strip, optimize=True)
        print(f"wrote {args.strip}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
