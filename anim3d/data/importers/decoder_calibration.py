"""Calibrating the landmark decoder: render the portrait-textured open head with known weights and head
motion, encode and track it like a video, and fit ``decoder.fit_decoder`` on what the tracker saw.

    python -m anim3d.data.importers.decoder_calibration [--out DIR] [--cache DIR]

rebuilds the shipped decoder (``decoder.DEFAULT_DECODER_DIR``, about 5 minutes of rendering and tracking).
"""

from __future__ import annotations

import os

import numpy as np

from anim3d.channels import INDEX
from anim3d.data.importers.decoder import (
    CACHE_FORMAT,
    DECODER_CHANNELS,
    DEFAULT_DECODER_DIR,
    DecoderConfig,
    LandmarkDecoder,
    calibration_key,
    clip_key,
    fit_decoder,
    landmark_parts,
    mirror_maps,
    save_decoder,
)


def calibration_motion(config: DecoderConfig, seed: int = 0, channels=DECODER_CHANNELS):
    """A Motion for calibration: ``rest_frames`` neutral frontal frames, then smooth random
    bumps on each of ``channels`` (mouthClose only while the jaw is open, as ARKit's
    corrective shape) and a smooth random head rotation and translation (three sinusoids of
    random period and phase per axis, clipped to the limits)."""
    from anim3d.motion import Motion

    rng = np.random.default_rng(seed)
    t, still = config.frames + config.rest_frames, config.rest_frames
    x = np.arange(t)
    bs = np.zeros((t, 52), np.float32)
    count = max(1, int(round(config.bumps_per_100_frames * config.frames / 100)))
    for c in channels:
        curve = np.zeros(t)
        for _ in range(count):
            centre, width = rng.uniform(still, t), rng.uniform(*config.bump_width)
            curve = np.maximum(curve, rng.uniform(*config.bump_height) * np.exp(-0.5 * ((x - centre) / width) ** 2))
        bs[:, INDEX[c]] = curve
    if "mouthClose" in channels and "jawOpen" in channels:
        bs[:, INDEX["mouthClose"]] = np.minimum(bs[:, INDEX["mouthClose"]], bs[:, INDEX["jawOpen"]])
    limits = np.asarray(config.max_angle, np.float64)
    rot = np.zeros((t, 3))
    shift = np.zeros((t, 3))
    for j in range(3):
        for _ in range(3):
            rot[:, j] += limits[j] / 2 * np.sin(x / rng.uniform(4, 20) + rng.uniform(0, 2 * np.pi))
        shift[:, j] = config.max_shift * np.sin(x / rng.uniform(8, 30) + rng.uniform(0, 2 * np.pi))
    rot = np.clip(rot, -limits, limits)
    bs[:still], rot[:still], shift[:still] = 0, 0, 0
    return Motion(bs, rot.astype(np.float32), shift.astype(np.float32), fps=30.0)


def calibrate_decoder(head, portrait: np.ndarray | None = None, uv: np.ndarray | None = None, config: DecoderConfig | None = None,
                      cache_dir: str | os.PathLike | None = None, progress: bool = False) -> LandmarkDecoder:
    """For each of ``config.seeds``: render ``calibration_motion`` on the portrait-textured
    head (``textured``), encode it (H.264) and track it (``track_video``); then fit the
    decoder on the clips' known weights.

    cache_dir: keep each clip's tracked landmarks there, in a file named by a hash of
    everything they depend on (head arrays, portrait, texture coordinates, the clip's
    settings, mediapipe version), so a second calibration of the same setup skips the
    rendering and tracking (~60 s a clip on the shared machine).
    """
    import tempfile

    from anim3d import tracking as tr
    from anim3d.data.importers.solve import ArkitSolver
    from anim3d.data.importers.textured import (
        default_portrait,
        render_textured,
        texture_coords,
        write_video,
    )
    from anim3d.flame.open_head import motion_to_vertices

    config = config or DecoderConfig()
    portrait = default_portrait() if portrait is None else portrait
    uv = texture_coords(head, portrait) if uv is None else uv
    solver = ArkitSolver(head)
    parts, weights = [], []
    for seed in config.seeds:
        motion = calibration_motion(config, seed)
        cache = None
        if cache_dir is not None:
            cache = os.path.join(os.fspath(cache_dir), f"decoder-landmarks-{clip_key(head, portrait, uv, config, seed)}.npz")
        landmarks = _load_cached(cache)
        if landmarks is None:
            verts = motion_to_vertices(head, motion).cpu().numpy()  # T x V x 3
            frames = render_textured(head, verts, portrait, uv, size=config.size, shading=config.shading)
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, f"decoder_calibration_{seed}.mp4")
                write_video(path, frames, fps=motion.fps)
                landmarks = tr.track_video(path, progress=progress).landmarks
            if cache is not None:
                _save_cached(cache, landmarks)
        parts.append(landmark_parts(landmarks, 1.0, solver, np.arange(config.rest_frames), config.smooth_sigma_frames))
        weights.append(motion.blendshapes)
    decoder = fit_decoder(parts, weights, config, mirror=mirror_maps(head) if config.mirror else None)
    decoder.key = calibration_key(head, portrait, uv, config)
    return decoder


def _load_cached(path: str | None) -> np.ndarray | None:
    if path is None or not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["format"]) != CACHE_FORMAT:
                return None
            return np.asarray(z["landmarks"], np.float32)
    except (OSError, ValueError, KeyError):
        return None  # unreadable cache: calibrate again


def _save_cached(path: str, landmarks: np.ndarray) -> None:
    from anim3d.fileio import atomic_output

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, format=CACHE_FORMAT, landmarks=landmarks)


def main(argv=None) -> int:
    """python -m anim3d.data.importers.decoder_calibration [--out DIR] [--cache DIR]: calibrate the
    decoder for the open head and the default portrait and write it (default: the shipped
    ``open_head_decoder`` folder)."""
    import argparse
    import time

    from anim3d.flame.open_head import load_open_head

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--out", default=DEFAULT_DECODER_DIR)
    p.add_argument("--cache", default=None, help="folder for the tracked calibration clips (reused when their inputs match)")
    args = p.parse_args(argv)
    start = time.time()
    decoder = calibrate_decoder(load_open_head(), cache_dir=args.cache, progress=True)
    took = time.time() - start
    frames = len(decoder.config.seeds) * (decoder.config.frames + decoder.config.rest_frames)
    save_decoder(decoder, args.out, notes=f"calibrated on {frames} tracked frames")
    print(f"wrote {args.out} ({frames} calibration frames, {took:.0f} s); ridge per channel:",
          dict(zip(decoder.channels, decoder.ridge.tolist())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
