"""Linear blend skinning as pure torch functions (smplx's ``lbs.py`` conventions).

Everything is batched over frames (B) and runs on whatever device the inputs live on.
FLAME layout: 5 joints (root, neck, jaw, left eye, right eye), pose = 5 x 3 axis-angle.
We re-implement rather than import smplx here so that the open head (which has no
smplx model object) and the FLAME path share one small, dependency-free code path;
``tests/test_lbs.py`` checks these functions against smplx's own ``lbs`` to 1e-5.
"""

from __future__ import annotations

import torch
from torch import Tensor


def batch_rodrigues(rot_vecs: Tensor, epsilon: float = 1e-8) -> Tensor:
    """Axis-angle -> rotation matrices.  rot_vecs: N x 3  ->  N x 3 x 3."""
    n = rot_vecs.shape[0]
    angle = torch.norm(rot_vecs + epsilon, dim=1, keepdim=True)  # N x 1
    rot_dir = rot_vecs / angle  # N x 3
    cos = torch.unsqueeze(torch.cos(angle), dim=1)  # N x 1 x 1
    sin = torch.unsqueeze(torch.sin(angle), dim=1)  # N x 1 x 1
    rx, ry, rz = torch.split(rot_dir, 1, dim=1)  # N x 1 each
    zeros = torch.zeros((n, 1), dtype=rot_vecs.dtype, device=rot_vecs.device)
    k = torch.cat([zeros, -rz, ry, rz, zeros, -rx, -ry, rx, zeros], dim=1).view(n, 3, 3)  # N x 3 x 3
    ident = torch.eye(3, dtype=rot_vecs.dtype, device=rot_vecs.device).unsqueeze(0)
    return ident + sin * k + (1 - cos) * torch.bmm(k, k)


def blend_shapes(betas: Tensor, shape_disps: Tensor) -> Tensor:
    """Linear blend shapes.  betas: B x K, shape_disps: V x 3 x K  ->  B x V x 3."""
    return torch.einsum("bl,mkl->bmk", betas, shape_disps)


def vertices2joints(J_regressor: Tensor, vertices: Tensor) -> Tensor:
    """Joint locations from vertices.  J_regressor: J x V, vertices: B x V x 3  ->  B x J x 3."""
    return torch.einsum("bik,ji->bjk", vertices, J_regressor)


def transform_mat(R: Tensor, t: Tensor) -> Tensor:
    """R: N x 3 x 3, t: N x 3 x 1  ->  N x 4 x 4 rigid transforms."""
    top = torch.cat([R, t], dim=2)  # N x 3 x 4
    bottom = torch.zeros_like(top[:, :1, :])  # N x 1 x 4
    bottom[:, :, 3] = 1.0
    return torch.cat([top, bottom], dim=1)


def batch_rigid_transform(rot_mats: Tensor, joints: Tensor, parents: Tensor) -> tuple[Tensor, Tensor]:
    """Forward kinematics.

    rot_mats: B x J x 3 x 3 local rotations; joints: B x J x 3 rest joints;
    parents: J (parents[0] = -1, each parent before its child).
    Returns posed joints B x J x 3 and relative transforms B x J x 4 x 4 (rest -> posed).
    """
    b, j = joints.shape[:2]
    joints = joints.unsqueeze(-1)  # B x J x 3 x 1
    rel_joints = joints.clone()
    rel_joints[:, 1:] -= joints[:, parents[1:]]
    transforms_mat = transform_mat(rot_mats.reshape(-1, 3, 3), rel_joints.reshape(-1, 3, 1)).reshape(b, j, 4, 4)
    chain = [transforms_mat[:, 0]]
    for i in range(1, j):
        chain.append(torch.matmul(chain[int(parents[i])], transforms_mat[:, i]))
    transforms = torch.stack(chain, dim=1)  # B x J x 4 x 4
    posed_joints = transforms[:, :, :3, 3]  # B x J x 3
    joints_homogen = torch.nn.functional.pad(joints, [0, 0, 0, 1])  # B x J x 4 x 1
    rel_transforms = transforms - torch.nn.functional.pad(torch.matmul(transforms, joints_homogen), [3, 0, 0, 0, 0, 0, 0, 0])
    return posed_joints, rel_transforms


def skin(vertices: Tensor, rel_transforms: Tensor, weights: Tensor) -> Tensor:
    """Apply blended joint transforms.  vertices: B x V x 3, rel_transforms: B x J x 4 x 4,
    weights: V x J (or B x V x J)  ->  B x V x 3."""
    b, v = vertices.shape[:2]
    j = rel_transforms.shape[1]
    w = weights if weights.dim() == 3 else weights.unsqueeze(0).expand(b, -1, -1)  # B x V x J
    t = torch.matmul(w, rel_transforms.reshape(b, j, 16)).reshape(b, v, 4, 4)  # B x V x 4 x 4
    homo = torch.nn.functional.pad(vertices, [0, 1], value=1.0).unsqueeze(-1)  # B x V x 4 x 1
    return torch.matmul(t, homo)[:, :, :3, 0]


def lbs(
    betas: Tensor,
    pose: Tensor,
    v_template: Tensor,
    shapedirs: Tensor,
    posedirs: Tensor | None,
    J_regressor: Tensor,
    parents: Tensor,
    lbs_weights: Tensor,
) -> tuple[Tensor, Tensor]:
    """Shape blend shapes + pose correctives + skinning (smplx's ``lbs`` with pose2rot=True).

    betas: B x K (shape and expression coefficients concatenated, matching shapedirs)
    pose: B x (J*3) axis-angle; v_template: V x 3 (or B x V x 3); shapedirs: V x 3 x K
    posedirs: P x (V*3) with P = (J-1)*9, or None to skip pose correctives
    J_regressor: J x V; parents: J; lbs_weights: V x J
    Returns vertices B x V x 3 and posed joints B x J x 3.
    """
    b = max(betas.shape[0], pose.shape[0])
    v_shaped = v_template + blend_shapes(betas, shapedirs)  # B x V x 3
    if v_shaped.shape[0] != b:
        v_shaped = v_shaped.expand(b, -1, -1)
    joints = vertices2joints(J_regressor, v_shaped)  # B x J x 3
    rot_mats = batch_rodrigues(pose.reshape(-1, 3)).reshape(b, -1, 3, 3)  # B x J x 3 x 3
    v_posed = v_shaped
    if posedirs is not None:
        ident = torch.eye(3, dtype=pose.dtype, device=pose.device)
        pose_feature = (rot_mats[:, 1:] - ident).reshape(b, -1)  # B x P
        v_posed = v_shaped + torch.matmul(pose_feature, posedirs).reshape(b, -1, 3)
    posed_joints, rel = batch_rigid_transform(rot_mats, joints, parents)
    return skin(v_posed, rel, lbs_weights), posed_joints
