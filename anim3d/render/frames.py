"""The per-batch core shared by training and inference: driven meshes -> flow -> warp -> refine."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from anim3d.render.flow import WarpMesh, backward_flow, warp_image


def image_to_tensor(rgb: np.ndarray, device="cpu", dtype=torch.float32) -> torch.Tensor:
    """H x W x 3 uint8 -> 1 x 3 x H x W in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).to(device).permute(2, 0, 1)[None].to(dtype) / 255.0


def tensor_to_images(x: torch.Tensor) -> np.ndarray:
    """B x 3 x H x W in [0, 1] -> B x H x W x 3 uint8."""
    return (x.detach().float().clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def flow_batch(mesh: WarpMesh, driven: list[np.ndarray] | np.ndarray, n: int, device="cpu"):
    """Driven warp-mesh vertices (B of N x 3) -> source_xy B x n x n x 2, masks B x 2 x n x n."""
    m = backward_flow(mesh, np.stack([np.asarray(d) for d in driven]), n, device)  # one batched rasterization
    return m.source_xy, torch.stack([m.mouth, m.face], 1)


def network_inputs(source_low: torch.Tensor, xy: torch.Tensor, masks: torch.Tensor, size: int) -> torch.Tensor:
    """The network's input at n x n: warped low-res source (3), masks (2), flow offset (2).

    source_low: 1 x 3 x n x n (the source downsampled to n); xy: B x n x n x 2 crop pixels.
    Returns B x 7 x n x n and the warped low-res image B x 3 x n x n.
    """
    b, n = xy.shape[0], xy.shape[1]
    warped_low = warp_image(source_low.expand(b, -1, -1, -1), xy, size)  # B x 3 x n x n
    ys, xs = torch.meshgrid(torch.arange(n, device=xy.device), torch.arange(n, device=xy.device), indexing="ij")
    ident = (torch.stack([xs, ys], -1).to(xy.dtype) + 0.5) * (size / n)  # n x n x 2
    offset = ((xy - ident) / size * 8.0).permute(0, 3, 1, 2)  # B x 2 x n x n, ~unit scale for typical motion
    x = torch.cat([warped_low, masks.to(xy.dtype), offset], 1)
    return x, warped_low


def render_batch(model, source: torch.Tensor, mesh: WarpMesh, driven, n: int, *, xy=None, masks=None):
    """Render B frames. source: 1 x 3 x S x S in [0, 1] (S = mesh.size); driven: B of N x 3.

    Returns (refined, warped), each B x 3 x S x S; ``refined`` is None when ``model`` is None
    (the warp-only baseline).
    """
    size = mesh.size
    if xy is None:
        xy, masks = flow_batch(mesh, driven, n, source.device)
    xy = xy.to(source.dtype)
    b = xy.shape[0]
    warped = warp_image(source.expand(b, -1, -1, -1), xy, size)  # B x 3 x S x S
    if model is None:
        return None, warped
    source_low = F.interpolate(source, size=(n, n), mode="area")
    x, warped_low = network_inputs(source_low, xy, masks, size)
    from models.renderer.network import compose

    x = x.contiguous(memory_format=torch.channels_last)
    rgb = model(x)
    return compose(warped, warped_low, rgb.to(warped.dtype)), warped
