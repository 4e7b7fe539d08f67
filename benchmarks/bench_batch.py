"""Lines per minute of ``anim3d batch`` (a table; not a test): N lines of 3-8 s of speech cut from the evaldata
recordings (examples/hello.wav where they are absent), animated to .npz by ``anim3d batch --workers 1`` and
``--workers 2``, against the baseline in the same run: N separate ``anim3d animate`` calls one after another.
Every timing is the wall clock of whole commands (process start and model load included).
Goal (issue #31): 2 workers >= 5x the separate calls at 200 lines.

  python benchmarks/bench_batch.py [--lines 40]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVALDATA = os.environ.get("ANIM3D_EVALDATA", os.path.join(os.path.dirname(REPO), "shared", "evaldata"))
EMOTIONS = ("neutral", "happy", "sad", "angry")


def make_lines(folder: str, n: int, seed: int = 0) -> tuple[str, float]:
    """N WAVs of 3-8 s and a manifest (audio,output,emotion,seed); returns (manifest, seconds of speech)."""
    from anim3d.audio import load_audio, save_wav

    audio_dir = os.path.join(EVALDATA, "audio")
    names = sorted(os.listdir(audio_dir)) if os.path.isdir(audio_dir) else []
    sources = [load_audio(os.path.join(audio_dir, x), 16000) for x in names] or [load_audio(os.path.join(REPO, "examples", "hello.wav"), 16000)]
    speech = np.concatenate([a.samples for a in sources])
    rng = np.random.default_rng(seed)
    rows, total = ["audio,output,emotion,seed"], 0.0
    for i in range(n):
        dur = min(rng.uniform(3.0, 8.0), len(speech) / 16000 - 0.1)
        start = rng.uniform(0, len(speech) / 16000 - dur)
        save_wav(os.path.join(folder, f"line{i:03d}.wav"), speech[int(start * 16000):int((start + dur) * 16000)], 16000)
        rows.append(f"line{i:03d}.wav,line{i:03d}.npz,{EMOTIONS[i % 4]},{i}")
        total += dur
    manifest = os.path.join(folder, "lines.csv")
    with open(manifest, "w") as f:
        f.write("\n".join(rows) + "\n")
    return manifest, total


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=40)
    args = ap.parse_args()
    anim3d = [sys.executable, "-m", "anim3d"]
    with tempfile.TemporaryDirectory() as tmp:
        manifest, seconds = make_lines(tmp, args.lines)
        print(f"{args.lines} lines, {seconds:.0f} s of speech ({seconds / args.lines:.1f} s a line), {os.cpu_count()} CPUs")
        separate_dir = os.path.join(tmp, "separate")
        os.makedirs(separate_dir)
        t_sep = 0.0
        for i in range(args.lines):
            t_sep += timed([*anim3d, "animate", os.path.join(tmp, f"line{i:03d}.wav"), "-o",
                            os.path.join(separate_dir, f"line{i:03d}.npz"), "--emotion", EMOTIONS[i % 4], "--seed", str(i), "-q"])
        rows = [("separate `anim3d animate` calls", t_sep)]
        for w in (1, 2):
            rows.append((f"`anim3d batch --workers {w}`",
                         timed([*anim3d, "batch", manifest, "--out", os.path.join(tmp, f"w{w}"), "--workers", str(w), "-q"])))
        t_rerun = timed([*anim3d, "batch", manifest, "--out", os.path.join(tmp, "w2"), "--workers", "2", "-q"])
        same = all(np.array_equal(np.load(os.path.join(separate_dir, f"line{i:03d}.npz"))["blendshapes"],
                                  np.load(os.path.join(tmp, "w2", f"line{i:03d}.npz"))["blendshapes"]) for i in range(args.lines))
    print("| run | wall s | lines/min | x separate calls |\n|---|---|---|---|")
    for name, t in rows:
        print(f"| {name} | {t:.1f} | {args.lines / t * 60:.1f} | {t_sep / t:.2f} |")
    print(f"| rerun of `--workers 2` (every line skipped) | {t_rerun:.1f} | - | - |")
    print(f"batch outputs identical to the separate calls' (blendshapes): {same}")


if __name__ == "__main__":
    main()
