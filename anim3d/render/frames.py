"""The per-batch core shared by training and inference: driven meshes -> flow -> warp -> refine."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from anim3d.render.flow import WarpMesh, backward_flow, warp_image


GATE_GROW, GATE_SOFTEN = 3, 3  # cells of the n x n grid (n = 128: 4 px of a 512 crop each)
GATE_MOVING = (0.02, 0.05)
GATE_DEFAULT = True


def image_to_tensor(rgb: np.ndarray, device="cpu", dtype=torch.float32) -> torch.Tensor:
    """H x W x 3 uint8 -> 1 x 3 x H x W in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).to(device).permute(2, 0, 1)[None].to(dtype) / 255.0


def tensor_to_images(x: torch.Tensor) -> np.ndarray:
    """B x 3 x H x W in [0, 1] -> B x H x W x 3 uint8."""
    return (x.detach().float().clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def flow_batch(mesh: WarpMesh, driven: list[np.ndarray] | np.ndarray, n: int, device="cpu"):
    """Driven warp-mesh vertices (B of N x 3) -> FlowMaps with source_xy B x n x n x 2, masks
    B x n x n and the mouth uv B x n x n x 2 (one batched rasterization)."""
    return backward_flow(mesh, np.stack([np.asarray(d) for d in driven]), n, device)


def masks_of(maps) -> torch.Tensor:
    return torch.stack([maps.mouth, maps.face], 1)  # B x 2 x n x n


def cell_centres(n: int, size: int, like: torch.Tensor) -> torch.Tensor:
    """n x n x 2 (x, y) centres of the n x n grid's cells in crop pixels (a crop of ``size``), on ``like``'s
    device and dtype: where each cell would sample the source if nothing moved."""
    ys, xs = torch.meshgrid(torch.arange(n, device=like.device), torch.arange(n, device=like.device), indexing="ij")
    return (torch.stack([xs, ys], -1).to(like.dtype) + 0.5) * (size / n)


def network_inputs(warped_low: torch.Tensor, xy: torch.Tensor, masks: torch.Tensor, size: int) -> torch.Tensor:
    """The network's input at n x n: the warped (and mouth-painted) low-res image (3), masks (2),
    flow offset (2). warped_low: B x 3 x n x n; xy: B x n x n x 2 crop pixels -> B x 7 x n x n."""
    ident = cell_centres(xy.shape[1], size, xy)  # n x n x 2
    offset = ((xy - ident) / size * 8.0).permute(0, 3, 1, 2)  # B x 2 x n x n, ~unit scale for typical motion
    return torch.cat([warped_low, masks.to(xy.dtype), offset], 1)


def warp_low(source: torch.Tensor, maps, n: int, size: int, painter=None, driven_lm=None) -> torch.Tensor:
    """The source (1 x 3 x S x S) warped at n x n, with the mouth interior painted when a painter is given."""
    xy = maps.source_xy.to(source.dtype)
    source_low = F.interpolate(source, size=(n, n), mode="area")
    low = warp_image(source_low.expand(xy.shape[0], -1, -1, -1), xy, size)  # B x 3 x n x n
    if painter is not None:
        low = painter.paint(low, maps.mouth, maps.mouth_uv, driven_lm, size)
    return low


def network_gate(face: torch.Tensor, xy: torch.Tensor, size: int, grow: int = GATE_GROW, soften: int = GATE_SOFTEN,
                 moving: tuple[float, float] = GATE_MOVING) -> torch.Tensor:
    """Where the network's change is used, B x 1 x n x n in [0, 1]: on the face (B x n x n mask,
    grown by ``grow`` cells and softened), and elsewhere (hair, neck, background) only where the
    warp moves the image little: the change is made at low resolution, and where the head moves
    a lot (turns, nods) it blurred the head's outline and left halos around it. Those parts keep
    the sharp warp. ``moving``: displacements (fractions of the crop) where the gate starts to
    close and is shut; xy: B x n x n x 2 source positions in crop pixels."""
    m = F.max_pool2d(face[:, None].float(), 2 * grow + 1, 1, grow)
    disp = (xy - cell_centres(xy.shape[1], size, xy)).norm(dim=-1)[:, None] / size  # B x 1 x n x n
    still = (1 - (disp - moving[0]) / (moving[1] - moving[0])).clamp(0, 1)
    g = torch.maximum(m, still.to(m.dtype))
    return F.avg_pool2d(g, 2 * soften + 1, 1, soften, count_include_pad=False)


def render_batch(model, source: torch.Tensor, mesh: WarpMesh, driven, n: int, *, painter=None, maps=None,
                 gate: bool = GATE_DEFAULT):
    """Render B frames. source: 1 x 3 x S x S in [0, 1] (S = mesh.size); driven: B of N x 3.
    ``painter`` (anim3d.render.mouth.MouthPainter) paints the open mouth's interior into the warp.

    Returns (refined, warped), each B x 3 x S x S; ``refined`` is None when ``model`` is None
    (the warp-only baseline: the same pipeline without the network).
    """
    size = mesh.size
    if maps is None:
        maps = flow_batch(mesh, driven, n, source.device)
    xy = maps.source_xy.to(source.dtype)
    b = xy.shape[0]
    lm = torch.as_tensor(np.stack([np.asarray(d)[:478, :2] for d in driven]), device=source.device) if painter is not None else None
    warped = warp_image(source.expand(b, -1, -1, -1), xy, size)  # B x 3 x S x S
    if painter is not None:
        warped = painter.paint(warped, maps.mouth, maps.mouth_uv, lm, size)
    if model is None:
        return None, warped
    low = warp_low(source, maps, n, size, painter, lm)
    x = network_inputs(low, xy, masks_of(maps), size)
    from anim3d.models.renderer.network import compose

    x = x.contiguous(memory_format=torch.channels_last)
    rgb = model(x)
    g = network_gate(maps.face, xy, size).to(warped.dtype) if gate else None
    return compose(warped, low, rgb.to(warped.dtype), g), warped
