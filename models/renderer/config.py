"""The renderer network's configuration, saved as ``config.json`` beside ``model.safetensors``."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields


@dataclass
class RendererConfig:
    internal_size: int = 128  # the network and the flow run at this resolution, whatever the output size
    widths: tuple[int, ...] = (16, 32, 48, 64)  # U-Net channels per level (level i at internal_size / 2**i)
    in_channels: int = 7  # warped RGB, mouth mask, face mask, flow offset (2)
    crop_size: int = 512  # output size at inference
    zoom: float = 1.0  # portrait crop zoom (1 = FFHQ-like framing)
    version: int = 2  # 2: plain residual output (3 channels), no alpha gate

    def save(self, path: str | os.PathLike) -> None:
        d = asdict(self)
        d["widths"] = list(self.widths)
        with open(path, "w") as f:
            json.dump(d, f, indent=2)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "RendererConfig":
        with open(path) as f:
            d = json.load(f)
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        if "widths" in d:
            d["widths"] = tuple(d["widths"])
        return cls(**d)
