"""A load test of `anim3d serve` on loopback: one client's POST /v1/animate, N clients posting at once, M live
WebSocket streams at once (alone, then with the N clients' posts during them); latency, throughput, errors, the
server's CPU and memory.

The server is `anim3d serve --port 0 --max-queue N --max-streams M` in a subprocess (the model loaded at start-up;
--max-queue N so that N clients posting at once are queued, not refused). A line is the first 5 s of
examples/hello.wav (a WAV upload, format json), posted with httpx (async; one connection per client).

Rows:
- one client: one warm-up, then --single POSTs one after another (p50 is the issue's "<= 0.5 s" goal);
- N clients at once, each posting --per-client lines one after another; run --rounds times, so the memory after
  round 1 and after the last can be compared (flat memory: no growth from round to round);
- one stream alone (the baseline), then M streams at once: each sends --stream-seconds of audio (hello.wav
  looped) in 20 ms messages of s16le PCM, each at the moment its last sample is spoken, then {"end": true} (as
  bench_serve.py's client); per stream,
  the frames received against the frames of the audio sent (30 per s), and each frame's lag behind its audio
  (received at - the moment the end of its audio was sent); a stream keeps real time when none lags more than
  0.5 s. A client waits at most --give-up s after the end of its audio (a server far behind is not waited for:
  the frames not received by then count as missing, and the stream's max lag is at least the wait, shown ">");
- the same M streams with the N clients' posts (--per-client each) sent 10 s into them (a quarter into streams
  shorter than 40 s; --no-mixed: not run).

Errors are every answer that is not 200 and every failed stream; there must be none. Server CPU: user + system
time of its process over the wall time (/proc); memory: its RSS (psutil) after start-up, after the warm-up
request, after each phase, and the peak sampled every 0.2 s.

    nice python benchmarks/bench_serve_load.py [--clients 20] [--per-client 2] [--streams 4] [--stream-seconds 120]
    nice python benchmarks/bench_serve_load.py --stream-seconds 30 --give-up 10 --no-mixed
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from bench_serve import CHUNK_S, REAL_TIME_S, server_cpu_seconds, start_server

REPO = Path(__file__).resolve().parents[1]
LINE_S = 5.0
MIXED_DELAY_S = 10.0  # the posts of the mixed row start this long into the streams (a quarter of short ones)


class Memory:
    """The server's RSS (MB), sampled every 0.2 s on a thread: the peak since the last ``mark``."""

    def __init__(self, pid: int):
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = self.now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now(self) -> float:
        return self.proc.memory_info().rss / 1e6

    def mark(self) -> float:
        self.peak = self.now()
        return self.peak

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.peak = max(self.peak, self.now())
            except Exception:  # the server has exited
                return

    def stop(self) -> None:
        self._stop.set()


async def post_line(client, url: str, data: bytes) -> tuple[float, str | None]:
    """One POST: (seconds to the whole answer, the error or None)."""
    t0 = time.perf_counter()
    try:
        r = await client.post(url + "/v1/animate", files={"audio": ("line.wav", data, "audio/wav")},
                              data={"format": "json"})
        await r.aread()
        error = None if r.status_code == 200 else f"{r.status_code}: {r.text[:200]}"
    except Exception as e:  # a connection the server dropped, a timeout
        error = f"{type(e).__name__}: {e}"
    return time.perf_counter() - t0, error


async def clients_posting(url: str, data: bytes, clients: int, per_client: int, delay: float = 0.0):
    """``clients`` clients at once, each posting ``per_client`` lines one after another: (latencies, errors, wall)."""
    import httpx

    await asyncio.sleep(delay)

    async def one_client():
        async with httpx.AsyncClient(timeout=600) as client:
            return [await post_line(client, url, data) for _ in range(per_client)]

    t0 = time.perf_counter()
    results = await asyncio.gather(*(one_client() for _ in range(clients)))
    wall = time.perf_counter() - t0
    flat = [x for r in results for x in r]
    return [t for t, _ in flat], [e for _, e in flat if e], wall


async def paced_stream(url: str, pcm: bytes, rate: int, give_up: float) -> dict:
    """One stream: start, the audio at the pace of speech, end; the frames and their lags, waiting at most
    ``give_up`` s after the end of the audio for the rest (a server far behind is not waited for: the stream is
    closed, and the frames not received count as missing)."""
    import json

    from websockets.asyncio.client import connect

    chunk = int(rate * CHUNK_S) * 2
    duration = len(pcm) / 2 / rate
    async with connect(url.replace("http://", "ws://") + "/v1/stream", max_size=None) as ws:
        await ws.send(json.dumps({"sample_rate": rate, "seed": 0}))
        fps = json.loads(await ws.recv())["fps"]
        t0 = time.perf_counter()  # the speech starts: message k is sent once its last sample was spoken

        async def send():
            for i in range(0, len(pcm), chunk):
                wait = t0 + min(i + chunk, len(pcm)) / 2 / rate - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                await ws.send(pcm[i : i + chunk])
            await ws.send(json.dumps({"end": True}))

        sender = asyncio.create_task(send())
        deadline = t0 + duration + give_up
        frames, lags, done = 0, [], None
        while done is None and (left := deadline - time.perf_counter()) > 0:
            try:
                message = await asyncio.wait_for(ws.recv(), left)
            except asyncio.TimeoutError:
                break
            now = time.perf_counter()
            body = json.loads(message)
            if "frame" in body and not body.get("neutral"):
                lags.append(now - (t0 + min((body["frame"] + 1) / fps, duration)))
                frames += 1
            elif "done" in body:
                done = body
            elif "error" in body:
                raise RuntimeError(body["error"])
        await sender
    expected = done["frames"] if done else int(np.ceil(duration * fps - 1e-9))
    behind = None if done else time.perf_counter() - (t0 + min((frames + 1) / fps, duration))  # the first missing
    return {"frames": frames, "expected": expected, "duration": duration, "lags": lags, "complete": done is not None,
            "max_lag": max(lags + ([behind] if behind is not None else [])), "fps": fps}


