"""A 512 x 512 preview video of a Motion on the mesh head, with the audio muxed in (PyAV).

Frames come from ``anim3d.flame.open_head.motion_to_vertices`` and ``anim3d.flame.preview.render_preview``
(the project's head model and rasterizer). Where those are not available, a small
built-in fallback poses the head (morph targets + head rotation about the neck joint)
and paints flat-shaded triangles back to front with Pillow, so a preview can always be made.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from anim3d.errors import MotionError
from anim3d.motion import Motion

AUDIO_RATE = 48000


def pose_vertices(head, motion: Motion) -> np.ndarray:
    """T x V x 3 posed vertices: neutral + weighted morph targets, head rotation about the
    neck joint, head translation. (Fallback for ``anim3d.flame.open_head.motion_to_vertices``.)"""
    from scipy.spatial.transform import Rotation

    v = head.vertices[None] + np.einsum("tk,kvc->tvc", motion.blendshapes, head.morph_targets)  # T x V x 3
    names = list(head.joint_names)
    pivot = head.joints[names.index("neck")] if "neck" in names else head.joints[0]
    r = Rotation.from_rotvec(motion.head_rotation.astype(np.float64)).as_matrix()  # T x 3 x 3
    v = np.einsum("tij,tvj->tvi", r, v - pivot) + pivot + motion.head_translation[:, None, :]
    return v.astype(np.float32)


def painter_render(vertices: np.ndarray, faces: np.ndarray, size: int = 512, center=None, scale=None) -> np.ndarray:
    """H x W x 3 uint8: flat-shaded triangles painted far to near (orthographic, looking down -Z).

    Fallback for ``anim3d.flame.preview.render_preview``.
    """
    from PIL import Image, ImageDraw

    v = np.asarray(vertices, np.float64)
    c = v.mean(0) if center is None else center
    s = (0.9 * size / (np.ptp(v[:, :2], axis=0).max() + 1e-9)) if scale is None else scale
    xy = np.stack([(v[:, 0] - c[0]) * s + size / 2, size / 2 - (v[:, 1] - c[1]) * s], 1)  # V x 2 pixels
    tri = v[faces]  # F x 3 x 3
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
    visible = n[:, 2] > 0  # facing the camera (+Z)
    light = np.clip(n @ np.array([0.3, 0.4, 0.87]), 0, 1)
    order = np.argsort(tri[:, :, 2].mean(1))  # far (small z) first
    img = Image.new("RGB", (size, size), (32, 32, 40))
    draw = ImageDraw.Draw(img)
    base = np.array([225, 180, 160])
    for f in order:
        if not visible[f]:
            continue
        col = tuple(int(x) for x in base * (0.25 + 0.75 * light[f]))
        draw.polygon([tuple(p) for p in xy[faces[f]]], fill=col)
    return np.asarray(img)


def _renderer(head, renderer: str):
    """(posing(head, motion) -> T x V x 3, render(vertices n x V x 3, size) -> n x H x W x 3 uint8)."""
    if renderer == "project":
        from anim3d.flame.open_head import motion_to_vertices
        from anim3d.flame.preview import render_previews

        return motion_to_vertices, lambda verts, size: render_previews(head, verts, size=size)
    center = head.vertices.mean(0)
    scale = 0.8 / (np.ptp(head.vertices[:, :2], axis=0).max() + 1e-9)
    return pose_vertices, lambda verts, size: np.stack([painter_render(v, head.faces, size, center=center, scale=scale * size) for v in verts])


def write_preview_mp4(motion: Motion, path: str | os.PathLike, audio=None, head=None, size: int = 512, renderer: str = "project") -> Path:
    """Render ``motion`` on ``head`` (default: the open head) to an H.264 MP4 with AAC audio.

    audio: an ``anim3d.audio.Audio`` or an audio file path (muxed in, trimmed to the motion).
    renderer: "project" (the project's rasterizer, shaded) or "painter" (fast, flat-shaded; used by tests).
    """
    import av

    from anim3d.fileio import atomic_output
    from anim3d.progress import progress
    from anim3d.exporters.gltf import resolve_audio

    path = Path(path)
    motion.validate(path)
    if motion.num_frames == 0:
        raise MotionError(path, "the motion has no frames")
    snd = resolve_audio(audio)
    if snd is not None and snd.sample_rate != AUDIO_RATE:
        from anim3d.audio import resample

        snd = type(snd)(resample(snd.samples, snd.sample_rate, AUDIO_RATE), AUDIO_RATE, snd.path)
    if head is None:
        from anim3d.flame.open_head import load_open_head

        head = load_open_head()
    size = int(size) + int(size) % 2  # H.264 with yuv420p needs even sizes
    posing, render = _renderer(head, renderer)
    rate = Fraction(motion.fps).limit_denominator(1001)
    with atomic_output(path) as tmp:
        with av.open(tmp, "w", format="mp4") as out:
            vs = out.add_stream("libx264", rate=rate)
            vs.width = vs.height = size
            vs.pix_fmt = "yuv420p"
            vs.options = {"crf": "20", "preset": "veryfast"}
            as_ = None
            if snd is not None:
                as_ = out.add_stream("aac", rate=AUDIO_RATE)
                as_.layout = "mono"
            chunk = 8
            for start in progress(range(0, motion.num_frames, chunk), desc="preview", total=(motion.num_frames + chunk - 1) // chunk, unit="x8 frames"):
                verts = posing(head, motion[start:start + chunk])  # n x V x 3
                verts = verts.detach().cpu().numpy() if hasattr(verts, "detach") else np.asarray(verts)
                images = render(verts, size)  # n x H x W x 3
                for i in range(len(verts)):
                    img = np.ascontiguousarray(images[i, ..., :3], dtype=np.uint8)
                    frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                    frame.pts = start + i
                    frame.time_base = Fraction(1) / rate
                    for p in vs.encode(frame):
                        out.mux(p)
            for p in vs.encode():
                out.mux(p)
            if as_ is not None:
                n = min(len(snd.samples), int(round(motion.duration * AUDIO_RATE)))
                samples = snd.samples[:n].astype(np.float32)
                for s0 in range(0, n, 1024):
                    af = av.AudioFrame.from_ndarray(samples[None, s0:s0 + 1024], format="fltp", layout="mono")
                    af.sample_rate = AUDIO_RATE
                    af.pts = s0
                    af.time_base = Fraction(1, AUDIO_RATE)
                    for p in as_.encode(af):
                        out.mux(p)
                for p in as_.encode():
                    out.mux(p)
    return path
