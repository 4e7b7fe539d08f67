"""The open head textured with a real portrait, rendered with the project rasterizer: a
synthetic talking-face video with known ARKit weights and head pose, for checking the
video importer end to end (tests/test_roundtrip_tracking.py).

MediaPipe needs a face-like image: the open head's face was built from MediaPipe's
landmarks of ``skimage.data.astronaut()``, so that photo maps onto the head landmark for
landmark (``texture_coords``). Mouth cavity, teeth and tongue keep the preview's colours.
"""

from __future__ import annotations

import numpy as np

from anim3d.optional import require
from anim3d.flame.head import HeadModel

RENDER_SIZE = 256


def default_portrait() -> np.ndarray:
    """``skimage.data.astronaut()``: the portrait the open head's face was built from."""
    skimage_data = require("skimage.data", "the texture portrait")

    return skimage_data.astronaut()


def texture_coords(head: HeadModel, portrait: np.ndarray) -> np.ndarray:
    """V x 2 portrait coordinates in [0, 1] for every rest vertex of ``head``.

    The 468 landmark vertices take the portrait's own MediaPipe landmark positions (exact
    correspondence; a projection would put the photo's parted lips and teeth on the
    head's closed lips); every other vertex an orthographic projection through the
    similarity fitted on those vertices. Raises InputError when the portrait has no face.
    """
    from anim3d import tracking as tr

    lm = tr.track_image(portrait)
    h, w = portrait.shape[:2]
    target = tr.to_metric_image(lm[None, :468], w / h)[0]  # 468 x 3, image-height units
    idx = np.asarray(head.parts["mediapipe_468"])
    s, r, t = tr.similarity_align(head.vertices[idx], target)
    p = s * head.vertices @ r.T + t  # V x 3
    uv = np.stack([p[:, 0] / (w / h), -p[:, 1]], axis=1)
    uv[idx] = lm[:468, :2]
    return uv.astype(np.float32)


def render_textured(head: HeadModel, vertices, portrait: np.ndarray, uv: np.ndarray, size: int = RENDER_SIZE,
                    camera=None, shading: float = 0.0) -> np.ndarray:
    """T x V x 3 posed vertices -> T x size x size x 3 uint8 frames of the portrait-textured
    head (mouth cavity, teeth and tongue in the preview's flat colours, grey background).

    camera: a ``anim3d.flame.preview.Camera`` (default: the preview's, framing the face);
    shading: 0..1, how much Lambert shading (light above the camera) multiplies the photo.
    """
    import torch

    from anim3d.flame.preview import default_camera, vertex_colors, vertex_normals
    from anim3d.flame.rasterizer import rasterize

    cam = camera or default_camera(head, fov_deg=20.0, margin=0.8)
    faces = torch.as_tensor(head.faces, dtype=torch.long)
    tex = torch.as_tensor(portrait, dtype=torch.float32).permute(2, 0, 1)[None] / 255  # 1 x 3 x H x W
    uv_t = torch.as_tensor(uv, dtype=torch.float32)  # V x 2
    flat = torch.as_tensor(vertex_colors(head))  # V x 3
    inside = np.zeros(head.num_vertices, np.float32)
    for name in ("mouth_cavity", "teeth", "upper_teeth", "lower_teeth", "tongue"):
        if name in head.parts:
            inside[np.asarray(head.parts[name], int)] = 1.0
    inside_t = torch.as_tensor(inside)  # V
    bg = torch.tensor([0.5, 0.5, 0.5])
    light = torch.nn.functional.normalize(torch.tensor([0.0, 0.8, 1.0]), dim=0)
    verts = torch.as_tensor(np.asarray(vertices), dtype=torch.float32)
    if verts.dim() == 2:
        verts = verts[None]
    out = []
    for s in range(0, len(verts), 8):
        v = verts[s : s + 8]  # B x V x 3
        frags = rasterize(cam.project(v), faces, size, cull_backfaces=True)
        p2f = frags.pix_to_face[..., 0]  # B x H x W
        hit = p2f >= 0
        # shade only the covered pixels (about half of the frame): N of them
        bi, yi, xi = torch.nonzero(hit, as_tuple=True)  # N each
        fv = faces[p2f[bi, yi, xi] % faces.shape[0]]  # N x 3
        bw = frags.bary_coords[bi, yi, xi, 0, :].clamp(min=0)[..., None]  # N x 3 x 1
        grid = (uv_t[fv] * bw).sum(1) * 2 - 1  # N x 2, grid_sample's [-1, 1]
        # sample the portrait at each pixel's texture coordinate: one grid row per frame
        rgb = torch.empty(len(bi), 3)
        for b in range(len(v)):
            sel = bi == b
            g = grid[sel][None, None]  # 1 x 1 x n x 2
            rgb[sel] = torch.nn.functional.grid_sample(tex, g, align_corners=False)[0, :, 0].T  # n x 3
        mix = (inside_t[fv][..., None] * bw).sum(1)  # N x 1
        rgb = rgb * (1 - mix) + (flat[fv] * bw).sum(1) * mix
        if shading > 0:
            n = vertex_normals(v, faces)  # B x V x 3
            nrm = torch.nn.functional.normalize((n[bi[:, None], fv] * bw).sum(1), dim=-1, eps=1e-12)  # N x 3
            lam = (nrm @ light).clamp(min=0)[..., None]
            rgb = rgb * (1 - shading + shading * 1.3 * lam)
        img = bg.expand(len(v), size, size, 3).clone()  # B x H x W x 3
        img[bi, yi, xi] = rgb
        out.append((img.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy())
    return np.concatenate(out)


def write_video(path: str, frames: np.ndarray, fps: float = 30.0, crf: int = 16) -> None:
    """T x H x W x 3 uint8 -> an H.264 MP4 (written atomically)."""
    import av

    from anim3d.fileio import atomic_output

    with atomic_output(path) as tmp:
        with av.open(tmp, "w", format="mp4") as c:
            s = c.add_stream("libx264", rate=int(round(fps)))
            s.width, s.height = frames.shape[2], frames.shape[1]
            s.pix_fmt = "yuv420p"
            s.options = {"crf": str(crf)}
            for f in frames:
                for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)


