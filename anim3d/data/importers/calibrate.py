"""What MediaPipe sees of each ARKit shape: a tracker-calibrated solve basis, and the
textured head renders it is measured on.

MediaPipe Face Mesh does not report a face's geometry exactly: on renders of the open
head it sees about half of the chin's drop under jawOpen and little of the depth. Solving
against the raw morph targets then prefers shapes that move the lower lip without the
chin (mouthShrugLower, mouthRollLower...) over jawOpen. So we measure the tracker's
response instead: render the open head with each shape alone (at two strengths, facing
the camera), track the renders, remove the pose exactly as the solver does, and use the
tracked displacements (per unit weight) as the basis. The head is textured with a real
portrait so that MediaPipe sees a face (``texture_coords``). The basis is cached on disk
(``~/.cache/anim3d``), keyed by a hash of the head.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from flame.head import HeadModel

CALIBRATION_VERSION = 2
CALIBRATION_FRAMES = 600
RENDER_SIZE = 256


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


def default_portrait() -> np.ndarray:
    """``skimage.data.astronaut()``: the portrait the open head's face was built from."""
    import skimage.data

    return skimage.data.astronaut()


def render_textured(head: HeadModel, vertices, portrait: np.ndarray, uv: np.ndarray, size: int = RENDER_SIZE, camera=None) -> np.ndarray:
    """T x V x 3 posed vertices -> T x size x size x 3 uint8 frames of the portrait-textured
    head (mouth cavity, teeth and tongue in the preview's flat colours, grey background)."""
    import torch

    from flame.preview import default_camera, vertex_colors
    from flame.rasterizer import rasterize

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
    verts = torch.as_tensor(np.asarray(vertices), dtype=torch.float32)
    if verts.dim() == 2:
        verts = verts[None]
    out = []
    for s in range(0, len(verts), 8):
        v = verts[s : s + 8]  # B x V x 3
        frags = rasterize(cam.project(v), faces, size, cull_backfaces=True)
        p2f = frags.pix_to_face[..., 0]  # B x H x W
        hit = p2f >= 0
        fv = faces[torch.where(hit, p2f % faces.shape[0], torch.zeros_like(p2f))]  # B x H x W x 3
        bw = frags.bary_coords[..., 0, :].clamp(min=0)[..., None]  # B x H x W x 3 x 1
        grid = (uv_t[fv] * bw).sum(3) * 2 - 1  # B x H x W x 2, grid_sample's [-1, 1]
        rgb = torch.nn.functional.grid_sample(tex.expand(len(v), -1, -1, -1), grid, align_corners=False).permute(0, 2, 3, 1)
        mix = (inside_t[fv][..., None] * bw).sum(3)  # B x H x W x 1
        rgb = rgb * (1 - mix) + (flat[fv] * bw).sum(3) * mix
        rgb = torch.where(hit[..., None], rgb, bg)
        out.append((rgb.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy())
    return np.concatenate(out)


def _head_key(head: HeadModel) -> str:
    h = hashlib.sha1()
    for a in (head.vertices, head.faces, head.morph_targets, np.asarray(head.parts["mediapipe_468"])):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(f"v{CALIBRATION_VERSION}-{CALIBRATION_FRAMES}-{RENDER_SIZE}".encode())
    return h.hexdigest()[:16]


def cache_dir() -> str:
    return os.environ.get("ANIM3D_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "anim3d"))


def calibration_weights(channels: list[int], num_frames: int, seed: int = 0) -> np.ndarray:
    """num_frames x 52 random sparse, temporally smooth weights on ``channels`` (a few
    shapes active at a time, as in speech), with mouthClose never above jawOpen (its only
    meaningful use) and a neutral first second."""
    from scipy.ndimage import gaussian_filter1d

    from anim3d.channels import INDEX

    rng = np.random.default_rng(seed)
    w = np.zeros((num_frames, 52))
    raw = gaussian_filter1d(rng.normal(size=(num_frames, len(channels))), 3.0, axis=0)
    raw /= raw.std(0, keepdims=True)
    w[:, channels] = np.clip(raw - 1.0, 0, None) * 0.8  # active ~16 % of the time each
    w[:, INDEX["jawOpen"]] = np.clip(raw[:, channels.index(INDEX["jawOpen"])] * 0.35 + 0.15, 0, 1) if INDEX["jawOpen"] in channels else 0
    if INDEX["mouthClose"] in channels:
        w[:, INDEX["mouthClose"]] = np.minimum(w[:, INDEX["mouthClose"]], w[:, INDEX["jawOpen"]])
    w[:30] = 0
    return np.clip(w, 0, 1)


def measure_tracker_basis(head: HeadModel, channels: list[int], portrait: np.ndarray | None = None,
                          num_frames: int = CALIBRATION_FRAMES, progress: bool = True) -> np.ndarray:
    """Render a random clip of ``channels`` (``calibration_weights``), track it as a video,
    and fit the tracked, pose-removed landmark displacements as a linear function of the
    weights by least squares -> 52 x 468 x 3 (metres per unit weight; zero elsewhere).

    Fitting random combinations (not one shape at a time) measures the response where the
    shapes are used: mouthClose only means something over an open jaw.
    """
    import tempfile

    from anim3d import tracking as tr
    from anim3d.data.importers.solve import align_to_head, neutral_frames
    from flame.open_head import motion_to_vertices

    portrait = default_portrait() if portrait is None else portrait
    uv = texture_coords(head, portrait)
    weights = calibration_weights(channels, num_frames)  # N x 52
    k = np.arange(num_frames)
    rot = np.stack([0.06 * np.sin(k / 23.0), 0.1 * np.sin(k / 31.0 + 1.0), 0.03 * np.sin(k / 19.0 + 2.0)], 1)
    rot[:30] = 0
    verts = motion_to_vertices(head, {"blendshapes": weights.astype(np.float32), "head_rotation": rot.astype(np.float32)}).cpu().numpy()
    frames = render_textured(head, verts, portrait, uv)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "calibration.mp4")
        write_video(path, frames, fps=30)
        tracking = tr.track_video(path, progress=progress)
    idx = np.asarray(head.parts["mediapipe_468"])
    neutral = head.vertices[idx].astype(np.float64)
    pts = tr.to_metric_image(tracking.landmarks, 1.0)
    aligned = align_to_head(pts, neutral)[:, :468]  # N x 468 x 3 metres
    ok = tracking.valid
    base = aligned[:30][ok[:30]].mean(0)
    d = (aligned - base)[ok].reshape(int(ok.sum()), -1)  # N' x 1404
    a = weights[ok][:, channels]  # N' x K
    coef, *_ = np.linalg.lstsq(a, d, rcond=None)  # K x 1404
    basis = np.zeros((52, 468, 3))
    basis[channels] = coef.reshape(len(channels), 468, 3)
    return basis


def write_video(path: str, frames: np.ndarray, fps: float = 30.0, crf: int = 16) -> None:
    """T x H x W x 3 uint8 -> an H.264 MP4 (for calibration and tests)."""
    import av

    with av.open(path, "w") as c:
        s = c.add_stream("libx264", rate=int(round(fps)))
        s.width, s.height = frames.shape[2], frames.shape[1]
        s.pix_fmt = "yuv420p"
        s.options = {"crf": str(crf)}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def tracker_basis(head: HeadModel, channels: list[int], progress: bool = True) -> np.ndarray:
    """``measure_tracker_basis`` for the default portrait, cached on disk."""
    path = os.path.join(cache_dir(), f"tracker_basis-{_head_key(head)}-{len(channels)}.npy")
    if os.path.isfile(path):
        try:
            basis = np.load(path, allow_pickle=False)
            if basis.shape == (52, 468, 3):
                return basis
        except (OSError, ValueError):
            pass  # a damaged cache file: measure again
    basis = measure_tracker_basis(head, channels, progress=progress)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        from anim3d.fileio import atomic_output

        with atomic_output(path) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, basis)
    except OSError:
        pass  # no writable cache: measure again next time
    return basis
