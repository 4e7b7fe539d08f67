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
    """tri: F x 3 x 3 screen-space triangles; fills p2f (HW), zbuf (HW), bary (HW x 3) in place.

    Scanline spans: each face is cut into the pixel rows of its bounding box, the exact span
    of pixel centres inside the triangle is solved per row from the three edge functions, and
    only those pixels are expanded (so the work is proportional to the covered area).
    """
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
    coef = _plane_coefficients(x[fid], y[fid], z[fid], area[fid])  # K x 4 x 3 (b0, b1, b2, z) x (A, B, C)
    x0, x1, y0, y1 = x0[fid], x1[fid], y0[fid], y1[fid]
    # rows: one entry per (face, pixel row of its bounding box)
    bh = (y1 - y0 + 1).long()
    rface = _expand(bh)  # R: local face index per row
    ry = y0[rface] + _ramp(bh)  # R
    c = coef[rface]  # R x 4 x 3
    off = c[:, :3, 1] * ry[:, None] + c[:, :3, 2]  # R x 3: b_k = A_k * x + off_k
    a = c[:, :3, 0]
    inf = torch.tensor(float("inf"), dtype=a.dtype, device=a.device)
    bound = -off / torch.where(a == 0, torch.ones_like(a), a)  # R x 3
    lo = torch.where(a > 0, bound, -inf).amax(1)
    hi = torch.where(a < 0, bound, inf).amin(1)
    never = ((a == 0) & (off < 0)).any(1)
    lo = torch.maximum(torch.ceil(lo), x0[rface])
    hi = torch.minimum(torch.floor(hi), x1[rface])
    count = torch.where(never, torch.zeros_like(hi), (hi - lo + 1).clamp(min=0)).long()  # R
    # Per row, fold the span start into affine functions of the candidate's running index j
    # (0..N-1 over the chunk), so each candidate needs just two gathers:
    #   pixel = pix_base[row] + j,  depth = z_base[row] + dz[row] * j
    first = torch.cumsum(count, 0) - count  # R: index of the row's first candidate
    dz = c[:, 3, 0]  # R: depth step per pixel along x
    # float64: z_base - dz * first cancels, and float32 would blur the depth order
    z_base = (c[:, 3, 0] * lo + c[:, 3, 1] * ry + c[:, 3, 2]).double() - dz.double() * first  # R
    pix_base = (ry * w + lo).long() - first  # R (may be negative)
    packed = (pix_base << 23) | fid[rface]  # R: pixel base and global face id in one int64
    zpair = torch.stack([z_base, dz.double()], 1)  # R x 2 (float64)
    none = torch.iinfo(torch.long).max
    best_key = torch.full((h * w,), none, dtype=torch.long, device=tri.device)
    for r_a, r_b in _chunks(count, _MAX_PAIRS):
        cnt = count[r_a:r_b]
        row = _expand(cnt) + r_a  # N
        j = torch.arange(int(first[r_a]), int(first[r_a]) + row.numel(), device=row.device)  # N
        pk = packed.index_select(0, row)
        zp = zpair.index_select(0, row)  # N x 2
        zz = torch.addcmul(zp[:, 0], zp[:, 1], j.to(zp.dtype))
        pix = (pk >> 23) + j
        # one sortable int64 key per candidate: 31 bits of depth order, then 23 bits of face id
        key = (_depth_key(zz) << 23) | (pk & ((1 << 23) - 1))
        key = torch.where(zz >= 0, key, none)  # behind the camera: never wins
        best_key.scatter_reduce_(0, pix, key, reduce="amin")
    # decode the winners and evaluate their barycentrics and depth at the pixel centres
    pix = torch.nonzero(best_key != none).squeeze(1)  # M
    face = best_key.index_select(0, pix) & ((1 << 23) - 1)  # M global face ids
    to_local = torch.zeros(tri.shape[0], dtype=torch.long, device=tri.device)
    to_local[fid] = torch.arange(fid.numel(), device=tri.device)
    cf = coef.index_select(0, to_local.index_select(0, face))  # M x 4 x 3
    py_i = torch.div(pix, w, rounding_mode="floor")
    px = (pix - py_i * w).to(cf.dtype)
    py = py_i.to(cf.dtype)
    vals = cf[..., 0] * px[:, None] + cf[..., 1] * py[:, None] + cf[..., 2]  # M x 4: b0, b1, b2, z
    p2f.index_copy_(0, pix, face)
    zbuf.index_copy_(0, pix, vals[:, 3])
    bary.index_copy_(0, pix, vals[:, :3].contiguous())


def _plane_coefficients(x: Tensor, y: Tensor, z: Tensor, area: Tensor) -> Tensor:
    """Per face, b0, b1, b2 and z as affine functions A*px + B*py + C of the pixel centre.

    x, y, z: K x 3 screen coordinates; area: K (twice the signed area). Returns K x 4 x 3.
    """
    inv = 1.0 / area
    # b0: edge v1 -> v2, b1: edge v2 -> v0 (the same edge functions as the reference)
    a0 = -(y[:, 2] - y[:, 1]) * inv
    b0 = (x[:, 2] - x[:, 1]) * inv
    c0 = ((y[:, 2] - y[:, 1]) * x[:, 1] - (x[:, 2] - x[:, 1]) * y[:, 1]) * inv
    a1 = -(y[:, 0] - y[:, 2]) * inv
    b1 = (x[:, 0] - x[:, 2]) * inv
    c1 = ((y[:, 0] - y[:, 2]) * x[:, 2] - (x[:, 0] - x[:, 2]) * y[:, 2]) * inv
    a2, b2, c2 = -a0 - a1, -b0 - b1, 1.0 - c0 - c1
    za = a0 * z[:, 0] + a1 * z[:, 1] + a2 * z[:, 2]
    zb = b0 * z[:, 0] + b1 * z[:, 1] + b2 * z[:, 2]
    zc = c0 * z[:, 0] + c1 * z[:, 1] + c2 * z[:, 2]
    return torch.stack([torch.stack([a0, b0, c0], 1), torch.stack([a1, b1, c1], 1),
                        torch.stack([a2, b2, c2], 1), torch.stack([za, zb, zc], 1)], 1)


def _expand(counts: Tensor) -> Tensor:
    """[2, 0, 3] -> [0, 0, 2, 2, 2]: the owner of each expanded element."""
    return torch.repeat_interleave(torch.arange(counts.numel(), device=counts.device), counts)


def _ramp(counts: Tensor) -> Tensor:
    """[2, 0, 3] -> [0, 1, 0, 1, 2]: the position of each expanded element within its owner."""
    n = int(counts.sum())
    first = torch.cumsum(counts, 0) - counts
    return torch.arange(n, device=counts.device) - torch.repeat_interleave(first, counts)


def _chunks(counts: Tensor, limit: int):
    """Split owners into consecutive ranges whose expanded size stays under ``limit``."""
    csum = torch.cumsum(counts, 0)
    total = int(csum[-1]) if counts.numel() else 0
    starts = [0]
    if total > limit:
        marks = torch.arange(limit, total, limit, device=counts.device)
        starts += [int(i) for i in torch.searchsorted(csum, marks).tolist()]
    starts.append(counts.numel())
    return [(a, b) for a, b in zip(starts[:-1], starts[1:]) if b > a]


def _depth_key(z: Tensor) -> Tensor:
    """Monotone map of non-negative depths to 31-bit integers: the float32 bit pattern, which
    orders like the value for z >= 0 (fits beside the 23-bit face id in an int64 key)."""
    return z.to(torch.float32).clamp(min=0).view(torch.int32).long()
