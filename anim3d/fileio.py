"""Writing outputs so that nothing half-written is ever left behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Iterator

from anim3d.errors import InputError


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``.

    If the body raises, the temporary file is removed and ``path`` is untouched.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(path, f"output folder does not exist: {folder}")
    suffix = os.path.splitext(path)[1]  # keep the extension: some writers pick the format from it
    fd, tmp = tempfile.mkstemp(prefix=".anim3d-", suffix=".tmp" + suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
