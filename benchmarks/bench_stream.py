"""Benchmark: live streaming at 60 fps (VMC or plain OSC, Live Link Face UDP): frame-time error (send time -
deadline) and CPU use.

    python benchmarks/bench_stream.py --duration 600 --protocol vmc
    python benchmarks/bench_stream.py --duration 600 --protocol livelink
    python benchmarks/bench_stream.py --live speech.wav --duration 600   # live generation, 10 minutes

``--live AUDIO``: live generation as ``anim3d stream speech.wav`` does it — the audio (looped to
``--duration``) arrives in 20 ms chunks at the pace of real time, the default model animates it
(StreamingAnimator) in a background thread and the frames go out over OSC (plain scheme) to a
receiver process that reads the kernel's arrival time stamp of every datagram (SO_TIMESTAMPNS). Reported: first-frame latency after the first
chunk arrived, the inter-frame interval at the receiver (p50/p99/max), the send error, ticks held
while the generator caught up, the stream's latency behind the audio at the end, and the process's
CPU over the wall time (the model included: "keeps up using under one core"). The same run in one
thread (``--modes process,thread,one``: the previous design last) is the baseline.

What a live stream's generation costs, phase by phase, against an earlier commit: ``bench_stream_cost.py``;
several live streams through ``anim3d serve``: ``bench_serve.py --only stream``.

The target (issue 4): 10 minutes at 60 fps with p99 frame-time error < 2 ms and < 10 % of
one core. A receiver runs in a separate process on 127.0.0.1 and counts the datagrams;
CPU is the streaming process's own CPU time over the wall time of the stream. The
baseline row sends the same frames with python-osc's message/bundle builders (VMC only).
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
import time

import numpy as np

RECEIVER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
n = 0
while True:
    d = s.recv(65536)
    if d == b"STOP":
        break
    n += 1
print(n, flush=True)
"""


class PythonOscVMC:
    """The same VMC frames built with python-osc's builders (the baseline)."""

    def __init__(self, target):
        from anim3d.unity_bridge.vmc import VMCSender

        self.fast = VMCSender(target)
        self.target = target

    def send_frame(self, frame):
        from pythonosc import osc_bundle_builder as bb
        from pythonosc import osc_message_builder as mb
        from pythonosc.osc_bundle import OscBundle

        for dgram in self.fast.encode(frame):
            b = bb.OscBundleBuilder(bb.IMMEDIATELY)
            for msg in OscBundle(dgram):
                m = mb.OscMessageBuilder(msg.address)
                for p in msg.params:
                    m.add_arg(p, "f" if isinstance(p, float) else None)
                b.add_content(m.build())
            self.target.send(b.build().dgram)

    def close(self):
        self.target.close()


TIMED_RECEIVER = r"""
import socket, struct, sys
import numpy as np
# arrival times from the kernel (SO_TIMESTAMPNS), so the receiver's own scheduling does not count
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
t = []
while True:
    d, anc, _, _ = s.recvmsg(65536, 256)
    if d == b"STOP":
        break
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            sec, nsec = struct.unpack("qq", data[:16])
            t.append(sec + nsec * 1e-9)
g = np.diff(np.array(t)) * 1000 if len(t) > 1 else np.zeros(1)
print(len(t), np.percentile(g, 50), np.percentile(g, 99), g.max(), flush=True)
"""


