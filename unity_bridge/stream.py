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

import socket
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Protocol

import numpy as np

from anim3d.errors import Anim3dError
from anim3d.motion import Motion


class StreamError(Anim3dError):
    """A streaming target that cannot be used (bad host or port)."""


@dataclass
class Frame:
    """One tick of the stream (anim3d's right-handed frame; senders convert)."""

    time: float  # seconds since the stream started
    blendshapes: np.ndarray  # 52, ARKit order
    head_rotation: np.ndarray  # 3, axis-angle radians
    head_translation: np.ndarray  # 3, metres
    eye_rotations: np.ndarray  # 2 x 3, axis-angle (left, right)

    @classmethod
    def neutral(cls, t: float = 0.0) -> "Frame":
        return cls(t, np.zeros(52, np.float32), np.zeros(3, np.float32), np.zeros(3, np.float32), np.zeros((2, 3), np.float32))


class Sender(Protocol):
    """Sends one frame. Senders may also offer ``prepare(frame) -> payload`` and
    ``send_prepared(payload)`` so that encoding happens before the deadline."""

    def send_frame(self, frame: Frame) -> None: ...

    def close(self) -> None: ...


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


# --------------------------------------------------------------- the target
class UdpTarget:
    """A UDP destination. Bad hosts/ports raise StreamError. A receiver that is not listening is no
    error (UDP is fire-and-forget), but the socket is connected, so the host's refusal (ICMP port
    unreachable) comes back on a later send: it is reported once as a warning, and sending goes on."""

    def __init__(self, host: str, port: int):
        if not isinstance(port, int) or not 0 < port < 65536:
            raise StreamError(f"bad OSC port {port!r}: use a number from 1 to 65535")
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        except (socket.gaierror, UnicodeError) as e:
            raise StreamError(f"cannot resolve OSC host {host!r} ({e})") from None
        family, _, _, _, addr = infos[0]
        self.address = addr
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        try:
            self.sock.connect(addr)
        except OSError as e:
            self.sock.close()
            raise StreamError(f"cannot send to {addr[0]}:{addr[1]} ({e.strerror or e})") from None
        self.bytes_sent = 0
        self.refused = 0  # datagrams the receiving host refused

    def send(self, data: bytes) -> None:
        try:
            self.bytes_sent += self.sock.send(data)
        except ConnectionRefusedError:
            self.refused += 1
            if self.refused == 1:
                warnings.warn(f"nothing is listening at {self.address[0]}:{self.address[1]} (the host refused the "
                              "stream); still sending, start the receiver or check --osc", stacklevel=2)
        except BlockingIOError:
            pass  # a full socket buffer: drop the datagram
        except OSError as e:
            raise StreamError(f"cannot send to {self.address[0]}:{self.address[1]} ({e.strerror or e})") from None

    def close(self) -> None:
        self.sock.close()


def parse_target(text: str, default_port: int) -> tuple[str, int]:
    """``HOST:PORT``, ``HOST`` or ``:PORT`` -> (host, port); raises StreamError."""
    text = text.strip()
    host, sep, port_s = text.rpartition(":")
    if not sep:
        host, port_s = text, str(default_port)
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_s)
    except ValueError:
        raise StreamError(f"bad OSC target {text!r}: expected HOST:PORT, e.g. 127.0.0.1:{default_port}") from None
    if not 0 < port < 65536:
        raise StreamError(f"bad OSC port {port} in {text!r}: use a number from 1 to 65535")
    return host, port


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


# ------------------------------------------------------------- a sending process
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


def udp_sender(protocol: str, host: str, port: int) -> Sender:
    """The OSC sender of ``protocol`` ("vmc" or "plain") to host:port (picklable with functools.partial,
    for ``stream_motion_in_process``)."""
    from unity_bridge import plain, vmc

    target = UdpTarget(host, port)
    return vmc.VMCSender(target) if protocol == "vmc" else plain.PlainSender(target)
