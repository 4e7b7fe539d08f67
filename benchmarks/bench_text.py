"""What a line's script costs (a table; not a test): animate 60 s of real speech with and without its script
(``--text``), the alignment alone, and the live stream's first-frame latency with and without it.

The speech is the evaldata recordings whose words are known (JFK, CMU ARCTIC a0007, LJSpeech LJ050-0131, the
birch canoe sentence), joined and repeated to ``--seconds``, with their sentences joined the same way.
Baseline in the same run: the same call without the script. Goal: the script adds <= 0.3 s per 60 s offline,
and the first streamed frame leaves as early as without it (<= 150 ms).

  OMP_NUM_THREADS=2 python benchmarks/bench_text.py [--seconds 60] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from bench_model import bench_stream

EVALDATA = os.environ.get("ANIM3D_EVALDATA", "/work/shared/evaldata")
LINES = {
    "B01_jfk.flac": "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for "
                    "your country.",
    "B02_cmu_arctic_a0007.wav": "And you always want to see it in the superlative degree.",
    "B03_ljspeech_LJ050-0131.wav": "unless a system is established for the frequent formal review of activities "
                                   "there under. in this regard",
    "B08_sb_example1.wav": "The birch canoe slid on the smooth planks.",
}


def speech(seconds: float):
    """(16 kHz samples, their words) of the recordings joined (0.3 s apart) and repeated to ``seconds``."""
    from anim3d.audio import load_audio

    parts, words, total = [], [], 0.0
    while total < seconds:
        for name, text in LINES.items():
            x = load_audio(os.path.join(EVALDATA, "audio", name), 16000).samples
            parts += [x, np.zeros(4800, np.float32)]
            words.append(text)
            total += len(x) / 16000 + 0.3
            if total >= seconds:
                break
    return np.concatenate(parts), " ".join(words)


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    from anim3d.align import align
    from anim3d.audio import audio_from_array
    from anim3d.inference import animate, load_model
    from anim3d.models import sphinx_acoustic as sa
    from anim3d.phonetic import RecognizerConfig
    from anim3d.script import read_script

    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    x, text = speech(args.seconds)
    audio = audio_from_array(x, 16000, 16000)
    gen = load_model()
    script = read_script(text)
    loglik = sa.ci_phone_loglik(sa.features(x))
    words = [list(w) for w in script.words]
    plain = timed(lambda: animate(audio, checkpoint=gen), args.repeats)
    scripted = timed(lambda: animate(audio, checkpoint=gen, text=text), args.repeats)
    aligning = timed(lambda: align(loglik, words, RecognizerConfig().phone_change_penalty), args.repeats)
    reading = timed(lambda: read_script(text), args.repeats)
    print(f"{audio.duration:.1f} s of speech, {len(script.words)} words, {len(script.phones)} phones; "
          f"best of {args.repeats} (wall s)")
    print("| row | s | vs animate without the script |")
    print("|---|---|---|")
    print(f"| animate, audio only (baseline) | {plain:.3f} | 1.00 |")
    print(f"| animate with --text | {scripted:.3f} | {scripted / plain:.2f} (+{scripted - plain:.3f} s) |")
    print(f"| of which: the script's words and phones (read_script) | {reading:.3f} | |")
    print(f"| of which: aligning it (anim3d.align.align) | {aligning:.3f} | |")
    clip = x[: 16000 * 8]
    first_text = " ".join(LINES["B01_jfk.flac"].split())
    f0 = bench_stream(gen, clip, 16000)[0]
    f1 = bench_stream(gen, clip, 16000, text=first_text)[0]
    print(f"| live first frame after the first 20 ms chunk, audio only (baseline) | {f0:.3f} | 1.00 |")
    print(f"| live first frame with --text | {f1:.3f} | {f1 / f0:.2f} |")


if __name__ == "__main__":
    main()
