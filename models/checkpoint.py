"""Checkpoints are folders: ``config.json`` and ``model.safetensors``.

``config.json`` holds the format name, the ``model`` block (``ModelConfig``: architecture, front end, motion
statistics), the ``inference`` block (``InferenceConfig``: how the checkpoint is sampled unless a request says
otherwise) and training ``metadata``. Format 1 kept the inference settings inside the model block; it still
reads. A checkpoint may also hold a learned mouth opening, ``opening.safetensors`` (``models.opening``). No pickle
anywhere: weights go through safetensors, the config through JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from anim3d.errors import InputError
from anim3d.models.config import FORMAT1_INFERENCE_KEYS, InferenceConfig, ModelConfig

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "anim3d.motion_model/2"
FORMATS = ("anim3d.motion_model/1", FORMAT)
DEFAULT_DIR = Path(__file__).resolve().parent / "default"  # the shipped default model


def save_checkpoint(folder: str | os.PathLike, model, cfg: ModelConfig, metadata: dict | None = None,
                    inference: InferenceConfig | None = None) -> None:
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
            json.dump(config_document(cfg, inference or InferenceConfig(), metadata), f, indent=1)


def config_document(cfg: ModelConfig, inference: InferenceConfig, metadata: dict | None = None) -> dict:
    """The JSON document of a checkpoint's config.json."""
    return {"format": FORMAT, "model": cfg.to_dict(), "inference": inference.to_dict(), "metadata": metadata or {}}


def _read(folder: str | os.PathLike) -> tuple[str, dict]:
    folder = os.fspath(folder)
    path = os.path.join(folder, CONFIG_FILE)
    if not os.path.isdir(folder):
        raise InputError(folder, "checkpoint folder not found")
    if not os.path.isfile(path):
        raise InputError(folder, f"not a checkpoint folder: {CONFIG_FILE} is missing")
    try:
        with open(path) as f:
            data = json.load(f)
    except (ValueError, OSError) as e:
        raise InputError(path, f"malformed checkpoint config ({e})") from None
    if not isinstance(data, dict) or data.get("format", FORMATS[0]) not in FORMATS:
        raise InputError(path, f"not an anim3d motion model config (format {data.get('format') if isinstance(data, dict) else '?'!r})")
    return path, data


def read_config(folder: str | os.PathLike) -> tuple[ModelConfig, dict]:
    """(ModelConfig, training metadata) of a checkpoint folder."""
    path, data = _read(folder)
    try:
        cfg = ModelConfig.from_dict(data["model"])
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(path, f"malformed checkpoint config ({e})") from None
    return cfg, data.get("metadata", {})


def read_inference(folder: str | os.PathLike) -> InferenceConfig:
    """The checkpoint's inference settings (format 1: from the model block's old names)."""
    path, data = _read(folder)
    block = data.get("inference")
    if block is None:  # format 1
        model = data.get("model", {})
        block = {new: model[old] for old, new in FORMAT1_INFERENCE_KEYS.items() if old in model}
    try:
        return InferenceConfig.from_dict(block)
    except (ValueError, TypeError) as e:
        raise InputError(path, f"malformed inference settings ({e})") from None


def load_checkpoint(folder: str | os.PathLike, device="cpu"):
    """-> (MotionTransformer in eval mode on ``device``, ModelConfig, metadata dict)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from anim3d.models.motion_transformer import MotionTransformer

    cfg, meta = read_config(folder)
    wpath = os.path.join(os.fspath(folder), WEIGHTS_FILE)
    if not os.path.isfile(wpath):
        raise InputError(folder, f"not a checkpoint folder: {WEIGHTS_FILE} is missing")
    try:
        state = load_file(wpath, device="cpu")
    except (SafetensorError, OSError) as e:
        raise InputError(wpath, f"unreadable weights ({e})") from None
    model = load_weights(MotionTransformer(cfg), state, wpath)
    return model.to(device).eval(), cfg, meta


def load_weights(module, state: dict, path: str):
    """``module`` with the weights ``state`` read from ``path``; an InputError naming the file when they do not fit."""
    try:
        module.load_state_dict(state)
    except RuntimeError as e:
        raise InputError(path, f"weights do not match the config ({str(e).splitlines()[0]})") from None
    return module
