"""Benchmark: OSC streaming at 60 fps: frame-time error (send time - deadline) and CPU use.

    python benchmarks/bench_stream.py --duration 600 --protocol vmc

The target (issue 4): 10 minutes at 60 fps with p99 frame-time error < 2 ms and < 10 % of
one core. A receiver runs in a separate process on 127.0.0.1 and counts the datagrams;
CPU is the streaming process's own CPU time over the wall time of the stream. The
baseline row sends the same frames with python-osc's message/bundle builders (VMC only).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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
        from unity_bridge.vmc import VMCSender

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


def run_once(protocol: str, seconds: float, fps: float, baseline: bool = False):
    from anim3d.motion import Motion
    from unity_bridge.plain import PlainSender
    from unity_bridge.stream import UdpTarget, stream_motion
    from unity_bridge.vmc import VMCSender

    rx = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    port = int(rx.stdout.readline())
    n = int(seconds * 30)
    t = np.arange(n) / 30.0
    rng = np.random.default_rng(0)
    bs = np.clip(0.5 + 0.5 * np.sin(t[:, None] * rng.uniform(1, 8, 52)), 0, 1)
    m = Motion(bs, 0.2 * np.sin(t[:, None] * [0.7, 1.1, 0.5]), np.zeros((n, 3)), 30.0)
    target = UdpTarget("127.0.0.1", port)
    sender = PythonOscVMC(target) if baseline else (VMCSender(target) if protocol == "vmc" else PlainSender(target))
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
    ap.add_argument("--protocol", choices=("vmc", "plain", "both"), default="both")
    ap.add_argument("--plain-seconds", type=float, default=None, help="duration of the plain run with --protocol both (default: --duration)")
    ap.add_argument("--realtime", action="store_true",
                    help="run the streaming process with SCHED_FIFO priority 10 (needs root or CAP_SYS_NICE); "
                         "shows how much of the error is the OS scheduler on a busy machine")
    ap.add_argument("--baseline-seconds", type=float, default=10.0, help="duration of the python-osc baseline run (0 = skip)")
    args = ap.parse_args()
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
        rows.append((f"{proto} (template encoder)", secs, stats, rec, 2 if proto == "vmc" else 1))
    if args.baseline_seconds > 0:
        stats, rec = run_once("vmc", args.baseline_seconds, args.fps, baseline=True)
        rows.append(("vmc (python-osc builders)", args.baseline_seconds, stats, rec, 2))
    print(f"OSC stream at {args.fps:g} fps to a receiver process on 127.0.0.1; {os.cpu_count()} CPUs, "
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
    print("recv counts datagrams (VMC: 2 per frame, plain: 1), including the final neutral frame.")


if __name__ == "__main__":
    main()
