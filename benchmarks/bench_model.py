"""Speed and memory of the motion model on this machine (a table; not a test).

Rows: offline animation of 60 s of speech (features + sampling) for each config, the
feature front end alone, and streaming (first-frame latency after the first audio chunk, CPU
use while keeping up with real time). Uses the shipped default checkpoint for ``fast`` when it is
there, random weights otherwise (speed does not depend on the weights).

  OMP_NUM_THREADS=2 python benchmarks/bench_model.py [--seconds 60] [--configs fast,vasa] [--audio speech.wav]
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np


def speech_like(seconds: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """Syllable-rate modulated harmonic noise (speed only; content does not matter)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    env = np.clip(np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6)), 0, None) ** 2
    x = sum(np.sin(2 * np.pi * k * 120 * t) / k for k in range(1, 20)) * env + 0.01 * rng.standard_normal(len(t))
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def make_generator(name: str):
    import torch

    from anim3d.inference import MotionGenerator
    from anim3d.models.checkpoint import DEFAULT_DIR
    from anim3d.models.config import get_config
    from anim3d.models.motion_transformer import MotionTransformer

    if name == "fast" and (DEFAULT_DIR / "model.safetensors").is_file():
        return MotionGenerator.load(DEFAULT_DIR), "default checkpoint"
    cfg = get_config(name)
    torch.manual_seed(0)
    return MotionGenerator(MotionTransformer(cfg).eval(), cfg), "random weights"


def bench_offline(gen, audio, steps, repeats=2, **options):
    """-> (best wall seconds, CPU seconds of that run). On a shared machine the CPU time is what the
    same run takes on an idle core; the wall time includes waiting for other processes."""
    from anim3d.inference import animate

    animate(audio, checkpoint=gen, steps=steps, **options)  # warm-up
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        animate(audio, checkpoint=gen, steps=steps, **options)
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
    return best


def bench_stream(gen, samples, sr, chunk_ms=20, **options):
    """Feed audio in chunks as fast as real time allows; -> (first-frame latency s, cpu seconds per audio second,
    frames, CPU of the push that made the first frame, audio waited for after the first chunk, first window timings)."""
    from anim3d.inference import StreamingAnimator

    st = StreamingAnimator(gen, **options)
    chunk = int(sr * chunk_ms / 1000)
    first = None
    t_start = time.perf_counter()  # the stream's time 0: the first sample is spoken
    c_start = time.process_time()
    frames = 0
    for i in range(0, len(samples), chunk):
        # a chunk arrives once its last sample has been spoken
        due = t_start + min(i + chunk, len(samples)) / sr
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        c0 = time.process_time()
        out = st.push(samples[i : i + chunk])
        if out.num_frames and first is None:
            first = time.perf_counter() - (t_start + chunk / sr)  # since the first chunk arrived
            first_cpu = time.process_time() - c0
            first_audio = (i + chunk) / sr - chunk / sr  # audio that had to arrive after the first chunk
        frames += out.num_frames
    cpu = time.process_time() - c_start
    return first, cpu / (len(samples) / sr), frames, first_cpu, first_audio, st.timings[0]


def audio_cache_ratio(gen, audio, rounds: int = 3):
    """Same-run A/B of the audio-token cache: CPU seconds of ``animate`` with the audio encoded once per window
    (as shipped) and with every forward pass encoding it again (as before the cache), alternating ``rounds``
    times so that the machine's drift hits both. -> (median cached, median per call, median of per-round ratios)."""
    from anim3d.inference import animate

    model = gen.model
    cached_forward = model.forward

    def per_call_forward(x, sigma, cond):
        return cached_forward(x, sigma, {k: v for k, v in cond.items() if k != "audio_tokens"})

    cached, per_call = [], []
    try:
        for _ in range(rounds):
            for forward, out in ((cached_forward, cached), (per_call_forward, per_call)):
                model.forward = forward
                c0 = time.process_time()
                animate(audio, checkpoint=gen)
                out.append(time.process_time() - c0)
    finally:
        model.forward = cached_forward
    ratios = np.array(cached) / np.array(per_call)
    return float(np.median(cached)), float(np.median(per_call)), float(np.median(ratios))


