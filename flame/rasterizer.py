"""A vectorised torch triangle rasterizer with pytorch3d's output convention.

    frags = rasterize(verts_ndc, faces, image_size)       # verts: B x V x 3, faces: F x 3

Input vertices are in pytorch3d's NDC: +X points LEFT, +Y up, the shorter image side spans
[-1, 1], and z is the depth (smaller = nearer; fragments with z < 0 are dropped). Output
(pytorch3d's ``rasterize_meshes`` with faces_per_pixel=1):

- ``pix_to_face``  B x H x W x 1 long: packed face index (b * F + f), -1 where empty;
- ``zbuf``         B x H x W x 1: interpolated depth, -1 where empty;
- ``bary_coords``  B x H x W x 1 x 3: screen-space barycentrics, -1 where empty.

pytorch3d cannot be installed here; when it imports, ``rasterize`` uses it. Otherwise our
own implementation (written because no maintained pure-torch CPU rasterizer with this
convention exists): every face is expanded into the pixel centres of its bounding box, all
(face, pixel) pairs are tested at once, and a scatter-min on a packed (depth, face) key keeps
the nearest face per pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

_MAX_PAIRS = 4_000_000  # (face, pixel) candidates per chunk: bounds peak memory


@dataclass
class Fragments:
    pix_to_face: Tensor  # B x H x W x 1
    zbuf: Tensor  # B x H x W x 1
    bary_coords: Tensor  # B x H x W x 1 x 3
    dists: Tensor | None = None


def _size(image_size) -> tuple[int, int]:
    if isinstance(image_size, int):
        return image_size, image_size
    h, w = image_size
    return int(h), int(w)


def ndc_to_screen(verts: Tensor, image_size) -> Tensor:
    """NDC (pytorch3d: +X left, +Y up) -> pixel coordinates (x right, y down; pixel centre = integer)."""
    h, w = _size(image_size)
    s = min(h, w)
    x = (w - 1 - verts[..., 0] * s) / 2
    y = (h - 1 - verts[..., 1] * s) / 2
    return torch.stack([x, y, verts[..., 2]], dim=-1)


def _pytorch3d_rasterize(verts: Tensor, faces: Tensor, image_size, cull_backfaces: bool):  # pragma: no cover
    from pytorch3d.renderer.mesh.rasterize_meshes import rasterize_meshes
    from pytorch3d.structures import Meshes

    b = verts.shape[0]
    meshes = Meshes(verts=list(verts), faces=[faces] * b)
    p2f, zbuf, bary, dists = rasterize_meshes(
        meshes, image_size=image_size, blur_radius=0.0, faces_per_pixel=1, cull_backfaces=cull_backfaces
    )
    return Fragments(p2f, zbuf, bary, dists)


def _pytorch3d_available() -> bool:
    try:
        import pytorch3d.renderer  # noqa: F401
    except Exception:
        return False
    return True


def rasterize(verts: Tensor, faces: Tensor, image_size, cull_backfaces: bool = False,
              use_pytorch3d: bool | None = None) -> Fragments:
    """Rasterize B meshes that share one face list (see the module docstring for conventions).

    cull_backfaces drops faces that are clockwise on screen as seen by the viewer (faces are
    counter-clockwise seen from outside).
    """
    faces = torch.as_tensor(faces, dtype=torch.long, device=verts.device)
    if use_pytorch3d is None:
        use_pytorch3d = _pytorch3d_available()
    if use_pytorch3d:
        return _pytorch3d_rasterize(verts, faces, image_size, cull_backfaces)
    h, w = _size(image_size)
    b, nf = verts.shape[0], faces.shape[0]
    dev = verts.device
    scr = ndc_to_screen(verts, (h, w))  # B x V x 3
    tri = scr[:, faces]  # B x F x 3 x 3
    p2f = torch.full((b, h * w), -1, dtype=torch.long, device=dev)
    zbuf = torch.full((b, h * w), -1.0, dtype=verts.dtype, device=dev)
    bary = torch.full((b, h * w, 3), -1.0, dtype=verts.dtype, device=dev)
    for bi in range(b):
        _raster_one(tri[bi], h, w, cull_backfaces, p2f[bi], zbuf[bi], bary[bi])
    valid = p2f >= 0
    offs = (torch.arange(b, device=dev) * nf)[:, None]
    p2f = torch.where(valid, p2f + offs, p2f)
    return Fragments(p2f.reshape(b, h, w, 1), zbuf.reshape(b, h, w, 1), bary.reshape(b, h, w, 1, 3))


def _raster_one(tri: Tensor, h: int, w: int, cull: bool, p2f: Tensor, zbuf: Tensor, bary: Tensor) -> None:
    """tri: F x 3 x 3 screen-space triangles; fills p2f (HW), zbuf (HW), bary (HW x 3) in place."""
    dev = tri.device
    x, y, z = tri[..., 0], tri[..., 1], tri[..., 2]  # F x 3 each
    # twice the signed area in (x right, y down) pixel space; viewer-CCW faces are negative here
    area = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])  # F
    x0 = torch.ceil(x.amin(1)).clamp(min=0)
    x1 = torch.floor(x.amax(1)).clamp(max=w - 1)
    y0 = torch.ceil(y.amin(1)).clamp(min=0)
    y1 = torch.floor(y.amax(1)).clamp(max=h - 1)
    keep = (area.abs() > 1e-12) & (x1 >= x0) & (y1 >= y0) & (z.amax(1) >= 0)
    if cull:
        keep &= area < 0
    fid = torch.nonzero(keep).squeeze(1)  # K
    if fid.numel() == 0:
        return
    bw = (x1[fid] - x0[fid] + 1).long()  # K
    bh = (y1[fid] - y0[fid] + 1).long()
    counts = bw * bh
    # chunk faces so that no chunk expands into more than _MAX_PAIRS candidates
    csum = torch.cumsum(counts, 0)
    starts = [0]
    total = int(csum[-1])
    if total > _MAX_PAIRS:
        bounds = torch.searchsorted(csum, torch.arange(_MAX_PAIRS, total, _MAX_PAIRS, device=dev))
        starts += [int(i) for i in bounds.tolist()]
    starts.append(fid.numel())
    best_key = torch.full((h * w,), torch.iinfo(torch.long).max, dtype=torch.long, device=dev)
    results = []
    for a, c in zip(starts[:-1], starts[1:]):
        if c <= a:
            continue
        results.append(_candidates(fid[a:c], bw[a:c], counts[a:c], x0, y0, x, y, z, area, w, best_key))
    # resolve: the winning (depth, face) key per pixel; each candidate with that key wins
    for pix, face, key, b0, b1, b2, zz in results:
        win = best_key[pix] == key
        pix, face = pix[win], face[win]
        p2f[pix] = face
        zbuf[pix] = zz[win]
        bary[pix] = torch.stack([b0[win], b1[win], b2[win]], dim=1)


def _candidates(fid, bw, counts, x0, y0, x, y, z, area, w, best_key):
    dev = fid.device
    face = torch.repeat_interleave(fid, counts)  # N
    first = torch.cumsum(counts, 0) - counts
    k = torch.arange(face.numel(), device=dev) - torch.repeat_interleave(first, counts)  # N
    bwr = torch.repeat_interleave(bw, counts)
    px = x0[face] + (k % bwr)  # N pixel centres
    py = y0[face] + torch.div(k, bwr, rounding_mode="floor")
    xf, yf = x[face], y[face]  # N x 3
    inv = 1.0 / area[face]
    # barycentrics from edge functions (screen space, as pytorch3d without perspective correction)
    b0 = ((xf[:, 2] - xf[:, 1]) * (py - yf[:, 1]) - (yf[:, 2] - yf[:, 1]) * (px - xf[:, 1])) * inv
    b1 = ((xf[:, 0] - xf[:, 2]) * (py - yf[:, 2]) - (yf[:, 0] - yf[:, 2]) * (px - xf[:, 2])) * inv
    b2 = 1.0 - b0 - b1
    zz = b0 * z[face, 0] + b1 * z[face, 1] + b2 * z[face, 2]
    inside = (b0 >= 0) & (b1 >= 0) & (b2 >= 0) & (zz >= 0)
    idx = torch.nonzero(inside).squeeze(1)
    face, b0, b1, b2, zz = face[idx], b0[idx], b1[idx], b2[idx], zz[idx]
    pix = (py[idx] * w + px[idx]).long()
    # pack (depth, face) into one sortable int64 key: 31 bits of depth order, 23 bits of face id
    zkey = _depth_key(zz)
    key = (zkey << 23) | face
    best_key.scatter_reduce_(0, pix, key, reduce="amin")
    return pix, face, key, b0, b1, b2, zz


def _depth_key(z: Tensor) -> Tensor:
    """Monotone map of non-negative depths to 31-bit integers: the float32 bit pattern, which
    orders like the value for z >= 0 (fits beside the 23-bit face id in an int64 key)."""
    return z.to(torch.float32).clamp(min=0).view(torch.int32).long()
