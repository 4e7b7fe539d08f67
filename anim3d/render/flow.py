"""Dense backward flow from a source face mesh to a driven one, and the image warp.

The warp mesh covers the whole image: MediaPipe's face tessellation (468 landmarks), strips that
close the eyes and the mouth (so an opening mouth stretches the lip seam and the network can see
where the cavity is), and around the face two rings of extra vertices plus the image border, so
hair, ears and neck move smoothly with the head and the background stays put.

Rasterizing the driven mesh gives, per output pixel, a triangle and barycentrics; the same
barycentrics on the source mesh give the source pixel to sample (backward flow).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from anim3d.landmarks import (EYE_L_LOWER, EYE_L_UPPER, EYE_R_LOWER, EYE_R_UPPER, MOUTH_LOWER, MOUTH_UPPER, NUM_LANDMARKS,
                              STABLE_LANDMARKS)
from anim3d.render.gaze import eye_iris_points

RING_SCALES = (1.2, 1.7)  # ring radii relative to the face oval, measured from its centre
RING_WEIGHTS = (1.0, 0.35)  # how much of the head's rigid motion each ring follows
BELOW_CHIN_FACTOR = 0.5  # the neck follows the head less than hair does
BORDER_STEPS = 6


@lru_cache(maxsize=1)
def face_triangles() -> np.ndarray:
    """MediaPipe's face tessellation as triangles (3-cliques of its edge list), F x 3 int64."""
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    edges = {tuple(sorted(e)) for e in FACEMESH_TESSELATION}
    adj = collections.defaultdict(set)
    for a, b in edges:
        adj[a].add(b)
        adj[b].add(a)
    tris = {tuple(sorted((a, b, c))) for a, b in edges for c in adj[a] & adj[b]}
    return np.array(sorted(tris), np.int64)


def _strip(upper: tuple[int, ...], lower: tuple[int, ...]) -> np.ndarray:
    """Triangles closing the hole between two chains that share their first and last vertex."""
    tris = []
    for i in range(len(upper) - 1):
        a, b, c, d = upper[i], upper[i + 1], lower[i + 1], lower[i]
        for t in ((a, b, c), (a, c, d)):
            if len(set(t)) == 3:
                tris.append(t)
    return np.array(tris, np.int64)


def _eye_triangles(lm: np.ndarray, upper: tuple[int, ...], lower: tuple[int, ...], iris_ids) -> np.ndarray:
    """Triangles filling one eye opening, through the iris points inside it (anim3d.render.gaze
    moves those with the gaze): Delaunay over the lid loop and the irises, inside the loop only.
    Without iris landmarks inside the opening, the plain strip between the lids."""
    from matplotlib.path import Path
    from scipy.spatial import Delaunay

    loop = list(upper) + list(lower[-2:0:-1])
    poly = Path(lm[loop, :2])
    iris = [int(i) for i in iris_ids if poly.contains_point(lm[i, :2])]
    if not iris:
        return _strip(upper, lower)
    ids = np.array(loop + iris)
    try:
        tri = ids[Delaunay(lm[ids, :2]).simplices]
    except Exception:  # noqa: BLE001 - degenerate (a closed eye in the portrait): the plain strip
        return _strip(upper, lower)
    keep = poly.contains_points(lm[tri, :2].mean(1))
    return tri[keep].astype(np.int64)


@lru_cache(maxsize=1)
def face_oval_loop() -> tuple[int, ...]:
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_FACE_OVAL

    nxt = dict(FACEMESH_FACE_OVAL)
    start = 10
    loop = [start]
    while nxt[loop[-1]] != start:
        loop.append(nxt[loop[-1]])
    return tuple(loop)


@dataclass
class WarpMesh:
    """The whole-image warp mesh of one source portrait.

    vertices:     N x 3 source positions (crop pixels; z depth, smaller = nearer); the first 478 are landmarks
    faces:        F x 3 int64
    weights:      N - 478 rigid-motion weights of the extra vertices (rings < 1, border 0)
    mouth_faces:  F bool, triangles inside the lips
    inner_faces:  F bool, triangles of the face itself (tessellation, eyes, mouth)
    size:         crop size in pixels
    """

    vertices: np.ndarray
    faces: np.ndarray
    weights: np.ndarray
    mouth_faces: np.ndarray
    inner_faces: np.ndarray
    size: int


