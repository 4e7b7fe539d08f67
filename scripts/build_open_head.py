#!/usr/bin/env python
"""Build the embedded open head asset (flame/assets/open_head.npz).

1. Run MediaPipe Face Mesh (the legacy model shipped inside the mediapipe wheel) on the
   portrait shipped inside scikit-image (``skimage.data.astronaut()``, public domain).
2. Align, symmetrise and scale the 468 landmarks; add skull, neck, eyes, mouth cavity,
   teeth and tongue (flame/open_head_build.py).
3. Compute the 52 ARKit morph targets (flame/open_head_morphs.py), bake the colour texture
   (flame/open_head_texture.py: brows, lid lines, lips, ambient occlusion) and save.

Deterministic: the same inputs give the same file. ``--reuse-landmarks`` rebuilds from the
landmarks stored in an existing asset (no mediapipe needed).

    python scripts/build_open_head.py            # writes flame/assets/open_head.npz
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_OUT = ROOT / "flame" / "assets" / "open_head.npz"


def detect_landmarks() -> np.ndarray:
    """478 x 3 raw MediaPipe landmarks (x, y, z in pixels of the 512 x 512 portrait)."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    import mediapipe as mp
    import skimage.data

    img = skimage.data.astronaut()
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as fm:
        res = fm.process(img)
    if not res.multi_face_landmarks:
        raise RuntimeError("MediaPipe found no face in skimage.data.astronaut()")
    lm = res.multi_face_landmarks[0].landmark
    h, w = img.shape[:2]
    return np.array([[p.x * w, p.y * h, p.z * w] for p in lm], np.float64)


def save_head(head, raw: np.ndarray, path: Path) -> None:
    from anim3d.fileio import atomic_output

    arrays = {
        "format": np.array("anim3d.open_head/1"),
        "vertices": head.vertices, "faces": head.faces, "morph_targets": head.morph_targets,
        "joints": head.joints, "skin_weights": head.skin_weights, "uvs": head.uvs,
        "landmark_names": np.array(list(head.landmarks)),
        "landmark_indices": np.array(list(head.landmarks.values()), np.int32),
        "source_landmarks": raw.astype(np.float32),
    }
    if head.texture is not None:
        arrays["texture"] = head.texture
    for k, v in head.parts.items():
        arrays[f"part:{k}"] = v
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--reuse-landmarks", action="store_true", help="take the landmarks from the existing asset")
    args = ap.parse_args(argv)

    from anim3d.flame.open_head_build import build_rest, to_head_model, uv_layout
    from anim3d.flame.open_head_morphs import build_morphs
    from anim3d.flame.open_head_texture import bake_texture

    if args.reuse_landmarks:
        with np.load(args.out) as z:
            raw = z["source_landmarks"].astype(np.float64)
    else:
        raw = detect_landmarks()
    rest = build_rest(raw)
    morphs = build_morphs(rest)
    head = to_head_model(rest, morphs, bake_texture(rest, uv_layout(rest)))
    save_head(head, raw, args.out)
    print(f"wrote {args.out}: {head.num_vertices} vertices, {len(head.faces)} faces, "
          f"{os.path.getsize(args.out) / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
