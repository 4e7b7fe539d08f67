#!/usr/bin/env python
"""Rasterizer / preview speed on the open head (target: rasterize 512x512 in < 50 ms on CPU).

Prints a table of median and best times over repeats. The machine is shared, so it also
times a fixed reference workload (a 512x512 float32 matmul, x10) in the same run and prints
each row as a ratio to it, plus the load average.

    OMP_NUM_THREADS=1 python benchmarks/bench_rasterizer.py [--repeats 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def timeit(fn, repeats: int) -> tuple[float, float, float]:
    """(median wall ms, best wall ms, median CPU ms of this process). On a shared machine the
    CPU time (time.process_time) is what the work costs when it has a core to itself."""
    fn()  # warm up
    ts, cs = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        ts.append(time.perf_counter() - t0)
        cs.append(time.process_time() - c0)
    return float(np.median(ts)) * 1e3, float(np.min(ts)) * 1e3, float(np.median(cs)) * 1e3


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=512)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from anim3d.channels import INDEX
    from anim3d.flame.open_head import load_open_head, motion_to_vertices
    from anim3d.flame.preview import default_camera, render_preview, render_previews
    from anim3d.flame.rasterizer import rasterize

    head = load_open_head()
    w = np.zeros((8, 52), np.float32)
    w[:, INDEX["jawOpen"]] = np.linspace(0, 1, 8)
    verts = motion_to_vertices(head, w)  # 8 x V x 3
    cam = default_camera(head)
    ndc = cam.project(verts)
    faces = torch.as_tensor(head.faces, dtype=torch.long)
    n = args.size
    covered = int((rasterize(ndc[:1], faces, n, cull_backfaces=True).pix_to_face >= 0).sum())

    a = torch.randn(512, 512)
    rows = [
        ("reference: 10x matmul 512x512 (baseline)", lambda: [a @ a for _ in range(10)]),
        (f"rasterize {n}x{n}, back-face culling", lambda: rasterize(ndc[:1], faces, n, cull_backfaces=True)),
        (f"rasterize {n}x{n}, no culling", lambda: rasterize(ndc[:1], faces, n, cull_backfaces=False)),
        (f"rasterize {n}x{n}, batch of 8 (per frame)", lambda: rasterize(ndc, faces, n, cull_backfaces=True)),
        (f"render_preview {n}x{n} (project+raster+shade)", lambda: render_preview(head, verts[0], size=n, camera=cam)),
        (f"render_previews {n}x{n}, 8 frames (per frame)", lambda: render_previews(head, verts, size=n, camera=cam)),
        ("motion_to_vertices, 8 frames (per frame)", lambda: motion_to_vertices(head, w)),
    ]
    per_frame = {3, 5, 6}
    print(f"open head: {head.num_vertices} vertices, {len(head.faces)} faces, {covered} covered pixels at {n}x{n}; "
          f"torch threads {torch.get_num_threads()}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'case':52s} {'median ms':>10s} {'best ms':>9s} {'CPU ms':>8s} {'x baseline':>11s}")
    base = None
    for i, (name, fn) in enumerate(rows):
        med, best, cpu = timeit(fn, args.repeats)
        if i in per_frame:
            med, best, cpu = med / 8, best / 8, cpu / 8
        base = base or med
        print(f"{name:52s} {med:10.1f} {best:9.1f} {cpu:8.1f} {med / base:11.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