def main() -> None:
    import torch

    from anim3d.audio import audio_from_array

    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--configs", default="fast,vasa")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--audio", help="a speech file instead of the synthetic signal")
    ap.add_argument("--stream-seconds", type=float, default=10.0)
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    if args.audio:
        from anim3d.audio import load_audio

        a = load_audio(args.audio)
        reps = int(np.ceil(args.seconds / a.duration))
        audio = audio_from_array(np.tile(a.samples, reps)[: int(args.seconds * 16000)], 16000)
    else:
        audio = audio_from_array(speech_like(args.seconds), 16000)
    print(f"| load average at start | {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores |")
    for name in filter(None, args.configs.split(",")):  # --configs "" : streaming rows only
        gen, what = make_generator(name)
        t0 = time.perf_counter()
        gen.features(audio)
        t_feat = time.perf_counter() - t0
        t, cpu = bench_offline(gen, audio, args.steps)
        steps = gen.inference.steps if args.steps is None else args.steps
        print(f"| {name} ({what}) | steps {steps} | features {t_feat:.3f} s | animate {audio.duration:.0f} s of speech: "
              f"{t:.2f} s wall ({audio.duration / t:.1f}x real time), {cpu:.2f} CPU s ({audio.duration / cpu:.1f}x) |", flush=True)
    if "fast" in args.configs.split(","):
        gen, what = make_generator("fast")
        share = gen.inference.teacher_blend
        if share > 0:  # what the rule-based mouth costs (anim3d.inference.mouth_blend), against the model alone in this run
            on, off = bench_offline(gen, audio, args.steps)[1], bench_offline(gen, audio, args.steps, teacher_blend=0.0)[1]
            print(f"| fast ({what}): teacher blend {share} vs the model's mouth alone (same run) | {on:.2f} vs {off:.2f} CPU s "
                  f"for {audio.duration:.0f} s of speech | ratio {on / off:.3f} |", flush=True)
        share = gen.inference.opening_share
        if share > 0:  # what the learned opening costs (anim3d.inference.opening), against the model's own jaw in this run
            on, off = bench_offline(gen, audio, args.steps)[1], bench_offline(gen, audio, args.steps, opening_share=0.0)[1]
            print(f"| fast ({what}): learned opening {share} vs the model's own jaw (same run) | {on:.2f} vs {off:.2f} CPU s "
                  f"for {audio.duration:.0f} s of speech | ratio {on / off:.3f} |", flush=True)
        cached, per_call, ratio = audio_cache_ratio(gen, audio)
        print(f"| fast ({what}): audio encoded once per window vs in every forward pass (same run, 3 rounds) | "
              f"{cached:.2f} vs {per_call:.2f} CPU s for {audio.duration:.0f} s of speech | ratio {ratio:.3f} |", flush=True)
    gen, what = make_generator("fast")
    variants = [
        ("first window as every window (90 frames, all steps, lookahead 1; the previous design)", dict(first_window=None, first_steps=None, first_lookahead=1)),
        ("first window 30 frames, all steps, no lookahead", dict(first_steps=None)),
        ("first window 30 frames, 2 steps, no lookahead (default)", {}),
    ]
    if gen.inference.teacher_blend > 0:
        variants.append(("the default without the teacher blend", dict(teacher_blend=0.0)))
    if gen.inference.opening_share > 0:
        variants.append(("the default without the learned opening", dict(opening_share=0.0)))
    for label, opts in variants:
        first, cpu, frames, first_cpu, first_audio, t = bench_stream(gen, audio.samples[: int(args.stream_seconds * 16000)], 16000, **opts)
        print(f"| streaming fast ({what}): {label} | 20 ms chunks | first frame {first * 1000:.0f} ms after the first chunk arrived = "
              f"waiting {first_audio * 1000:.0f} ms for the audio it needs + {(first - first_audio) * 1000:.0f} ms computing "
              f"(features {t['features_s'] * 1000:.1f} ms wall / {t['features_cpu_s'] * 1000:.1f} CPU, sampling {t['window']} frames x {t['steps']} steps "
              f"{t['sampling_s'] * 1000:.1f} ms wall / {t['sampling_cpu_s'] * 1000:.1f} CPU; whole push {first_cpu * 1000:.0f} ms CPU) | "
              f"CPU {cpu:.2f} core-s per audio s | {frames} frames |", flush=True)
    print(f"| load average at end | {os.getloadavg()[0]:.1f} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"| peak memory (max RSS of this process) | {peak:.0f} MB |")


if __name__ == "__main__":
    main()
