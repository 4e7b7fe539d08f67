"""Assemble the embedded open head from 468 MediaPipe landmarks (see open_head_geometry).

``build_head(raw_landmarks)`` is deterministic given the landmarks; the landmarks come
from ``scripts/build_open_head.py`` (MediaPipe Face Mesh on ``skimage.data.astronaut()``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from anim3d import landmarks as lm
from anim3d.flame import open_head_geometry as g
from anim3d.flame.head import HeadModel

EYE_RADIUS = 0.0118
JAW_OPEN_ANGLE = 0.32  # radians of jaw rotation that the jawOpen morph bakes in


@dataclass
class Build:
    """Everything the morph-target code needs to know about the assembled rest mesh."""

    verts: np.ndarray  # V x 3
    faces: np.ndarray  # F x 3
    joints: np.ndarray  # 5 x 3
    jaw_w: np.ndarray  # V, 0..1: how much a vertex follows the jaw
    mirror: np.ndarray  # V: index of the mirror-image vertex
    parts: dict[str, np.ndarray] = field(default_factory=dict)
    landmarks: dict[str, int] = field(default_factory=dict)
    skin_uv: np.ndarray | None = None  # V x 2: UVs of the face and skull (NaN elsewhere), see ``skin_uv_map``


def _jaw_constraints() -> dict[int, float]:
    fixed: dict[int, float] = {}
    for i in lm.MOUTH_LOWER[1:-1] + lm.MOUTH_LOWER_OUTER[1:-1]:
        fixed[i] = 1.0
    for i in lm.MOUTH_UPPER[1:-1] + lm.MOUTH_UPPER_OUTER[1:-1]:
        fixed[i] = 0.0
    for i in (152, 148, 176, 149, 150, 136, 377, 400, 378, 379, 365, 175, 199, 200, 18, 171, 396):
        fixed[i] = 1.0
    for i, v in ((172, 0.85), (397, 0.85), (58, 0.55), (288, 0.55), (132, 0.2), (361, 0.2)):
        fixed[i] = v
    for i in (1, 2, 4, 5, 19, 94, 164, 98, 327, 93, 323, 234, 454, 127, 356, 205, 425, 50, 280, 36, 266):
        fixed[i] = 0.0
    return fixed


def _ellipsoid_radius(d: np.ndarray, radii: np.ndarray, power: float = 2.6) -> np.ndarray:
    """Radius of a superellipsoid along unit directions d (power > 2: a fuller cranium)."""
    return 1.0 / (np.abs(d / radii) ** power).sum(-1) ** (1.0 / power)


def _slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    dot = np.clip((a * b).sum(-1, keepdims=True), -1, 1)
    om = np.arccos(dot)
    so = np.maximum(np.sin(om), 1e-9)
    return np.sin((1 - t) * om) / so * a + np.sin(t * om) / so * b


class _Mesh:
    """Accumulates parts: vertices, faces, part names."""

    def __init__(self) -> None:
        self.v: list[np.ndarray] = []
        self.f: list[np.ndarray] = []
        self.n = 0
        self.parts: dict[str, np.ndarray] = {}

    def add(self, name: str, verts: np.ndarray, faces: np.ndarray | None = None, offset_faces: bool = True) -> np.ndarray:
        ids = np.arange(self.n, self.n + len(verts))
        self.v.append(np.asarray(verts, np.float64))
        if faces is not None and len(faces):
            self.f.append(np.asarray(faces) + (self.n if offset_faces else 0))
        self.n += len(verts)
        self.parts[name] = ids
        return ids

    def add_faces(self, faces: np.ndarray) -> None:
        self.f.append(np.asarray(faces, np.int64))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.concatenate(self.v), np.concatenate(self.f).astype(np.int64)


def _flip_toward(verts: np.ndarray, faces: np.ndarray, target: np.ndarray, inward: bool) -> np.ndarray:
    out = g.orient_outward(verts, faces, target)
    return out[:, [0, 2, 1]] if inward else out


def build_rest(raw_landmarks: np.ndarray, mirror468: np.ndarray | None = None) -> Build:
    """The rest mesh from 478 raw MediaPipe landmarks; ``mirror468``: their left-right pairing when known (a
    portrait's head passes the open head's), else found from the positions."""
    face, mirror468 = g.align_and_symmetrise(raw_landmarks[:468], mirror=mirror468)
    tris = g.mediapipe_triangles()
    # 1. close the portrait's parted lips at rest (upper/lower side from a harmonic jaw field)
    jaw_face = g.harmonic_weights(468, tris, _jaw_constraints())
    face = g.close_lips(face, 1.0 - jaw_face)
    face = g.neutral_mouth(face)  # 2. take the portrait's smile out of the rest mouth
    face = 0.5 * (face + face[mirror468] * np.array([-1.0, 1.0, 1.0]))  # keep exact symmetry

    m = _Mesh()
    m.add("face", face, tris)
    y_m, z_m = face[13, 1], face[13, 2]
    eye_y = 0.5 * (face[159, 1] + face[145, 1])
    half_width = np.abs(face[list(lm.FACE_OVAL), 0]).max()
    radii = np.array([half_width * 1.08, 0.112, 0.1])
    center = np.array([0.0, eye_y + 0.004, face[151, 2] - radii[2] - 0.004])

    # 2. skull: loft the face oval around an ellipsoid to a pole at the back of the head
    oval = np.array(lm.FACE_OVAL)
    d0 = face[oval] - center
    r0 = np.linalg.norm(d0, axis=1, keepdims=True)
    d0 = d0 / r0
    back = np.array([0.0, 0.0, -1.0])
    rings_xyz, n_rings = [], 12
    for k in range(1, n_rings + 1):
        t = k / (n_rings + 1)
        d = _slerp(d0, back, t)
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        s = min(1.0, 2.5 * t)
        r = (1 - s) * r0 + s * _ellipsoid_radius(d, radii)[:, None]
        rings_xyz.append(center + d * r)
    ring_ids = [m.add(f"_skull{k}", r) for k, r in enumerate(rings_xyz)]
    pole = m.add("_skullpole", (center + back * radii[2])[None])
    skull_faces = g.loft_to_pole(oval, ring_ids, pole[0])
    verts_now = np.concatenate(m.v)
    m.add_faces(g.orient_outward(verts_now, skull_faces, center))
    m.parts["skull"] = np.concatenate(ring_ids + [pole])
    skin_uv = skin_uv_map(face, oval, ring_ids, int(pole[0]), m.n)

    # 3. eyeballs and eye sockets
    eye_centers = {}
    for side, upper, lower in (("left", lm.EYE_L_UPPER, lm.EYE_L_LOWER), ("right", lm.EYE_R_UPPER, lm.EYE_R_LOWER)):
        c = 0.5 * (face[upper[0]] + face[upper[-1]])
        lid = 0.5 * (face[upper[4]] + face[lower[4]])
        dy = 0.5 * abs(face[upper[4], 1] - face[lower[4], 1])
        c = np.array([c[0], lid[1], lid[2] - np.sqrt((EYE_RADIUS + 0.0008) ** 2 - dy**2)])
        eye_centers[side] = c
        ev, ef, _ = g.uv_sphere(c, np.full(3, EYE_RADIUS), 20, 14)
        ids = m.add(f"{side}_eyeball", ev, ef)
        m.parts[f"{side}_iris"] = ids[(ev[:, 2] - c[2]) > 0.86 * EYE_RADIUS]
        loop = np.array(upper + lower[::-1][1:-1])  # closed contour around the opening
        rings = [m.add(f"_{side}_sock{k}", face[loop] + t * (c - np.array([0, 0, 0.3 * EYE_RADIUS]) - face[loop]))
                 for k, t in enumerate((0.35, 0.7))]
        pole_s = m.add(f"_{side}_sockpole", (c - np.array([0, 0, 0.5 * EYE_RADIUS]))[None])
        sf = g.loft_to_pole(loop, rings, pole_s[0])
        m.add_faces(_flip_toward(np.concatenate(m.v), sf, c, inward=True))
        m.parts[f"{side}_eye_socket"] = np.concatenate(rings + [pole_s])

    # 4. mouth cavity: loft the inner lip contour back into the head
    mloop = np.array(lm.MOUTH_UPPER + lm.MOUTH_LOWER[::-1][1:-1])
    mc = np.array([0.0, y_m, z_m])
    rel = face[mloop] - mc
    w = np.abs(face[308, 0])
    upper_sign = np.array([1.0 if i in lm.MOUTH_UPPER[1:-1] else (-1.0 if i in lm.MOUTH_LOWER[1:-1] else 0.0) for i in mloop])
    prof = np.clip(1 - (rel[:, 0] / w) ** 2, 0, 1) ** 0.25  # a full-height cavity behind the teeth
    cav_rings = []
    for k, (depth, sx, h) in enumerate(((0.004, 1.0, 0.011), (0.011, 1.05, 0.019), (0.02, 1.05, 0.022),
                                        (0.031, 0.95, 0.022), (0.042, 0.75, 0.019), (0.05, 0.4, 0.011))):
        ring = mc + np.stack([rel[:, 0] * sx, rel[:, 1] + upper_sign * h * prof - 0.002 * k, rel[:, 2] - depth], 1)
        cav_rings.append(m.add(f"_cav{k}", ring))
    cav_pole = m.add("_cavpole", (mc + np.array([0, -0.012, -0.054]))[None])
    cf = g.loft_to_pole(mloop, cav_rings, cav_pole[0])
    cf = _flip_toward(np.concatenate(m.v), cf, mc + np.array([0, -0.004, -0.025]), inward=True)
    # double-sided: when the jaw opens, parts of the back wall turn edge-on and would be culled
    m.add_faces(np.concatenate([cf, cf[:, [0, 2, 1]]]))
    m.parts["mouth_cavity"] = np.concatenate(cav_rings + [cav_pole])

    # 5. teeth and tongue
    tw = 0.87 * w
    xs = np.linspace(-tw, tw, 17)
    z_front = z_m - 0.0055
    path = np.stack([xs, np.full_like(xs, y_m), z_front - 0.016 * (xs / tw) ** 2], 1)
    for name, p, up, down in (("upper_teeth", path, 0.008, 0.0012), ("lower_teeth", path + [0, 0, -0.0012], -0.0016, 0.008)):
        tv, tf = g.swept_box(p, up, down, 0.006)
        ids = m.add(name, tv)
        m.add_faces(g.orient_outward(tv, tf, tv.mean(0)) + ids[0])
    tc = np.array([0.0, y_m - 0.0115, z_m - 0.037])
    tv, tf, _ = g.uv_sphere(tc, np.array([0.019, 0.0065, 0.028]), 16, 10)
    m.add("tongue", tv, tf)

    # 6. neck: an elliptical tube from the shoulders up into the head
    y_top, y_bot = center[1] - 0.045, face[152, 1] - 0.1
    nz = center[2] - 0.014  # the throat sits behind the mouth cavity, also with the jaw open
    neck_rings = []
    seg, n_neck = 32, 7
    for k, y in enumerate(np.linspace(y_bot, y_top, n_neck)):
        a = np.linspace(0, 2 * np.pi, seg, endpoint=False)
        neck_rings.append(np.stack([0.052 * np.sin(a), np.full_like(a, y), nz + 0.047 * np.cos(a)], 1))
    nv = np.concatenate(neck_rings)
    nf = []
    for k in range(n_neck - 1):
        for i in range(seg):
            a0, a1 = k * seg + i, k * seg + (i + 1) % seg
            nf += [(a0, a1, a1 + seg), (a0, a1 + seg, a0 + seg)]
    nf = np.asarray(nf)
    cax = np.stack([np.zeros(len(nv)), nv[:, 1], np.full(len(nv), nz)], 1)
    vv = nv[nf].mean(1)
    nn = np.cross(nv[nf[:, 1]] - nv[nf[:, 0]], nv[nf[:, 2]] - nv[nf[:, 0]])
    flip = np.einsum("ij,ij->i", nn, vv - cax[nf[:, 0]]) < 0
    nf[flip] = nf[flip][:, [0, 2, 1]]
    m.add("neck", nv, nf)

    verts, faces = m.arrays()
    parts = {k: v for k, v in m.parts.items() if not k.startswith("_")}
    parts["mediapipe_468"] = np.arange(468)
    parts["teeth"] = np.concatenate([parts["upper_teeth"], parts["lower_teeth"]])
    from matplotlib.path import Path as _Poly

    lip_poly = _Poly(face[list(lm.MOUTH_UPPER_OUTER) + list(lm.MOUTH_LOWER_OUTER[::-1][1:-1]), :2])
    parts["lips"] = np.flatnonzero(lip_poly.contains_points(face[:, :2], radius=1e-4))
    parts["eyeballs"] = np.concatenate([parts["left_eyeball"], parts["right_eyeball"]])

    # joints: root (neck base), neck (head pivot), jaw (hinge in front of the ears), eyes
    joints = np.array([
        [0.0, y_bot + 0.02, nz],
        [0.0, y_m + 0.004, center[2] - 0.004],
        [0.0, y_m + 0.034, z_m - 0.078],
        eye_centers["left"],
        eye_centers["right"],
    ])

    # jaw weights over the connected skin (face + skull + sockets + cavity)
    fixed = _jaw_constraints()
    for i in m.parts["skull"]:
        if verts[i, 2] < center[2] or verts[i, 1] > eye_y:
            fixed[int(i)] = 0.0
    fixed[int(cav_pole[0])] = 0.6
    jaw_w = np.zeros(len(verts))
    skin_connected = np.concatenate([np.arange(468), parts["skull"], parts["mouth_cavity"],
                                     parts["left_eye_socket"], parts["right_eye_socket"]])
    sub = np.zeros(len(verts), bool)
    sub[skin_connected] = True
    fsub = faces[sub[faces].all(1)]
    jaw_w = g.harmonic_weights(len(verts), fsub, {**fixed, **{int(i): 0.0 for i in np.flatnonzero(~sub)}})
    jaw_w[parts["lower_teeth"]] = 1.0
    jaw_w[parts["tongue"]] = 1.0

    mirror = _mirror_map(verts, mirror468)
    for pole_id, part in ((int(pole[0]), "skull"), (int(cav_pole[0]), "mouth_cavity")):
        verts, faces, jaw_w, mirror = _split_pole(verts, faces, jaw_w, mirror, parts, pole_id, part)
    landmarks = _landmarks(verts, parts)
    skin_uv = np.concatenate([skin_uv, np.full((len(verts) - len(skin_uv), 2), np.nan)])
    return Build(verts, faces, joints, jaw_w, mirror, parts, landmarks, skin_uv)


def _split_pole(verts, faces, jaw_w, mirror, parts, pole: int, part: str):
    """One copy of a fan's pole vertex per triangle of the fan, added to ``parts[part]``: the skull's back pole
    (where the skin's UV projection is singular) and the mouth cavity's (whose rings lie on the lip seam in
    UV); ``uv_layout`` gives each copy its own triangle's UV. Copies sit at the pole and move like it; the
    first fan triangle keeps the original vertex."""
    fan = np.flatnonzero((faces == pole).any(1))
    # one copy per distinct triangle (the mouth cavity is double-sided: both windings share it)
    _, which = np.unique(np.sort(faces[fan], axis=1), axis=0, return_inverse=True)
    which = which.reshape(-1)
    k = int(which.max()) + 1
    n = len(verts)
    ids = np.concatenate([[pole], n + np.arange(k - 1)])  # the vertex of each distinct triangle
    faces = faces.copy()
    for f, j in zip(fan, which):
        faces[f][faces[f] == pole] = ids[j]
    verts = np.concatenate([verts, np.repeat(verts[pole][None], k - 1, 0)])
    jaw_w = np.concatenate([jaw_w, np.repeat(jaw_w[pole], k - 1)])
    # the mirror of a copy is the copy of the mirrored triangle
    first = np.array([fan[np.flatnonzero(which == j)[0]] for j in range(k)])
    cent = verts[faces[first]].mean(1)  # the distinct triangles' centroids
    twin = np.argmin(np.linalg.norm((cent * [-1.0, 1.0, 1.0])[:, None] - cent[None], axis=2), axis=1)
    mirror = np.concatenate([mirror, np.zeros(k - 1, np.int64)])
    mirror[ids] = ids[twin]
    if not np.array_equal(mirror[mirror], np.arange(len(verts))):
        raise RuntimeError(f"open head: the split pole of the {part} does not mirror")
    parts[part] = np.concatenate([parts[part], ids[1:]])
    return verts, faces, jaw_w, mirror


def _mirror_map(verts: np.ndarray, mirror468: np.ndarray) -> np.ndarray:
    """Index of each vertex's mirror image. The face uses MediaPipe's pairing (closed lips make
    upper and lower lip vertices coincide, so positions alone are ambiguous there)."""
    from scipy.spatial import cKDTree

    rest = np.arange(468, len(verts))
    tree = cKDTree(verts[rest])
    d, idx = tree.query(verts[rest] * np.array([-1.0, 1.0, 1.0]))
    mirror = np.concatenate([mirror468, rest[idx]]).astype(np.int64)
    err = np.abs(verts[mirror] * np.array([-1.0, 1.0, 1.0]) - verts).max()
    if err > 1e-6 or not np.array_equal(mirror[mirror], np.arange(len(verts))):
        raise RuntimeError(f"open head is not symmetric (max mirror error {err:.2e} m)")
    return mirror


def _landmarks(verts: np.ndarray, parts: dict[str, np.ndarray]) -> dict[str, int]:
    tongue = parts["tongue"]
    return {
        "upper_lip_inner": 13, "lower_lip_inner": 14, "upper_lip_outer": 0, "lower_lip_outer": 17,
        "mouth_corner_left": 291, "mouth_corner_right": 61, "mouth_inner_corner_left": 308,
        "mouth_inner_corner_right": 78, "chin": 152, "nose_tip": 1,
        "left_eye_upper_lid": 386, "left_eye_lower_lid": 374, "right_eye_upper_lid": 159, "right_eye_lower_lid": 145,
        "left_brow_inner": 285, "right_brow_inner": 55, "left_brow_outer": 276, "right_brow_outer": 46,
        "left_cheek": 425, "right_cheek": 205, "left_nostril": 327, "right_nostril": 98, "forehead": 10,
        "tongue_tip": int(tongue[np.argmax(verts[tongue, 2])]),
    }


def skin_weights(b: Build) -> np.ndarray:
    """V x 5 (root, neck, jaw, left eye, right eye), rows sum to 1."""
    v = len(b.verts)
    w = np.zeros((v, 5))
    w[:, 2] = b.jaw_w
    w[:, 1] = 1.0 - b.jaw_w
    for k, side in ((3, "left"), (4, "right")):
        ids = b.parts[f"{side}_eyeball"]
        w[ids] = 0.0
        w[ids, k] = 1.0
    neck = b.parts["neck"]
    y = b.verts[neck, 1]
    t = np.clip((y - y.min() - 0.02) / (y.max() - y.min() - 0.02), 0, 1)
    t = t * t * (3 - 2 * t)
    w[neck] = 0.0
    w[neck, 0] = 1 - t
    w[neck, 1] = t
    return w


UV_DISC = 0.5  # the skin's disc in the atlas (centre (0.5, 0.5)); the corners outside it hold the loose parts
UV_FACE = 0.8  # share of the disc's radius the face takes (about 4.5 texels per mm in a 1024 atlas)


def skin_uv_map(face: np.ndarray, oval: np.ndarray, rings: list[np.ndarray], pole: int, n: int) -> np.ndarray:
    """n x 2 UVs (v down, glTF's convention; NaN but for face and skull) of the skin: the face (468 points) a
    frontal projection seen from the front (the subject's left on the right) filling ``UV_FACE`` of the
    disc; each skull ring the face oval's directions (about the disc's centre) at radii stepping evenly out to
    the rim, where the back pole lies (its copies each at its own triangle's direction, ``uv_layout``). A
    frontal map keeps the lips, lids and brows nearly undistorted (MediaPipe's face is a height field seen
    from the camera)."""
    uv = np.full((n, 2), np.nan)
    c = 0.5 * (face[oval, :2].min(0) + face[oval, :2].max(0))
    scale = UV_FACE * UV_DISC / np.linalg.norm(face[oval, :2] - c, axis=1).max()
    uv[:468] = 0.5 + scale * (face[:, :2] - c) * [1.0, -1.0]
    rel = uv[oval] - 0.5
    rho, phi = np.linalg.norm(rel, axis=1), np.arctan2(rel[:, 1], rel[:, 0])
    for k, ids in enumerate(rings, start=1):
        r = rho + (UV_DISC - rho) * k / (len(rings) + 1)
        uv[ids] = 0.5 + np.stack([r * np.cos(phi), r * np.sin(phi)], 1)
    uv[pole] = 0.5 + np.array([0.0, UV_DISC])
    return uv


# atlas slots (u0, v0, u1, v1) of the loose parts, in the corners outside the skin disc
UV_SLOTS = {"left_eyeball": (0.86, 0.0, 1.0, 0.14), "right_eyeball": (0.0, 0.0, 0.14, 0.14),
            "upper_teeth": (0.0, 0.86, 0.14, 0.925), "lower_teeth": (0.0, 0.935, 0.14, 1.0),
            "tongue": (0.86, 0.86, 1.0, 1.0)}
NECK_SLOT = (0.49, 0.965, 0.51, 0.985)  # a small patch of the disc's plain rim (the back of the head)
SOCKET_UV_STEPS = (0.35, 0.7, 1.0)  # the socket rings and pole, from the lid contour to the opening's middle in UV


def uv_layout(b: Build) -> np.ndarray:
    """Skin (face and skull) on a disc (``skin_uv_map``); the back pole's copies each at their own triangle's
    direction; the neck in a small patch of plain skin; eyeballs, teeth and tongue in the corners, each a
    frontal projection of its bounding box (``UV_SLOTS``). The parts lofted from the face's openings stay
    beside them in UV, so no triangle spans the atlas: each eye socket shrinks its lid contour toward the
    opening's middle (painted socket-dark, ``open_head_texture``), and every ring of the mouth cavity sits on
    the inner lip contour (its dark seam)."""
    v = b.verts
    uv = np.zeros((len(v), 2))
    skin = np.concatenate([b.parts["face"], b.parts["skull"]])
    uv[skin] = b.skin_uv[skin]
    back = v[skin][np.argmin(v[skin, 2])]
    for p in skin[np.all(np.abs(v[skin] - back) < 1e-9, axis=1)]:  # the back pole and its copies: on the rim
        tri = b.faces[(b.faces == p).any(1)][0]
        d = uv[tri[tri != p]].mean(0) - 0.5
        uv[p] = 0.5 + UV_DISC * d / np.linalg.norm(d)
    for name, (u0, v0, u1, v1) in {**UV_SLOTS, "neck": NECK_SLOT}.items():
        ids = b.parts[name]
        p = v[ids][:, :2]
        lo, hi = p.min(0), p.max(0)
        q = (p - lo) / np.maximum(hi - lo, 1e-9)
        uv[ids, 0] = u0 + (0.05 + 0.9 * q[:, 0]) * (u1 - u0)
        uv[ids, 1] = v0 + (0.95 - 0.9 * q[:, 1]) * (v1 - v0)  # image rows down, Y up
    for up, lo_ in ((lm.EYE_L_UPPER, lm.EYE_L_LOWER), (lm.EYE_R_UPPER, lm.EYE_R_LOWER)):
        loop = np.array(up + lo_[::-1][1:-1])
        side = "left" if up == lm.EYE_L_UPPER else "right"
        mid = uv[loop].mean(0)
        rings = np.concatenate([uv[loop] + t * (mid - uv[loop]) for t in SOCKET_UV_STEPS[:-1]] + [mid[None]])
        uv[b.parts[f"{side}_eye_socket"]] = rings
    mloop = np.array(lm.MOUTH_UPPER + lm.MOUTH_LOWER[::-1][1:-1])
    cav = b.parts["mouth_cavity"]
    rings = (len(cav) - len(mloop)) // len(mloop)  # the rings, then the pole and its copies (one per fan triangle)
    uv[cav[: rings * len(mloop)]] = np.tile(uv[mloop], (rings, 1))
    for p in cav[rings * len(mloop):]:
        tri = b.faces[(b.faces == p).any(1)][0]
        uv[p] = uv[tri[tri != p]].mean(0)  # on the seam: the fan has no area in UV
    return uv


def to_head_model(b: Build, morphs: np.ndarray, texture: np.ndarray | None = None) -> HeadModel:
    parts = dict(b.parts)
    parts["mirror"] = b.mirror
    head = HeadModel(
        vertices=b.verts.astype(np.float32),
        faces=b.faces.astype(np.int32),
        morph_targets=morphs.astype(np.float32),
        joints=b.joints.astype(np.float32),
        skin_weights=skin_weights(b).astype(np.float32),
        uvs=uv_layout(b).astype(np.float32),
        parts={k: np.asarray(v, np.int32) for k, v in parts.items()},
        landmarks=dict(b.landmarks),
        name="anim3d_open_head",
        texture=texture,
    )
    head.validate()
    return head
