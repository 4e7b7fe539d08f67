"""A contact sheet of rendered portrait frames: one row per portrait, one column per expression/pose.

    python research/render_contact_sheet.py -o sheet.png [--warp-only] [--renderer models/renderer_default]

Portraits: the evaldata Einstein portrait, scikit-image's astronaut, and the first frame of the
held-out evaldata clip Obama_clip3 (read from ../shared/evaldata, never copied).
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from anim3d.paths import evaldata_dir

EVAL = os.environ.get("EVALDATA", str(evaldata_dir()))

POSES = {
    "source": {},
    "jaw open": {"jawOpen": 0.7},
    "talk 'ah'": {"jawOpen": 0.45, "mouthLowerDownLeft": 0.5, "mouthLowerDownRight": 0.5, "mouthUpperUpLeft": 0.3, "mouthUpperUpRight": 0.3},
    "smile": {"mouthSmileLeft": 0.9, "mouthSmileRight": 0.9, "cheekSquintLeft": 0.4, "cheekSquintRight": 0.4},
    "'oo'": {"mouthFunnel": 0.6, "mouthPucker": 0.6, "jawOpen": 0.15},
    "blink + turn": {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0, "_rot": (0.0, 0.25, 0.0)},
    "gaze to own left": {"eyeLookOutLeft": 0.9, "eyeLookInRight": 0.9},
    "gaze up + 'ah'": {"eyeLookUpLeft": 0.8, "eyeLookUpRight": 0.8, "jawOpen": 0.3, "mouthLowerDownLeft": 0.3, "mouthLowerDownRight": 0.3},
    "nod + open": {"jawOpen": 0.4, "_rot": (0.2, 0.0, 0.0)},
}


def portraits():
    import av
    import skimage.data

    frame = None
    with av.open(os.path.join(EVAL, "video", "Obama_clip3.mp4")) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="rgb24")
    return [("Einstein", os.path.join(EVAL, "image", "C6_anitalker_Einstein.png")),
            ("astronaut", skimage.data.astronaut()), ("Obama_clip3 frame 0", frame)]


def pose_motion():
    from anim3d.channels import INDEX
    from anim3d.motion import Motion

    m = Motion.neutral(len(POSES))
    for i, pose in enumerate(POSES.values()):
        for k, v in pose.items():
            if k == "_rot":
                m.head_rotation[i] = v
            else:
                m.blendshapes[i, INDEX[k]] = v
    return m


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--output", default="render_contact_sheet.png")
    ap.add_argument("--renderer", default=None)
    ap.add_argument("--warp-only", action="store_true")
    ap.add_argument("--cell", type=int, default=256, help="cell size in the sheet (frames are 512)")
    a = ap.parse_args()
    from PIL import Image, ImageDraw

    from anim3d.models.renderer import DEFAULT_DIR as DEFAULT_CHECKPOINT
    from anim3d.render.pipeline import PortraitRenderer
    from anim3d.render.portrait import prepare_portrait

    motion = pose_motion()
    rows, head = [], None
    for name, img in portraits():
        p = prepare_portrait(img)
        r = PortraitRenderer(p, head=head, checkpoint=a.renderer or DEFAULT_CHECKPOINT, warp_only=a.warp_only)
        head = r.head
        frames = list(r.frames(motion, batch=len(POSES)))
        frames[0] = p.image
        row = np.concatenate([np.asarray(Image.fromarray(f).resize((a.cell, a.cell), Image.LANCZOS)) for f in frames], 1)
        rows.append(row)
    sheet = Image.fromarray(np.concatenate(rows, 0))
    draw = ImageDraw.Draw(sheet)
    for j, label in enumerate(POSES):
        draw.text((j * a.cell + 6, 6), label, fill=(255, 255, 0))
    sheet.save(a.output)
    print(f"wrote {a.output} ({sheet.size[0]}x{sheet.size[1]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
