"""The open head's colour texture (baked by ``scripts/build_open_head.py``; numpy + the project rasterizer).

The texture carries what lets a viewer read an expression against the face: eyebrows, the upper lash
line and the lower lid line, an eyelid crease, the lips with a crisp border and a darker seam, a little
colour (cheeks, nose, lips) and ambient occlusion baked into the skin, so the relief (eye sockets, the
sides of the nose, the mouth's corners) shows in any viewer, not only in the project's previews. Features
are drawn in 3D, on the rest face's frontal projection (metres), at every texel's rest position (a position
map rasterized in UV space), so they sit where MediaPipe's landmarks put them on the mesh: the brows between
the two brow rows, the lid lines on the lid contours. The eyeballs, teeth and tongue have their own corners
of the atlas (an iris and pupil, gaps between the teeth and a band of gum, a groove on the tongue); the eye
sockets sit in the eye openings (painted dark) and the mouth cavity on the inner lip contours (a dark seam),
``open_head_build.uv_layout``.
"""

from __future__ import annotations

import numpy as np

from anim3d import landmarks as lm
from anim3d.flame.open_head_build import EYE_RADIUS, UV_SLOTS, Build
from anim3d.flame.open_head_geometry import smoothstep
from anim3d.flame.texture import interpolate, uv_raster

TEXTURE_SIZE = 1024
SKIN = np.array([0.86, 0.67, 0.55])
BROW = np.array([0.24, 0.16, 0.11])
LASH = np.array([0.10, 0.07, 0.06])
LIPS = np.array([0.74, 0.40, 0.38])
LIP_SEAM = np.array([0.45, 0.17, 0.17])
SCLERA = np.array([0.94, 0.92, 0.89])
IRIS = np.array([0.30, 0.42, 0.52])
PUPIL = np.array([0.04, 0.04, 0.05])
TEETH = np.array([0.95, 0.93, 0.85])
GUM = np.array([0.80, 0.45, 0.45])
TONGUE = np.array([0.80, 0.40, 0.42])
CAVITY = np.array([0.30, 0.08, 0.09])
SOCKET = np.array([0.25, 0.14, 0.12])
AO_MIN = 0.55  # skin brightness where the occlusion is complete


def ambient_occlusion(verts: np.ndarray, faces: np.ndarray, directions: int = 48, size: int = 160,
                      eps: float = 0.002) -> np.ndarray:
    """V in [0, 1]: how open each vertex is to the sky, the cosine-weighted share of view directions (a
    Fibonacci sphere, each weighted by max(0, normal . direction)) from which an orthographic depth map sees it."""
    import torch

    from anim3d.flame.head import vertex_normals
    from anim3d.flame.rasterizer import rasterize

    v = verts - verts.mean(0)
    scale = np.abs(v).max() * 1.05
    n = vertex_normals(v, faces)
    k = np.arange(directions) + 0.5  # a Fibonacci sphere of view directions
    z = 1 - 2 * k / directions
    a = np.pi * (1 + 5**0.5) * k
    dirs = np.stack([np.sqrt(1 - z * z) * np.cos(a), np.sqrt(1 - z * z) * np.sin(a), z], 1)
    seen = np.zeros(len(v))
    weight = np.zeros(len(v))
    ft = torch.as_tensor(faces)
    for d in dirs:
        e1 = np.cross(d, [0.0, 1.0, 0.0] if abs(d[1]) < 0.9 else [1.0, 0.0, 0.0])
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(d, e1)
        x, y, depth = v @ e1 / scale, v @ e2 / scale, 2.0 - v @ d / scale  # nearer the viewer = smaller depth
        ndc = np.stack([-x, y, depth], 1)
        fr = rasterize(torch.as_tensor(ndc[None]), ft, size, use_pytorch3d=False)
        zb = fr.zbuf[0, :, :, 0].numpy()
        col = np.clip(((1 - (-x)) * 0.5 * size).astype(int), 0, size - 1)
        row = np.clip(((1 - y) * 0.5 * size).astype(int), 0, size - 1)
        front = zb[row, col]
        vis = (front < 0) | (depth <= front + eps / scale)
        w = np.clip(n @ d, 0, None)
        seen += w * vis
        weight += w
    return seen / np.maximum(weight, 1e-9)


def _smooth(x: float | np.ndarray, lo: float, hi: float):
    return smoothstep((x - lo) / (hi - lo))


