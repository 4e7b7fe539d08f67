"""Device and precision choice, kept in one place."""

from __future__ import annotations

import contextlib
import os

from anim3d.errors import Anim3dError


def resolve_device(name: str = "auto"):
    """'auto' -> CUDA if available, else MPS if available, else CPU. Unavailable devices are a clear error."""
    import torch

    if name in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise Anim3dError(f"unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise Anim3dError(f"device {name!r} requested but CUDA is not available on this machine")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise Anim3dError(f"device {name!r} requested but MPS is not available on this machine")
    return dev


def default_dtype(device) -> "object":
    """Half precision where it helps (CUDA), float32 elsewhere."""
    import torch

    return torch.float16 if device.type == "cuda" else torch.float32


@contextlib.contextmanager
def cpu_threads(device, n: int | None = None):
    """Run torch CPU ops on ``n`` threads (default ANIM3D_THREADS or 1) and restore the setting after.

    One thread is the default because the model's matrices are small: on this 2-core machine a second
    thread made a transformer block 18x slower whenever the other core was busy (OpenMP spin-waits).
    """
    import torch

    if getattr(device, "type", str(device)) != "cpu":
        yield
        return
    n = n or int(os.environ.get("ANIM3D_THREADS", "1"))
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
