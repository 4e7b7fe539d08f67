"""The learned mouth opening: a small temporal conv net from the motion model's audio features to how far a real
speaker's lips part, learnt from tracked videos of real people (``anim3d.training.opening``).

The motion model learnt its mouth from a rule teacher on synthetic voices; this net learns the opening from the
inner-lip gap of real speakers, and ``anim3d.inference.opening`` drives the jaw with it. It reads the same
features as the motion model (``front_ends``), standardised by the training set's mean and spread, and answers
an opening in standard units (0: the training speakers' mean opening, 1: one standard deviation wider). Several
members trained from different seeds are averaged.

Stored beside a checkpoint's weights as ``opening.safetensors``: the members' weights, the ``OpeningConfig``
as JSON in the file's metadata. No pickle.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from anim3d.errors import InputError

OPENING_FILE = "opening.safetensors"
OPENING_FORMAT = "anim3d.opening/1"


@dataclass
class OpeningConfig:
    """The net's shape, its input standardisation and its output calibration (saved with the weights)."""

    in_dim: int = 129  # the motion model's audio feature width
    hidden: int = 32
    kernel: int = 5
    layers: int = 3  # conv layer i has dilation 2^i: each output frame reads +-(kernel // 2) * (2^layers - 1) frames
    dropout: float = 0.5
    members: int = 3  # nets trained from different seeds, averaged
    feature_mean: list = field(default_factory=list)  # in_dim: the training features' mean
    feature_std: list = field(default_factory=list)  # in_dim
    # each member's output mean and standard deviation on the training features: its answer in standard units
    out_mean: list = field(default_factory=list)  # members
    out_std: list = field(default_factory=list)  # members
    # what jawOpen one standard unit of opening is (``anim3d.inference.opening``): the jaw that parts the open
    # head's lips as wide as the training speakers' lips part (``training.opening.calibrate_jaw``)
    jaw_mean: float = 0.2
    jaw_std: float = 0.1
    metadata: dict = field(default_factory=dict)  # what it was trained on (clips, sources, licence notes) and how

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "OpeningConfig":
        from anim3d.models.config import from_fields

        return from_fields(cls, d, "opening setting")


class OpeningMember(nn.Module):
    """One net: 1x1 conv in, ``layers`` dilated convs (GELU, dropout), 1x1 conv out."""

    def __init__(self, cfg: OpeningConfig):
        super().__init__()
        h, k = cfg.hidden, cfg.kernel
        self.inp = nn.Conv1d(cfg.in_dim, h, 1)
        self.convs = nn.ModuleList(nn.Conv1d(h, h, k, padding=(k // 2) * 2**i, dilation=2**i) for i in range(cfg.layers))
        self.out = nn.Conv1d(h, 1, 1)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: B x T x in_dim standardised features -> B x T raw opening."""
        a = self.inp(x.transpose(1, 2))  # B x h x T
        for conv in self.convs:
            a = conv(F.dropout(F.gelu(a), self.dropout, self.training))
        return self.out(F.gelu(a))[:, 0]


class OpeningNet(nn.Module):
    """The members and the config: ``forward`` maps raw features to the opening in standard units."""

    def __init__(self, cfg: OpeningConfig):
        super().__init__()
        self.cfg = cfg
        self.members = nn.ModuleList(OpeningMember(cfg) for _ in range(cfg.members))

    def standardise(self, feats: torch.Tensor) -> torch.Tensor:
        mean = torch.as_tensor(self.cfg.feature_mean, dtype=feats.dtype, device=feats.device)
        std = torch.as_tensor(self.cfg.feature_std, dtype=feats.dtype, device=feats.device)
        return (feats - mean) / std

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """feats: B x T x in_dim (the front end's features, not standardised) -> B x T opening in standard units."""
        x = self.standardise(feats)
        outs = [(m(x) - mu) / sd for m, mu, sd in zip(self.members, self.cfg.out_mean, self.cfg.out_std)]
        return torch.stack(outs).mean(0)

    @torch.no_grad()
    def opening(self, feats: np.ndarray) -> np.ndarray:
        """T x in_dim features -> (T,) opening in standard units (float32)."""
        p = next(self.parameters())
        x = torch.as_tensor(np.asarray(feats, np.float32), device=p.device, dtype=p.dtype)[None]
        return self(x)[0].float().cpu().numpy()


def save_opening(folder: str | os.PathLike, net: OpeningNet) -> None:
    """Write ``opening.safetensors`` into ``folder`` atomically."""
    from safetensors.torch import save_file

    from anim3d.fileio import atomic_output

    state = {k: v.detach().float().contiguous().cpu() for k, v in net.state_dict().items()}
    with atomic_output(os.path.join(os.fspath(folder), OPENING_FILE)) as tmp:
        save_file(state, tmp, metadata={"format": OPENING_FORMAT, "config": json.dumps(net.cfg.to_dict())})


def has_opening(folder: str | os.PathLike) -> bool:
    return os.path.isfile(os.path.join(os.fspath(folder), OPENING_FILE))


def load_opening(folder: str | os.PathLike, device="cpu") -> OpeningNet:
    """The ``OpeningNet`` of a checkpoint folder, in eval mode on ``device``; an InputError naming the file when
    it is missing or not a readable opening net."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    from anim3d.models.checkpoint import load_weights

    path = os.path.join(os.fspath(folder), OPENING_FILE)
    if not os.path.isfile(path):
        raise InputError(folder, f"the checkpoint's inference settings ask for the learned opening, but {OPENING_FILE} is missing")
    try:
        with safe_open(path, "pt") as f:
            meta = f.metadata() or {}
        if meta.get("format") != OPENING_FORMAT:
            raise InputError(path, f"not an anim3d opening net (format {meta.get('format')!r})")
        cfg = OpeningConfig.from_dict(json.loads(meta["config"]))
        state = load_file(path, device="cpu")
    except (SafetensorError, OSError, KeyError, ValueError, TypeError) as e:
        raise InputError(path, f"unreadable opening net ({e})") from None
    net = load_weights(OpeningNet(cfg), state, path)
    if not (len(cfg.feature_mean) == len(cfg.feature_std) == cfg.in_dim and len(cfg.out_mean) == len(cfg.out_std) == cfg.members):
        raise InputError(path, "the opening net's standardisation does not match its shape")
    return net.to(device).eval()