def run_live(audio_path: str, seconds: float, fps: float, mode: str = "process", chunk_ms: float = 20.0, realtime: bool = False):
    """Live generation from ``audio_path`` looped to ``seconds``, streamed (plain OSC) to a timing receiver."""
    from anim3d.audio import load_audio
    from anim3d.inference import StreamingAnimator, load_model
    from anim3d.unity_bridge.plain import PlainSender
    from anim3d.unity_bridge.process import stream_motion_in_process
    from anim3d.unity_bridge.senders import udp_sender
    from anim3d.unity_bridge.stream import stream_motion
    from anim3d.unity_bridge.transport import UdpTarget

    a = load_audio(audio_path, 16000)
    samples = np.tile(a.samples, int(np.ceil(seconds / a.duration)))[: int(seconds * 16000)]
    animator = StreamingAnimator(load_model())  # loads and warms up before the audio starts
    rx = subprocess.Popen([sys.executable, "-c", TIMED_RECEIVER], stdout=subprocess.PIPE, text=True)
    port = int(rx.stdout.readline())
    target = UdpTarget("127.0.0.1", port)
    n = int(16000 * chunk_ms / 1000)
    clock = {}

    def chunks():
        t0 = clock["t0"] = time.monotonic()
        for i in range(0, len(samples), n):
            wait = t0 + (i + n) / 16000 - time.monotonic()  # a chunk exists once its samples were spoken
            if wait > 0:
                time.sleep(wait)
            yield samples[i : i + n]

    if mode == "process":
        stats = stream_motion_in_process(animator.run(chunks()), functools.partial(udp_sender, "plain", "127.0.0.1", port), fps=fps,
                                         realtime=realtime)
    else:
        stats = stream_motion(animator.run(chunks()), PlainSender(target), fps=fps, background=mode == "thread")
    time.sleep(0.2)
    target.send(b"STOP")
    target.close()
    count, p50, p99, mx = rx.stdout.readline().split()
    rx.wait()
    first = stats.send_times[0] - (clock["t0"] + chunk_ms / 1000) if stats.send_times else float("nan")
    # the stream's delay behind the speech at its end: when the last frame left vs its instant in the audio
    # (the last tick's index: ticks sent, minus repeats, plus the ticks skipped)
    last_t = (stats.frames - stats.held + stats.skipped - 1) / fps
    behind = (stats.send_times[-1] - clock["t0"]) - last_t if stats.send_times else float("nan")
    t = animator.timings[0] if animator.timings else {}
    per_window = {k: np.percentile([w[k] for w in animator.timings], [50, 99]) * 1000
                  for k in ("features_cpu_s", "sampling_cpu_s")} if animator.timings else {}
    return {
        "mode": {"process": "sending process", "thread": "sending thread", "one": "one thread"}[mode]
        + (f" ({stats.scheduling})" if stats.scheduling else ""),
        "seconds": seconds, "frames": stats.frames, "received": int(count),
        "first_ms": first * 1000, "p50": float(p50), "p99": float(p99), "max": float(mx),
        "err99": stats.percentile(99), "held": stats.held, "skipped": stats.skipped, "stalls": stats.stalls,
        "sp50": stats.interval_percentile(50), "sp99": stats.interval_percentile(99),
        "cpu": stats.cpu_percent, "behind_ms": behind * 1000,
        "first_window": t,
        "windows": len(animator.timings),
        "per_window": per_window,
    }


def run_once(protocol: str, seconds: float, fps: float, baseline: bool = False):
    from anim3d.motion import Motion
    from anim3d.unity_bridge.livelink_face import LiveLinkFaceSender
    from anim3d.unity_bridge.plain import PlainSender
    from anim3d.unity_bridge.stream import stream_motion
    from anim3d.unity_bridge.transport import UdpTarget
    from anim3d.unity_bridge.vmc import VMCSender

    rx = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    port = int(rx.stdout.readline())
    n = int(seconds * 30)
    t = np.arange(n) / 30.0
    rng = np.random.default_rng(0)
    bs = np.clip(0.5 + 0.5 * np.sin(t[:, None] * rng.uniform(1, 8, 52)), 0, 1)
    m = Motion(bs, 0.2 * np.sin(t[:, None] * [0.7, 1.1, 0.5]), np.zeros((n, 3)), 30.0)
    target = UdpTarget("127.0.0.1", port)
    senders = {"vmc": VMCSender, "plain": PlainSender, "livelink": functools.partial(LiveLinkFaceSender, fps=fps)}
    sender = PythonOscVMC(target) if baseline else senders[protocol](target)
    # feed the generator in 1-second chunks, as live generation would
    chunks = (m[i:i + 30] for i in range(0, n, 30))
    stats = stream_motion(chunks, sender, fps=fps)
    time.sleep(0.2)
    target.send(b"STOP")  # ends the receiver process
    sender.close()
    received = int(rx.stdout.readline())
    rx.wait()
    return stats, received


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds to stream (the target asks for 600)")
    ap.add_argument("--fps", type=float, default=60.0)
    ap.add_argument("--protocol", choices=("vmc", "plain", "livelink", "both"), default="both", help="both = vmc and plain")
    ap.add_argument("--plain-seconds", type=float, default=None, help="duration of the plain run with --protocol both (default: --duration)")
    ap.add_argument("--realtime", action="store_true",
                    help="run the streaming process with SCHED_FIFO priority 10 (needs root or CAP_SYS_NICE); "
                         "shows how much of the error is the OS scheduler on a busy machine")
    ap.add_argument("--baseline-seconds", type=float, default=10.0, help="duration of the python-osc baseline run (0 = skip)")
    ap.add_argument("--live", metavar="AUDIO", help="live generation from this speech file (looped to --duration) instead of a fixed motion")
    ap.add_argument("--modes", default="process", help="with --live: comma-separated sending designs to run: process (a sending "
                    "process, what anim3d stream does), thread (a sending thread), one (generation and sending in one thread)")
    args = ap.parse_args()
    if args.live:
        return main_live(args)
    sched = "normal scheduling"
    if args.realtime:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
            sched = "SCHED_FIFO priority 10"
        except (PermissionError, AttributeError, OSError) as e:
            sched = f"normal scheduling (realtime refused: {e})"
    rows = []
    load0 = os.getloadavg()[0]
    for proto in (("vmc", "plain") if args.protocol == "both" else (args.protocol,)):
        secs = args.plain_seconds if (proto == "plain" and args.protocol == "both" and args.plain_seconds) else args.duration
        stats, rec = run_once(proto, secs, args.fps)
        name = "livelink (Live Link Face)" if proto == "livelink" else f"{proto} (template encoder)"
        rows.append((name, secs, stats, rec, 2 if proto == "vmc" else 1))
    if args.baseline_seconds > 0:
        stats, rec = run_once("vmc", args.baseline_seconds, args.fps, baseline=True)
        rows.append(("vmc (python-osc builders)", args.baseline_seconds, stats, rec, 2))
    print(f"UDP stream at {args.fps:g} fps to a receiver process on 127.0.0.1; {os.cpu_count()} CPUs, "
          f"load average {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end; {sched}")
    print(f"| {'sender':<26} | {'s':>5} | {'frames':>6} | {'recv':>6} | {'p50 ms':>6} | {'p99 ms':>6} | {'max ms':>7} | {'CPU %':>5} | {'stalls':>6} | {'p99<2ms':>7} | {'CPU<10%':>7} |")
    print("|" + "|".join("-" * (w + 2) for w in (26, 5, 6, 6, 6, 6, 7, 5, 6, 7, 7)) + "|")
    for name, secs, s, rec, per in rows:
        p50, p99, mx = s.percentile(50), s.percentile(99), s.percentile(100)
        print(f"| {name:<26} | {secs:5.0f} | {s.frames:6d} | {rec:6d} | {p50:6.3f} | {p99:6.3f} | {mx:7.2f} | {s.cpu_percent:5.1f} | "
              f"{s.stalls:6d} | {'yes' if p99 < 2 else 'NO':>7} | {'yes' if s.cpu_percent < 10 else 'NO':>7} |")
    for name, secs, s, rec, per in rows:
        worst = np.argsort(s.errors_ms)[-3:][::-1]
        print(f"{name}: worst frames (index: error ms) " + ", ".join(f"{i}: {s.errors_ms[i]:.1f}" for i in worst))
    print("recv counts datagrams (VMC: 2 per frame, plain and livelink: 1), including the final neutral frame.")


