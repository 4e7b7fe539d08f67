"""How long one client waits for POST /v1/animate through a real server, against animate() in-process; and
whether WS /v1/stream keeps up with speech for 1, 2 and 4 clients at once.

POST: a 5 s line (the start of examples/hello.wav), format json, one client, one request at a time: the server is
`anim3d serve --port 0` in a subprocess (the model loaded at start-up, uvicorn on loopback), called with httpx
over one kept-alive connection; in the same run, animate() on the same audio in this process (audio decoded once,
the model loaded once). Each side gets one warm-up call, then --requests timed ones.

Stream: a 10 s WAV (examples/hello.wav, then its start again) sent by each client over a websocket (the
`websockets` package, which uvicorn serves WebSockets with) in 20 ms messages of s16le PCM, each at the moment its
last sample would have been spoken, then {"end": true}; measured at the client: the first frame's latency after
the first audio message was sent, frames received per second of audio, and each frame's lag behind its audio
(received at - the moment the end of the frame's audio was sent; the frames after the end of the audio count
from the end). A stream keeps real time when every frame arrives within 0.5 s of its audio. The server's CPU
(user + system time of its process over the wall time) is read from /proc. One 1 s stream warms the server up
first (the first stream warms torch up: 0.4 s). Clients of one row start together, from one asyncio loop.
``--baseline REV``: the same stream rows against a server running anim3d as it was at commit REV
(``baseline_tree``), in the same run, each baseline row just before this checkout's.

    python benchmarks/bench_serve.py [--seconds 5] [--requests 10] [--stream-seconds 10] [--streams 1,2,4]
    python benchmarks/bench_serve.py --only stream --stream-seconds 120 --streams 1,4 --baseline 9842f2d
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHUNK_S = 0.02  # seconds of audio per message
REAL_TIME_S = 0.5  # a stream keeps real time when every frame arrives within this of its audio


# `python -m anim3d` with anim3d imported from a baseline commit's files (argv[1])
BASELINE_MAIN = ("import sys; sys.path.insert(0, {here!r}); import baseline_tree; baseline_tree.use(sys.argv.pop(1)); "
                 "from anim3d.cli import main; sys.exit(main())")


def start_server(log_path: str, extra: list[str], tree: str | None = None) -> tuple[subprocess.Popen, str, float]:
    t0 = time.perf_counter()
    run = [sys.executable, "-m", "anim3d"]
    if tree:
        run = [sys.executable, "-c", BASELINE_MAIN.format(here=str(Path(__file__).resolve().parent)), tree]
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*run, "serve", "--port", "0", "-q", *extra], stdout=subprocess.DEVNULL, stderr=log)
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


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one_stream(url: str, pcm: bytes, rate: int) -> dict:
    """One client: start, the audio at the pace of speech, end; the times it saw."""
    from websockets.asyncio.client import connect

    chunk = int(rate * CHUNK_S) * 2
    duration = len(pcm) / 2 / rate
    async with connect(url.replace("http://", "ws://") + "/v1/stream", max_size=None) as ws:
        await ws.send(json.dumps({"sample_rate": rate, "seed": 0}))
        started = json.loads(await ws.recv())
        fps = started["fps"]
        t0 = time.perf_counter()  # the speech starts: message k is sent once its last sample was spoken
        first_sent = None

        async def send():
            nonlocal first_sent
            for k, i in enumerate(range(0, len(pcm), chunk)):
                due = t0 + min(i + chunk, len(pcm)) / 2 / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                await ws.send(pcm[i : i + chunk])
                if k == 0:
                    first_sent = time.perf_counter()
            await ws.send(json.dumps({"end": True}))

        sender = asyncio.create_task(send())
        frames, lags, done = 0, [], None
        async for message in ws:
            now = time.perf_counter()
            body = json.loads(message)
            if "frame" in body and not body.get("neutral"):
                if frames == 0:
                    first = now - first_sent
                lags.append(now - (t0 + min((body["frame"] + 1) / fps, duration)))
                frames += 1
            elif "done" in body:
                done = body
        await sender
    assert done and done["frames"] == frames, done
    return {"first": first, "frames": frames, "duration": duration, "lags": lags}


async def streams_at_once(url: str, pcm: bytes, rate: int, n: int) -> list[dict]:
    return await asyncio.gather(*(one_stream(url, pcm, rate) for _ in range(n)))


def stream_rows(stream_seconds: float, counts: list[int], tmp: str, baseline: str | None = None) -> None:
    import numpy as np

    from anim3d.audio import load_audio

    full = load_audio(REPO / "examples" / "hello.wav")
    rate = full.sample_rate
    x = np.tile(full.samples, int(np.ceil(stream_seconds * rate / len(full.samples))))[: int(stream_seconds * rate)]
    pcm = (np.clip(x, -1, 1) * 32767).round().astype("<i2").tobytes()
    servers = [("this checkout", None)]
    if baseline:
        import baseline_tree

        servers.insert(0, (f"{baseline} (baseline)", str(baseline_tree.export(baseline, tmp))))
    load0 = os.getloadavg()[0]
    started = {}
    rows = []
    for n in counts:  # per count, the servers one after the other: a busy moment of the machine hits both
        for name, tree in servers:
            proc, url, started[name] = start_server(os.path.join(tmp, "stream-server.log"),
                                                    ["--max-streams", str(max(counts))], tree)
            try:
                asyncio.run(streams_at_once(url, pcm[: rate * 2], rate, 1))  # warm-up: 1 s
                c0, w0 = server_cpu_seconds(proc.pid), time.perf_counter()
                results = asyncio.run(streams_at_once(url, pcm, rate, n))
                cpu = server_cpu_seconds(proc.pid) - c0
                rows.append((name, n, results, cpu / (time.perf_counter() - w0), cpu / (n * stream_seconds)))
            finally:
                proc.terminate()
                proc.wait(30)
    print(f"WS /v1/stream: a {stream_seconds:g} s WAV in {CHUNK_S * 1000:g} ms messages at the pace of speech, "
          f"json frames; {os.cpu_count()} CPUs, load average {load0:.2f} before, {os.getloadavg()[0]:.2f} after; "
          "server started in " + ", ".join(f"{t:.2f} s ({name})" for name, t in started.items()))
    print()
    print("| server | streams at once | first frame after the first audio, ms (mean / max) | frames per s of audio "
          "| lag of a frame behind its audio, ms (p50 / max) | max lag per stream, ms "
          "| real time (all frames within 0.5 s) | server CPU, cores | server CPU s per audio s per stream |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, n, results, cores, per_stream in rows:
        firsts = [r["first"] for r in results]
        lags = [lag for r in results for lag in r["lags"]]
        fps = statistics.mean(r["frames"] / r["duration"] for r in results)
        kept = sum(max(r["lags"]) <= REAL_TIME_S for r in results)
        each = ", ".join(f"{max(r['lags']) * 1000:.0f}" for r in results)
        print(f"| {name} | {n} | {statistics.mean(firsts) * 1000:.0f} / {max(firsts) * 1000:.0f} | {fps:.1f} "
              f"| {statistics.median(lags) * 1000:.0f} / {max(lags) * 1000:.0f} | {each} "
              f"| {'yes' if kept == n else 'no'} ({kept} of {n}) | {cores:.2f} | {per_stream:.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="length of the line (default 5)")
    ap.add_argument("--requests", type=int, default=10, help="timed requests per side (default 10)")
    ap.add_argument("--stream-seconds", type=float, default=10.0, help="length of a stream's audio (default 10)")
    ap.add_argument("--streams", default="1,2,4", help="clients at once, one row each (default 1,2,4)")
    ap.add_argument("--only", choices=("post", "stream"), help="one part only (default both)")
    ap.add_argument("--baseline", metavar="REV", help="stream rows against the server of this commit too (same run)")
    args = ap.parse_args()

    if args.only != "post":
        with tempfile.TemporaryDirectory() as tmp:
            stream_rows(args.stream_seconds, [int(n) for n in args.streams.split(",")], tmp, args.baseline)
        if args.only == "stream":
            return
        print()

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