def _resample(line: np.ndarray, samples: int = 400) -> np.ndarray:
    """K x D polyline -> samples x D points evenly spaced along its length."""
    seg = np.linalg.norm(np.diff(line, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)]) / max(seg.sum(), 1e-12)
    t = np.linspace(0, 1, samples)
    return np.stack([np.interp(t, s, line[:, k]) for k in range(line.shape[1])], 1)


def _polyline_distance(p: np.ndarray, line: np.ndarray, samples: int = 400, reach: float = 0.006) -> tuple[np.ndarray, np.ndarray]:
    """N x 2 points, K x 2 polyline -> (distance N, position along the line 0..1 N) to a dense resampling; points
    farther than ``reach`` from the line's box get distance inf."""
    from scipy.spatial import cKDTree

    t = np.linspace(0, 1, samples)
    dense = _resample(line, samples)
    near = np.all((p > line.min(0) - reach) & (p < line.max(0) + reach), axis=1)
    d, pos = np.full(len(p), np.inf), np.zeros(len(p))
    if near.any():
        dd, k = cKDTree(dense).query(p[near])
        d[near], pos[near] = dd, t[k]
    return d, pos


def _over(col: np.ndarray, paint: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return col * (1 - alpha[:, None]) + paint[None] * alpha[:, None]


def _brow(xy: np.ndarray, f: np.ndarray, ids: tuple) -> np.ndarray:
    """Alpha of one eyebrow between MediaPipe's lower and upper brow rows (outer .. inner), tapering to the tail."""
    lower, upper = f[list(ids[:5]), :2], f[list(ids[5:]), :2]
    mid = 0.5 * (lower + upper)[::-1]  # inner .. outer
    half = 0.5 * np.linalg.norm(upper - lower, axis=1)[::-1]
    dist, t = _polyline_distance(xy, mid)
    h = np.interp(t, np.linspace(0, 1, 5), half) * np.interp(t, [0, 0.15, 0.6, 1], [0.75, 0.85, 0.75, 0.45])
    core = 1 - _smooth(dist, h - 0.0006, h + 0.0006)
    # hair: fine streaks along the brow (leaning up and out), darker near the inner end
    hair = 0.8 + 0.2 * np.sin(2 * np.pi * (xy[:, 0] * 1400 * np.sign(xy[:, 0] + 1e-12) + xy[:, 1] * 900))
    return core * hair * np.interp(t, [0, 0.1, 1], [0.75, 0.9, 0.8])


def skin_texels(b: Build, xyz: np.ndarray, face_w: np.ndarray, ao: np.ndarray) -> np.ndarray:
    """Colour of skin texels at rest positions ``xyz`` (N x 3); ``face_w`` N: 1 on the face, 0 on the skull;
    ``ao`` N in [0, 1]."""
    col = np.repeat(SKIN[None], len(xyz), 0)
    front = face_w > 0.5
    col[front] = _face_texels(b, xyz[front])
    shade = AO_MIN + (1 - AO_MIN) * _smooth(ao, 0.15, 0.75)
    return col * shade[:, None]


def _face_texels(b: Build, xyz: np.ndarray) -> np.ndarray:
    """Colour of texels on the face (rest positions N x 3): skin, lips, brows, lid lines."""
    f = b.verts[:468]
    xy = xyz[:, :2]
    front = np.ones(len(xyz))
    col = np.repeat(SKIN[None], len(xyz), 0)
    # warmth: cheeks, nose tip and chin a little redder
    for c, s, k in ((f[425], 0.018, 0.06), (f[205], 0.018, 0.06), (f[1], 0.01, 0.05), (f[152], 0.012, 0.03)):
        g = np.exp(-0.5 * np.sum((xyz - c) ** 2, 1) / s**2) * front
        col = col * (1 - k * g[:, None]) + np.array([0.85, 0.45, 0.42])[None] * (k * g[:, None])
    # lips: a crisp border on the outer contour, the seam darker
    outer = np.concatenate([f[list(lm.MOUTH_UPPER_OUTER), :2], f[list(lm.MOUTH_LOWER_OUTER[::-1][1:-1]), :2]])
    from matplotlib.path import Path as _Poly

    inside = _Poly(outer).contains_points(xy) & (xyz[:, 2] > f[61, 2] - 0.005)
    d_edge, _ = _polyline_distance(xy, np.concatenate([outer, outer[:1]]))
    lip_a = np.where(inside, 0.5 + 0.5 * _smooth(d_edge, 0.0, 0.0004), 0.5 - 0.5 * _smooth(d_edge, 0.0, 0.0003)) * front
    roll = (~inside) * (1 - _smooth(d_edge, 0.0002, 0.0009)) * (xy[:, 1] > f[61, 1]) * front  # the white roll above
    col = _over(col, np.array([0.93, 0.76, 0.66]), 0.35 * roll)
    col = _over(col, LIPS, lip_a)
    from scipy.spatial import cKDTree

    d_seam, _ = cKDTree(_resample(f[list(lm.MOUTH_UPPER)])).query(xyz)  # in 3D: the inner lips curve away from the viewer
    col = _over(col, LIP_SEAM, (1 - _smooth(d_seam, 0.0002, 0.0009)) * inside * 0.7)
    # eyebrows
    for ids in (lm.BROW_L, lm.BROW_R):
        col = _over(col, BROW, np.clip(_brow(xy, f, ids), 0, 1) * front)
    # lid lines: upper lash line (thicker toward the outer corner), lower lid, crease
    for up, lo in ((lm.EYE_L_UPPER, lm.EYE_L_LOWER), (lm.EYE_R_UPPER, lm.EYE_R_LOWER)):
        upper = f[list(up), :2]  # outer .. inner
        d, t = _polyline_distance(xy, upper)
        w = np.interp(t, [0, 0.3, 1], [0.0009, 0.0007, 0.00035])
        col = _over(col, LASH, (1 - _smooth(d, 0.6 * w, w)) * front * 0.95)
        d, t = _polyline_distance(xy, f[list(lo), :2])
        col = _over(col, LASH, (1 - _smooth(d, 0.0002, 0.0005)) * front * 0.45)
        height = np.abs(f[up[4], 1] - f[lo[4], 1])
        crease = upper + np.array([0.0, 0.55 * height])
        crease[[0, -1]] = upper[[0, -1]] + np.array([0.0, 0.25 * height])
        d, t = _polyline_distance(xy, crease)
        col = _over(col, np.array([0.55, 0.38, 0.32]), (1 - _smooth(d, 0.0002, 0.0007)) * front * 0.55 * np.sin(np.pi * t))
    return col


def _island(texture: np.ndarray, slot, paint) -> None:
    """Fill an atlas slot: paint(q) -> colours, q = N x 2 coordinates in the part's frontal box (0..1, y up)."""
    size = texture.shape[0]
    u0, v0, u1, v1 = slot
    r0, r1, c0, c1 = int(v0 * size), int(np.ceil(v1 * size)), int(u0 * size), int(np.ceil(u1 * size))
    rows, cols = np.mgrid[r0:r1, c0:c1]
    qu = ((cols + 0.5) / size - u0) / (u1 - u0)
    qv = ((rows + 0.5) / size - v0) / (v1 - v0)
    q = np.stack([(qu - 0.05) / 0.9, (0.95 - qv) / 0.9], -1).reshape(-1, 2)  # uv_layout's inverse
    texture[r0:r1, c0:c1] = paint(q).reshape(r1 - r0, c1 - c0, 3)


def _openings(tex: np.ndarray, b: Build, uv: np.ndarray) -> None:
    """Paint the eye openings (where the sockets sit in UV) socket-dark, and the inner lip contour (where the
    mouth cavity sits) cavity-dark, a few texels wide."""
    from matplotlib.path import Path as _Poly
    from scipy.spatial import cKDTree

    size = tex.shape[0]
    for up, lo in ((lm.EYE_L_UPPER, lm.EYE_L_LOWER), (lm.EYE_R_UPPER, lm.EYE_R_LOWER)):
        loop = uv[np.array(up + lo[::-1][1:-1])] * size  # texel units (u = column, v = row)
        (c0, r0), (c1, r1) = np.floor(loop.min(0)).astype(int) - 2, np.ceil(loop.max(0)).astype(int) + 2
        rows, cols = np.mgrid[r0:r1, c0:c1]
        pts = np.stack([cols.ravel() + 0.5, rows.ravel() + 0.5], 1)
        inside = _Poly(loop).contains_points(pts, radius=1.0).reshape(rows.shape)
        tex[r0:r1, c0:c1][inside] = SOCKET
    for contour in (lm.MOUTH_UPPER, lm.MOUTH_LOWER):  # both inner lip contours: the cavity's rings lie on them
        dense = _resample(uv[np.array(contour)] * size)
        (c0, r0), (c1, r1) = np.floor(dense.min(0)).astype(int) - 4, np.ceil(dense.max(0)).astype(int) + 4
        rows, cols = np.mgrid[r0:r1, c0:c1]
        d, _ = cKDTree(dense).query(np.stack([cols.ravel() + 0.5, rows.ravel() + 0.5], 1))
        a = (1 - _smooth(d, 1.0, 2.0)).reshape(rows.shape)[..., None]
        tex[r0:r1, c0:c1] = tex[r0:r1, c0:c1] * (1 - a) + CAVITY * a


def bake_texture(b: Build, uv: np.ndarray, size: int = TEXTURE_SIZE) -> np.ndarray:
    """size x size x 3 uint8: the open head's colour texture for ``uv`` (``open_head_build.uv_layout``)."""
    v = b.verts
    tex = np.repeat(np.repeat(SKIN[None, None], size, 0), size, 1)
    skin_ids = np.concatenate([b.parts["face"], b.parts["skull"]])
    is_skin = np.zeros(len(v), bool)
    is_skin[skin_ids] = True
    skin_faces = b.faces[is_skin[b.faces].all(1)]
    ao = ambient_occlusion(v, b.faces)
    face_w = np.zeros(len(v))
    face_w[b.parts["face"]] = 1.0
    r = uv_raster(uv, skin_faces, size)
    img, hit = interpolate(r, skin_faces, np.concatenate([v, face_w[:, None], ao[:, None]], 1)), r.face >= 0
    tex[hit] = skin_texels(b, img[hit, :3], img[hit, 3], img[hit, 4])

    def eye_paint(side: str):
        ids = b.parts[f"{side}_eyeball"]
        lo, hi = v[ids, :2].min(0), v[ids, :2].max(0)
        c = b.joints[3 if side == "left" else 4, :2]

        def paint(q):
            r = np.linalg.norm(lo + q * (hi - lo) - c, axis=1) / EYE_RADIUS
            col = np.repeat(SCLERA[None], len(q), 0)
            col = _over(col, np.array([0.88, 0.72, 0.70]), _smooth(r, 0.7, 1.0) * 0.5)
            ang = np.arctan2(*(lo + q * (hi - lo) - c).T[::-1])
            iris = IRIS * (0.85 + 0.15 * np.sin(ang * 23)[:, None]) * (0.75 + 0.35 * _smooth(r, 0.2, 0.45))[:, None]
            col = col * (1 - _smooth(-r, -0.50, -0.47)[:, None]) + iris * _smooth(-r, -0.50, -0.47)[:, None]
            col = _over(col, np.array([0.12, 0.16, 0.2]), (_smooth(r, 0.42, 0.47) * (1 - _smooth(r, 0.49, 0.51))) * 0.8)
            return _over(col, PUPIL, 1 - _smooth(r, 0.19, 0.21))
        return paint

    def teeth_paint(side: str):
        ids = b.parts[f"{side}_teeth"]
        lo, hi = v[ids, :2].min(0), v[ids, :2].max(0)

        def paint(q):
            p = lo + q * (hi - lo)
            x = np.abs(p[:, 0])
            gaps = (0.0, 0.0085, 0.0145, 0.0205, 0.027, 0.034)
            d = np.min(np.abs(x[:, None] - np.array(gaps)[None]), 1)
            col = _over(np.repeat(TEETH[None], len(q), 0), np.array([0.70, 0.66, 0.58]), 1 - _smooth(d, 0.0002, 0.0006))
            gum = q[:, 1] > 0.8 if side == "upper" else q[:, 1] < 0.2
            return _over(col, GUM, gum * 1.0)
        return paint

    _island(tex, UV_SLOTS["left_eyeball"], eye_paint("left"))
    _island(tex, UV_SLOTS["right_eyeball"], eye_paint("right"))
    _island(tex, UV_SLOTS["upper_teeth"], teeth_paint("upper"))
    _island(tex, UV_SLOTS["lower_teeth"], teeth_paint("lower"))
    _island(tex, UV_SLOTS["tongue"], lambda q: TONGUE[None] * (0.85 + 0.15 * _smooth(np.abs(q[:, :1] - 0.5), 0.0, 0.1)))
    _openings(tex, b, uv)
    return (np.clip(tex, 0, 1) * 255 + 0.5).astype(np.uint8)
