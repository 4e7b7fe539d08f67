"""Real-time streaming of Motion frames: a pacing loop fed by an iterator of Motion chunks.

``stream_motion(chunks, sender, fps=60)`` pulls consecutive Motion chunks (a whole file as
one chunk, or windows from a live generator), interpolates them at ``fps`` ticks with
``Motion.sample`` and hands each tick to ``sender.send_frame`` at its deadline on a
monotonic clock. For live generation, ``background=True`` pulls the chunks in a separate
thread, and ``stream_motion_in_process`` sends from a separate process (its own clock and
interpreter lock, so the model's work never delays a send). When the stream ends or is interrupted (Ctrl-C), a neutral frame is sent
so that the character does not freeze mid-expression.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from anim3d.motion import Motion
from anim3d.unity_bridge.transport import Frame, Sender


@dataclass
class StreamStats:
    frames: int = 0
    duration: float = 0.0  # wall seconds
    cpu_seconds: float = 0.0  # process CPU time used while streaming (after the first frame was ready; with a live
    # generator in the background thread this includes generating the motion)
    errors_ms: list[float] = field(default_factory=list)  # send time - deadline, per frame
    interrupted: bool = False
    stalls: int = 0  # times the source fell more than max_late behind and the timeline restarted
    held: int = 0  # ticks that repeated the previous frame because the next was not ready (background mode)
    skipped: int = 0  # ticks skipped to catch up when too many frames were waiting (background mode)
    send_times: list[float] = field(default_factory=list)  # clock() after each send
    scheduling: str = ""  # what a sending process got (stream_motion_in_process)

    def percentile(self, q: float) -> float:
        return float(np.percentile(np.abs(self.errors_ms), q)) if self.errors_ms else 0.0

    def interval_percentile(self, q: float) -> float:
        """Percentile of the interval between consecutive sends (ms)."""
        d = np.diff(self.send_times) * 1000.0
        return float(np.percentile(d, q)) if d.size else 0.0

    @property
    def cpu_percent(self) -> float:
        return 100.0 * self.cpu_seconds / self.duration if self.duration > 0 else 0.0


# ------------------------------------------------------------- the ticking
def tick_frames(chunks: Iterable[Motion], fps: float) -> Iterator[Frame]:
    """Consecutive Motion chunks -> Frames at ``fps`` ticks (t = k / fps), interpolated.

    Chunks are pulled lazily, one at a time, only when the next tick needs them, so a live
    generator is read as soon as its windows are ready. Chunk frames follow each other
    at the first chunk's fps; a chunk at another fps is resampled to it.
    """
    src_fps = None
    carry: Motion | None = None  # last frame of the previous chunk, to interpolate across the seam
    offset = 0.0  # source time of ``carry``'s frame (or of the first frame)
    k = 0
    for chunk in chunks:
        if chunk.num_frames == 0:
            continue
        chunk.validate()
        if src_fps is None:
            src_fps = chunk.fps
        elif abs(chunk.fps - src_fps) > 1e-9:
            chunk = chunk.resample(src_fps)
        window = chunk if carry is None else Motion.concatenate([carry, chunk])
        end = offset + (window.num_frames - 1) / src_fps  # source time of the window's last frame
        stop = int(np.floor(end * fps + 1e-9))  # ticks up to and including ``end``
        if stop >= k:
            yield from _frames(window, offset, np.arange(k, stop + 1) / fps)
            k = stop + 1
        carry = window[window.num_frames - 1:]
        offset = end
    if carry is not None:
        # the last frame is shown for 1/src_fps: ticks before the motion's end hold it
        last = int(np.ceil((offset + 1.0 / src_fps) * fps - 1e-9))
        if last > k:
            yield from _frames(carry, offset, np.arange(k, last) / fps)


def _frames(window: Motion, offset: float, times: np.ndarray) -> Iterator[Frame]:
    m = window.sample(times - offset)  # n ticks
    eyes = m.eye_rotations()  # n x 2 x 3
    for i, t in enumerate(times):
        yield Frame(float(t), m.blendshapes[i], m.head_rotation[i], m.head_translation[i], eyes[i])


class _SyncSource:
    """Frames pulled in the sending thread (a file: nothing to wait for)."""

    def __init__(self, frames: Iterator[Frame]):
        self.frames = frames

    def get(self, timeout: float | None = None):
        return next(self.frames, _END)

    def close(self) -> None:
        pass


_END = object()


class _ThreadSource:
    """Frames produced by a background thread (a live generator runs there, so that computing a
    window never delays a send). ``get(timeout)`` returns a Frame, ``_END``, or None when nothing was
    ready in time; an exception in the producer is raised here."""

    def __init__(self, frames: Iterator[Frame], maxsize: int = 600, normal_priority: bool = True):
        import queue
        import threading

        self.q: "queue.Queue" = queue.Queue(maxsize)
        self.pushed: list = []  # items given back by ``unget``
        self.stop = threading.Event()
        self.normal_priority = normal_priority
        self.thread = threading.Thread(target=self._run, args=(frames,), name="anim3d-stream-source", daemon=True)
        self.thread.start()

    def _put(self, item) -> bool:
        import queue

        while not self.stop.is_set():
            try:
                self.q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, frames: Iterator[Frame]) -> None:
        import os

        try:  # a real-time sending thread (anim3d stream --realtime): generation itself stays at normal priority
            if self.normal_priority and os.sched_getscheduler(0) != os.SCHED_OTHER:
                os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        except (AttributeError, OSError):
            pass
        try:
            for f in frames:
                if not self._put(f):
                    return
            self._put(_END)
        except BaseException as e:  # handed to the sending thread, which raises it
            self._put(("error", e))

    def backlog(self) -> int:
        """Frames produced and not yet taken."""
        return self.q.qsize() + len(self.pushed)

    def unget(self, item) -> None:
        self.pushed.append(item)

    def get(self, timeout: float | None = None):
        import queue

        if self.pushed:
            return self.pushed.pop()
        try:
            item = self.q.get(timeout=timeout) if timeout is None or timeout > 0 else self.q.get_nowait()
        except queue.Empty:
            return None
        if isinstance(item, tuple) and item and item[0] == "error":
            raise item[1]
        return item

    def close(self) -> None:
        self.stop.set()


def stream_motion(
    chunks: Iterable[Motion] | Motion,
    sender: Sender,
    fps: float = 60.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    spin: float = 0.0005,
    max_late: float = 0.1,
    on_frame: Callable[[Frame], None] | None = None,
    background: bool = False,
    max_buffer: float = 0.25,
    producer_normal_priority: bool = True,
) -> StreamStats:
    """Send ``chunks`` through ``sender`` at ``fps`` ticks paced by ``clock``; returns timing stats.

    Tick k is due at start + k / fps: the loop sleeps until ``spin`` seconds before the
    deadline and then polls the clock (a short spin keeps the error well under a
    millisecond at little CPU cost). A late tick is sent at once; later deadlines are
    not shifted, so the stream keeps real time; only when the source falls more than
    ``max_late`` seconds behind (a slow generator) is the timeline restarted. Ctrl-C stops the stream; either way a
    neutral frame is sent last.

    ``background``: pull ``chunks`` (e.g. a live generator: audio reading and the model) in a separate
    thread, so that this thread only keeps time and sends. When the next frame is not ready at its tick
    (an underrun), the previous frame is sent again on that tick and the timeline slips by one tick
    (``stats.held``): the receiver keeps getting frames at an even pace and the latency grows just enough
    to absorb the generator's bursts (a real-time caller's pulling thread drops to normal priority unless
    ``producer_normal_priority`` is False). When more than ``max_buffer`` seconds of frames are waiting (the
    generator caught up after a slow spell), one tick is skipped (``stats.skipped``; never more than the
    holds and stalls moved the timeline, at most every other tick) so that the delay they added comes back down
    instead of growing over a long stream.
    """
    if isinstance(chunks, Motion):
        chunks = [chunks]
    if not fps > 0:
        raise ValueError("fps must be positive")
    stats = StreamStats()
    frames = tick_frames(chunks, fps)
    source = _ThreadSource(frames, normal_priority=producer_normal_priority) if background else _SyncSource(frames)
    prepare = getattr(sender, "prepare", None)  # optional: encode ahead, send at the deadline
    old_switch = sys.getswitchinterval()
    if background:
        sys.setswitchinterval(0.0005)  # the sending thread gets the GIL back within 0.5 ms of waking
    cpu0 = time.process_time()
    t = 0.0
    start = clock()
    dt = 1.0 / fps
    slip = 0.0  # seconds the timeline moved back by holds and stalls, not yet taken back by skips
    try:
        # the clock starts when the first frame is ready (loading or a generator's first window)
        frame = source.get()
        start = clock() - (frame.time if frame is not _END else 0.0)
        cpu0 = time.process_time()  # CPU of the streaming itself, not of loading
        hold = False
        while frame is not _END:
            deadline = start + frame.time
            now = clock()
            if now - deadline > max_late:
                # the source fell behind (a slow generator): restart the timeline here rather
                # than rushing the stale frames out
                start += now - deadline
                slip += now - deadline
                deadline = now
                stats.stalls += 1
            payload = prepare(frame) if prepare is not None else None  # encode before waiting
            remaining = deadline - clock()
            if remaining > spin:
                sleep(remaining - spin)
            while clock() < deadline:
                pass
            if prepare is not None:
                sender.send_prepared(payload)
            else:
                sender.send_frame(frame)
            sent = clock()
            stats.errors_ms.append((sent - deadline) * 1000.0)
            stats.send_times.append(sent)
            stats.frames += 1
            stats.held += hold
            t = frame.time
            if on_frame is not None:
                on_frame(frame)
            # the next frame: wait for it until just before the next tick at most
            nxt = source.get(timeout=max(0.0, start + frame.time + dt - clock() - spin) if background else None)
            if nxt is None:  # underrun: the same frame again on the next tick, the timeline slips
                start += dt
                slip += dt
                hold = True
                continue
            hold = False
            # catch up only the slip that holds and stalls added (a fast source such as a file may be far ahead legitimately)
            if background and nxt is not _END and slip >= dt - 1e-9 and source.backlog() > max_buffer * fps:
                later = source.get(timeout=0)  # too far behind: skip this tick (one per tick sent: 2x speed)
                if later is _END:
                    source.unget(_END)
                elif later is not None:
                    nxt = later
                    start -= dt
                    slip -= dt
                    stats.skipped += 1
            frame = nxt
    except KeyboardInterrupt:
        stats.interrupted = True
    finally:
        source.close()
        if background:
            sys.setswitchinterval(old_switch)
        sender.send_frame(Frame.neutral(t + 1.0 / fps))
        stats.duration = clock() - start
        stats.cpu_seconds = time.process_time() - cpu0
    return stats
