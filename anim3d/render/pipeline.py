"""Frame-streaming portrait rendering: Motion + portrait -> 512 x 512 frames -> H.264 MP4 with audio.

Frames are produced in small batches and encoded as they come, so long audio never holds all
frames in memory. ``side_by_side`` puts the mesh head driven by the same Motion on the right
(1024 x 512), frame-locked (frame i of both halves is Motion frame i).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator

import numpy as np

from anim3d.errors import Anim3dError
from anim3d.motion import Motion

from anim3d.models.renderer import DEFAULT_DIR as DEFAULT_CHECKPOINT


@dataclass
class RenderSettings:
    batch: int = 8  # frames per network batch
    crf: int = 20  # H.264 constant rate factor (lower = better quality, bigger file)
    preset: str = "veryfast"
    side_by_side: bool = False
    warp_only: bool = False  # skip the network (the baseline)


class PortraitRenderer:
    """Owns the device, precision, network and the portrait's rig and warp mesh."""

    def __init__(self, portrait, *, head=None, checkpoint: str | None = DEFAULT_CHECKPOINT, device="cpu",
                 warp_only: bool = False, paint_mouth: bool = True, gains: dict[str, float] | None = None):
        import torch

        from anim3d.device import default_dtype
        from anim3d.render.drive import make_rig
        from anim3d.render.flow import build_warp_mesh
        from anim3d.render.frames import image_to_tensor
        from anim3d.render.mouth import MouthPainter
        from anim3d.models.renderer import RendererConfig, load_renderer

        self.device = torch.device(device) if not hasattr(device, "type") else device
        self.dtype = default_dtype(self.device)
        self.model = None if warp_only else load_renderer(checkpoint, self.device, self.dtype)
        if self.model is not None:
            self.model = self.model.to(memory_format=torch.channels_last)
        cfg = self.model.config if self.model is not None else RendererConfig()
        self.n = cfg.internal_size
        self.portrait = portrait
        if head is None:
            from anim3d.flame.open_head import load_open_head

            head = load_open_head()
        self.head = head
        self.rig = make_rig(self.head, portrait.landmarks, portrait.size, gains)  # gains: drive.EXPRESSION_GAINS
        self.mesh = build_warp_mesh(portrait.landmarks, portrait.size)
        self.source = image_to_tensor(portrait.image, self.device, self.dtype)
        self.painter = MouthPainter.from_portrait(portrait.image, portrait.landmarks) if paint_mouth else None

    def driven_landmarks(self, motion: Motion) -> np.ndarray:
        from anim3d.render.drive import drive_landmarks

        return drive_landmarks(self.rig, motion)

    def frames(self, motion: Motion, batch: int = 8) -> Iterator[np.ndarray]:
        """Yield size x size x 3 uint8 frames, one per Motion frame, computed ``batch`` at a time."""
        import torch

        from anim3d.render.flow import driven_vertices
        from anim3d.render.frames import render_batch, tensor_to_images

        for a in range(0, motion.num_frames, batch):
            lms = self.driven_landmarks(motion[a:a + batch])  # b x 478 x 3
            drv = [driven_vertices(self.mesh, l) for l in lms]
            with torch.inference_mode():
                out, warped = render_batch(self.model, self.source, self.mesh, drv, self.n, painter=self.painter)
            yield from tensor_to_images(out if out is not None else warped)


def mesh_frames(head, motion: Motion, size: int, batch: int = 8) -> Iterator[np.ndarray]:
    """The mesh head driven by ``motion`` (flame.preview, fixed camera): the right half of side-by-side."""
    from anim3d.flame.open_head import motion_to_vertices
    from anim3d.flame.preview import default_camera, render_previews

    cam = default_camera(head)
    for a in range(0, motion.num_frames, batch):
        verts = motion_to_vertices(head, motion[a:a + batch])  # b x V x 3
        yield from render_previews(head, verts, size=size, camera=cam, batch=batch)


def write_mp4(path: str, frames: Iterator[np.ndarray], fps: float, *, audio=None, total: int | None = None,
              crf: int = 20, preset: str = "veryfast", desc: str = "rendering") -> int:
    """Encode frames (H x W x 3 uint8, streamed) as H.264 and ``audio`` (anim3d.audio.Audio) as AAC.

    Written through ``atomic_output``: a failure leaves no file behind. Returns the frame count.
    """
    import av

    from anim3d.fileio import atomic_output
    from anim3d.progress import progress

    rate = Fraction(fps).limit_denominator(1001)
    count = 0
    with atomic_output(path) as tmp:
        with av.open(tmp, mode="w", format="mp4") as out:
            vs = None
            for frame in progress(frames, desc=desc, total=total, unit="frame"):
                if vs is None:
                    h, w = frame.shape[:2]
                    vs = out.add_stream("libx264", rate=rate)
                    vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
                    vs.options = {"crf": str(crf), "preset": preset}
                    if audio is not None:
                        aus = out.add_stream("aac", rate=int(audio.sample_rate))
                        aus.layout = "mono"
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                vf.pts = count
                vf.time_base = 1 / rate
                for pkt in vs.encode(vf):
                    out.mux(pkt)
                count += 1
            if vs is None:
                raise Anim3dError(f"{path}: nothing to render (the motion has no frames)")
            for pkt in vs.encode():
                out.mux(pkt)
            if audio is not None:
                samples = np.asarray(audio.samples, np.float32)[: int(round(count / fps * audio.sample_rate))]
                chunk = 1024
                for i in range(0, len(samples), chunk):
                    af = av.AudioFrame.from_ndarray(samples[None, i:i + chunk], format="fltp", layout="mono")
                    af.sample_rate = int(audio.sample_rate)
                    af.pts = i
                    af.time_base = Fraction(1, int(audio.sample_rate))
                    for pkt in aus.encode(af):
                        out.mux(pkt)
                for pkt in aus.encode():
                    out.mux(pkt)
    return count


def render_video(portrait, motion: Motion, path: str, *, audio=None, settings: RenderSettings | None = None,
                 renderer: PortraitRenderer | None = None, checkpoint: str | None = DEFAULT_CHECKPOINT, device="cpu") -> int:
    """Render ``motion`` on ``portrait`` (a Portrait) to an MP4 at ``path``; returns the frame count."""
    settings = settings or RenderSettings()
    r = renderer or PortraitRenderer(portrait, checkpoint=checkpoint, device=device, warp_only=settings.warp_only)
    frames = r.frames(motion, settings.batch)
    if settings.side_by_side:
        from anim3d.render.portrait_head import portrait_head

        right = mesh_frames(portrait_head(portrait), motion, portrait.size, settings.batch)  # the same person's head
        frames = (np.concatenate([a, b], 1) for a, b in zip(frames, right))
    return write_mp4(path, frames, motion.fps, audio=audio, total=motion.num_frames, crf=settings.crf, preset=settings.preset)
