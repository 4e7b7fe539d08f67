"""Geometry of the embedded open head (used by ``scripts/build_open_head.py``; pure numpy).

Why MediaPipe Face Mesh geometry: the face surface must correspond vertex-for-vertex to
MediaPipe's 468 landmarks, because the video importer solves ARKit weights from tracked
MediaPipe landmarks against this head's morph targets, and the portrait renderer drives a
MediaPipe-topology mesh with them. Running the Face Mesh model that ships inside the
mediapipe wheel on a portrait that ships inside scikit-image gives a real, measured face
shape with exactly that topology (triangles from MediaPipe's own tessellation), which we
then symmetrise. The rest (skull, neck, eyeballs, eye sockets, mouth cavity, teeth,
tongue) is procedural: simple lofts and spheres sized from the face's own proportions.
"""

from __future__ import annotations

import ast
import inspect

import numpy as np

from anim3d.landmarks import MIDLINE, MOUTH_LOWER, MOUTH_UPPER


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and ease in and out (3t^2 - 2t^3)."""
    t = np.clip(x, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def mediapipe_triangles() -> np.ndarray:
    """MediaPipe's face tessellation as F x 3 triangles.

    ``FACEMESH_TESSELATION`` is a frozenset of edges, but its source lists them as
    consecutive (a,b),(b,c),(c,a) triples of the canonical mesh's triangles; we read the
    ordered list from the module source to recover the triangles and their winding.
    """
    from mediapipe.python.solutions import face_mesh_connections as fmc

    tree = ast.parse(inspect.getsource(fmc))
    edges = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "FACEMESH_TESSELATION":
            edges = ast.literal_eval(node.value.args[0])
    if edges is None or len(edges) % 3:
        raise RuntimeError("unexpected mediapipe face_mesh_connections layout")
    tris = []
    for k in range(0, len(edges), 3):
        a, b, c = edges[k : k + 3]
        if not (a[1] == b[0] and b[1] == c[0] and c[1] == a[0]):
            raise RuntimeError("unexpected mediapipe tessellation order")
        tris.append((a[0], b[0], c[0]))
    return np.asarray(tris, np.int64)


def align_and_symmetrise(p: np.ndarray, ipd: float = 0.063, mirror: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Raw MediaPipe landmarks (468 x 3, image-space x right, y down, z away) ->
    symmetric face in metres (X = subject's left, Y up, Z forward) and the mirror map.

    Returns (points 468 x 3, mirror 468 int) with points[mirror] == points * (-1, 1, 1). ``mirror``: the
    landmarks' left-right pairing when it is known (the open head's, for any other face: matching positions
    pairs a turned or unusual face's landmarks wrongly); None finds it from the positions.
    """
    from scipy.optimize import linear_sum_assignment

    q = np.stack([p[:, 0], -p[:, 1], -p[:, 2]], axis=1).astype(np.float64)  # Y up, Z toward camera
    ex = q[263] - q[33]
    ex /= np.linalg.norm(ex)
    ey = q[10] - q[152]
    ey -= ex * (ey @ ex)
    ey /= np.linalg.norm(ey)
    ez = np.cross(ex, ey)
    rot = np.stack([ex, ey, ez])  # rows = new axes
    q = (q - q[list(MIDLINE)].mean(0)) @ rot.T
    known = mirror is not None
    mirror = np.asarray(mirror, np.int64) if known else np.arange(len(q))
    for _ in range(3):
        if not known:
            m = q * np.array([-1.0, 1.0, 1.0])
            cost = np.linalg.norm(q[:, None, :] - m[None, :, :], axis=2)
            _, mirror = linear_sum_assignment(cost)  # q[i] ~ mirror image of q[mirror[i]]
        # refine the symmetry plane: the midpoints of mirrored pairs lie on it
        d = q - q[mirror]
        w = np.abs(d[:, 0]) > 1e-9
        normal = (d[w] * np.sign(d[w, 0])[:, None]).mean(0)
        normal /= np.linalg.norm(normal)
        ax = normal
        ay = np.array([0.0, 1.0, 0.0]) - ax * ax[1]
        ay /= np.linalg.norm(ay)
        r2 = np.stack([ax, ay, np.cross(ax, ay)])
        mid = 0.5 * (q + q[mirror])
        q = (q - np.array([mid[:, 0].mean(), 0.0, 0.0])) @ r2.T
        q[:, 0] -= (0.5 * (q + q[mirror]))[:, 0].mean()
    if not np.array_equal(mirror[mirror], np.arange(len(q))):
        raise RuntimeError("mirror pairing is not an involution")
    sym = 0.5 * (q + q[mirror] * np.array([-1.0, 1.0, 1.0]))
    # metric scale from the inter-pupillary distance (mid-points of the eye corners)
    left_eye = 0.5 * (sym[263] + sym[362])
    right_eye = 0.5 * (sym[33] + sym[133])
    sym *= ipd / np.linalg.norm(left_eye - right_eye)
    return sym, mirror


