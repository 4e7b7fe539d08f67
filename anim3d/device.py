"""Device and precision choice, kept in one place."""

from __future__ import annotations

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
