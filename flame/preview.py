"""Shaded preview images of a head mesh with the project's rasterizer.

    img = render_preview(head, vertices)            # H x W x 3 uint8
    imgs = render_previews(head, verts_T, size=512) # T x H x W x 3 uint8 (batched; for videos)

A head with a texture (the open head's: brows, lid lines, lips, baked ambient occlusion) is drawn with
it, lit per pixel by a key and a fill light over ambient; a head without one gets Lambert (Gouraud)
shading and a colour per part (skin, lips, eye whites, irises, teeth, tongue, mouth cavity). The default camera frames the rest head, so a
sequence of frames keeps a fixed camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from anim3d.flame.head import HeadModel
from anim3d.flame.rasterizer import rasterize
from anim3d.flame.texture import sample_texture

SKIN = (0.86, 0.67, 0.55)
LIPS = (0.72, 0.38, 0.36)
SCLERA = (0.93, 0.92, 0.89)
IRIS = (0.22, 0.30, 0.38)
TEETH = (0.95, 0.93, 0.85)
TONGUE = (0.78, 0.36, 0.38)
CAVITY = (0.30, 0.08, 0.09)
SOCKET = (0.45, 0.28, 0.24)
BACKGROUND = (0.16, 0.17, 0.19)


@dataclass
class Camera:
    """A pinhole camera on the +Z side of the head looking toward -Z at ``target``.

    distance: metres from target; fov_deg: vertical field of view; yaw_deg turns the camera
    around the head (positive = toward the subject's left side).
    """

    target: tuple[float, float, float] = (0.0, 0.0, 0.0)
    distance: float = 0.6
    fov_deg: float = 30.0
    yaw_deg: float = 0.0

    def project(self, verts: torch.Tensor) -> torch.Tensor:
        """World B x V x 3 -> pytorch3d NDC B x V x 3 (z = distance along the view axis)."""
        t = torch.as_tensor(self.target, dtype=verts.dtype, device=verts.device)
        a = np.deg2rad(self.yaw_deg)
        c, s = float(np.cos(a)), float(np.sin(a))
        p = verts - t
        xr = c * p[..., 0] - s * p[..., 2]  # rotate the world by -yaw about Y
        zr = s * p[..., 0] + c * p[..., 2]
        depth = self.distance - zr
        f = 1.0 / np.tan(np.deg2rad(self.fov_deg) / 2)
        return torch.stack([-f * xr / depth, f * p[..., 1] / depth, depth], dim=-1)


def default_camera(head: HeadModel, fov_deg: float = 24.0, margin: float = 1.15) -> Camera:
    """Frame the rest head (face, skull and the top of the neck) from the front."""
    skin = np.concatenate([head.parts.get("face", np.arange(head.num_vertices)), head.parts.get("skull", [])]).astype(int)
    v = head.vertices[skin]
    lo, hi = v.min(0), v.max(0)
    target = 0.5 * (lo + hi)
    target[1] -= 0.02
    half = 0.5 * max(hi[1] - lo[1] + 0.05, hi[0] - lo[0]) * margin
    dist = half / np.tan(np.deg2rad(fov_deg) / 2) + hi[2] - target[2]
    return Camera(tuple(float(x) for x in target), float(dist), fov_deg)


def vertex_colors(head: HeadModel) -> np.ndarray:
    """V x 3 float colours from the head's parts (skin where no part says otherwise)."""
    col = np.tile(np.array(SKIN, np.float32), (head.num_vertices, 1))
    p = head.parts

    def put(name: str, rgb) -> None:
        if name in p:
            col[np.asarray(p[name], int)] = rgb

    put("lips", LIPS)
    for side in ("left", "right"):
        put(f"{side}_eye_socket", SOCKET)
        put(f"{side}_eyeball", SCLERA)
        put(f"{side}_iris", IRIS)
    put("mouth_cavity", CAVITY)
    put("teeth", TEETH)
    put("tongue", TONGUE)
    return col


def vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """B x V x 3 area-weighted unit normals."""
    tri = verts[:, faces]  # B x F x 3 x 3
    fn = torch.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0], dim=-1)  # B x F x 3
    vn = torch.zeros_like(verts)
    for k in range(3):
        vn.index_add_(1, faces[:, k], fn)
    return torch.nn.functional.normalize(vn, dim=-1, eps=1e-12)


def _as_vertices(head: HeadModel, frame: Any) -> torch.Tensor:
    """Accept V x 3 / T x V x 3 vertices (numpy or torch), a Motion, or 52 weights."""
    if isinstance(frame, torch.Tensor):
        v = frame.detach().to(torch.float32)
    else:
        arr = frame if isinstance(frame, np.ndarray) else None
        if arr is not None and arr.shape[-2:] == (head.num_vertices, 3):
            v = torch.as_tensor(arr, dtype=torch.float32)
        else:
            from anim3d.flame.open_head import motion_to_vertices

            v = motion_to_vertices(head, frame)
    return v[None] if v.dim() == 2 else v