def build_warp_mesh(landmarks: np.ndarray, size: int) -> WarpMesh:
    """The warp mesh for a source face with ``landmarks`` (478 x 3 crop pixels) in a ``size`` crop."""
    from scipy.spatial import Delaunay

    lm = np.asarray(landmarks, np.float64)[:NUM_LANDMARKS]
    tri_face = face_triangles()
    tri_mouth = _strip(MOUTH_UPPER, MOUTH_LOWER)

    iris = np.concatenate(eye_iris_points(lm))  # the iris points that gaze moves
    tri_eyes = np.concatenate([_eye_triangles(lm, EYE_R_UPPER, EYE_R_LOWER, iris), _eye_triangles(lm, EYE_L_UPPER, EYE_L_LOWER, iris)])

    oval = np.array(face_oval_loop())
    centre = lm[oval, :2].mean(0)
    chin_y = lm[152, 1]
    back_z = lm[:, 2].max() + 0.5 * size  # extra vertices lie behind the face
    extra, weights = [], []
    for scale, w in zip(RING_SCALES, RING_WEIGHTS):
        for i in oval[::2]:
            p = centre + scale * (lm[i, :2] - centre)
            if -0.2 * size < p[0] < 1.2 * size and -0.2 * size < p[1] < 1.2 * size:
                extra.append((p[0], p[1], back_z))
                weights.append(w * (BELOW_CHIN_FACTOR if p[1] > chin_y else 1.0))
    lo, hi = -0.25 * size, 1.25 * size  # border beyond the rings
    for t in np.linspace(0, 1, BORDER_STEPS, endpoint=False):
        for p in ((lo + t * (hi - lo), lo), (hi, lo + t * (hi - lo)), (hi - t * (hi - lo), hi), (lo, hi - t * (hi - lo))):
            extra.append((p[0], p[1], back_z))
            weights.append(0.0)
    extra = np.array(extra, np.float64)
    verts = np.concatenate([lm, extra])

    # Outside the face: Delaunay over the oval, rings and border, minus triangles inside the oval.
    outer_ids = np.concatenate([oval, NUM_LANDMARKS + np.arange(len(extra))])
    dl = Delaunay(verts[outer_ids, :2])
    tri_out = outer_ids[dl.simplices]
    from matplotlib.path import Path

    oval_path = Path(lm[oval, :2])
    inside = oval_path.contains_points(verts[tri_out, :2].mean(1))
    tri_out = tri_out[~inside]

    faces = np.concatenate([tri_face, tri_eyes, tri_mouth, tri_out]).astype(np.int64)
    n_in = len(tri_face) + len(tri_eyes) + len(tri_mouth)
    mouth = np.zeros(len(faces), bool)
    mouth[len(tri_face) + len(tri_eyes):n_in] = True
    inner = np.zeros(len(faces), bool)
    inner[:n_in] = True
    return WarpMesh(verts.astype(np.float32), faces, np.array(weights, np.float32), mouth, inner, int(size))


