"""The bounded work queue in front of the model: one worker thread runs the requests one at a time (the model's
sampler uses one CPU thread per request and ``torch.set_num_threads`` is process-wide, so requests are not run
side by side); at most ``max_queue`` more wait. A request that finds the queue full is refused at once
(``QueueFull``: the server answers 503 with Retry-After) rather than waiting without bound.

A request that times out gives its answer up, not its work: a job still waiting is cancelled, a running one
(torch cannot be interrupted) finishes and holds its place until then, so the bound counts real work."""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

WORKERS = 1


class QueueFull(Exception):
    """No room in the queue; ``retry_after``: whole seconds until a place is likely free."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class WorkQueue:
    """Jobs run on one worker thread, at most ``1 + max_queue`` admitted at a time."""

    def __init__(self, max_queue: int):
        if max_queue < 0:
            raise ValueError(f"max_queue must be >= 0, got {max_queue}")
        self.max_queue = int(max_queue)
        self.capacity = WORKERS + self.max_queue
        self._executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="anim3d-serve")
        self._lock = threading.Lock()
        self._admitted = 0
        self._running = 0
        self._done = 0
        self._mean_seconds: float | None = None  # running mean of a job's time, for Retry-After

    def submit(self, fn: Callable[[], object]) -> Future:
        """Run ``fn()`` on the worker; QueueFull when ``1 + max_queue`` jobs are already admitted."""
        with self._lock:
            if self._admitted >= self.capacity:
                raise QueueFull(f"the server is busy: {self._admitted} requests are running or waiting, "
                                f"the most it takes (--max-queue {self.max_queue} besides the one running); retry later",
                                self._retry_after())
            self._admitted += 1
        try:
            future = self._executor.submit(self._timed, fn)
        except BaseException:
            self._release(None)
            raise
        future.add_done_callback(self._release)
        return future

    def state(self) -> dict:
        """The queue's numbers for /health."""
        with self._lock:
            return {"running": self._running, "waiting": self._admitted - self._running, "max_queue": self.max_queue,
                    "workers": WORKERS, "done": self._done,
                    "mean_seconds": None if self._mean_seconds is None else round(self._mean_seconds, 3)}

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _timed(self, fn: Callable[[], object]):
        with self._lock:
            self._running += 1
        t0 = time.perf_counter()
        try:
            return fn()
        finally:
            took = time.perf_counter() - t0
            with self._lock:
                self._running -= 1
                self._mean_seconds = took if self._mean_seconds is None else 0.8 * self._mean_seconds + 0.2 * took

    def _release(self, future: Future | None) -> None:
        with self._lock:
            self._admitted -= 1
            self._done += future is not None and not future.cancelled()

    def _retry_after(self) -> int:
        """Seconds until the jobs ahead are likely done (at least 1), from the running mean of a job's time."""
        per_job = self._mean_seconds if self._mean_seconds is not None else 1.0
        return max(1, math.ceil(per_job * self._admitted / WORKERS))
