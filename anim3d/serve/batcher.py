"""The live streams' windows denoised together: ``WindowBatcher.sample`` is the window sampler every stream's
``StreamingAnimator`` is given (its ``sampler``).

A stream's thread computes its window's features and conditions, hands the window here and waits; ``workers``
threads take the windows waiting, those that can share a pass (``windows.batch_key``: the same sampler, steps,
guidance and window length), at most ``max_batch``, and denoise them in one forward pass per sampler step
(``windows.sample_batch``). The frames are those each stream would make alone, up to float rounding.

Nothing waits to fill a batch: a worker that is free takes what is there, one window or several. When the streams
make windows faster than one pass per window can follow (four streams on two cores), the windows that came while
a pass ran go in the next one together, where a window costs less (one pass of the model's few small matrices
for several streams, one thread's Python instead of several contending for the interpreter). ``workers`` (default:
the CPUs this process may use, at most 2) bounds how many passes run at once, each on one torch thread, so the
streams' model work never asks for more threads than there are cores.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np


@dataclass(eq=False)
class _Window:
    key: tuple
    cond: dict
    noise: object  # 1 x W x D torch tensor
    sampling: object
    steps: int | None
    future: Future = field(default_factory=Future)


def default_workers() -> int:
    """``ANIM3D_STREAM_WORKERS``, else the CPUs this process may run on, at most 2 (a third pass would only wait for
    a core). One worker puts the most windows in a pass (the least CPU per window) but lets windows wait longer."""
    value = os.environ.get("ANIM3D_STREAM_WORKERS", "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"ANIM3D_STREAM_WORKERS must be a whole number >= 1, got {value!r}")
        return int(value)
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(2, n))


class WindowBatcher:
    """Denoises the windows of many streams on ``workers`` threads, several windows per pass (see the module
    docstring). ``sample`` has the signature of ``windows.sample_one``."""

    def __init__(self, gen, workers: int | None = None, max_batch: int = 8):
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.gen = gen
        self.workers = int(default_workers() if workers is None else workers)
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.max_batch = int(max_batch)
        self._cv = threading.Condition()
        self._pending: list[_Window] = []
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._passes = self._windows = 0
        self._cpu = 0.0
        self._sizes: dict[int, int] = {}  # batch size -> passes of that size

    def sample(self, gen, cond: dict, noise, sampling, steps: int | None = None) -> np.ndarray:
        """One window: W x D normalised, as ``windows.sample_one`` gives it; blocks until its pass is done."""
        from anim3d.inference.windows import batch_key, sample_one

        key = batch_key(sampling, steps, noise)
        with self._cv:
            alone = key is None or gen is not self.gen or self._closed
            if not alone:
                window = _Window(key, cond, noise, sampling, steps)
                self._pending.append(window)
                if len(self._threads) < self.workers:
                    self._start_worker()
                self._cv.notify()
        if alone:
            return sample_one(gen, cond, noise, sampling, steps)
        return window.future.result()

    def state(self) -> dict:
        """Passes run, windows denoised, the mean windows per pass, passes by size, and the workers' CPU seconds."""
        with self._cv:
            return {"workers": self.workers, "passes": self._passes, "windows": self._windows,
                    "mean_batch": round(self._windows / self._passes, 2) if self._passes else None,
                    "sizes": dict(sorted(self._sizes.items())), "cpu_s": round(self._cpu, 3),
                    "waiting": len(self._pending)}

    def close(self) -> None:
        """The workers finish the windows handed in and end; later windows are sampled on their callers' threads."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def _start_worker(self) -> None:
        t = threading.Thread(target=self._work, name=f"anim3d-windows-{len(self._threads)}", daemon=True)
        self._threads.append(t)
        t.start()

    def _take(self) -> list[_Window] | None:
        """The oldest waiting window and those that can share its pass (at most max_batch); None once closed."""
        with self._cv:
            while not self._pending and not self._closed:
                self._cv.wait()
            if not self._pending:
                return None
            key = self._pending[0].key
            batch = [w for w in self._pending if w.key == key][: self.max_batch]
            taken = set(map(id, batch))
            self._pending = [w for w in self._pending if id(w) not in taken]
            return batch

    def _work(self) -> None:
        from anim3d.inference.windows import sample_batch, sample_one

        while (batch := self._take()) is not None:
            c0 = time.thread_time()
            try:
                first = batch[0]
                if len(batch) == 1:
                    out = [sample_one(self.gen, first.cond, first.noise, first.sampling, first.steps)]
                else:
                    out = sample_batch(self.gen, [w.cond for w in batch], [w.noise for w in batch], first.sampling,
                                       first.steps)
            except BaseException as e:  # each stream reports it as its own failure
                for w in batch:
                    w.future.set_exception(e)
            else:
                for w, x in zip(batch, out):
                    w.future.set_result(x)
            with self._cv:
                self._passes += 1
                self._windows += len(batch)
                self._sizes[len(batch)] = self._sizes.get(len(batch), 0) + 1
                self._cpu += time.thread_time() - c0
