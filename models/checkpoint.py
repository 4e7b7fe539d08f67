"""Checkpoints are folders: ``config.json`` (the ModelConfig plus training metadata) and ``model.safetensors``.

No pickle anywhere: weights go through safetensors, the config through JSON.
"""

from __future__ import annotations

import json
import os

from anim3d.errors import InputError
from models.config import ModelConfig

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "anim3d.motion_model/1"


def save_checkpoint(folder: str | os.PathLike, model, cfg: ModelConfig, metadata: dict | None = None) -> None:
    """Write ``config.json`` and ``model.safetensors`` into ``folder`` (each file atomically; other files stay)."""
    from safetensors.torch import save_file

    from anim3d.fileio import atomic_output

    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    state = {k: v.detach().float().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_output(os.path.join(folder, WEIGHTS_FILE)) as tmp:
        save_file(state, tmp, metadata={"format": FORMAT})
    with atomic_output(os.path.join(folder, CONFIG_FILE)) as tmp:
        with open(tmp, "w") as f:
            json.dump({"format": FORMAT, "model": cfg.to_dict(), "metadata": metadata or {}}, f, indent=1)


def read_config(folder: str | os.PathLike) -> tuple[ModelConfig, dict]:
    folder = os.fspath(folder)
    path = os.path.join(folder, CONFIG_FILE)
    if not os.path.isdir(folder):
        raise InputError(folder, "checkpoint folder not found")
    if not os.path.isfile(path):
        raise InputError(folder, f"not a checkpoint folder: {CONFIG_FILE} is missing")
    try:
        with open(path) as f:
            data = json.load(f)
        cfg = ModelConfig.from_dict(data["model"])
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(path, f"malformed checkpoint config ({e})") from None
    return cfg, data.get("metadata", {})


def load_checkpoint(folder: str | os.PathLike, device="cpu"):
    """-> (MotionTransformer in eval mode on ``device``, ModelConfig, metadata dict)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from models.motion_transformer import MotionTransformer

    cfg, meta = read_config(folder)
    wpath = os.path.join(os.fspath(folder), WEIGHTS_FILE)
    if not os.path.isfile(wpath):
        raise InputError(folder, f"not a checkpoint folder: {WEIGHTS_FILE} is missing")
    try:
        state = load_file(wpath, device="cpu")
    except (SafetensorError, OSError) as e:
        raise InputError(wpath, f"unreadable weights ({e})") from None
    model = MotionTransformer(cfg)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise InputError(wpath, f"weights do not match the config ({str(e).splitlines()[0]})") from None
    return model.to(device).eval(), cfg, meta