def close_lips(points: np.ndarray, upper_weight: np.ndarray, sigma: float = 0.006, overlap: float = 0.0003) -> np.ndarray:
    """Bring the inner lip contours together at rest (the portrait's mouth is slightly open).

    The contours end ``overlap`` metres past each other so the closed seam has no pixel cracks.
    upper_weight: V in [0, 1], 1 on the upper-lip side of the mouth, 0 on the jaw side.
    """
    out = points.copy()
    disp = np.zeros_like(points)
    wsum = np.zeros(len(points))
    for u, l in zip(MOUTH_UPPER[1:-1], MOUTH_LOWER[1:-1]):
        meet = 0.5 * (points[u] + points[l])
        for idx, side in ((u, 1.0), (l, 0.0)):
            phi = np.exp(-np.sum((points - points[idx]) ** 2, 1) / (2 * sigma**2))
            phi *= upper_weight if side else (1 - upper_weight)
            target = meet + np.array([0.0, -overlap if side else overlap, 0.0])
            disp += phi[:, None] * (target - points[idx])
            wsum += phi
    out += disp / np.maximum(wsum, 1.0)[:, None]  # partition of unity near the lips, decays away
    return out


def neutral_mouth(points: np.ndarray, drop: float = 1.15, width: float = 0.82, sigma_up: float = 0.007,
                  sigma_down: float = 0.012, sigma_side: float = 0.012) -> np.ndarray:
    """Take the portrait's smile out of the closed mouth (468 x 3 face points, symmetric, metres).

    The astronaut smiles: her lip seam rises about 6.5 mm from the middle to the corners and her mouth is
    wider than real speakers' at rest (measured on tracked real speakers: corners 0.004 inter-ocular units
    above the lip line, width 0.56). Along the seam (the inner upper-lip contour) this lowers each point by
    ``drop`` of its height above the seam's middle and pulls it toward the midline to ``width`` of its |x|,
    sliding it along the lips' own arch (its depth at the new |x|), so the corners come forward as they come
    in. The surrounding skin follows with Gaussian falloffs above (``sigma_up``), below (``sigma_down``) and
    beyond the corners (``sigma_side``); the midline does not move, so the lips' middle (13/14) stays.
    """
    p = points
    seam = np.array(MOUTH_UPPER[MOUTH_UPPER.index(13):])  # middle (13) to the left inner corner (308)
    sx, sy, sz = np.abs(p[seam, 0]), p[seam, 1], p[seam, 2]
    order = np.argsort(sx)
    sx, sy, sz = sx[order], sy[order], sz[order]
    x_c = sx[-1]
    ax = np.abs(p[:, 0])
    y_seam = np.interp(ax, sx, sy)
    rise = y_seam - sy[0]  # the seam's height above its middle at each |x| (constant past the corner)
    x_new = width * np.minimum(ax, x_c) + np.maximum(ax - x_c, 0.0)  # where the point's |x| goes (past the corner: shifted)
    z_shift = np.interp(x_new, sx, sz) - np.interp(np.minimum(ax, x_c), sx, sz)  # along the arch
    dy = p[:, 1] - y_seam
    vert = np.exp(-0.5 * (dy / np.where(dy > 0, sigma_up, sigma_down)) ** 2)
    side = np.exp(-0.5 * (np.maximum(ax - x_c, 0.0) / sigma_side) ** 2)
    w = vert * side  # 1 on the seam up to the corners
    out = p.copy()
    out[:, 0] += np.sign(p[:, 0]) * (x_new - ax) * w
    out[:, 1] += -drop * rise * w
    out[:, 2] += z_shift * w
    return out


def harmonic_weights(num_vertices: int, faces: np.ndarray, fixed: dict[int, float]) -> np.ndarray:
    """Solve the graph Laplace equation on the mesh with Dirichlet values ``fixed``.

    A smooth 0..1 field (used for the jaw region) that follows the surface, so the
    upper and lower lips, separated by the mouth opening, get different values.
    """
    import scipy.sparse as sp
    import scipy.sparse.linalg as spl

    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = np.unique(np.sort(e, axis=1), axis=0)
    a = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(num_vertices, num_vertices))
    a = (a + a.T).tocsr()
    a.data[:] = 1.0
    lap = sp.diags(np.asarray(a.sum(1)).ravel()) - a
    known = np.array(sorted(fixed))
    vals = np.array([fixed[k] for k in known])
    unknown = np.setdiff1d(np.arange(num_vertices), known)
    x = np.zeros(num_vertices)
    x[known] = vals
    rhs = -lap[unknown][:, known] @ vals
    x[unknown] = spl.spsolve(lap[unknown][:, unknown].tocsc(), rhs)
    return np.clip(x, 0.0, 1.0)


