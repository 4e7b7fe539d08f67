"""The torch rasterizer against a brute-force per-pixel reference (pytorch3d's convention)."""

import numpy as np
import pytest
import torch

from anim3d.flame.rasterizer import ndc_to_screen, rasterize


def brute_force(verts_ndc: torch.Tensor, faces: np.ndarray, h: int, w: int, cull: bool):
    """Every pixel centre against every face, in float64; returns p2f, zbuf, bary, near_edge."""
    scr = ndc_to_screen(verts_ndc.double(), (h, w)).numpy()
    p2f = np.full((h, w), -1)
    zbuf = np.full((h, w), -1.0)
    bary = np.full((h, w, 3), -1.0)
    near_edge = np.zeros((h, w), bool)
    py, px = np.mgrid[0:h, 0:w].astype(np.float64)
    best = np.full((h, w), np.inf)
    for f, (i, j, k) in enumerate(faces):
        (x0, y0, z0), (x1, y1, z1), (x2, y2, z2) = scr[i], scr[j], scr[k]
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if abs(area) < 1e-12 or (cull and area >= 0):
            continue
        b0 = ((x2 - x1) * (py - y1) - (y2 - y1) * (px - x1)) / area
        b1 = ((x0 - x2) * (py - y2) - (y0 - y2) * (px - x2)) / area
        b2 = 1 - b0 - b1
        z = b0 * z0 + b1 * z1 + b2 * z2
        inside = (b0 >= 0) & (b1 >= 0) & (b2 >= 0) & (z >= 0)
        near_edge |= (np.minimum(np.minimum(np.abs(b0), np.abs(b1)), np.abs(b2)) < 1e-4) & (b0 > -1e-4) & (b1 > -1e-4) & (b2 > -1e-4)
        nearer = inside & (z < best)
        # depth near-ties between faces are ambiguous too
        near_edge |= inside & (np.abs(z - best) < 1e-5)
        best = np.where(nearer, z, best)
        p2f[nearer] = f
        zbuf[nearer] = z[nearer]
        bary[nearer] = np.stack([b0, b1, b2], -1)[nearer]
    return p2f, zbuf, bary, near_edge


def random_mesh(seed: int, n_faces: int = 12):
    rng = np.random.default_rng(seed)
    v = np.concatenate([rng.uniform(-1.1, 1.1, (n_faces * 3, 2)), rng.uniform(0.5, 2.0, (n_faces * 3, 1))], 1)
    faces = np.arange(n_faces * 3).reshape(n_faces, 3)
    # also share some vertices between faces (a small fan), like a real mesh
    fan = np.array([[0, 4, 7], [0, 7, 10], [0, 10, 4]])
    return torch.tensor(v, dtype=torch.float32), np.concatenate([faces, fan])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("cull", [False, True])
@pytest.mark.parametrize("size", [(24, 24), (20, 31)])
def test_matches_brute_force(seed, cull, size):
    h, w = size
    verts, faces = random_mesh(seed)
    frags = rasterize(verts[None], torch.as_tensor(faces), size, cull_backfaces=cull, use_pytorch3d=False)
    ref_p2f, ref_z, ref_bary, ambiguous = brute_force(verts, faces, h, w, cull)
    p2f = frags.pix_to_face[0, ..., 0].numpy()
    ok = ~ambiguous
    assert (ref_p2f >= 0).sum() > 50  # the scene covers a good part of the image
    np.testing.assert_array_equal(p2f[ok], ref_p2f[ok])
    np.testing.assert_allclose(frags.zbuf[0, ..., 0].numpy()[ok], ref_z[ok], atol=1e-4)
    np.testing.assert_allclose(frags.bary_coords[0, :, :, 0].numpy()[ok], ref_bary[ok], atol=1e-4)
    assert ambiguous.mean() < 0.05


