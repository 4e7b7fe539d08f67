"""Would shorter windows let four live streams share two cores without losing lip sync? A live stream samples a
window of ``cfg.window`` (90) frames every 4 frames and sends 4 of them; all but about 5 of the 90 lie past the audio
received (their audio marked absent), yet they are 90% of what each sampler pass computes. The first window already
samples only 30 frames (``StreamingAnimator.first_window``).

    python research/stream_window.py [--windows 90,60,45,30] [--clips ../shared/realvideo/clips,../shared/evaldata/video]
    python research/stream_window.py --serve 4 --windows 90,30 [--stream-seconds 60]

For each window length: the default model streamed (20 ms chunks, seed 0) with every window that long (the model's
config copied with another ``window``), on the real clips; Pearson r of the open head's lip gap with the tracked one
at the clip's audio-video offset (``eval.real.score_motion``), mean over clips; how far its jawOpen and mouth
channels are from the 90-frame stream's; and the stream's CPU per second of audio (this process, one thread).

``--serve N``: instead, for each window length, ``anim3d serve`` with that window (its model's config patched in
the server process) and N WebSocket clients at once, measured as ``benchmarks/bench_serve.py --only stream`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    import torch

    from anim3d.channels import INDEX
    from anim3d.eval.real import find_videos_in, load_clips, score_motion
    from anim3d.inference import StreamingAnimator, load_model
    from anim3d.inference.mouth_blend import BLEND_CHANNELS
    from anim3d.motion import Motion

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--windows", default="90,60,45,30")
    ap.add_argument("--clips", default="/work/shared/realvideo/clips,/work/shared/evaldata/video")
    ap.add_argument("--serve", type=int, default=0, metavar="N", help="N live streams through anim3d serve per window")
    ap.add_argument("--stream-seconds", type=float, default=60.0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    windows = [int(w) for w in args.windows.split(",")]
    if args.serve:
        return serve_rows(windows, args.serve, args.stream_seconds)
    clips = load_clips(find_videos_in(args.clips.split(",")), progress=False, skipped={})
    gen = load_model()
    gens = {}
    for w in windows:
        g = copy.copy(gen)
        g.cfg = dataclasses.replace(gen.cfg, window=w)
        gens[w] = g
    r = {w: [] for w in windows}
    jaw_diff = {w: [] for w in windows}
    mouth_diff = {w: [] for w in windows}
    cpu = {w: 0.0 for w in windows}
    seconds = 0.0
    for c in clips:
        x = np.asarray(c.audio.samples, np.float32)
        step = c.audio.sample_rate // 50
        seconds += len(x) / c.audio.sample_rate
        made = {}
        for w in windows:
            live = StreamingAnimator(gens[w], seed=0, sample_rate=c.audio.sample_rate, warmup=False)
            t0 = time.thread_time()
            made[w] = Motion.concatenate(list(live.run(x[i : i + step] for i in range(0, len(x), step))))
            cpu[w] += time.thread_time() - t0
            r[w].append(score_motion(c.name, f"window {w}", made[w], c.track, c.offset.lag).r_av)
        ref = made[windows[0]].blendshapes
        for w in windows:
            b = made[w].blendshapes
            jaw_diff[w].append(float(np.abs(b[:, INDEX["jawOpen"]] - ref[:, INDEX["jawOpen"]]).mean()))
            mouth_diff[w].append(float(np.abs(b[:, list(BLEND_CHANNELS)] - ref[:, list(BLEND_CHANNELS)]).max()))
    print(f"{len(clips)} clips, {seconds:.0f} s of audio, streamed in 20 ms chunks, seed 0")
    print(f"| window | r at the AV offset (mean) | vs {windows[0]} (mean of per-clip differences, 95% of clips within) "
          f"| jawOpen mean abs difference from {windows[0]} | mouth channels max abs difference | CPU ms per audio s |")
    print("|---|---|---|---|---|---|")
    base = np.array(r[windows[0]])
    for w in windows:
        d = np.array(r[w]) - base
        lo, hi = np.percentile(d, [2.5, 97.5])
        print(f"| {w} | {np.mean(r[w]):.3f} | {d.mean():+.3f} ({lo:+.3f} .. {hi:+.3f}) | {np.mean(jaw_diff[w]):.4f} "
              f"| {np.max(mouth_diff[w]):.3f} | {1000 * cpu[w] / seconds:.0f} |")


# anim3d serve with every model loaded given another window (argv[1]); run as `python -c SERVER W serve ...`
SERVER = """import dataclasses, sys
import anim3d.inference.generator as g
window = int(sys.argv.pop(1))
load = g.MotionGenerator.load.__func__
def patched(cls, *a, **k):
    gen = load(cls, *a, **k)
    gen.cfg = dataclasses.replace(gen.cfg, window=window)
    return gen
g.MotionGenerator.load = classmethod(patched)
from anim3d.cli import main
sys.exit(main())
"""


def serve_rows(windows: list[int], n: int, seconds: float) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_serve as bs

    from anim3d.audio import load_audio

    full = load_audio(bs.REPO / "examples" / "hello.wav")
    rate = full.sample_rate
    x = np.tile(full.samples, int(np.ceil(seconds * rate / len(full.samples))))[: int(seconds * rate)]
    pcm = (np.clip(x, -1, 1) * 32767).round().astype("<i2").tobytes()
    load0 = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for w in windows:
            log = os.path.join(tmp, "server.log")
            proc = bs.subprocess.Popen([sys.executable, "-c", SERVER, str(w), "serve", "--port", "0", "-q"],
                                       stdout=bs.subprocess.DEVNULL, stderr=open(log, "w"))
            url = None
            while url is None and proc.poll() is None:
                time.sleep(0.05)
                url = next((line.split("listening on ")[1].split()[0] for line in Path(log).read_text().splitlines()
                            if "listening on " in line), None)
            try:
                asyncio.run(bs.streams_at_once(url, pcm[: rate * 2], rate, 1))
                c0, w0 = bs.server_cpu_seconds(proc.pid), time.perf_counter()
                results = asyncio.run(bs.streams_at_once(url, pcm, rate, n))
                cpu = bs.server_cpu_seconds(proc.pid) - c0
                rows.append((w, results, cpu / (time.perf_counter() - w0), cpu / (n * seconds)))
            finally:
                proc.terminate()
                proc.wait(30)
    print(f"{n} streams at once through anim3d serve, {seconds:g} s of examples/hello.wav each, 20 ms messages at the "
          f"pace of speech; load average {load0:.2f} before, {os.getloadavg()[0]:.2f} after")
    print("| window | first frame ms (max) | frames per s of audio | lag p50 / max ms | max lag per stream ms "
          "| real time (all within 0.5 s) | server cores | server CPU s per audio s per stream |")
    print("|---|---|---|---|---|---|---|---|")
    for w, results, cores, per in rows:
        lags = [lag for r in results for lag in r["lags"]]
        kept = sum(max(r["lags"]) <= bs.REAL_TIME_S for r in results)
        each = ", ".join(f"{max(r['lags']) * 1000:.0f}" for r in results)
        print(f"| {w} | {max(r['first'] for r in results) * 1000:.0f} "
              f"| {statistics.mean(r['frames'] / r['duration'] for r in results):.1f} "
              f"| {statistics.median(lags) * 1000:.0f} / {max(lags) * 1000:.0f} "
              f"| {each} "
              f"| {kept} of {n} | {cores:.2f} | {per:.3f} |")


if __name__ == "__main__":
    main()