def loft_to_pole(loop: np.ndarray, rings: list[np.ndarray], pole: int) -> np.ndarray:
    """Triangles joining a closed loop (vertex ids, ``loop``) through ``rings`` (arrays of new
    vertex ids of the same length) to a ``pole`` vertex id. Winding follows the loop order."""
    faces = []
    prev = np.asarray(loop)
    n = len(prev)
    for ring in rings:
        for i in range(n):
            j = (i + 1) % n
            faces.append((prev[i], prev[j], ring[j]))
            faces.append((prev[i], ring[j], ring[i]))
        prev = ring
    for i in range(n):
        faces.append((prev[i], prev[(i + 1) % n], pole))
    return np.asarray(faces, np.int64)


def uv_sphere(center: np.ndarray, radii: np.ndarray, n_lon: int, n_lat: int):
    """A closed UV sphere (poles on +Z/-Z, so the +Z pole is the pupil). Returns (verts, faces, lon_lat)."""
    verts = [np.array([0.0, 0.0, 1.0])]
    ll = [(0.0, 0.0)]
    for i in range(1, n_lat):
        th = np.pi * i / n_lat
        for k in range(n_lon):
            ph = 2 * np.pi * k / n_lon
            verts.append(np.array([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)]))
            ll.append((k / n_lon, i / n_lat))
    verts.append(np.array([0.0, 0.0, -1.0]))
    ll.append((0.0, 1.0))
    verts = np.asarray(verts)
    faces = []
    for k in range(n_lon):
        faces.append((0, 1 + k, 1 + (k + 1) % n_lon))
    for i in range(n_lat - 2):
        r0 = 1 + i * n_lon
        r1 = r0 + n_lon
        for k in range(n_lon):
            k1 = (k + 1) % n_lon
            faces.append((r0 + k, r1 + k, r1 + k1))
            faces.append((r0 + k, r1 + k1, r0 + k1))
    last = len(verts) - 1
    r0 = 1 + (n_lat - 2) * n_lon
    for k in range(n_lon):
        faces.append((r0 + k, last, r0 + (k + 1) % n_lon))
    return center + verts * radii, np.asarray(faces, np.int64), np.asarray(ll)


def swept_box(path: np.ndarray, up: float, down: float, thick: float):
    """A closed slab swept along a polyline ``path`` (N x 3, in the XZ plane-ish), with
    cross-section from y-down to y+up and depth ``thick`` toward the inside (-normal)."""
    n = len(path)
    tang = np.gradient(path, axis=0)
    tang /= np.linalg.norm(tang, axis=1, keepdims=True)
    outward = np.cross(tang, np.array([0.0, 1.0, 0.0]))  # horizontal normal
    outward *= np.sign(outward[n // 2, 2]) or 1.0
    corners = []
    for dy, dn in ((up, 0.0), (-down, 0.0), (-down, -thick), (up, -thick)):
        corners.append(path + np.array([0.0, dy, 0.0]) + outward * dn)
    verts = np.concatenate(corners)  # 4N x 3, ring c at c*N
    faces = []
    for c in range(4):
        c1 = (c + 1) % 4
        for i in range(n - 1):
            a, b = c * n + i, c * n + i + 1
            d, e = c1 * n + i, c1 * n + i + 1
            faces.append((a, d, e))
            faces.append((a, e, b))
    for i, sgn in ((0, 1), (n - 1, -1)):  # end caps
        q = [c * n + i for c in range(4)]
        if sgn > 0:
            faces += [(q[0], q[2], q[1]), (q[0], q[3], q[2])]
        else:
            faces += [(q[0], q[1], q[2]), (q[0], q[2], q[3])]
    return verts, np.asarray(faces, np.int64)


def orient_outward(verts: np.ndarray, faces: np.ndarray, center: np.ndarray) -> np.ndarray:
    """Flip faces whose normal points toward ``center`` (for convex-ish closed parts)."""
    v = verts[faces]
    n = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    flip = np.einsum("ij,ij->i", n, v.mean(1) - center) < 0
    out = faces.copy()
    out[flip] = out[flip][:, [0, 2, 1]]
    return out