def test_fragments_behind_the_camera_are_dropped():
    """z < 0 is behind the camera (pytorch3d): a face crossing z = 0 shows only its z >= 0 part."""
    verts = torch.tensor([[-0.9, -0.9, -1.0], [0.9, -0.9, -1.0], [0.0, 0.9, 1.0],   # tilted through z = 0
                          [-0.9, 0.9, 0.5], [0.9, 0.9, 0.5], [0.0, -0.9, 0.5]])     # a flat face behind it
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    frags = rasterize(verts[None], torch.as_tensor(faces), 32, use_pytorch3d=False)
    ref_p2f, ref_z, _, amb = brute_force(verts, faces, 32, 32, cull=False)
    ok = ~amb
    np.testing.assert_array_equal(frags.pix_to_face[0, ..., 0].numpy()[ok], ref_p2f[ok])
    assert (frags.zbuf[frags.pix_to_face >= 0] >= 0).all()
    assert (ref_p2f == 0).any() and (ref_p2f == 1).any()


def test_batch_packs_face_indices_and_empty_pixels():
    verts, faces = random_mesh(3)
    b = torch.stack([verts, verts * torch.tensor([0.5, 0.5, 1.0])])
    frags = rasterize(b, torch.as_tensor(faces), 16, use_pytorch3d=False)
    assert frags.pix_to_face.shape == (2, 16, 16, 1)
    assert frags.bary_coords.shape == (2, 16, 16, 1, 3)
    assert frags.zbuf.shape == (2, 16, 16, 1)
    p = frags.pix_to_face[1]
    assert (p[p >= 0] >= len(faces)).all()  # packed: batch 1 starts at F
    empty = frags.pix_to_face == -1
    assert empty.any()
    assert (frags.zbuf[empty] == -1).all()
    hit = ~empty[..., 0]
    bsum = frags.bary_coords[..., 0, :].sum(-1)
    assert torch.allclose(bsum[hit], torch.ones_like(bsum[hit]), atol=1e-5)


def test_orientation_convention():
    """+X in NDC is the image's LEFT, +Y is up (pytorch3d)."""
    tri = torch.tensor([[[0.9, 0.9, 1.0], [0.5, 0.9, 1.0], [0.9, 0.5, 1.0]]])  # top-left corner
    frags = rasterize(tri, torch.tensor([[0, 1, 2]]), 20, use_pytorch3d=False)
    hit = (frags.pix_to_face[0, ..., 0] >= 0).nonzero()
    assert hit[:, 0].max() < 6 and hit[:, 1].max() < 6


def test_open_head_renders(tmp_path):
    from anim3d.flame.open_head import load_open_head
    from anim3d.flame.preview import render_preview

    head = load_open_head()
    img = render_preview(head, np.zeros(52, np.float32), size=128)
    assert img.shape == (128, 128, 3) and img.dtype == np.uint8
    bg = np.all(img == img[0, 0], axis=-1)
    assert 0.15 < (~bg).mean() < 0.8  # the head fills a sensible part of the frame


def test_chunked_expansion_gives_the_same_result(monkeypatch):
    """Large scenes are processed in chunks of candidates; chunking must not change the output."""
    import anim3d.flame.rasterizer as r

    verts, faces = random_mesh(4, n_faces=20)
    full = rasterize(verts[None], torch.as_tensor(faces), 40, use_pytorch3d=False)
    monkeypatch.setattr(r, "_MAX_PAIRS", 37)
    chunked = rasterize(verts[None], torch.as_tensor(faces), 40, use_pytorch3d=False)
    assert torch.equal(full.pix_to_face, chunked.pix_to_face)
    assert torch.allclose(full.bary_coords, chunked.bary_coords)


def test_preview_camera_yaw_turns_the_view():
    from anim3d.flame.open_head import load_open_head
    from anim3d.flame.preview import default_camera, render_preview

    head = load_open_head()
    cam = default_camera(head)
    front = render_preview(head, head.vertices, size=96, camera=cam)
    cam.yaw_deg = 60.0
    side = render_preview(head, head.vertices, size=96, camera=cam)
    assert np.abs(front.astype(int) - side.astype(int)).mean() > 5
    assert np.array_equal(front, render_preview(head, head.vertices, size=96))  # default camera = front view
