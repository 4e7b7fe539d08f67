"""Offline real-time factor (RTF), live first-frame latency, sustained CPU and export time.

RTF = wall seconds of compute / seconds of audio (< 1 is faster than real time). Every
row also shows its ratio to the baseline measured in the same run: the weight-free
log-mel feature extraction alone on the same audio.

Rows (the default checkpoint row prints "skipped: <reason>" when its folder is missing):
- baselines: log-mel features, phone-posterior features, loudness -> jaw, pocketsphinx phone recognition,
  phones -> teacher;
- the model, per configuration (anim3d.models.config.CONFIG_NAMES, randomly initialised: speed does
  not depend on trained weights) and per sampler step count, plus the shipped default
  checkpoint when it exists;
- live streaming per config through ``anim3d.inference.StreamingAnimator`` (audio pushed
  in 20 ms chunks): first-frame latency (audio time of the first frame + its compute),
  the slowest push, and sustained CPU = CPU seconds per second of audio (100 % = one core);
- renderer frames per second at 512 x 512: warp only (baseline) vs with the refinement
  network (shipped checkpoint, else random init);
- export: NPZ (baseline), Live Link Face CSV, glTF/GLB, for the generated motion.

    python benchmarks/bench_rtf.py [--audio FILE] [--seconds 10] [--steps 1,2,4,8] [--configs fast,vasa] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from anim3d.paths import evaldata_dir, evaldata_portrait

DEFAULT_AUDIO = str(evaldata_dir() / "video" / "Obama_clip1.mp4")


def timed(fn, repeats: int = 1):
    """(best wall seconds, CPU seconds of that run, result) over ``repeats`` runs."""
    best, cpu, out = float("inf"), 0.0, None
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if dt < best:
            best, cpu = dt, dc
    return best, cpu, out


class Table:
    def __init__(self, baseline_name: str):
        self.rows: list[list[str]] = []
        self.baseline: float | None = None
        self.baseline_name = baseline_name

    def add(self, name: str, seconds: float | None, audio_seconds: float, cpu: float | None = None, note: str = ""):
        if seconds is None:
            self.rows.append([name, "-", "-", "-", note])
            return
        if self.baseline is None:
            self.baseline = seconds
        rtf = seconds / audio_seconds
        cpu_pct = f"{100 * cpu / seconds:.0f}%" if cpu is not None and seconds > 0 else "-"
        self.rows.append([name, f"{seconds:.3f}", f"{rtf:.4f}", f"{seconds / self.baseline:.1f}x", f"cpu {cpu_pct} {note}".strip()])

    def print(self, title: str) -> None:
        header = ["what", "wall s", "RTF", f"vs {self.baseline_name}", "notes"]
        widths = [max(len(r[i]) for r in self.rows + [header]) for i in range(len(header))]
        print(f"\n## {title}")
        print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        for r in self.rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


def random_generator(name: str, device: str):
    """A MotionGenerator with randomly initialised weights for config ``name``."""
    import torch

    from anim3d.inference import MotionGenerator
    from anim3d.models.config import get_config
    from anim3d.models.motion_transformer import MotionTransformer

    torch.manual_seed(0)
    cfg = get_config(name)
    model = MotionTransformer(cfg).to(device).eval()
    return MotionGenerator(model, cfg, device=device)  # the default InferenceConfig (4 DDIM steps, no guidance)


def live_row(label: str, gen, audio, chunk_ms: float) -> list[str]:
    """Stream ``audio`` in ``chunk_ms`` chunks through anim3d.inference.StreamingAnimator
    (as fast as it computes; audio time is simulated). First-frame latency = audio time
    when the first frame comes out + the compute of that push; sustained CPU = CPU seconds
    of all pushes / audio seconds; also the slowest push (it must stay under the chunk
    length to keep up)."""
    from anim3d.inference import StreamingAnimator

    anim = StreamingAnimator(gen, sample_rate=audio.sample_rate)
    hop = max(1, int(audio.sample_rate * chunk_ms / 1000))
    first_latency, worst, cpu_total, frames = None, 0.0, 0.0, 0
    for i in range(0, len(audio.samples), hop):
        c0, t0 = time.process_time(), time.perf_counter()
        out = anim.push(audio.samples[i : i + hop])
        dt = time.perf_counter() - t0
        cpu_total += time.process_time() - c0
        worst = max(worst, dt)
        frames += out.num_frames
        if first_latency is None and out.num_frames:
            first_latency = (i + hop) / audio.sample_rate + dt
    dur = audio.duration
    return [label, str(anim.steps), f"{chunk_ms:g}", "-" if first_latency is None else f"{first_latency:.3f}",
            f"{worst * 1000:.0f}", f"{100 * cpu_total / dur:.0f}%", f"{frames} frames"]


def render_rows(motion, args) -> None:
    """Renderer frames per second at 512 x 512 (anim3d.render.pipeline.PortraitRenderer):
    warp only (the baseline, no network) and with the refinement network (the shipped
    checkpoint when present, else a randomly initialised RefineNet: same cost)."""
    import tempfile as _tmp

    n = min(motion.num_frames, args.render_frames)
    clip = motion[:n]
    rows: list[list[str]] = []
    from anim3d.models.renderer import DEFAULT_DIR as RENDER_CKPT
    from anim3d.models.renderer import RefineNet, save_renderer
    from anim3d.render.pipeline import PortraitRenderer
    from anim3d.render.portrait import prepare_portrait

    portrait = prepare_portrait(args.portrait)
    with _tmp.TemporaryDirectory() as tmp:
        if os.path.isdir(RENDER_CKPT):
            ckpt, label = RENDER_CKPT, "network (shipped checkpoint)"
        else:
            import torch

            torch.manual_seed(0)
            save_renderer(RefineNet(), tmp)
            ckpt, label = tmp, "network (random init; no shipped checkpoint)"
        base = None
        for name, kwargs in (("warp only (baseline)", dict(warp_only=True)), (label, dict(checkpoint=ckpt))):
            r = PortraitRenderer(portrait, device=args.device, **kwargs)
            next(r.frames(clip[:1], batch=1))  # warm-up
            sec, cpu, frames = timed(lambda: sum(1 for _ in r.frames(clip, batch=8)), 1)
            fps = frames / sec
            base = base or fps
            size = "x".join(str(d) for d in next(r.frames(clip[:1], batch=1)).shape[:2])
            rows.append([name, size, str(frames), f"{fps:.1f}", f"{fps / base:.2f}x", f"{100 * cpu / sec:.0f}%"])
    hdr = ["renderer", "frame size", "frames", "frames/s", "vs warp only", "cpu"]
    widths = [max(len(r[i]) for r in rows + [hdr]) for i in range(len(hdr))]
    print(f"\n## renderer frames per second ({args.portrait})")
    print("  ".join(h.ljust(w) for h, w in zip(hdr, widths)))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--audio", default=DEFAULT_AUDIO)
    ap.add_argument("--seconds", type=float, default=10.0, help="audio length used (default 10 s)")
    ap.add_argument("--steps", default="1,2,4,8", help="sampler step counts for the model rows")
    ap.add_argument("--configs", default=None, help="model configs (default: all of anim3d.models.config.CONFIG_NAMES)")
    ap.add_argument("--repeats", type=int, default=2, help="runs per row; the fastest is reported")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--checkpoint", default=None, help="also time this checkpoint folder")
    ap.add_argument("--portrait", default=str(evaldata_portrait()), help="portrait for the renderer rows")
    ap.add_argument("--render-frames", type=int, default=48, help="frames rendered per renderer row")
    ap.add_argument("--chunk-ms", type=float, default=20.0, help="live audio chunk length (default 20 ms)")
    args = ap.parse_args(argv)

    import torch

    from anim3d.audio import load_audio
    from anim3d.eval.baselines import loudness_motion
    from anim3d.inference import animate, load_model
    from anim3d.models.audio_features import LogMelFrontEnd
    from anim3d.models.checkpoint import DEFAULT_DIR
    from anim3d.models.config import CONFIG_NAMES
    from anim3d.models.phone_features import PhoneFrontEnd
    from anim3d.phonetic import recognize_phones
    from anim3d.teacher import phones_to_motion

    audio = load_audio(args.audio)
    audio.samples = audio.samples[: int(args.seconds * audio.sample_rate)]
    dur = audio.duration
    steps = [int(s) for s in args.steps.split(",") if s]
    print(f"audio: {args.audio} ({dur:.1f} s); torch threads: {torch.get_num_threads()}; device {args.device}")

    t = Table("log-mel")

    def front_end_row(name: str, fe) -> None:
        """Time one audio front end on the audio (30 fps)."""
        n = int(round(dur * 30))
        sec, cpu, _ = timed(lambda: fe(audio.samples, n), args.repeats)
        t.add(name, sec, dur, cpu)

    # ---- baseline: log-mel features alone
    front_end_row("log-mel features (baseline)", LogMelFrontEnd())
    front_end_row("phone-posterior features (audio_encoder phones)", PhoneFrontEnd())
    sec, cpu, motion = timed(lambda: loudness_motion(audio), args.repeats)
    t.add("loudness -> jaw", sec, dur, cpu)
    sec, cpu, phones = timed(lambda: recognize_phones(audio), args.repeats)
    t.add("pocketsphinx phones", sec, dur, cpu)
    sec, cpu, motion = timed(lambda: phones_to_motion(phones, dur, audio=audio), args.repeats)
    t.add("phones -> teacher (after recognition)", sec, dur, cpu)

    # ---- the model
    live: list[list[str]] = []
    gens = {}
    configs = args.configs.split(",") if args.configs else list(CONFIG_NAMES)
    for name in filter(None, configs):
        gens[f"{name} (random init)"] = random_generator(name, args.device)
    if args.checkpoint:
        gens[f"checkpoint {Path(args.checkpoint).name}"] = load_model(args.checkpoint, args.device)
    if DEFAULT_DIR.exists():
        gens["default checkpoint"] = load_model(device=args.device)
    else:
        t.add("default checkpoint", None, dur, note=f"skipped: {DEFAULT_DIR} not found")
    for label, gen in gens.items():
        for s in steps:
            sec, cpu, motion = timed(lambda: animate(audio, checkpoint=gen, steps=s, device=args.device), args.repeats)
            t.add(f"model {label}, {s} steps", sec, dur, cpu)
        live.append(live_row(label, gen, audio, args.chunk_ms))

    t.print(f"offline real-time factor ({dur:.1f} s of audio, best of {args.repeats})")
    if live:
        print("\n## live streaming (anim3d.inference.StreamingAnimator, audio pushed in chunks)")
        hdr = ["model", "steps", "chunk ms", "first-frame latency s", "slowest push ms", "sustained CPU (per audio s)", "notes"]
        widths = [max(len(r[i]) for r in live + [hdr]) for i in range(len(hdr))]
        print("  ".join(h.ljust(w) for h, w in zip(hdr, widths)))
        for r in live:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)))

    render_rows(motion, args)

    # ---- export time for the last generated motion
    from anim3d.exporters.gltf import write_glb
    from anim3d.exporters.livelink import write_livelink_csv

    e = Table("NPZ")
    with tempfile.TemporaryDirectory() as tmp:
        sec, cpu, _ = timed(lambda: motion.save_npz(os.path.join(tmp, "m.npz")), args.repeats)
        e.add("NPZ (baseline)", sec, dur, cpu)
        sec, cpu, _ = timed(lambda: write_livelink_csv(motion, os.path.join(tmp, "m.csv")), args.repeats)
        e.add("Live Link Face CSV", sec, dur, cpu)
        sec, cpu, _ = timed(lambda: write_glb(motion, os.path.join(tmp, "m.glb")), args.repeats)
        e.add("glTF GLB (open head)", sec, dur, cpu)
    e.print(f"export of a {motion.num_frames}-frame motion")
    return 0


if __name__ == "__main__":
    sys.exit(main())
