"""A small synthetic HeadModel (a deformed sphere) for tests and benchmarks.

Not a face: a sphere of radius 0.1 m with the FLAME joint layout, skin weights that
blend between the joints by region, and 52 distinct localized morph targets. It lets
the exporters be checked without the embedded open head or a licensed FLAME file.
"""

from __future__ import annotations

import numpy as np

from anim3d.flame.head import JOINT_NAMES, JOINT_PARENTS, HeadModel


def make_test_head(rings: int = 16, segments: int = 24, seed: int = 0, sparse_fraction: float = 0.15) -> HeadModel:
    """A UV sphere with (rings - 1) * segments + 2 vertices and 52 morph targets.

    Each morph target moves the vertices within a cap around a random centre
    (about ``sparse_fraction`` of the vertices) along their normals.
    """
    rng = np.random.default_rng(seed)
    r = 0.1
    theta = np.linspace(0, np.pi, rings + 1)[1:-1]  # polar angle, poles excluded
    phi = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    tt, pp = np.meshgrid(theta, phi, indexing="ij")
    # Y up, the face looking down +Z
    ring_v = np.stack([np.sin(tt) * np.sin(pp), np.cos(tt), np.sin(tt) * np.cos(pp)], -1).reshape(-1, 3)
    verts = np.concatenate([[[0, 1, 0]], ring_v, [[0, -1, 0]]]).astype(np.float32) * r  # V x 3
    v = len(verts)
    faces = []
    top, bottom = 0, v - 1

    def idx(i, j):
        return 1 + i * segments + (j % segments)

    for j in range(segments):
        faces.append((top, idx(0, j), idx(0, j + 1)))
        faces.append((bottom, idx(rings - 2, j + 1), idx(rings - 2, j)))
    for i in range(rings - 2):
        for j in range(segments):
            a, b, c, d = idx(i, j), idx(i, j + 1), idx(i + 1, j), idx(i + 1, j + 1)
            faces += [(a, c, b), (b, c, d)]
    faces = np.array(faces, np.int32)
    # make every face counter-clockwise seen from outside
    n = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    flip = (n * verts[faces].mean(1)).sum(1) < 0
    faces[flip] = faces[flip][:, ::-1]

    unit = verts / r
    cos_cut = 1 - 2 * sparse_fraction  # a cap holding ~sparse_fraction of the sphere's area
    targets = np.zeros((52, v, 3), np.float32)
    for k in range(52):
        c = rng.normal(size=3)
        c /= np.linalg.norm(c)
        d = unit @ c
        w = np.clip((d - cos_cut) / (1 - cos_cut), 0, 1) ** 2
        targets[k] = (0.01 + 0.002 * k / 52) * w[:, None] * unit
    joints = np.array([[0, -0.1, -0.02], [0, -0.06, -0.02], [0, -0.02, 0.0], [0.03, 0.03, 0.08], [-0.03, 0.03, 0.08]], np.float32)
    # region weights: lower front -> jaw, eye caps -> eyes, the rest -> neck, a little root
    dist = np.linalg.norm(verts[:, None, :] - joints[None], axis=2)  # V x 5
    sw = np.exp(-((dist / 0.05) ** 2))
    sw[:, 0] *= 0.1
    sw += 1e-3
    sw /= sw.sum(1, keepdims=True)
    uvs = np.stack([(np.arctan2(unit[:, 0], unit[:, 2]) / (2 * np.pi)) % 1.0, np.arccos(np.clip(unit[:, 1], -1, 1)) / np.pi], 1)
    head = HeadModel(
        vertices=verts,
        faces=faces,
        morph_targets=targets,
        joints=joints,
        skin_weights=sw.astype(np.float32),
        uvs=uvs.astype(np.float32),
        parents=JOINT_PARENTS,
        joint_names=JOINT_NAMES,
        name="test_sphere_head",
    )
    head.validate()
    return head
