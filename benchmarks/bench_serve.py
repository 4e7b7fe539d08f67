"""How long one client waits for POST /v1/animate through a real server, against animate() in-process.

A 5 s line (the start of examples/hello.wav), format json, one client, one request at a time: the server is
`anim3d serve --port 0` in a subprocess (the model loaded at start-up, uvicorn on loopback), called with httpx
over one kept-alive connection; in the same run, animate() on the same audio in this process (audio decoded once,
the model loaded once). Each side gets one warm-up call, then --requests timed ones.

    python benchmarks/bench_serve.py [--seconds 5] [--requests 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def start_server(log_path: str, extra: list[str]) -> tuple[subprocess.Popen, str, float]:
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "anim3d", "serve", "--port", "0", "-q", *extra],
                                stdout=subprocess.DEVNULL, stderr=log)
    while proc.poll() is None and time.perf_counter() - t0 < 300:
        for line in Path(log_path).read_text().splitlines():
            if "listening on " in line:
                return proc, line.split("listening on ")[1].split()[0], time.perf_counter() - t0
        time.sleep(0.02)
    proc.kill()
    raise SystemExit(f"the server did not start:\n{Path(log_path).read_text()}")


def timed(fn, n: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="length of the line (default 5)")
    ap.add_argument("--requests", type=int, default=10, help="timed requests per side (default 10)")
    args = ap.parse_args()

    import httpx

    from anim3d.audio import load_audio, save_wav
    from anim3d.inference import animate, load_model

    with tempfile.TemporaryDirectory() as tmp:
        line = os.path.join(tmp, "line.wav")
        full = load_audio(REPO / "examples" / "hello.wav")
        save_wav(line, full.samples[: int(args.seconds * full.sample_rate)], full.sample_rate)
        data = Path(line).read_bytes()
        audio = load_audio(line)

        proc, url, startup = start_server(os.path.join(tmp, "server.log"), [])
        try:
            with httpx.Client(timeout=120) as client:
                sizes = []

                def request():
                    r = client.post(url + "/v1/animate", files={"audio": ("line.wav", data, "audio/wav")},
                                    data={"format": "json"})
                    r.raise_for_status()
                    sizes.append(len(r.content))

                served = timed(request, args.requests)
        finally:
            proc.terminate()
            proc.wait(30)

        t0 = time.perf_counter()
        gen = load_model()
        loaded = time.perf_counter() - t0
        local = timed(lambda: animate(audio, checkpoint=gen), args.requests)
        decoded = timed(lambda: animate(load_audio(line), checkpoint=gen), args.requests)

    def row(name, xs):
        p50 = statistics.median(xs)
        return (f"| {name} | {p50 * 1000:.0f} | {min(xs) * 1000:.0f} | {max(xs) * 1000:.0f} | "
                f"{audio.duration / p50:.1f}x |")

    print(f"{audio.duration:.1f} s line, {args.requests} timed calls each after one warm-up; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"server start-up (`anim3d serve --port 0`, until listening, model loaded): {startup:.2f} s; "
          f"in-process load_model: {loaded:.2f} s; JSON answer {sizes[-1] / 1000:.0f} kB")
    print()
    print("| what | p50 ms | min ms | max ms | speed (audio s / p50) |")
    print("|---|---|---|---|---|")
    print(row("animate() in-process, audio decoded once", local))
    print(row("load_audio + animate() in-process", decoded))
    print(row("POST /v1/animate (json) through uvicorn on loopback", served))
    print()
    print(f"the server's overhead over animate() at p50: {(statistics.median(served) - statistics.median(local)) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
