"""Self-supervised training of the portrait renderer on talking-face videos.

A training pair is a source frame and a target frame of the same clip; the target's tracked
MediaPipe landmarks drive the warp mesh of the source, and the network learns to turn the warped
source into the real target frame. One clip is held out: its first frame is the source and its
later frames, driven by their own tracked landmarks, are compared with the real frames (PSNR and
SSIM, network vs the warp-only baseline, in the same run).

    python -m anim3d.render.train --videos a.mp4 b.mp4 --holdout c.mp4 --out models/renderer_default --minutes 25
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from anim3d.fileio import atomic_output
from anim3d.render.flow import build_warp_mesh, driven_vertices
from anim3d.render.frames import flow_batch, image_to_tensor, masks_of, network_inputs, render_batch, tensor_to_images, warp_low
from anim3d.render.mouth import MouthPainter
from anim3d.render.portrait import alignment_matrix, apply_affine, warp_crop
from anim3d.optional import require

TRAIN_CROP = 256  # the evaldata clips are 256 x 256; their aligned face crops are about this size
CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "anim3d", "render")


@dataclass
class Clip:
    """Aligned face crops of one video: frames T x S x S x 3 uint8, landmarks T x 478 x 3 crop px."""

    frames: np.ndarray
    landmarks: np.ndarray
    name: str


def prepare_clip(path: str, size: int = TRAIN_CROP, max_frames: int | None = None, cache_dir: str | None = CACHE_DIR) -> Clip:
    """Track a video, crop every frame with one alignment (from the clip's median face), cache it."""
    import av

    from anim3d.tracking import track_video

    st = os.stat(path)
    key = hashlib.sha1(f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime}|{size}|{max_frames}".encode()).hexdigest()[:16]
    cached = os.path.join(cache_dir, f"{key}.npz") if cache_dir else None
    if cached and os.path.isfile(cached):
        z = np.load(cached)
        return Clip(z["frames"], z["landmarks"], os.path.basename(path))
    tr = track_video(path, max_frames=max_frames)
    w, h = tr.size
    lm_px = tr.landmarks * np.array([w, h, w], np.float32)  # T x 478 x 3 pixels
    m = alignment_matrix(np.median(lm_px, 0), size)
    frames = []
    with av.open(path) as c:
        for i, fr in enumerate(c.decode(video=0)):
            if i >= tr.num_frames:
                break
            frames.append(warp_crop(fr.to_ndarray(format="rgb24"), m, size))
    n = min(len(frames), tr.num_frames)
    frames = np.stack(frames[:n])
    lms = np.stack([apply_affine(m, l) for l in lm_px[:n]])
    if cached:
        os.makedirs(cache_dir, exist_ok=True)
        with atomic_output(cached) as tmp:
            np.savez(tmp, frames=frames, landmarks=lms)
    return Clip(frames, lms, os.path.basename(path))


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    structural_similarity = require("skimage.metrics", "SSIM").structural_similarity

    return float(structural_similarity(a, b, channel_axis=2, data_range=255))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


@torch.no_grad()
def evaluate(model, clip: Clip, n: int, source_index: int = 0, stride: int = 5, batch: int = 8, paint: bool = True) -> dict:
    """PSNR/SSIM of network vs warp-only (the same pipeline without the network, mouth painting
    included when ``paint``) on ``clip``'s frames driven by their own landmarks."""
    if model is not None:
        model.eval()
    mesh = build_warp_mesh(clip.landmarks[source_index], clip.frames.shape[1])
    painter = MouthPainter.from_portrait(clip.frames[source_index], clip.landmarks[source_index]) if paint else None
    src = image_to_tensor(clip.frames[source_index])
    idx = [i for i in range(0, len(clip.frames), stride) if i != source_index]
    scores = {"psnr_warp": [], "psnr_net": [], "ssim_warp": [], "ssim_net": []}
    for k in range(0, len(idx), batch):
        ids = idx[k:k + batch]
        drv = [driven_vertices(mesh, clip.landmarks[i]) for i in ids]
        out, warped = render_batch(model, src, mesh, drv, n, painter=painter)
        for j, i in enumerate(ids):
            real = clip.frames[i]
            w_img = tensor_to_images(warped[j:j + 1])[0]
            scores["psnr_warp"].append(_psnr(w_img, real))
            scores["ssim_warp"].append(_ssim(w_img, real))
            if out is not None:
                o_img = tensor_to_images(out[j:j + 1])[0]
                scores["psnr_net"].append(_psnr(o_img, real))
                scores["ssim_net"].append(_ssim(o_img, real))
    res = {k: float(np.mean(v)) for k, v in scores.items() if v}
    res["frames"] = len(idx)
    return res


class PairSampler:
    """Random (source, target) pairs of the same clip, with their warp meshes cached per source."""

    def __init__(self, clips: list[Clip], rng: np.random.Generator, source_stride: int = 10, paint: bool = True):
        self.clips, self.rng, self.stride, self.paint = clips, rng, source_stride, paint
        self.meshes: dict[tuple[int, int], tuple] = {}

    def mesh(self, c: int, s: int):
        """(warp mesh, mouth painter or None) of source frame s of clip c."""
        if (c, s) not in self.meshes:
            clip = self.clips[c]
            painter = MouthPainter.from_portrait(clip.frames[s], clip.landmarks[s]) if self.paint else None
            self.meshes[(c, s)] = (build_warp_mesh(clip.landmarks[s], clip.frames.shape[1]), painter)
        return self.meshes[(c, s)]

    def sample(self):
        c = int(self.rng.integers(len(self.clips)))
        clip = self.clips[c]
        s = int(self.rng.integers(0, len(clip.frames), endpoint=False) // self.stride * self.stride)
        t = int(self.rng.integers(len(clip.frames)))
        mesh, painter = self.mesh(c, s)
        return clip, mesh, painter, s, t


def make_batch(sampler: PairSampler, batch: int, n: int, rng: np.random.Generator, patch: int | None = None):
    """Network inputs, warped images, targets (all n x n) and mouth masks for ``batch`` pairs."""
    xs, lows, targets, mouths = [], [], [], []
    for _ in range(batch):
        clip, mesh, painter, s, t = sampler.sample()
        gain = torch.tensor(rng.uniform(0.8, 1.2, 3) * rng.uniform(0.85, 1.15), dtype=torch.float32).view(1, 3, 1, 1)
        src = (image_to_tensor(clip.frames[s]) * gain).clamp(0, 1)  # 1 x 3 x S x S
        tgt = (image_to_tensor(clip.frames[t]) * gain).clamp(0, 1)
        drv = driven_vertices(mesh, clip.landmarks[t])
        maps = flow_batch(mesh, [drv], n)
        masks = masks_of(maps)
        low = warp_low(src, maps, n, mesh.size, painter, torch.as_tensor(drv[None, :478, :2]))
        x = network_inputs(low, maps.source_xy, masks, mesh.size)
        # the network only changes the upsampled low-resolution layer, so the loss is taken at n x n
        tgt = F.interpolate(tgt, size=(n, n), mode="area")
        mouth = masks[:, :1]
        if patch and patch < n:  # a patch around the mouth half of the time, anywhere otherwise (4x cheaper steps)
            if rng.random() < 0.5 and mouth.sum() > 0:
                cy, cx = (v.float().mean().item() for v in torch.nonzero(mouth[0, 0], as_tuple=True))
                cy, cx = cy + rng.uniform(-patch / 4, patch / 4), cx + rng.uniform(-patch / 4, patch / 4)
            else:
                cy, cx = rng.uniform(0, n), rng.uniform(0, n)
            y0 = int(np.clip(cy - patch / 2, 0, n - patch))
            x0 = int(np.clip(cx - patch / 2, 0, n - patch))
            sl = (slice(None), slice(None), slice(y0, y0 + patch), slice(x0, x0 + patch))
            x, low, tgt, mouth = x[sl], low[sl], tgt[sl], mouth[sl]
        xs.append(x), lows.append(low), targets.append(tgt), mouths.append(mouth)
    return torch.cat(xs), torch.cat(lows), torch.cat(targets), torch.cat(mouths)


def loss_fn(out: torch.Tensor, target: torch.Tensor, mouth: torch.Tensor) -> torch.Tensor:
    """L1 on pixels and on image gradients, the mouth weighted 4x (it is small but what moves most)."""
    w = 1 + 3 * F.max_pool2d(mouth, 5, 1, 2)  # B x 1 x n x n, the mouth and a margin around it
    l1 = (w * (out - target).abs()).mean()
    gx = lambda a: a[..., :, 1:] - a[..., :, :-1]  # noqa: E731
    gy = lambda a: a[..., 1:, :] - a[..., :-1, :]  # noqa: E731
    return l1 + 0.5 * ((gx(out) - gx(target)).abs().mean() + (gy(out) - gy(target)).abs().mean())


def train(videos: list[str], holdout: str, out: str, *, minutes: float = 25.0, max_steps: int = 100000,
          batch: int = 8, lr: float = 1e-3, seed: int = 0, threads: int = 1, max_frames: int | None = None,
          patch: int | None = 64, paint: bool = True, init: str | None = None) -> dict:
    from anim3d.progress import progress
    from anim3d.models.renderer import RefineNet, RendererConfig, save_renderer
    from anim3d.models.renderer.network import compose

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    clips = [prepare_clip(v, max_frames=max_frames) for v in videos]
    val = prepare_clip(holdout, max_frames=max_frames)
    if init:  # continue from a checkpoint (its config, its weights)
        from anim3d.models.renderer import load_renderer

        model = load_renderer(init).train()
        cfg = model.config
    else:
        cfg = RendererConfig()
        model = RefineNet(cfg)
    n = cfg.internal_size
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sampler = PairSampler(clips, rng, paint=paint)
    t0 = time.time()
    log = []
    step = 0
    bar = progress(total=max_steps, desc="training renderer", unit="step")
    while step < max_steps and time.time() - t0 < minutes * 60:
        frac = (time.time() - t0) / (minutes * 60)
        for g in opt.param_groups:
            g["lr"] = lr * (0.1 if frac > 0.8 else 1.0)
        model.train()
        x, low, target, mouth = make_batch(sampler, batch, n, rng, patch)
        rgb = model(x.contiguous(memory_format=torch.channels_last))
        pred = compose(low, low, rgb)  # B x 3 x n x n
        loss = loss_fn(pred, target, mouth)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        bar.update(1)
        if step % 50 == 0:
            log.append({"step": step, "loss": float(loss), "seconds": round(time.time() - t0, 1)})
            bar.set_postfix(loss=f"{float(loss):.4f}")
    bar.close()
    model.eval()
    save_renderer(model, out)
    metrics = evaluate(model, val, n, paint=paint)
    metrics.update({"steps": step, "init": init, "mouth_paint": paint, "minutes": round((time.time() - t0) / 60, 1), "train_clips": [c.name for c in clips],
                    "holdout": val.name, "final_loss": log[-1]["loss"] if log else None})
    from anim3d.fileio import atomic_output

    with atomic_output(os.path.join(out, "training_log.json")) as tmp:
        with open(tmp, "w") as f:
            json.dump({"metrics": metrics, "log": log}, f, indent=1)
    return metrics


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", nargs="+", required=True, help="training talking-face videos")
    p.add_argument("--holdout", required=True, help="a video held out for validation")
    p.add_argument("--out", required=True, help="checkpoint folder (config.json + model.safetensors)")
    p.add_argument("--minutes", type=float, default=25.0)
    p.add_argument("--steps", type=int, default=100000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--patch", type=int, default=64, help="train on patches of the internal-resolution maps (0 = whole)")
    p.add_argument("--no-mouth-paint", action="store_true", help="train on plain warps (no painted mouth interior)")
    p.add_argument("--init", help="start from this checkpoint folder instead of a fresh network")
    a = p.parse_args(argv)
    m = train(a.videos, a.holdout, a.out, minutes=a.minutes, max_steps=a.steps, batch=a.batch, lr=a.lr,
              seed=a.seed, threads=a.threads, max_frames=a.max_frames, patch=a.patch, paint=not a.no_mouth_paint,
              init=a.init)
    print(json.dumps(m, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
