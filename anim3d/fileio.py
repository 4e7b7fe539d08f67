"""Writing outputs so that nothing half-written is ever left behind, and checking them before any work.

- ``atomic_output(path)``: write to a temporary file beside ``path``, renamed into place on success.
- ``output_group()``: every ``atomic_output`` inside it is renamed at the group's end, all together,
  or removed if anything failed: a command's outputs appear all or none.
- ``check_outputs(outputs, inputs)``: the checks a command makes on its output paths before it
  starts working (known folder, writable, not a folder, never a file the command reads).

Temporary files are named ``.anim3d-<pid>-<random>.tmp<ext>``. A process killed before it could
clean up (SIGKILL, power loss) leaves one behind; the next write into that folder removes the
temporaries of processes that no longer run.
"""

from __future__ import annotations

import contextlib
import contextvars
import glob
import os
import re
import tempfile
from typing import Iterable, Iterator

from anim3d.errors import InputError

TEMP_PREFIX = ".anim3d-"
_TEMP_NAME = re.compile(r"^\.anim3d-(\d+)-[^/]*\.tmp[^/]*$")
_group: contextvars.ContextVar[list | None] = contextvars.ContextVar("anim3d_output_group", default=None)
NPZ_MAX_BYTES = 4 * 2**30  # larger arrays in an NPZ are a corrupt file or a zip bomb


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``.

    If the body raises, the temporary file is removed and ``path`` is untouched. Inside an
    ``output_group`` the rename waits for the group's end.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(folder):
        remove_stale_temporaries(folder)
    # keep the extension: some writers pick the format from it
    tmp = _new_temporary(path, folder, suffix=".tmp" + os.path.splitext(path)[1])
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        pending = _group.get()
        if pending is None:
            _replace(tmp, path)
        else:
            pending.append((tmp, path))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def output_group() -> Iterator[None]:
    """Outputs written inside appear together when the body succeeds, or not at all."""
    outer = _group.get()
    if outer is not None:  # nested: the outermost group decides
        yield
        return
    pending: list[tuple[str, str]] = []
    token = _group.set(pending)
    try:
        yield
    except BaseException:
        for tmp, _ in pending:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
        raise
    finally:
        _group.reset(token)
    for i, (tmp, path) in enumerate(pending):
        try:
            _replace(tmp, path)
        except BaseException:
            for rest, _ in pending[i:]:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(rest)
            raise


def _replace(tmp: str, path: str) -> None:
    try:
        os.replace(tmp, path)
    except IsADirectoryError:
        raise InputError(path, "is a folder; give a file name") from None
    except OSError as e:
        raise InputError(path, f"cannot be written ({e.strerror or e})") from None


def remove_stale_temporaries(folder: str) -> list[str]:
    """Remove the temporaries in ``folder`` left by anim3d processes that no longer run."""
    removed = []
    for tmp in glob.glob(os.path.join(glob.escape(folder), TEMP_PREFIX + "*")):
        m = _TEMP_NAME.match(os.path.basename(tmp))
        if m is None or _pid_alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            os.remove(tmp)
            removed.append(tmp)
    return removed


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process (or a name we did not write): leave it
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_outputs(outputs: Iterable[str | os.PathLike], inputs: Iterable[str | os.PathLike | None] = ()) -> None:
    """Refuse, before any work, output paths that cannot be written or would destroy an input.

    Each output must be a file name (not an existing folder) in an existing, writable folder,
    appear once, and never be one of ``inputs`` (compared as files, through links).
    """
    seen: dict[str, str] = {}
    ins = [os.fspath(p) for p in inputs if p is not None and os.fspath(p) != "-"]
    for out in outputs:
        out = os.fspath(out)
        key = os.path.realpath(out)
        if key in seen:
            raise InputError(out, f"is written twice by this command (also as {seen[key]})")
        seen[key] = out
        if os.path.isdir(out):
            raise InputError(out, "is a folder; give a file name")
        for src in ins:
            if _same_file(out, src):
                raise InputError(out, f"is an input of this command ({src}); anim3d never writes to a file it reads")
        check_writable_folder(out)


def check_writable_folder(path: str | os.PathLike, folder: str | None = None) -> None:
    """The folder that will hold ``path`` (or ``folder``) exists and a file can be created in it;
    errors name ``path``."""
    path = os.fspath(path)
    os.remove(_new_temporary(path, folder or os.path.dirname(os.path.abspath(path)), suffix=".tmp"))


def _new_temporary(path: str, folder: str, suffix: str) -> str:
    """Create an empty anim3d temporary in ``folder`` for writing ``path``; errors name ``path``."""
    if not os.path.isdir(folder):
        raise InputError(path, f"output folder does not exist: {folder}")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=suffix, dir=folder)
    except OSError as e:
        raise InputError(path, f"cannot write in {folder} ({e.strerror or e})") from None
    os.close(fd)
    return tmp


def check_output_folder(path: str | os.PathLike) -> None:
    """A folder a command will write into: a folder or nothing yet, creatable and writable."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise InputError(path, "exists and is not a folder")
    probe = os.path.abspath(path)
    while not os.path.exists(probe):  # the nearest existing ancestor is where the folder would be made
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise InputError(path, f"cannot be made: {probe} is not a folder")
    check_writable_folder(path, probe)


def make_output_folder(path: str | os.PathLike) -> None:
    """``check_output_folder`` then create it (with its parents)."""
    check_output_folder(path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise InputError(path, f"cannot make the folder ({e.strerror or e})") from None


def _same_file(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


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
    # what a damaged archive raises: zipfile's NotImplementedError is a compression method it cannot read,
    # MemoryError a header that claims an array larger than memory
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
