"""The warp mesh, the 2-D rasterizer, backward flow and the warp."""

import numpy as np
import pytest
import torch

from anim3d.render.flow import (
    MOUTH_LOWER,
    backward_flow,
    build_warp_mesh,
    driven_vertices,
    rasterize_2d,
    similarity_2d,
    warp_image,
)


@pytest.fixture(scope="module")
def portrait():
    import skimage.data

    from anim3d.render.portrait import prepare_portrait

    return prepare_portrait(skimage.data.astronaut(), size=256)


def test_rasterizer_matches_brute_force():
    rng = np.random.default_rng(0)
    n = 32
    verts = torch.tensor(np.c_[rng.uniform(-4, n + 4, (30, 2)), rng.uniform(0, 1, 30)], dtype=torch.float32)
    faces = torch.tensor(rng.integers(0, 30, (25, 3)))
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])]
    p2f, bary = rasterize_2d(verts, faces, n)
    # brute force: for each pixel centre, the nearest (smallest interpolated z) covering triangle
    v = verts.numpy().astype(np.float64)
    for y in range(0, n, 3):
        for x in range(0, n, 3):
            c = np.array([x + 0.5, y + 0.5])
            best, best_z = -1, np.inf
            for f, (a, b, d) in enumerate(faces.numpy()):
                m = np.array([[v[a, 0] - v[d, 0], v[b, 0] - v[d, 0]], [v[a, 1] - v[d, 1], v[b, 1] - v[d, 1]]])
                if abs(np.linalg.det(m)) < 1e-9:
                    continue
                l0, l1 = np.linalg.solve(m, c - v[d, :2])
                l = np.array([l0, l1, 1 - l0 - l1])
                if (l >= -1e-5).all():
                    z = l @ v[[a, b, d], 2]
                    if z < best_z - 1e-6:
                        best, best_z = f, z
            assert p2f[y, x].item() == best, (x, y)
            if best >= 0:
                tri = v[faces[best].numpy(), :2]
                np.testing.assert_allclose(bary[y, x].double().numpy() @ tri, c, atol=1e-3)


def test_mesh_covers_the_image_and_identity_flow_is_identity(portrait):
    mesh = build_warp_mesh(portrait.landmarks, portrait.size)
    drv = driven_vertices(mesh, portrait.landmarks)
    np.testing.assert_allclose(drv, mesh.vertices, atol=1e-3)
    fm = backward_flow(mesh, drv, 64)
    ys, xs = np.mgrid[0:64, 0:64]
    ident = (np.stack([xs, ys], -1) + 0.5) * portrait.size / 64
    np.testing.assert_allclose(fm.source_xy.numpy(), ident, atol=0.05)
    assert 0.15 < fm.face.mean().item() < 0.8  # the face covers part of the crop
    img = torch.rand(1, 3, portrait.size, portrait.size)
    out = warp_image(img, fm.source_xy[None], portrait.size)
    assert (out - img).abs().mean().item() < 0.02


def test_moving_the_face_moves_the_sampled_pixels(portrait):
    mesh = build_warp_mesh(portrait.landmarks, portrait.size)
    lm = portrait.landmarks.copy()
    lm[:, 0] += 10.0  # the whole face 10 px to the right
    fm = backward_flow(mesh, driven_vertices(mesh, lm), 64)
    face = fm.face.bool()
    ys, xs = np.mgrid[0:64, 0:64]
    ident_x = (xs + 0.5) * portrait.size / 64
    dx = fm.source_xy[..., 0].numpy() - ident_x
    assert np.allclose(dx[face.numpy()], -10.0, atol=0.05)  # backward flow: sample 10 px to the left
    corner = dx[:4, :4]
    assert np.abs(corner).max() < 3.0  # the background far from the face moves much less (smooth falloff)


def test_opening_the_mouth_grows_the_mouth_mask(portrait):
    mesh = build_warp_mesh(portrait.landmarks, portrait.size)
    closed = backward_flow(mesh, driven_vertices(mesh, portrait.landmarks), 128).mouth.sum().item()
    lm = portrait.landmarks.copy()
    lower = [i for i in MOUTH_LOWER[1:-1]]
    lm[lower, 1] += 12.0
    opened = backward_flow(mesh, driven_vertices(mesh, lm), 128).mouth.sum().item()
    assert opened > closed + 20


def test_similarity_2d_recovers_a_transform():
    rng = np.random.default_rng(1)
    src = rng.normal(size=(20, 2)) * 50
    ang, s, t = 0.3, 1.2, np.array([5.0, -7.0])
    r = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    dst = s * src @ r.T + t
    m = similarity_2d(src, dst)
    np.testing.assert_allclose(m[:, :2], s * r, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], t, atol=1e-9)


def test_batched_flow_equals_per_frame(portrait):
    mesh = build_warp_mesh(portrait.landmarks, portrait.size)
    a = driven_vertices(mesh, portrait.landmarks)
    lm = portrait.landmarks.copy()
    lm[:, 1] += 5.0
    b = driven_vertices(mesh, lm)
    both = backward_flow(mesh, np.stack([a, b]), 64)
    for i, d in enumerate((a, b)):
        one = backward_flow(mesh, d, 64)
        torch.testing.assert_close(both.source_xy[i], one.source_xy)
        torch.testing.assert_close(both.face[i], one.face)
