"""Baking a head's colour texture and sampling it (numpy and the project's rasterizer).

    r = uv_raster(head.uvs, head.faces, 1024)          # which face covers each texel, and where
    tex = paint_photo(head, photo, mapping, base)      # S x S x 3 uint8: a photo painted on the skin
    rgb = sample_texture(tex_t, uv)                    # N x 3 floats in [0, 1] (previews)

The texture coordinates are the head's own (``flame/open_head_build.uv_layout``: no triangle of the skin crosses
a cut, so a texel is only ever reached from one place of the head).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from anim3d.flame.head import HeadModel

SKIN_PARTS = ("face", "skull", "neck")


def skin_vertices(head: HeadModel) -> np.ndarray:
    """Indices of the skin vertices (face, skull, neck), sorted."""
    return np.unique(np.concatenate([np.asarray(head.parts[p], np.int64) for p in SKIN_PARTS if p in head.parts]))


@dataclass
class UVRaster:
    """Which face covers each texel of an S x S atlas, and where in it."""

    face: np.ndarray  # S x S int64, -1 where no face
    bary: np.ndarray  # S x S x 3 float32 barycentrics (0 where no face)


def uv_raster(uvs: np.ndarray, faces: np.ndarray, size: int) -> UVRaster:
    """Rasterize the mesh's faces in texture space (texel row = v * size, column = u * size)."""
    from anim3d.flame.rasterizer import rasterize

    uv = torch.as_tensor(uvs, dtype=torch.float32)
    # the rasterizer's NDC: +X left, +Y up; texel column 0 is u = 0 (left), row 0 is v = 0 (top)
    ndc = torch.stack([1.0 - 2.0 * uv[:, 0], 1.0 - 2.0 * uv[:, 1], torch.ones(len(uv))], dim=1)[None]  # 1 x V x 3
    frags = rasterize(ndc, torch.as_tensor(faces, dtype=torch.long), size)
    face = frags.pix_to_face[0, :, :, 0].numpy().astype(np.int64)
    bary = frags.bary_coords[0, :, :, 0].clamp(min=0).numpy().astype(np.float32)
    bary[face < 0] = 0
    return UVRaster(face, bary)


def interpolate(r: UVRaster, faces: np.ndarray, values: np.ndarray) -> np.ndarray:
    """V x C per-vertex values -> S x S x C at each covered texel (0 elsewhere)."""
    f = np.maximum(r.face, 0)
    corner = values[faces[f]]  # S x S x 3 x C
    out = (r.bary[..., None] * corner).sum(axis=2)
    out[r.face < 0] = 0
    return out.astype(np.float32)


def bilinear(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """H x W x 3 image, N x 2 pixel positions (x right, y down; pixel centres at integers) -> N x 3 float32."""
    h, w = image.shape[:2]
    x = np.clip(xy[:, 0], 0, w - 1.001)
    y = np.clip(xy[:, 1], 0, h - 1.001)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    im = image.astype(np.float32)
    return ((1 - fy) * ((1 - fx) * im[y0, x0] + fx * im[y0, x0 + 1]) + fy * ((1 - fx) * im[y0 + 1, x0] + fx * im[y0 + 1, x0 + 1]))


def dilate(texture: np.ndarray, filled: np.ndarray, steps: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Spread the filled texels' colours into the empty ones around them (``steps`` texels), so that
    bilinear filtering and mipmaps at island edges do not pull in the empty background: (the texture, the mask
    of the texels it now fills)."""
    tex, mask = texture.astype(np.float32).copy(), filled.copy()
    for _ in range(steps):
        acc = np.zeros_like(tex)
        n = np.zeros(mask.shape, np.float32)
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            m = np.roll(mask, (dy, dx), axis=(0, 1))
            acc += np.roll(tex, (dy, dx), axis=(0, 1)) * m[..., None]
            n += m
        grow = (~mask) & (n > 0)
        tex[grow] = acc[grow] / n[grow][:, None]
        mask = mask | grow
    return tex, mask


def sample_texture(texture: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """3 x H x W float texture in [0, 1], N x 2 uv (v down) -> N x 3 bilinear colours."""
    grid = (uv * 2.0 - 1.0)[None, None]  # 1 x 1 x N x 2, (x, y) in [-1, 1]
    out = torch.nn.functional.grid_sample(texture[None], grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out[0, :, 0].T  # N x 3


@dataclass
class PhotoMapping:
    """Where each vertex of a head shows in a photo, and how much to trust it.

    xy:     V x 2 photo pixel position (x right, y down)
    weight: V, 0..1: the photo's share in the vertex's colour (the rest is ``fill``)
    fill:   V x 3 colour (0..255) where the photo is not used: skin or hair
    """

    xy: np.ndarray
    weight: np.ndarray
    fill: np.ndarray


def paint_photo(head: HeadModel, photo: np.ndarray, mapping: PhotoMapping, base: np.ndarray) -> np.ndarray:
    """``base`` (S x S x 3 uint8, the texture at the head's uvs to start from) with the skin's texels (face, skull,
    neck) painted from the photo: ``mapping.weight`` of the photo at the texel's interpolated photo position and
    the rest of the interpolated ``mapping.fill``. The skin's colours are spread a few texels past its edges."""
    skin = skin_vertices(head)
    faces = head.faces[np.isin(head.faces, skin).all(axis=1)]
    r = uv_raster(head.uvs, faces, base.shape[0])
    xy = interpolate(r, faces, mapping.xy.astype(np.float32))
    w = interpolate(r, faces, mapping.weight.astype(np.float32)[:, None])[..., 0]
    out = interpolate(r, faces, mapping.fill.astype(np.float32))
    covered = r.face >= 0
    use = covered & (w > 1e-3)
    out[use] = w[use, None] * bilinear(photo, xy[use]) + (1.0 - w[use, None]) * out[use]
    grown, reach = dilate(out, covered, steps=4)
    tex = base.astype(np.float32).copy()
    tex[reach] = grown[reach]
    return np.clip(tex + 0.5, 0, 255).astype(np.uint8)