def similarity_2d(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 2-D similarity (Umeyama) mapping src (N x 2) onto dst; returns 2 x 3."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    cov = b.T @ a / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    e = np.diag([1.0, d])
    r = u @ e @ vt
    scale = (s * np.diag(e)).sum() / a.var(0).sum()
    m = np.zeros((2, 3))
    m[:, :2] = scale * r
    m[:, 2] = md - m[:, :2] @ ms
    return m


def driven_vertices(mesh: WarpMesh, driven_landmarks: np.ndarray) -> np.ndarray:
    """All warp-mesh vertices for driven landmarks: rings follow the head's rigid motion partly."""
    src_lm = mesh.vertices[:NUM_LANDMARKS]
    drv = np.asarray(driven_landmarks, np.float32)[:NUM_LANDMARKS]
    ids = list(STABLE_LANDMARKS)
    m = similarity_2d(src_lm[ids, :2], drv[ids, :2])
    extra = mesh.vertices[NUM_LANDMARKS:].copy()
    moved = extra[:, :2] @ m[:, :2].T + m[:, 2]
    extra[:, :2] += mesh.weights[:, None] * (moved - extra[:, :2])
    return np.concatenate([drv, extra]).astype(np.float32)


def rasterize_2d(verts: torch.Tensor, faces: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rasterize screen-space triangles onto an n x n grid with a depth test, batched over frames.

    verts: (B x) V x 3 (x, y in grid pixels, pixel centres at i + 0.5; z depth, smaller = nearer)
    faces: F x 3 long, shared by all frames
    Returns pix_to_face ((B x) n x n long, -1 = empty) and bary ((B x) n x n x 3), pytorch3d's convention.

    Written here rather than using flame.rasterizer because this mesh is 2-D, small and
    screen-aligned: enumerating each triangle's bounding-box pixels for a whole batch of frames
    in one vectorised pass costs a few ms at n = 128, which keeps the renderer fast on a CPU.
    """
    single = verts.dim() == 2
    if single:
        verts = verts[None]
    b, nv = verts.shape[:2]
    dev = verts.device
    nf = len(faces)
    tri = verts[:, faces].reshape(b * nf, 3, 3)  # BF x 3 x 3
    frame = torch.arange(b, device=dev).repeat_interleave(nf)  # BF
    x, y = tri[..., 0], tri[..., 1]
    area = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])  # BF, twice signed area
    x0 = torch.ceil(x.min(1).values - 0.5).clamp(0, n).long()
    x1 = torch.floor(x.max(1).values - 0.5).clamp(-1, n - 1).long()
    y0 = torch.ceil(y.min(1).values - 0.5).clamp(0, n).long()
    y1 = torch.floor(y.max(1).values - 0.5).clamp(-1, n - 1).long()
    w = (x1 - x0 + 1).clamp(min=0)
    h = (y1 - y0 + 1).clamp(min=0)
    count = torch.where(area.abs() > 1e-9, w * h, torch.zeros_like(w))  # BF
    fid = torch.repeat_interleave(torch.arange(b * nf, device=dev), count)  # K candidate (triangle, pixel) pairs
    offsets = torch.cumsum(count, 0) - count
    local = torch.arange(fid.numel(), device=dev) - offsets[fid]
    px = x0[fid] + local % w[fid]
    py = y0[fid] + torch.div(local, w[fid], rounding_mode="floor")
    cx, cy = px.to(verts.dtype) + 0.5, py.to(verts.dtype) + 0.5
    tx, ty = x[fid], y[fid]  # K x 3
    b0 = ((tx[:, 1] - cx) * (ty[:, 2] - cy) - (tx[:, 2] - cx) * (ty[:, 1] - cy)) / area[fid]
    b1 = ((tx[:, 2] - cx) * (ty[:, 0] - cy) - (tx[:, 0] - cx) * (ty[:, 2] - cy)) / area[fid]
    bary = torch.stack([b0, b1, 1 - b0 - b1], 1)  # K x 3
    inside = (bary >= -1e-5).all(1)
    fid, px, py, bary = fid[inside], px[inside], py[inside], bary[inside]
    depth = (bary * tri[fid, :, 2]).sum(1)
    pix = frame[fid] * (n * n) + py * n + px
    zbuf = torch.full((b * n * n,), float("inf"), device=dev, dtype=verts.dtype)
    zbuf.scatter_reduce_(0, pix, depth, reduce="amin")
    front = depth <= zbuf[pix]
    pix_to_face = torch.full((b * n * n,), -1, device=dev, dtype=torch.long)
    pix_to_face[pix[front]] = fid[front] % nf
    out_bary = torch.zeros(b * n * n, 3, device=dev, dtype=verts.dtype)
    out_bary[pix[front]] = bary[front]
    p2f, out_bary = pix_to_face.view(b, n, n), out_bary.view(b, n, n, 3)
    return (p2f[0], out_bary[0]) if single else (p2f, out_bary)


@dataclass
class FlowMaps:
    """Per-frame maps on the n x n flow grid.

    source_xy: n x n x 2 source position (crop pixels) to sample for each output pixel
    mouth:     n x n float, 1 inside the driven mouth
    face:      n x n float, 1 on the driven face
    """

    source_xy: torch.Tensor
    mouth: torch.Tensor
    face: torch.Tensor
    mouth_uv: torch.Tensor | None = None  # n x n x 2: (across the mouth 0..1, upper lip 0 .. lower lip 1)


@lru_cache(maxsize=1)
def mouth_vertex_uv() -> np.ndarray:
    """478 x 2 per-landmark mouth coordinates for the mouth strip: u runs from corner 78 (0) to
    corner 308 (1) along the inner lips, v is 0 on the upper inner lip and 1 on the lower one
    (0.5 at the corners). Interpolated over the strip, they parametrize the open mouth's interior."""
    uv = np.zeros((NUM_LANDMARKS, 2), np.float32)
    k = len(MOUTH_UPPER) - 1
    for i, (a, b) in enumerate(zip(MOUTH_UPPER, MOUTH_LOWER)):
        uv[a] = (i / k, 0.0)
        uv[b] = (i / k, 1.0)
    uv[MOUTH_UPPER[0], 1] = uv[MOUTH_UPPER[-1], 1] = 0.5
    return uv


COARSE_FACTOR = 4  # the whole mesh is rasterized at n / 4; only the face's small triangles at n


def _source_positions(p2f, bary, faces, src, ident):
    covered = p2f >= 0
    f = p2f.clamp(min=0)
    xy = (bary[..., None] * src[faces[f]]).sum(-2)  # B x m x m x 2
    return torch.where(covered[..., None], xy, ident), covered, f


def _pixel_centres(m: int, size: int, device) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(m, device=device), torch.arange(m, device=device), indexing="ij")
    return (torch.stack([xs, ys], -1).float() + 0.5) * (size / m)  # m x m x 2 crop pixels


def backward_flow(mesh: WarpMesh, driven, n: int, device="cpu") -> FlowMaps:
    """Dense backward flow for driven mesh vertices ((B x) N x 3 crop pixels) on an n x n grid.
    Batched input gives batched maps (B x n x n x 2, B x n x n).

    Two levels, for speed: the whole mesh at n / COARSE_FACTOR (hair, neck and background move
    smoothly, and their triangles are large), upsampled; the face's small triangles at n on top.
    """
    import torch.nn.functional as F

    drv = torch.as_tensor(np.asarray(driven), dtype=torch.float32, device=device)
    single = drv.dim() == 2
    if single:
        drv = drv[None]
    src = torch.as_tensor(mesh.vertices[:, :2], dtype=torch.float32, device=device)
    faces = torch.as_tensor(mesh.faces, device=device)
    inner_ids = torch.as_tensor(np.flatnonzero(mesh.inner_faces), device=device)
    inner = faces[inner_ids]

    m = max(n // COARSE_FACTOR, 2)
    coarse_verts = torch.cat([drv[..., :2] * (m / mesh.size), drv[..., 2:]], -1)  # B x N x 3
    p2f, bary = rasterize_2d(coarse_verts, faces, m)
    centres = _pixel_centres(m, mesh.size, device)
    coarse, _, _ = _source_positions(p2f, bary, faces, src, centres)
    # upsample the displacement, not the positions: it is near constant at the image border,
    # where bilinear upsampling has to extrapolate
    disp = F.interpolate((coarse - centres).permute(0, 3, 1, 2), size=(n, n), mode="bilinear", align_corners=False)
    coarse = disp.permute(0, 2, 3, 1) + _pixel_centres(n, mesh.size, device)  # B x n x n x 2

    fine_verts = torch.cat([drv[..., :2] * (n / mesh.size), drv[..., 2:]], -1)
    p2f, bary = rasterize_2d(fine_verts, inner, n)
    src_xy, covered, f = _source_positions(p2f, bary, inner, src, coarse)
    in_mouth = torch.as_tensor(mesh.mouth_faces, device=device)[inner_ids][f] & covered
    mouth = in_mouth.float()
    face = covered.float()
    vuv = torch.zeros(len(mesh.vertices), 2, device=device)
    vuv[:NUM_LANDMARKS] = torch.as_tensor(mouth_vertex_uv(), device=device)
    uv = (bary[..., None] * vuv[inner[f]]).sum(-2) * mouth[..., None]  # B x n x n x 2
    if single:
        return FlowMaps(src_xy[0], mouth[0], face[0], uv[0])
    return FlowMaps(src_xy, mouth, face, uv)


def warp_image(image: torch.Tensor, source_xy: torch.Tensor, size: int) -> torch.Tensor:
    """Sample ``image`` (B x C x H x W) at source positions (B x n x n x 2, in ``size`` crop pixels),
    upsampling the flow to H x W first. Returns B x C x H x W."""
    b, c, h, w = image.shape
    xy = source_xy.permute(0, 3, 1, 2)  # B x 2 x n x n
    if xy.shape[-1] != w:
        xy = F.interpolate(xy, size=(h, w), mode="bilinear", align_corners=False)
    grid = (xy / size * 2 - 1).permute(0, 2, 3, 1)  # B x H x W x 2, normalised (-1 = left edge)
    return F.grid_sample(image, grid.to(image.dtype), mode="bilinear", padding_mode="border", align_corners=False)