def main_live(args) -> None:
    import torch

    torch.set_num_threads(1)
    load0 = os.getloadavg()[0]
    # --realtime: SCHED_FIFO for the sending process only (process mode); the generator keeps normal priority
    sched = "sending process asks for SCHED_FIFO 10 (process mode only)" if args.realtime else "normal scheduling"
    rows = [run_live(args.live, args.duration, args.fps, m, realtime=args.realtime) for m in args.modes.split(",")]
    print(f"live generation from {args.live} (looped), plain OSC at {args.fps:g} fps to a receiver process on 127.0.0.1; "
          f"{os.cpu_count()} CPUs, load average {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end; {sched}")
    print("| sending | s | frames | recv | first frame ms | recv interval p50 ms | p99 ms | max ms | send interval p50 / p99 ms | send err p99 ms | held | skipped | stalls | behind audio ms | CPU % of a core |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['seconds']:.0f} | {r['frames']} | {r['received']} | {r['first_ms']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
              f"{r['max']:.1f} | {r['sp50']:.2f} / {r['sp99']:.2f} | {r['err99']:.2f} | {r['held']} | {r['skipped']} | {r['stalls']} | {r['behind_ms']:.0f} | {r['cpu']:.1f} |")
    for r in rows:
        t = r["first_window"]
        if t:
            print(f"{r['mode']}: first window: audio received {1000 * t['audio_s']:.0f} ms, {t['window']} frames x {t['steps']} steps, "
                  f"features {1000 * t['features_s']:.1f} ms wall / {1000 * t['features_cpu_s']:.1f} ms CPU, "
                  f"sampling {1000 * t['sampling_s']:.1f} ms wall / {1000 * t['sampling_cpu_s']:.1f} ms CPU")
        w = r.get("per_window")
        if w:
            print(f"{r['mode']}: {r['windows']} windows, CPU per window p50 / p99: features {w['features_cpu_s'][0]:.1f} / "
                  f"{w['features_cpu_s'][1]:.1f} ms, sampling {w['sampling_cpu_s'][0]:.1f} / {w['sampling_cpu_s'][1]:.1f} ms")


if __name__ == "__main__":
    main()
