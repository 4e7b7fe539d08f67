"""Portrait renderer speed at 512x512 on this machine: frames per second of each stage.

    OMP_NUM_THREADS=2 python benchmarks/bench_render.py [--frames 96] [--batch 8] [--threads 2]

Prints a table: driving (Motion -> landmarks -> warp mesh), flow (rasterize), warp-only render,
full render (warp + network), and full render + H.264 encoding; each with its ratio to the
warp-only baseline measured in the same run. The target is >= 15 frames/s for the full render.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def _motion(n: int):
    from anim3d.channels import INDEX
    from anim3d.motion import Motion

    t = np.arange(n) / 30.0
    m = Motion.neutral(n)
    m.blendshapes[:, INDEX["jawOpen"]] = 0.4 * (1 - np.cos(2 * np.pi * 2 * t)) / 2
    m.head_rotation[:, 1] = 0.1 * np.sin(2 * np.pi * 0.4 * t)
    return m


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--portrait", default=None, help="default: the evaldata Einstein portrait (closed mouth, so the "
                    "mouth painting runs), or skimage's astronaut without evaldata")
    ap.add_argument("--renderer", default=None, help="checkpoint folder (default: the shipped renderer, "
                    "anim3d.models.renderer.DEFAULT_DIR)")
    a = ap.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    import skimage.data

    from anim3d.render.flow import driven_vertices
    from anim3d.render.frames import flow_batch
    from anim3d.render.pipeline import PortraitRenderer, RenderSettings, render_video
    from anim3d.paths import evaldata_portrait
    from anim3d.render.portrait import prepare_portrait

    einstein = str(evaldata_portrait())
    default = einstein if os.path.isfile(einstein) else skimage.data.astronaut()
    portrait = prepare_portrait(a.portrait or default, size=512)
    motion = _motion(a.frames)
    full = PortraitRenderer(portrait, **({"checkpoint": a.renderer} if a.renderer else {}))
    warp = PortraitRenderer(portrait, head=full.head, warp_only=True)
    for r in (full, warp):  # warm up
        list(r.frames(motion[: a.batch], a.batch))

    def timed(fn):
        """(wall-clock frames/s on the shared machine, frames per CPU-second). Alone on ``threads``
        cores a stage would run between 1x (no parallel speed-up) and threads x its frames per CPU-second."""
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        return a.frames / wall, a.frames / max(cpu, 1e-9)

    rows = []

    def drive():
        lms = full.driven_landmarks(motion)
        return [driven_vertices(full.mesh, l) for l in lms]

    rows.append(("drive (Motion -> warp-mesh vertices)", timed(drive)))
    drv = drive()
    rows.append(("flow (rasterize 128x128, backward flow)", timed(lambda: [flow_batch(full.mesh, drv[i:i + a.batch], full.n) for i in range(0, a.frames, a.batch)])))
    rows.append(("warp-only render (baseline)", timed(lambda: list(warp.frames(motion, a.batch)))))
    rows.append(("full render (warp + RefineNet)", timed(lambda: list(full.frames(motion, a.batch)))))
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "b.mp4")
        rows.append(("full render + H.264 encode", timed(lambda: render_video(portrait, motion, out, settings=RenderSettings(batch=a.batch), renderer=full))))
    base = rows[2][1][0]
    print(f"\nportrait renderer, 512x512, {a.frames} frames, batch {a.batch}, {a.threads} threads, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'stage':45s} {'frames/s':>9s} {'vs warp-only':>13s} {'frames/CPU-s':>13s} {'alone on the cores (bounds)':>28s}")
    for name, (fps, cpu_fps) in rows:
        print(f"{name:45s} {fps:9.1f} {fps / base:12.2f}x {cpu_fps:13.1f} {cpu_fps:13.1f} - {cpu_fps * a.threads:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