def render_previews(head: HeadModel, vertices: Any, size: int = 512, camera: Camera | None = None,
                    batch: int = 8, device=None) -> np.ndarray:
    """T x size x size x 3 uint8 shaded images of T posed meshes (computed on ``device``,
    default: where the vertices are). A head with a texture is drawn with it and per-pixel normals
    (``textured_shading``); one without, in its parts' colours with Gouraud shading."""
    v_all = _as_vertices(head, vertices)
    dev = torch.device(device) if device is not None else v_all.device
    cam = camera or default_camera(head)
    faces = torch.as_tensor(head.faces, dtype=torch.long, device=dev)
    textured = head.texture is not None and head.uvs is not None
    if textured:
        tex = torch.as_tensor(head.texture, device=dev).permute(2, 0, 1).to(torch.float32) / 255  # 3 x H x W
        uv = torch.as_tensor(head.uvs, dtype=torch.float32, device=dev)  # V x 2
    else:
        col = torch.as_tensor(vertex_colors(head), device=dev)  # V x 3
    a = np.deg2rad(cam.yaw_deg)  # the key light turns with the camera (upper left of the view)

    def turned(lx, ly, lz):
        d = torch.tensor([np.cos(a) * lx + np.sin(a) * lz, ly, -np.sin(a) * lx + np.cos(a) * lz], dtype=torch.float32, device=dev)
        return torch.nn.functional.normalize(d, dim=0)

    light, fill = turned(-0.35, 0.45, 1.0), turned(0.8, -0.1, 0.6)
    bg = torch.tensor(BACKGROUND, device=dev)
    nf = faces.shape[0]
    out = []
    for s in range(0, v_all.shape[0], batch):
        v = v_all[s : s + batch].to(dev)
        b, nv = v.shape[:2]
        frags = rasterize(cam.project(v), faces, size, cull_backfaces=True)
        n = vertex_normals(v, faces)  # B x V x 3
        p2f = frags.pix_to_face.reshape(-1)  # B*H*W, packed face ids
        pix = torch.nonzero(p2f >= 0).squeeze(1)  # M covered pixels
        packed = p2f.index_select(0, pix)
        frame = torch.div(packed, nf, rounding_mode="floor")  # M
        local = faces.index_select(0, packed - frame * nf)  # M x 3 vertex ids in the mesh
        fv = local + (frame * nv)[:, None]  # M x 3 rows of the flattened batch
        w = frags.bary_coords.reshape(-1, 3).index_select(0, pix).clamp(min=0)  # M x 3
        if textured:
            shaded = textured_shading(tex, uv, n.reshape(b * nv, 3), local, fv, w, light, fill)
        else:
            # Gouraud shading: light each vertex, then interpolate colours across the faces
            lam = (n @ light).clamp(min=0)  # B x V
            vrgb = (col[None] * (0.32 + 0.75 * lam[..., None])).reshape(b * nv, 3)  # (B*V) x 3
            corner = vrgb.index_select(0, fv.reshape(-1)).reshape(-1, 3, 3)  # M x 3 corners x 3 channels
            shaded = torch.bmm(w[:, None, :], corner)[:, 0]  # M x 3
        img = bg.repeat(b * size * size, 1)  # (B*H*W) x 3
        img.index_copy_(0, pix, shaded)
        out.append((img.clamp(0, 1) * 255 + 0.5).to(torch.uint8).reshape(b, size, size, 3).cpu().numpy())
    return np.concatenate(out)


def textured_shading(tex, uv, normals, local, fv, w, light, fill):
    """M covered pixels -> M x 3 colours: the texture at the interpolated UV, lit per pixel (interpolated
    normals) by a key and a fill light over ambient. tex: 3 x H x W; uv: V x 2; normals: (B*V) x 3;
    local / fv: M x 3 corner ids in the mesh / in the flattened batch; w: M x 3 barycentrics."""
    albedo = sample_texture(tex, (uv[local] * w[..., None]).sum(1))  # M x 3
    nrm = torch.nn.functional.normalize((normals[fv] * w[..., None]).sum(1), dim=-1, eps=1e-12)  # M x 3
    lit = 0.30 + 0.68 * (nrm @ light).clamp(min=0) + 0.22 * (nrm @ fill).clamp(min=0)  # M
    return albedo * lit[:, None]


def render_preview(head: HeadModel, vertices_or_motion_frame: Any, size: int = 512, camera: Camera | None = None) -> np.ndarray:
    """One H x W x 3 uint8 shaded image (the first frame if several are given)."""
    v = _as_vertices(head, vertices_or_motion_frame)[:1]
    return render_previews(head, v, size, camera)[0]
