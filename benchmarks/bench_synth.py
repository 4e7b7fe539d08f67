"""Synthetic data speed: per-stage cost and end-to-end hours of audio per wall minute.

    python benchmarks/bench_synth.py                 # stages + a small end-to-end run (1 and 2 workers)
    python benchmarks/bench_synth.py --hours 1 --out /tmp/synth1h   # one real run of that size

Target: >= 1 hour of data in <= 20 minutes on 2 cores (>= 0.05 h per minute).
Other jobs on the machine share the CPU: the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np


def stages(n: int, seed: int) -> list[tuple[str, float, float]]:
    from anim3d.data import augment
    from anim3d.data.shards import Utterance, write_shard
    from anim3d.teacher import SpeakerStyle, phones_to_motion
    from anim3d.data.text import utterance_text
    from anim3d.data.tts import list_voices, synthesize_many

    rng = np.random.default_rng(seed)
    texts = [utterance_text(rng) for _ in range(n)]
    rows = []
    spoken = []
    for engine_voice in ("espeak:en-us+m3", "festival:cmu_us_slt_arctic_hts", "festival:kal_diphone"):
        v = next((x for x in list_voices() if x.id == engine_voice), None)
        if v is None:
            continue
        synthesize_many(["Warm up."], v)  # library start-up is not part of the steady rate
        t0 = time.perf_counter()
        out = synthesize_many(texts, v)
        wall = time.perf_counter() - t0
        rows.append((f"tts {engine_voice}", sum(a.duration for a, _ in out), wall))
        spoken += out
    audio_s = sum(a.duration for a, _ in spoken)
    t0 = time.perf_counter()
    motions = [phones_to_motion(p, a.duration, audio=a, speaker=SpeakerStyle.random(rng), seed=i)
               for i, (a, p) in enumerate(spoken)]
    rows.append(("teacher (with audio prosody)", audio_s, time.perf_counter() - t0))
    t0 = time.perf_counter()
    augmented = [augment.random_augment(a, rng)[0] for a, _ in spoken]
    rows.append(("augment (random chain)", audio_s, time.perf_counter() - t0))
    utts = [Utterance(str(i), au, m, p, "", "v", "s", {}) for i, (au, m, (_, p)) in enumerate(zip(augmented, motions, spoken))]
    tmp = tempfile.mkdtemp()
    t0 = time.perf_counter()
    write_shard(os.path.join(tmp, "x.npz"), utts)
    rows.append(("write shard", audio_s, time.perf_counter() - t0))
    shutil.rmtree(tmp)
    return rows


def end_to_end(hours: float, workers: int, out: str | None, seed: int) -> tuple[float, float]:
    from anim3d.data.synth import SynthConfig, run_synth

    folder = out or tempfile.mkdtemp(prefix="bench-synth-")
    try:
        t0 = time.perf_counter()
        index = run_synth(SynthConfig(hours=hours, seed=seed, shard_seconds=min(240.0, hours * 3600 / 4)), folder,
                          workers=workers, show_progress=out is not None)
        wall = time.perf_counter() - t0
        return index["synth"]["audio_seconds_made"], wall
    finally:
        if out is None:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--utterances", type=int, default=8, help="utterances per voice for the stage table")
    ap.add_argument("--hours", type=float, default=0.03, help="size of the end-to-end run")
    ap.add_argument("--out", default=None, help="keep the end-to-end corpus here (default: a temp folder, removed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-stages", action="store_true")
    ap.add_argument("--workers", default="1,2", help="worker counts to compare (default 1,2)")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if not args.skip_stages:
        print(f"\n{'stage':34s} {'audio s':>8s} {'wall s':>8s} {'x real time':>11s}")
        for name, audio_s, wall in stages(args.utterances, args.seed):
            print(f"{name:34s} {audio_s:8.1f} {wall:8.2f} {audio_s / wall:11.1f}")
    print(f"\n{'end to end':14s} {'audio h':>8s} {'wall s':>8s} {'h per min':>10s} {'min per 1 h':>12s} {'vs 1 worker':>12s}")
    base = None
    counts = [int(x) for x in args.workers.split(",")]
    for w in counts:
        keep = args.out if (args.out and w == counts[-1]) else None  # keep only the last run's corpus
        audio_s, wall = end_to_end(args.hours, w, keep, args.seed + w)
        rate = audio_s / 3600.0 / (wall / 60.0)
        base = base or rate
        print(f"{w} worker(s)     {audio_s / 3600:8.3f} {wall:8.1f} {rate:10.3f} {1.0 / rate:12.1f} {rate / base:12.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}; target: >= 0.05 h per min (1 h in <= 20 min)")


if __name__ == "__main__":
    main()
