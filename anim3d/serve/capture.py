"""The warnings of one request or one stream, kept apart from those of the others running beside it.

``warnings.catch_warnings`` swaps the warnings module's global hooks, so two threads using it at once (the HTTP
worker and the streams' threads) would take each other's warnings and restore each other's hooks. Here one hook,
installed once, sends each warning to the list of the ``collected()`` block the warning is raised in (a context
variable: per thread, per task) and any other to the hook it replaced. anim3d's own ``InputWarning`` (a script
the audio does not say, a truncated file) is shown every time it is raised, not once per place in the code, so
every request that causes one hears of it."""

from __future__ import annotations

import contextlib
import contextvars
import threading
import warnings
from typing import Iterator

_sink: contextvars.ContextVar[list | None] = contextvars.ContextVar("anim3d_serve_warnings", default=None)
_lock = threading.Lock()
_replaced = None  # the showwarning our hook stands in front of


def _route(message, category, filename, lineno, file=None, line=None):
    sink = _sink.get()
    if sink is not None:
        sink.append(str(message))
    elif _replaced is not None:
        _replaced(message, category, filename, lineno, file, line)


def _install() -> None:
    """The hook and the filter, again whenever something (``catch_warnings``: pytest around each test) put the
    module's own back."""
    global _replaced
    from anim3d.errors import InputWarning

    with _lock:
        if warnings.showwarning is not _route:
            _replaced = warnings.showwarning
            warnings.showwarning = _route
        first = warnings.filters[0] if warnings.filters else None
        if first is None or first[0] != "always" or first[2] is not InputWarning:
            warnings.filterwarnings("always", category=InputWarning)


@contextlib.contextmanager
def collected() -> Iterator[list[str]]:
    """The messages of the warnings raised in this block, on this thread (or task), in order."""
    _install()
    sink: list[str] = []
    token = _sink.set(sink)
    try:
        yield sink
    finally:
        _sink.reset(token)