# Shapes that only make sense on top of another (ARKit's mouthClose presses the lips
# together over an open jaw; alone it pushes them through each other): measured on it.
CORRECTIVE_BASE = {"mouthClose": "jawOpen"}


def tracked_basis(head: HeadModel, portrait: np.ndarray | None = None, uv: np.ndarray | None = None,
                  size: int = RENDER_SIZE, weight: float = 0.5, channels=None) -> np.ndarray:
    """What MediaPipe sees of each morph target: 52 x 468 x 3 landmark displacements
    (metres, head frame, per unit weight), for ``ArkitSolver(basis=...)``.

    A calibration clip is rendered (frontal, textured): the rest face, then each shape alone
    at ``weight`` (a corrective shape on top of its CORRECTIVE_BASE) followed by a rest
    frame; it is encoded and tracked like any video (``track_video``), each frame aligned to
    the head on the solver's rigid landmarks, and the response is the shape frame minus its
    base frame, over ``weight``. MediaPipe follows the mesh only part of the way (the
    smile's corners about a third, the chin barely), so the raw displacement of the
    landmark vertices is not what a tracked video shows. Shapes not in ``channels``
    (default: every shape the solver solves) keep zeros.
    """
    import os
    import tempfile

    from anim3d import tracking as tr
    from anim3d.channels import ARKIT_NAMES
    from anim3d.data.importers.solve import (
        UNSOLVED_CHANNELS,
        ArkitSolver,
        align_to_head,
    )
    from anim3d.flame.open_head import motion_to_vertices

    portrait = default_portrait() if portrait is None else portrait
    uv = texture_coords(head, portrait) if uv is None else uv
    solver = ArkitSolver(head)
    names = [n for n in ARKIT_NAMES if n not in UNSOLVED_CHANNELS] if channels is None else list(channels)
    rows, pairs = [np.zeros(52, np.float32)] * 3, []  # a still start for the tracker
    for n in names:
        base = np.zeros(52, np.float32)
        if n in CORRECTIVE_BASE:
            base[ARKIT_NAMES.index(CORRECTIVE_BASE[n])] = weight
            rows.append(base)
        shape = base.copy()
        shape[ARKIT_NAMES.index(n)] = weight
        rows.append(shape)
        pairs.append((n, len(rows) - 1, len(rows) - 2 if n in CORRECTIVE_BASE else None))
        rows.append(np.zeros(52, np.float32))
    bs = np.stack(rows)  # T x 52
    zeros = np.zeros((len(bs), 3), np.float32)
    verts = motion_to_vertices(head, (bs, zeros, zeros)).cpu().numpy()  # T x V x 3
    frames = render_textured(head, verts, portrait, uv, size=size)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "calibration.mp4")
        write_video(path, frames)
        tracking = tr.track_video(path, progress=False)
    aligned = align_to_head(tr.to_metric_image(tracking.landmarks), solver.neutral, rigid=solver.rigid)[:, :468]  # T x 468 x 3
    rest = aligned[(bs == 0).all(1)].mean(0)  # 468 x 3
    out = np.zeros((52, 468, 3))
    for n, i, b in pairs:
        out[ARKIT_NAMES.index(n)] = (aligned[i] - (rest if b is None else aligned[b])) / weight
    return out
