"""RefineNet: a small U-Net that refines a warped portrait at a low internal resolution.

Inputs (all at ``internal_size``): the warped source image, the driven mouth and face masks and
the flow offset. Outputs a refined RGB image; its difference to the warped image is upsampled and
added to the full-resolution warp (``compose``), so the sharp warped pixels survive wherever the
network changes nothing, while it paints the mouth cavity and disocclusions where they are.
(An earlier version gated the change with a sigmoid alpha; in training the gate saturated at 0
and the network died into the identity, so the change is a plain residual now.)
"""

from __future__ import annotations

import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from anim3d.models.renderer.config import RendererConfig

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def _block(cin: int, cout: int, stride: int = 1, convs: int = 2) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.2, inplace=True)]
    for _ in range(convs - 1):
        layers += [nn.Conv2d(cout, cout, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True)]
    return nn.Sequential(*layers)


class RefineNet(nn.Module):
    def __init__(self, config: RendererConfig | None = None):
        super().__init__()
        self.config = config or RendererConfig()
        w = self.config.widths
        # one conv at full internal resolution (the costly level), two per coarser level
        self.inp = _block(self.config.in_channels, w[0], convs=1)
        self.down = nn.ModuleList([_block(w[i], w[i + 1], stride=2) for i in range(len(w) - 1)])
        self.up = nn.ModuleList([_block(w[i + 1] + w[i], w[i], convs=1 if i == 0 else 2) for i in reversed(range(len(w) - 1))])
        self.out = nn.Conv2d(w[0], 3, 3, 1, 1)
        nn.init.zeros_(self.out.weight)  # start as the identity refinement (zero residual)
        nn.init.constant_(self.out.bias, 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: B x C_in x n x n (first 3 channels the warped RGB in [0, 1]) -> rgb B x 3 x n x n in [0, 1]."""
        skips = [self.inp(x)]  # B x w0 x n x n
        for d in self.down:
            skips.append(d(skips[-1]))  # B x w(i+1) x n/2^(i+1)
        h = skips.pop()
        for u in self.up:
            s = skips.pop()
            h = F.interpolate(h, size=s.shape[-2:], mode="bilinear", align_corners=False)
            h = u(torch.cat([h, s], 1))
        o = self.out(h)  # B x 3 x n x n
        return (x[:, :3] + o).clamp(0, 1)  # a residual on the warped image


def compose(warped_full: torch.Tensor, warped_low: torch.Tensor, rgb: torch.Tensor,
            gate: torch.Tensor | None = None) -> torch.Tensor:
    """Full-resolution output: warped_full (B x 3 x H x W) + upsampled (rgb - warped_low), the
    change weighted by ``gate`` (B x 1 x n x n in [0, 1]) when given."""
    delta = rgb - warped_low  # B x 3 x n x n
    if gate is not None:
        delta = delta * gate
    delta = F.interpolate(delta, size=warped_full.shape[-2:], mode="bilinear", align_corners=False)
    return (warped_full + delta).clamp(0, 1)


def save_renderer(model: RefineNet, folder: str | os.PathLike) -> None:
    """Write ``config.json`` + ``model.safetensors`` into ``folder`` (created if needed)."""
    from safetensors.torch import save_file

    from anim3d.fileio import atomic_output

    os.makedirs(folder, exist_ok=True)
    with atomic_output(os.path.join(folder, CONFIG_NAME)) as tmp:
        model.config.save(tmp)
    state = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_output(os.path.join(folder, WEIGHTS_NAME)) as tmp:
        save_file(state, tmp)


def load_renderer(folder: str | os.PathLike, device="cpu", dtype=torch.float32) -> RefineNet:
    """Load a checkpoint folder; a missing or broken one raises InputError naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from anim3d.errors import InputError

    folder = os.fspath(folder)
    cfg_path, w_path = os.path.join(folder, CONFIG_NAME), os.path.join(folder, WEIGHTS_NAME)
    for p in (cfg_path, w_path):
        if not os.path.isfile(p):
            raise InputError(folder, f"renderer checkpoint is missing {os.path.basename(p)}")
    try:
        cfg = RendererConfig.load(cfg_path)
        model = RefineNet(cfg)
        model.load_state_dict(load_file(w_path))
    except (ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as e:
        raise InputError(folder, f"not a valid renderer checkpoint ({e.__class__.__name__}: {str(e)[:120]})") from None
    return model.to(device=device, dtype=dtype).eval()