async def streams_at_once(url: str, pcm: bytes, rate: int, n: int, give_up: float):
    """``n`` streams at once: (results, errors)."""
    outs = await asyncio.gather(*(paced_stream(url, pcm, rate, give_up) for _ in range(n)), return_exceptions=True)
    errors = [f"{type(o).__name__}: {o}" for o in outs if not isinstance(o, dict)]
    return [o for o in outs if isinstance(o, dict)], errors


def mixed_delay(stream_seconds: float) -> float:
    return min(MIXED_DELAY_S, stream_seconds / 4)


async def mixed(url: str, pcm: bytes, rate: int, n: int, give_up: float, data: bytes, clients: int,
                per_client: int):
    delay = mixed_delay(len(pcm) / 2 / rate)
    (results, stream_errors), (lat, post_errors, wall) = await asyncio.gather(
        streams_at_once(url, pcm, rate, n, give_up), clients_posting(url, data, clients, per_client, delay))
    return results, stream_errors, lat, post_errors, wall


def wait_idle(url: str, limit: float = 300.0) -> float:
    """Wait until the server runs no request and no stream (/health): a stream whose client gave up still finishes
    the work in hand. The seconds waited."""
    import httpx

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        h = httpx.get(url + "/health", timeout=30).json()
        if h["queue"]["running"] == 0 and h["queue"]["waiting"] == 0 and h["streams"]["open"] == 0:
            return time.perf_counter() - t0
        time.sleep(0.2)
    raise SystemExit(f"the server was still busy {limit:g} s after the last phase: {h}")


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q / 100 * (len(xs) - 1)))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=20, help="clients posting at once (default 20)")
    ap.add_argument("--per-client", type=int, default=2, help="lines each client posts, one after another (default 2)")
    ap.add_argument("--rounds", type=int, default=2, help="times the clients' burst is run (default 2)")
    ap.add_argument("--single", type=int, default=20, help="POSTs of the one-client row (default 20)")
    ap.add_argument("--streams", type=int, default=4, help="live streams at once (default 4)")
    ap.add_argument("--stream-seconds", type=float, default=120.0, help="audio per stream, s (default 120)")
    ap.add_argument("--give-up", type=float, default=30.0,
                    help="seconds a stream's client waits after the end of its audio for the last frames (default 30)")
    ap.add_argument("--no-mixed", action="store_true", help="skip the row of streams and posts together")
    args = ap.parse_args()

    from anim3d.audio import load_audio, save_wav

    full = load_audio(REPO / "examples" / "hello.wav")
    rate = full.sample_rate
    reps = int(np.ceil(args.stream_seconds * rate / len(full.samples)))
    x = np.tile(full.samples, reps)[: int(args.stream_seconds * rate)]
    pcm = (np.clip(x, -1, 1) * 32767).round().astype("<i2").tobytes()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        line = os.path.join(tmp, "line.wav")
        save_wav(line, full.samples[: int(LINE_S * rate)], rate)
        data = Path(line).read_bytes()
        limits = ["--max-queue", str(max(8, args.clients)), "--max-streams", str(args.streams)]
        proc, url, startup = start_server(os.path.join(tmp, "server.log"), limits)
        rows, stream_rows, notes, notes_waits = [], [], [], []
        try:
            mem = Memory(proc.pid)
            rss_start = mem.now()

            def phase(fn):
                waited = wait_idle(url)
                if waited > 1:
                    notes_waits.append(waited)
                c0, w0 = server_cpu_seconds(proc.pid), time.perf_counter()
                mem.mark()
                out = fn()
                cores = (server_cpu_seconds(proc.pid) - c0) / (time.perf_counter() - w0)
                return out, cores, mem.peak, mem.now()

            # one client, one request at a time (its first request warms the server up)
            lat, err, _ = asyncio.run(clients_posting(url, data, 1, 1))
            assert not err, err
            rss_warm = mem.now()
            (lat, err, wall), cores, peak, after = phase(
                lambda: asyncio.run(clients_posting(url, data, 1, args.single)))
            rows.append(("1 client, one POST after another", len(lat), err, lat, wall, cores, rss_warm, peak, after))
            for r in range(args.rounds):
                before = mem.now()
                (lat, err, wall), cores, peak, after = phase(
                    lambda: asyncio.run(clients_posting(url, data, args.clients, args.per_client)))
                rows.append((f"{args.clients} clients at once, {args.per_client} POSTs each (round {r + 1})", len(lat),
                             err, lat, wall, cores, before, peak, after))
            asyncio.run(streams_at_once(url, pcm[: rate * 2], rate, 1, 60))  # warm-up: a 1 s stream
            for n in sorted({1, args.streams}):  # one stream alone: the baseline
                before = mem.now()
                (results, err), cores, peak, after = phase(
                    lambda n=n: asyncio.run(streams_at_once(url, pcm, rate, n, args.give_up)))
                stream_rows.append((f"{n} stream{'s at once' if n > 1 else ' alone'}", results, err, cores, before,
                                    peak, after))
            if not args.no_mixed:
                before = mem.now()
                (results, err, lat, post_err, wall), cores, peak, after = phase(lambda: asyncio.run(
                    mixed(url, pcm, rate, args.streams, args.give_up, data, args.clients, args.per_client)))
                name = (f"{args.streams} streams, and {args.clients} clients posting {args.per_client} each from "
                        f"{mixed_delay(args.stream_seconds):g} s in")
                stream_rows.append((name, results, err, cores, before, peak, after))
                rows.append((f"{args.clients} clients at once, {args.per_client} POSTs each, during "
                             f"{args.streams} streams", len(lat), post_err, lat, wall, cores, before, peak, after))
            rss_end = mem.now()
            mem.stop()
        finally:
            proc.terminate()
            proc.wait(30)

    print(f"anim3d serve on loopback (--max-queue {max(8, args.clients)} --max-streams {args.streams}), started in "
          f"{startup:.2f} s; {os.cpu_count()} CPUs, load average {load_before[0]:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after; a line: {LINE_S:g} s WAV, format json")
    print(f"server RSS: {rss_start:.0f} MB after start-up, {rss_warm:.0f} MB after the first request, {rss_end:.0f} MB "
          "at the end")
    print()
    print("| POST /v1/animate | requests | errors | latency p50 / p99 ms (min / max) | p50 / one client's p50 "
          "| throughput, requests/s (audio s per s) | server CPU, cores | server RSS MB: before -> after (peak) |")
    print("|---|---|---|---|---|---|---|---|")
    single_p50 = pct(rows[0][3], 50)
    for name, n, err, lat, wall, cores, before, peak, after in rows:
        print(f"| {name} | {n} | {len(err)} | {pct(lat, 50) * 1000:.0f} / {pct(lat, 99) * 1000:.0f} "
              f"({min(lat) * 1000:.0f} / {max(lat) * 1000:.0f}) | {pct(lat, 50) / single_p50:.1f}x "
              f"| {n / wall:.1f} ({n * LINE_S / wall:.0f}) "
              f"| {cores:.2f} | {before:.0f} -> {after:.0f} ({peak:.0f}) |")
        notes += err
    print()
    print(f"| WS /v1/stream, {args.stream_seconds:g} s of audio each in 20 ms messages at the pace of speech | streams "
          "| errors | frames received / of the audio sent (min over streams, per s of audio) | lag behind the audio, "
          "ms: p50 / p99 / max | kept real time (max lag <= 0.5 s) | server CPU, cores (per stream / one stream "
          "alone's) | server RSS MB: before -> after (peak) |")
    print("|---|---|---|---|---|---|---|---|")
    alone = stream_rows[0][3]
    for name, results, err, cores, before, peak, after in stream_rows:
        notes += err
        n = len(results) + len(err)
        share = f"{cores:.2f} ({cores / n / alone:.2f}x)"
        if not results:
            print(f"| {name} | {n} | {len(err)} | - | - | - | {share} | {before:.0f} -> {after:.0f} ({peak:.0f}) |")
            continue
        lags = [lag for r in results for lag in r["lags"]] or [float("nan")]
        worst = min(results, key=lambda r: r["frames"] / r["expected"])
        kept = sum(r["complete"] and r["max_lag"] <= REAL_TIME_S for r in results)
        per_stream = ", ".join(f"{'' if r['complete'] else '>'}{r['max_lag']:.2f}" for r in results)
        print(f"| {name} | {len(results) + len(err)} | {len(err)} | {worst['frames']} / {worst['expected']} "
              f"({worst['frames'] / worst['duration']:.1f} per s) | {statistics.median(lags) * 1000:.0f} / "
              f"{pct(lags, 99) * 1000:.0f} / {max(lags) * 1000:.0f} | {'yes' if kept == len(results) else 'no'} "
              f"({kept} of {len(results) + len(err)}; max lag per stream: {per_stream} s) | {share} "
              f"| {before:.0f} -> {after:.0f} ({peak:.0f}) |")
    if notes_waits:
        print(f"\n(the server finished the streams' work in hand for {', '.join(f'{w:.0f}' for w in notes_waits)} s "
              "after their clients gave up, before the next row)")
    for e in notes[:10]:
        print("error:", e, file=sys.stderr)
    if notes:
        sys.exit(1)


if __name__ == "__main__":
    main()
