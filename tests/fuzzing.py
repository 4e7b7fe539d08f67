"""Helpers of the fuzz tests: byte mutations as hypothesis strategies, a hard time limit per
case, and the check that a reader either succeeds or raises an Anim3dError naming the file."""

from __future__ import annotations

import contextlib
import os
import signal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from anim3d.errors import Anim3dError

EXAMPLES = int(os.environ.get("ANIM3D_FUZZ_EXAMPLES", "0")) or None  # more cases when set (local runs)
CASE_SECONDS = 10  # a case that takes longer is a hang


def fuzz_settings(max_examples: int):
    """Settings of one fuzz test: deterministic, no example database in the work tree, generous deadline."""
    return settings(max_examples=EXAMPLES or max_examples, deadline=5000, derandomize=EXAMPLES is None,
                    database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _flip(data: bytes, spots: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for pos, bit in spots:
        out[pos % len(out)] ^= 1 << bit
    return bytes(out)


def mutations(data: bytes, lo: int = 0, hi: int | None = None) -> st.SearchStrategy[bytes]:
    """``data`` with bit flips, a truncation, an insertion or an overwrite, at positions in [lo, hi)."""
    hi = len(data) if hi is None else hi
    pos = st.integers(lo, max(lo, hi - 1))
    flips = st.lists(st.tuples(pos, st.integers(0, 7)), min_size=1, max_size=8).map(lambda s: _flip(data, s))
    cut = pos.map(lambda p: data[:p])
    insert = st.tuples(pos, st.binary(min_size=1, max_size=16)).map(lambda a: data[: a[0]] + a[1] + data[a[0]:])
    overwrite = st.tuples(pos, st.binary(min_size=1, max_size=8)).map(lambda a: data[: a[0]] + a[1] + data[a[0] + len(a[1]):])
    return st.one_of(flips, cut, insert, overwrite)


class Hang(Exception):
    """A case ran past CASE_SECONDS."""


@contextlib.contextmanager
def time_limit(seconds: float = CASE_SECONDS):
    def on_alarm(signum, frame):
        raise Hang(f"a case ran longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def loads_or_names_the_file(read, path) -> bool:
    """True when ``read()`` succeeds, False when it raises an Anim3dError whose message names
    ``path``; anything else (another exception type, a hang) fails the test."""
    try:
        with time_limit():
            read()
    except Anim3dError as e:
        assert os.path.basename(path) in str(e), f"the error does not name the file: {e}"
        return False
    return True
