"""Benchmark: GLB export of a 60 s motion at 30 fps (target < 1 s), with other writers for scale.

    python benchmarks/bench_export.py [--seconds 60] [--repeats 3]

Prints a table of median wall times; the ratio column compares each writer with saving the
same motion as a compressed NPZ in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from anim3d.motion import Motion


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from anim3d.exporters.gltf import write_glb
    from anim3d.exporters.livelink import write_livelink_csv
    from anim3d.exporters.retarget import retarget
    from anim3d.exporters.synthetic import make_test_head
    from anim3d.flame.open_head import load_open_head

    n = int(args.seconds * args.fps)
    rng = np.random.default_rng(0)
    t = np.arange(n) / args.fps
    bs = np.clip(0.5 + 0.5 * np.sin(t[:, None] * rng.uniform(1, 8, 52) + rng.uniform(0, 6, 52)), 0, 1)
    m = Motion(bs, 0.2 * np.sin(t[:, None] * [0.7, 1.1, 0.5]), 0.01 * np.sin(t[:, None] * [0.3, 0.2, 0.4]), args.fps)
    heads = {"synthetic sphere": make_test_head(), "open head": load_open_head()}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        base = timed(lambda: m.save_npz(d / "m.npz"), args.repeats)
        rows = [("Motion NPZ (baseline)", "-", base, (d / "m.npz").stat().st_size)]
        for name, head in heads.items():
            write_glb(m, d / "warm.glb", head=head)  # imports, caches
            tt = timed(lambda: write_glb(m, d / "a.glb", head=head), args.repeats)
            rows.append((f"GLB, {name}", f"{head.num_vertices} verts", tt, (d / "a.glb").stat().st_size))
        tt = timed(lambda: write_livelink_csv(m, d / "a.csv"), args.repeats)
        rows.append(("Live Link Face CSV", "-", tt, (d / "a.csv").stat().st_size))
        write_glb(Motion.neutral(2), d / "avatar.glb", head=heads["open head"])
        tt = timed(lambda: retarget(m, d / "avatar.glb", d / "r.glb"), args.repeats)
        rows.append(("retarget onto a GLB avatar", "-", tt, (d / "r.glb").stat().st_size))
    print(f"export of {args.seconds:g} s at {args.fps:g} fps ({n} frames), median of {args.repeats}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"| {'writer':<28} | {'head':<12} | {'seconds':>8} | {'x NPZ':>6} | {'MB':>6} | {'< 1 s':>5} |")
    print(f"|{'-' * 30}|{'-' * 14}|{'-' * 10}|{'-' * 8}|{'-' * 8}|{'-' * 7}|")
    for name, head, secs, size in rows:
        print(f"| {name:<28} | {head:<12} | {secs:8.3f} | {secs / base:6.2f} | {size / 1e6:6.2f} | {'yes' if secs < 1 else 'NO':>5} |")


if __name__ == "__main__":
    main()
