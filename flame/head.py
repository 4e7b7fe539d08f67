"""HeadModel: the mesh-head contract shared by the open head, a loaded FLAME head,
the exporters (glTF), the rasterizer previews and the renderer.

Layout follows FLAME: 5 joints (root, neck, jaw, left eye, right eye). Coordinates are
right-handed, Y up, metres, the face looking down +Z (glTF's convention).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

JOINT_NAMES: tuple[str, ...] = ("root", "neck", "jaw", "left_eye", "right_eye")
JOINT_PARENTS: tuple[int, ...] = (-1, 0, 1, 1, 1)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """V x 3 unit area-weighted normals; vertices on no face get +Z."""
    v = vertices.astype(np.float64)
    fn = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])  # F x 3
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(length > 1e-12, n / np.maximum(length, 1e-30), np.array([0.0, 0.0, 1.0]))
    return n.astype(np.float32)


@dataclass
class HeadModel:
    """A riggable head mesh with ARKit-52 morph targets.

    vertices:       V x 3 float32, neutral rest shape (metres)
    faces:          F x 3 int32, counter-clockwise seen from outside
    uvs:            V x 2 float32 texture coordinates in [0, 1] (may be None)
    morph_targets:  52 x V x 3 float32 vertex offsets, ARKit order (anim3d.channels.ARKIT_NAMES)
    joints:         5 x 3 float32 rest joint positions (JOINT_NAMES order)
    parents:        5 int, -1 for the root
    skin_weights:   V x 5 float32, rows sum to 1
    parts:          name -> vertex indices (e.g. "left_eyeball", "teeth", "tongue")
    landmarks:      name -> vertex index (e.g. "upper_lip_inner", "lower_lip_inner", "chin")
    texture:        H x W x 3 uint8 sRGB base colour sampled at ``uvs`` (v down, as glTF's), or None (the
                    parts' own colours)
    """

    vertices: np.ndarray
    faces: np.ndarray
    morph_targets: np.ndarray
    joints: np.ndarray
    skin_weights: np.ndarray
    uvs: np.ndarray | None = None
    parents: tuple[int, ...] = JOINT_PARENTS
    joint_names: tuple[str, ...] = JOINT_NAMES
    parts: dict[str, np.ndarray] = field(default_factory=dict)
    landmarks: dict[str, int] = field(default_factory=dict)
    name: str = "head"
    texture: np.ndarray | None = None

    @property
    def num_vertices(self) -> int:
        return int(self.vertices.shape[0])

    def validate(self) -> None:
        v = self.num_vertices
        assert self.vertices.shape == (v, 3), self.vertices.shape
        assert self.faces.ndim == 2 and self.faces.shape[1] == 3
        assert self.faces.min() >= 0 and self.faces.max() < v
        assert self.morph_targets.shape == (52, v, 3), self.morph_targets.shape
        assert self.joints.shape == (len(self.joint_names), 3)
        assert self.skin_weights.shape == (v, len(self.joint_names))
        assert np.allclose(self.skin_weights.sum(1), 1.0, atol=1e-4)
        if self.uvs is not None:
            assert self.uvs.shape == (v, 2)
        if self.texture is not None:
            assert self.uvs is not None, "a texture needs uvs"
            assert self.texture.ndim == 3 and self.texture.shape[2] == 3 and self.texture.dtype == np.uint8
