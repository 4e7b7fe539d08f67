"""Sending from a process of its own: the model generates in this process while a child process, with its own
clock and interpreter lock, paces and sends the frames (``stream_motion_in_process``)."""

from __future__ import annotations

import time
from typing import Callable, Iterable

import numpy as np

from anim3d.motion import Motion
from anim3d.unity_bridge.stream import StreamStats, stream_motion
from anim3d.unity_bridge.transport import Sender, StreamError


def request_realtime() -> str:
    """SCHED_FIFO priority 10 for the calling thread (and threads it starts; called first thing in a
    process, for the process); returns what was granted."""
    import os

    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        return "real-time scheduling"
    except (AttributeError, PermissionError, OSError) as e:
        return f"normal scheduling (real-time refused: {e})"


def _sender_process(chunk_q, result_q, make_sender, fps: float, options: dict, realtime: bool = False) -> None:
    """Child process: build the sender, report ready, then stream the Motion chunks that arrive on
    ``chunk_q`` (None ends) with ``stream_motion(background=True)``; the stats go back on ``result_q``."""
    import signal

    from anim3d.errors import show_warnings_as_lines

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it ends the chunks, we finish cleanly
    show_warnings_as_lines("anim3d stream")
    scheduling = request_realtime() if realtime else "normal scheduling"
    try:
        sender = make_sender()
        Motion.neutral(2).sample(np.array([0.0, 0.01])).eye_rotations()  # import scipy's Slerp before the clock runs
    except BaseException as e:
        result_q.put(("error", e))
        return
    result_q.put(("ready", None))

    def chunks():
        while True:
            item = chunk_q.get()
            if item is None:
                return
            yield item

    try:
        # the pulling thread here only unpickles and interpolates: it keeps the sender's priority (no GIL inversion)
        stats = stream_motion(chunks(), sender, fps=fps, background=True, producer_normal_priority=False, **options)
        stats.scheduling = scheduling
        result_q.put(("stats", stats))
    except BaseException as e:
        result_q.put(("error", e))
    finally:
        sender.close()


def stream_motion_in_process(chunks: Iterable[Motion], make_sender: Callable[[], Sender], fps: float = 60.0,
                             ready_timeout: float = 60.0, realtime: bool = False, **options) -> StreamStats:
    """Like ``stream_motion(background=True)``, but the sending runs in a separate process with its own
    clock and its own interpreter lock: this process only produces ``chunks`` (a live generator) and
    hands them over. ``make_sender`` is a picklable callable that builds the sender in the child.

    The child is started and ready (sender built, imports done) before the first chunk is pulled, so a
    live source's clock starts only then. Ctrl-C here ends the chunks; the child sends what it has, then
    a neutral frame. The returned stats are the child's, with ``cpu_seconds`` covering both processes.
    ``realtime``: the sending process asks for SCHED_FIFO (needs root or CAP_SYS_NICE; ``stats.scheduling``
    says what it got); this process, the generator, keeps normal priority.
    """
    import multiprocessing as mp
    import queue as queue_mod

    ctx = mp.get_context("spawn")  # no fork of a process that may hold torch's thread pools
    chunk_q, result_q = ctx.Queue(), ctx.Queue()
    proc = ctx.Process(target=_sender_process, args=(chunk_q, result_q, make_sender, fps, options, realtime),
                       name="anim3d-sender", daemon=True)
    proc.start()

    def result(timeout: float):
        t_end = time.monotonic() + timeout
        while True:
            try:
                return result_q.get(timeout=0.2)
            except queue_mod.Empty:
                if not proc.is_alive() or time.monotonic() > t_end:
                    raise StreamError("the sending process stopped without a result") from None

    kind, value = result(ready_timeout)
    if kind == "error":
        proc.join(5)
        raise value
    cpu0 = time.process_time()
    interrupted = False
    try:
        for chunk in chunks:
            if chunk.num_frames:
                chunk_q.put(chunk)
            if not proc.is_alive():
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        chunk_q.put(None)
        try:
            kind, value = result(3600.0)
        finally:
            proc.join(5)
    if kind == "error":
        raise value
    value.interrupted = value.interrupted or interrupted
    value.cpu_seconds += time.process_time() - cpu0
    return value
