"""A head mesh's colour texture: a UV layout whose skin has no seam, baking a photo into it, and sampling it.

    uvs = seamless_uvs(head)                           # V x 2, skin in a disc, other parts in a strip below
    tex = bake_texture(head, uvs, photo, photo_xy, fill)  # S x S x 3 uint8
    rgb = sample_texture(tex_t, uv)                    # N x 3 floats in [0, 1]

Why a layout of its own: the open head's cylindrical layout cuts the skin at the back of the head, and the
triangles across that cut would smear the whole atlas row (the face included) over the back of a textured head.
The skin here is laid out by an azimuthal equidistant projection about the direction opposite the neck's opening:
the projection is continuous everywhere but at that direction, which no skin triangle covers, so no triangle
crosses a cut. The face lies near the disc's centre, where the projection hardly distorts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from anim3d.flame.head import HeadModel

SKIN_PARTS = ("face", "skull", "neck")
DISC_PARTS = ("face", "skull")  # one closed-but-for-the-neck surface, laid out in the disc
# the neck is a shell of its own (inside the skull at its top): in the disc it would overlap the chin, so it is
# an island like the eyes and teeth
ISLANDS = ("neck", "left_eyeball", "right_eyeball", "upper_teeth", "lower_teeth", "tongue")
# parts joined to the face by triangles: they take the texture coordinate of their nearest face vertex (the lid or
# lip rim they hang from), so that no triangle spans two distant places of the atlas
ATTACHED = ("left_eye_socket", "right_eye_socket", "mouth_cavity")
DISC_CENTER = (0.5, 0.43)  # uv of the skin disc's centre (v down, as glTF's)
DISC_RADIUS = 0.42
STRIP = (0.87, 0.99)  # v range of the islands' strip below the disc


def skin_vertices(head: HeadModel) -> np.ndarray:
    """Indices of the skin vertices (face, skull, neck), sorted."""
    return np.unique(np.concatenate([np.asarray(head.parts[p], np.int64) for p in SKIN_PARTS if p in head.parts]))


def _ids(head: HeadModel, names) -> np.ndarray:
    return np.unique(np.concatenate([np.asarray(head.parts[n], np.int64) for n in names if n in head.parts] or [np.zeros(0, np.int64)]))


def projection_axes(head: HeadModel) -> tuple[np.ndarray, np.ndarray, int]:
    """(centre 3, R 3 x 3, pole): the centre of face and skull, the skull's pole at the back of the head (the
    vertex it is lofted to, which the projection cannot map) and an orthonormal frame whose third row points from
    the pole through the centre (towards the face: the projection's centre direction) and whose second row is as
    close to +Y as it can be."""
    v = head.vertices.astype(np.float64)
    disc = _ids(head, DISC_PARTS)
    centre = v[disc].mean(0)
    skull = _ids(head, ("skull",)) if "skull" in head.parts else disc
    valence = np.bincount(np.asarray(head.faces).reshape(-1), minlength=len(v))
    pole = int(skull[np.argmax(valence[skull])])  # the skull is lofted from the face's oval to one vertex
    z = centre - v[pole]
    z /= np.linalg.norm(z)
    y = np.array([0.0, 1.0, 0.0]) - z * z[1]
    y /= np.linalg.norm(y)
    return centre, np.stack([np.cross(y, z), y, z]), pole


def split_vertex(head: HeadModel, k: int) -> tuple[HeadModel, np.ndarray]:
    """A copy of ``head`` where vertex ``k`` has one copy per face around it (appended after the others: same
    position, morph offsets, skin weights and parts, its own mirror image), so that each face can give it its
    own texture coordinate; returns the head and the new vertex indices (one per face around ``k``)."""
    import copy

    faces = np.array(head.faces, copy=True)
    around = np.nonzero((faces == k).any(axis=1))[0]
    new = head.num_vertices + np.arange(len(around))
    for f, n in zip(around, new):
        faces[f][faces[f] == k] = n
    out = copy.copy(head)
    out.vertices = np.concatenate([head.vertices, np.repeat(head.vertices[k : k + 1], len(new), axis=0)])
    out.morph_targets = np.concatenate([head.morph_targets, np.repeat(head.morph_targets[:, k : k + 1], len(new), axis=1)], axis=1)
    out.skin_weights = np.concatenate([head.skin_weights, np.repeat(head.skin_weights[k : k + 1], len(new), axis=0)])
    out.faces = faces.astype(head.faces.dtype)
    if head.uvs is not None:
        out.uvs = np.concatenate([head.uvs, np.repeat(head.uvs[k : k + 1], len(new), axis=0)])
    out.parts = {}
    for name, ids in head.parts.items():
        ids = np.asarray(ids)
        if name == "mirror":  # a per-vertex map, not a list: the copies lie on the pole, their own mirror images
            out.parts[name] = np.concatenate([ids, new]).astype(ids.dtype)
        else:
            out.parts[name] = np.concatenate([ids, new]).astype(ids.dtype) if k in ids else ids
    return out, new


def with_seamless_uvs(head: HeadModel) -> HeadModel:
    """``head`` with texture coordinates that no triangle crosses a cut of (``seamless_uvs``): the skull's pole at the
    back is split into one vertex per face around it first (``split_vertex``)."""
    centre, rot, pole = projection_axes(head)
    head, copies = split_vertex(head, pole)
    head.uvs = seamless_uvs(head, centre, rot, copies)
    return head


def seamless_uvs(head: HeadModel, centre: np.ndarray, rot: np.ndarray, copies: np.ndarray) -> np.ndarray:
    """V x 2 texture coordinates: face and skull by an azimuthal equidistant projection into a disc (see the
    module docstring; ``centre`` and ``rot`` from ``projection_axes``, the ``copies`` of the split pole each at the rim in the direction of its face), the
    parts hanging from the face at their rim's, every other part (neck, eyes, teeth, tongue) in its own island
    in a strip below the disc."""
    v = head.vertices.astype(np.float64)
    uv = np.zeros((len(v), 2))
    skin = _ids(head, DISC_PARTS)
    d = (v[skin] - centre) @ rot.T  # N x 3 in the projection frame
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    theta = np.arccos(np.clip(d[:, 2], -1.0, 1.0))  # N, 0 at the centre direction
    phi = np.arctan2(d[:, 1], d[:, 0])
    at = {int(i): n for n, i in enumerate(skin)}
    for c in copies:  # the pole's copies: the direction of the rest of their face
        f = head.faces[(head.faces == c).any(axis=1)][0]
        others = (v[[i for i in f if i != c]].mean(0) - centre) @ rot.T
        phi[at[int(c)]], theta[at[int(c)]] = np.arctan2(others[1], others[0]), np.pi
    r = DISC_RADIUS * theta / np.pi
    uv[skin, 0] = DISC_CENTER[0] + r * np.cos(phi)
    uv[skin, 1] = DISC_CENTER[1] - r * np.sin(phi)  # +Y up on the head is up (smaller v) in the image
    face = _ids(head, ("face",))
    from scipy.spatial import cKDTree

    tree = cKDTree(v[face])
    for name in ATTACHED:
        if name in head.parts:
            ids = np.asarray(head.parts[name], np.int64)
            uv[ids] = uv[face[tree.query(v[ids])[1]]]
    names = [n for n in ISLANDS if n in head.parts]
    for k, name in enumerate(names):
        ids = np.asarray(head.parts[name], np.int64)
        p = v[ids, :2]
        lo, hi = p.min(0), p.max(0)
        q = (p - lo) / np.maximum(hi - lo, 1e-9)
        uv[ids, 0] = (k + 0.05 + 0.9 * q[:, 0]) / len(names)
        uv[ids, 1] = STRIP[0] + (STRIP[1] - STRIP[0]) * (1.0 - q[:, 1])
    return uv.astype(np.float32)


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


def dilate(texture: np.ndarray, filled: np.ndarray, steps: int = 8) -> np.ndarray:
    """Spread the filled texels' colours into the empty ones around them (``steps`` texels), so that
    bilinear filtering and mipmaps at island edges do not pull in the empty background."""
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
    return tex


def sample_texture(texture: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """3 x H x W float texture in [0, 1], N x 2 uv (v down) -> N x 3 bilinear colours."""
    grid = (uv * 2.0 - 1.0)[None, None]  # 1 x 1 x N x 2, (x, y) in [-1, 1]
    out = torch.nn.functional.grid_sample(texture[None], grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out[0, :, 0].T  # N x 3


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and ease in and out."""
    t = np.clip(x, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """V x 3 area-weighted unit normals (numpy)."""
    v = vertices.astype(np.float64)
    fn = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


@dataclass
class PhotoMapping:
    """Where each vertex of a head shows in a photo, and how much to trust it.

    xy:     V x 2 photo pixel position (x right, y down)
    weight: V, 0..1: the photo's share in the vertex's colour (the rest is ``fill``)
    fill:   V x 3 colour (0..255) where the photo is not used: skin, hair, or the part's own colour
    """

    xy: np.ndarray
    weight: np.ndarray
    fill: np.ndarray


def bake_texture(head: HeadModel, uvs: np.ndarray, photo: np.ndarray, mapping: PhotoMapping, size: int = 1024) -> np.ndarray:
    """S x S x 3 uint8 texture for ``head`` at ``uvs``: each texel is ``mapping.weight`` of the photo at the
    texel's interpolated photo position and the rest of the interpolated ``mapping.fill``."""
    attached = np.concatenate([np.asarray(head.parts[n], np.int64) for n in ATTACHED if n in head.parts] or [np.zeros(0, np.int64)])
    own = ~np.isin(head.faces, attached).any(axis=1)  # the attached parts' triangles reuse the face's texels
    r = uv_raster(uvs, head.faces[own], size)
    faces = head.faces[own]
    xy = interpolate(r, faces, mapping.xy.astype(np.float32))
    w = interpolate(r, faces, mapping.weight.astype(np.float32)[:, None])[..., 0]
    fill = interpolate(r, faces, mapping.fill.astype(np.float32))
    covered = r.face >= 0
    out = fill.copy()
    use = covered & (w > 1e-3)
    out[use] = w[use, None] * bilinear(photo, xy[use]) + (1.0 - w[use, None]) * fill[use]
    out = dilate(out, covered)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
