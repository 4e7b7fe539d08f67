"""flame.lbs against smplx's own lbs functions (1e-5), batched over frames."""

import numpy as np
import pytest
import torch

from anim3d.flame import lbs as ours

import smplx.lbs as smplx_lbs

PARENTS = torch.tensor([-1, 0, 1, 1, 1])


def test_rodrigues_matches_smplx_and_is_a_rotation():
    rv = torch.randn(64, 3) * 1.5
    r = ours.batch_rodrigues(rv)
    assert torch.allclose(r, smplx_lbs.batch_rodrigues(rv), atol=1e-6)
    eye = torch.eye(3).expand(64, 3, 3)
    assert torch.allclose(r @ r.transpose(1, 2), eye, atol=1e-5)
    assert torch.allclose(torch.linalg.det(r), torch.ones(64), atol=1e-5)
    # a quarter turn about +Y takes +Z to +X (right-handed)
    q = ours.batch_rodrigues(torch.tensor([[0.0, np.pi / 2, 0.0]]))[0]
    assert torch.allclose(q @ torch.tensor([0.0, 0.0, 1.0]), torch.tensor([1.0, 0.0, 0.0]), atol=1e-6)


def test_pieces_match_smplx():
    b, v, k = 3, 50, 7
    betas, dirs = torch.randn(b, k), torch.randn(v, 3, k)
    assert torch.allclose(ours.blend_shapes(betas, dirs), smplx_lbs.blend_shapes(betas, dirs), atol=1e-5)
    jr, verts = torch.rand(5, v), torch.randn(b, v, 3)
    assert torch.allclose(ours.vertices2joints(jr, verts), smplx_lbs.vertices2joints(jr, verts), atol=1e-5)
    rot = ours.batch_rodrigues(torch.randn(b * 5, 3)).reshape(b, 5, 3, 3)
    joints = torch.randn(b, 5, 3)
    pj, rel = ours.batch_rigid_transform(rot, joints, PARENTS)
    pj_ref, rel_ref = smplx_lbs.batch_rigid_transform(rot, joints, PARENTS)
    assert torch.allclose(pj, pj_ref, atol=1e-5) and torch.allclose(rel, rel_ref, atol=1e-5)


@pytest.mark.parametrize("with_posedirs", [True, False])
def test_lbs_matches_smplx(with_posedirs):
    torch.manual_seed(0)
    b, v, k = 6, 80, 20
    betas = torch.randn(b, k)
    pose = torch.randn(b, 15) * 0.4
    v_t = torch.randn(v, 3) * 0.1
    dirs = torch.randn(v, 3, k) * 0.01
    posedirs = torch.randn(36, v * 3) * 0.01 if with_posedirs else torch.zeros(36, v * 3)
    jr = torch.rand(5, v)
    jr = jr / jr.sum(1, keepdim=True)
    w = torch.rand(v, 5) ** 3
    w = w / w.sum(1, keepdim=True)
    got, got_j = ours.lbs(betas, pose, v_t, dirs, posedirs if with_posedirs else None, jr, PARENTS, w)
    ref, ref_j = smplx_lbs.lbs(betas, pose, v_t, dirs, posedirs, jr, PARENTS, w)
    assert got.shape == (b, v, 3)
    assert torch.allclose(got, ref, atol=1e-5), (got - ref).abs().max()
    assert torch.allclose(got_j, ref_j, atol=1e-5)
    # frames are independent: frame 2 alone gives the same result as in the batch
    one, _ = ours.lbs(betas[2:3], pose[2:3], v_t, dirs, posedirs if with_posedirs else None, jr, PARENTS, w)
    assert torch.allclose(one[0], got[2], atol=1e-6)


def test_lbs_float64():
    """dtype agnostic: float64 in, float64 out; zero pose and coefficients give the rest mesh."""
    b, v = 2, 10
    v_t = torch.randn(v, 3, dtype=torch.float64)
    out, _ = ours.lbs(torch.zeros(b, 3, dtype=torch.float64), torch.zeros(b, 15, dtype=torch.float64), v_t,
                      torch.zeros(v, 3, 3, dtype=torch.float64), None, torch.full((5, v), 1.0 / v, dtype=torch.float64),
                      PARENTS, torch.full((v, 5), 0.2, dtype=torch.float64))
    assert out.dtype == torch.float64
    assert torch.allclose(out[0], v_t) and torch.allclose(out[1], v_t)
