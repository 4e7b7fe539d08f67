"""Writing outputs so that nothing half-written is ever left behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Iterator

from anim3d.errors import InputError

NPZ_MAX_BYTES = 4 * 2**30  # larger arrays in an NPZ are a corrupt file or a zip bomb


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


def read_npz(path: str | os.PathLike, *, what: str = "NPZ file", error: type[InputError] = InputError,
             not_found: str = "file not found", max_bytes: int = NPZ_MAX_BYTES) -> dict:
    """All arrays of an NPZ file (never unpickled) as a dict; a missing or unreadable file
    raises ``error(path, ...)``: ``not_found``, or "not a readable <what> (<reason>)".
    Arrays that unpack to more than ``max_bytes`` are refused before they are read."""
    import zipfile
    import zlib

    import numpy as np

    if not os.path.isfile(path):
        raise error(path, not_found)
    try:
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(i.file_size for i in zf.infolist())
        if unpacked > max_bytes:
            raise error(path, f"not a readable {what} (its arrays unpack to {unpacked / 2**30:.1f} GiB; "
                              f"the limit is {max_bytes / 2**30:.0f} GiB)")
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, NotImplementedError, MemoryError) as e:
        raise error(path, f"not a readable {what} ({e or type(e).__name__})") from None


def open_media(path: str, *, error: type[InputError] = InputError, noun: str = "media file",
               readable: str = "audio or video file"):
    """Open an audio/video file with PyAV after the checks every reader needs: it exists,
    is not a folder, is not empty, and FFmpeg can read it; each failure raises ``error``."""
    import av

    if not os.path.exists(path):
        raise error(path, "file not found")
    if os.path.isdir(path):
        raise error(path, f"is a folder, not {noun}")
    if os.path.getsize(path) == 0:
        raise error(path, "file is empty")
    try:
        return av.open(path, metadata_errors="replace")  # tags in a broken encoding are not fatal
    except av.error.FFmpegError as e:
        raise error(path, f"not a readable {readable} ({ffmpeg_reason(e)})") from None


def ffmpeg_reason(e: Exception) -> str:
    """The short reason FFmpeg gave for an error."""
    return getattr(e, "strerror", None) or str(e)
