"""Progress display for long jobs (tqdm), switched off by ``--quiet``."""

from __future__ import annotations

from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
_enabled = True


def set_enabled(on: bool) -> None:
    global _enabled
    _enabled = bool(on)


def progress(iterable: Iterable[T] | None = None, *, desc: str = "", total: int | float | None = None, unit: str = "it") -> Iterator[T]:
    """A tqdm progress bar on stderr (or a silent pass-through when disabled)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, unit=unit, disable=not _enabled, leave=False, dynamic_ncols=True)
