"""Benchmark: what one live stream costs (CPU seconds per second of audio) and where it goes, today against a
baseline commit in the same run, and N streams at once with and without the server's window batcher.

    python benchmarks/bench_stream_cost.py --audio ../shared/evaldata/audio/B01_jfk.flac --seconds 60 \\
        --baseline 9842f2d --streams 4

Each row runs in a fresh process (its CPU is the process's own, model loading and warm-up excluded): the default
model animates the audio (looped to --seconds) pushed in 20 ms chunks as fast as it goes, so the row measures
work, not waiting. The baseline rows import anim3d from the baseline commit's files (``baseline_tree``). The
phases are timed with the CPU clock of the thread that runs them, wherever the code has them:

- features: ``StreamingAnimator._features`` (the phone posteriors, cepstra, and the phone loop fed with them)
- conditions: ``windows.window_conditions``; sampler: ``windows.sample_window_from_noise`` (the diffusion
  passes; with the batcher, on its threads, for several streams at once)
- rule mouth: ``StreamingRuleMouth.mouth`` (traceback, phones, loudness, visemes); opening: the learned jaw
- rest: the process's CPU not in those (buffers, the motion's conversion, threads, the interpreter)

"N streams, own passes": N animators on N threads, each denoising its windows itself (the server before the
batcher); "N streams, batcher": the same through one ``WindowBatcher`` (``--workers`` threads). A row is repeated
``--repeat`` times and the least CPU kept (other work on the machine only adds). Speed targets are read as ratios
within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PHASES = (  # name, module, attribute: timed where the code has it
    ("features", "anim3d.inference.streaming", "StreamingAnimator._features"),
    ("conditions", "anim3d.inference.windows", "window_conditions"),
    ("sampler", "anim3d.inference.windows", "sample_window_from_noise"),
    ("rule mouth", "anim3d.inference.mouth_blend", "StreamingRuleMouth.mouth"),
    ("opening", "anim3d.inference.generator", "MotionGenerator.learned_jaw"),
)
CHUNK = 320  # samples: 20 ms at 16 kHz


def _timed_phases() -> dict:
    """Wrap every phase the imported code has with a thread-CPU timer; returns name -> seconds (filled as it runs)."""
    import importlib

    spent = {name: 0.0 for name, _, _ in PHASES}
    lock = threading.Lock()
    for name, module, attr in PHASES:
        owner = importlib.import_module(module)
        *path, leaf = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        fn = getattr(owner, leaf, None)
        if fn is None:
            continue

        def timed(*a, _fn=fn, _name=name, **k):
            c = time.thread_time()
            try:
                return _fn(*a, **k)
            finally:
                with lock:
                    spent[_name] += time.thread_time() - c

        setattr(owner, leaf, timed)
    return spent


def worker(spec: dict) -> dict:
    """One row, in this (fresh) process: spec -> CPU, wall and phases."""
    if spec.get("tree"):
        sys.path.insert(0, str(HERE))
        import baseline_tree

        baseline_tree.use(spec["tree"])
    import numpy as np
    import torch

    torch.set_num_threads(1)
    spent = _timed_phases()
    from anim3d.audio import load_audio
    from anim3d.inference import StreamingAnimator, load_model

    a = load_audio(spec["audio"], 16000)
    x = np.tile(a.samples, int(np.ceil(spec["seconds"] / a.duration)))[: int(spec["seconds"] * 16000)]
    gen = load_model()
    batcher = None
    kw = {}
    if spec["batched"]:
        from anim3d.serve.batcher import WindowBatcher

        batcher = WindowBatcher(gen, spec["workers"])
        kw["sampler"] = batcher.sample
    animators = [StreamingAnimator(gen, seed=i, warmup=i == 0, **kw) for i in range(spec["streams"])]
    for k in spent:
        spent[k] = 0.0

    def run(animator):
        for i in range(0, len(x), CHUNK):
            animator.push(x[i : i + CHUNK])
        animator.flush()

    threads = [threading.Thread(target=run, args=(an,)) for an in animators]
    c0, w0 = time.process_time(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    return {"cpu": cpu, "wall": wall, "phases": dict(spent), "windows": sum(len(an.timings) for an in animators),
            "batches": batcher.state() if batcher else None}


def measure(spec: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"row {spec} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--audio", default=str(HERE.parent / "examples" / "hello.wav"), help="speech to stream (looped)")
    ap.add_argument("--seconds", type=float, default=60.0, help="audio per stream (default 60)")
    ap.add_argument("--baseline", metavar="REV", help="a commit to compare with (its anim3d, same run)")
    ap.add_argument("--streams", type=int, default=4, help="streams at once for the side-by-side rows (0: none)")
    ap.add_argument("--workers", type=int, default=None, help="the batcher's threads (default: its own, 2 here)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per row; the least CPU is kept (default 2)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    if not Path(args.audio).is_file():
        print(f"bench_stream_cost: {args.audio}: no such audio file", file=sys.stderr)
        raise SystemExit(2)
    base = dict(audio=str(Path(args.audio).resolve()), seconds=args.seconds, workers=args.workers, tree=None,
                batched=False, streams=1)
    rows = []
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tree = None
        if args.baseline:
            sys.path.insert(0, str(HERE))
            import baseline_tree

            tree = str(baseline_tree.export(args.baseline, tmp))
        specs = []
        if tree:
            specs.append((f"{args.baseline} (baseline)", "1 stream", dict(base, tree=tree)))
        specs.append(("this checkout", "1 stream", dict(base)))
        if args.streams > 1:
            if tree:
                specs.append((f"{args.baseline} (baseline)", f"{args.streams} streams, own passes",
                              dict(base, tree=tree, streams=args.streams)))
            specs.append(("this checkout", f"{args.streams} streams, own passes", dict(base, streams=args.streams)))
            specs.append(("this checkout", f"{args.streams} streams, batcher",
                          dict(base, streams=args.streams, batched=True)))
        results = {i: [] for i in range(len(specs))}
        for _ in range(args.repeat):  # interleaved, so that a busy moment of the machine spreads over the rows
            for i, (_, _, spec) in enumerate(specs):
                results[i].append(measure(spec))
    print(f"{Path(args.audio).name} looped to {args.seconds:g} s per stream, 20 ms chunks as fast as they go; "
          f"{os.cpu_count()} CPUs, load average {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end; "
          f"least CPU of {args.repeat} runs per row")
    names = [name for name, _, _ in PHASES]
    print("| code | streams | CPU ms per audio s per stream | " + " | ".join(names) + " | rest | vs first row | "
          "wall s per audio s | mean windows per pass |")
    print("|---|---|---|" + "---|" * (len(names) + 4))
    first = None
    for i, (code, how, spec) in enumerate(specs):
        r = min(results[i], key=lambda r: r["cpu"])
        per = 1000.0 / (spec["seconds"] * spec["streams"])  # CPU s -> ms per audio s per stream
        cpu = r["cpu"] * per
        first = first or cpu
        phases = [r["phases"].get(n, 0.0) * per for n in names]
        batch = r["batches"]["mean_batch"] if r["batches"] else "-"
        print(f"| {code} | {how} | {cpu:.0f} | " + " | ".join(f"{p:.1f}" for p in phases)
              + f" | {cpu - sum(phases):.1f} | {cpu / first:.2f} | {r['wall'] / spec['seconds']:.3f} | {batch} |")
    print("phases in ms of CPU per audio s per stream; wall s per audio s: all streams' audio done in that time "
          "(below 1: faster than real time)")


if __name__ == "__main__":
    main()
