"""A calibrated linear decoder: tracked MediaPipe landmarks -> ARKit weights, learned from
renders of the head with known weights and head poses.

Why: the bounded least-squares solve (``solve.ArkitSolver``) models the landmarks as the
head's morph targets plus noise. On renders of the open head that model is far from what
MediaPipe reports: it follows the smile's corners about a third of the way, couples shapes
(a smile also narrows the eyes in its output), and under head sway its landmarks carry a
pose-dependent error (~1 mm, as large as a smile) that the solve takes for expressions. A
forward model of that error calibrated on other clips did not transfer (measured: smiles
0.3-0.6). Learning the inverse map directly does: ridge regression from the pose-normalised
landmarks of a calibration clip (random weights on ``DECODER_CHANNELS``, random smooth head
rotation and translation, rendered and tracked exactly like a video) to its known weights
finds the landmark directions that carry each shape and are quiet under sway.

It is a calibration for one rendering domain (this head, this texture, this renderer): the
round trip of tests/test_roundtrip_tracking.py uses it; on real videos the least-squares
solve stays the importer's default.

    decoder = calibrate_decoder(head)                     # renders and tracks 600 frames
    fit = fit_landmarks(tracking, head=head, decoder=decoder)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np

from anim3d.channels import INDEX

# The channels the decoder is trained on and predicts (the solver's PRIMARY_CHANNELS: the
# shapes of speech, blinks and brows); all other channels keep the least-squares solve.
DECODER_CHANNELS = (
    "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthSmileLeft", "mouthSmileRight",
    "eyeBlinkLeft", "eyeBlinkRight", "browInnerUp", "browDownLeft", "browDownRight",
    "browOuterUpLeft", "browOuterUpRight",
)
CACHE_FORMAT = "anim3d.landmark_decoder/1"
# DecoderConfig fields the calibration clip's landmarks depend on (the rest only refit)
_CLIP_FIELDS = ("frames", "rest_frames", "seed", "size", "bumps_per_100_frames", "bump_width", "bump_height", "max_angle", "max_shift")


@dataclass
class DecoderConfig:
    """How the calibration clip is made and the decoder fitted (all of it keys the cache)."""

    frames: int = 900  # calibration frames (measured on two test clips: smiles 0.6-0.85 with 300, 0.8-0.94 with 600, 0.88-0.93 with 900)
    rest_frames: int = 3  # a neutral, frontal start: the clip's neutral reference
    seed: int = 0
    size: int = 256  # render size in pixels
    bumps_per_100_frames: float = 4.0  # expression events per channel
    bump_width: tuple[float, float] = (2.0, 8.0)  # Gaussian sigma, frames
    bump_height: tuple[float, float] = (0.3, 1.0)
    max_angle: tuple[float, float, float] = (0.15, 0.3, 0.1)  # radians about x (pitch), y (yaw), z (roll)
    max_shift: float = 0.01  # metres, head translation on each axis
    # Tikhonov weights per calibration sample (features are metres), one chosen per channel
    # by cross-validation (``fit_decoder``)
    ridge_grid: tuple[float, ...] = (1e-9, 3e-9, 1e-8, 3e-8, 1e-7, 3e-7, 1e-6, 3e-6, 1e-5)
    folds: int = 5
    # Features are displacements from the speaker's rest face, so the rest face decodes to
    # all zeros without an intercept; with one, rare shapes sat at 0.3 at rest (measured).
    intercept: bool = False
    smooth_sigma_frames: float = 0.8  # Gaussian smoothing of the landmarks over time (as the solver)
    distance_weight: float = 3.0  # the landmark-pair distances (solve.DISTANCE_PAIRS) against positions
    quad_weight: float = 30.0  # their pairwise products (metres^2; scaled to the positions' size)
    output_sigma_frames: float = 1.0  # Gaussian smoothing of the decoded weights over time
    mirror: bool = True  # also train on each calibration frame's left/right mirror image


@dataclass
class LandmarkDecoder:
    """weights[:, channels] = (features - feature_mean) @ matrix + weight_mean, smoothed over
    time (``config.output_sigma_frames``) and clipped to [0, 1].

    channels: C names; feature_mean: D; matrix: D x C; weight_mean: C (D = ``decoder_features``'
    width). config: the DecoderConfig it was calibrated with."""

    channels: tuple[str, ...]
    feature_mean: np.ndarray
    matrix: np.ndarray
    weight_mean: np.ndarray
    config: DecoderConfig
    ridge: np.ndarray | None = None  # C: the ridge weight cross-validation chose per channel

    def predict(self, features: np.ndarray) -> np.ndarray:
        """T x D features -> T x C weights in [0, 1] (``channels`` order)."""
        from scipy.ndimage import gaussian_filter1d

        if features.shape[-1] != self.matrix.shape[0]:
            raise ValueError(f"expected {self.matrix.shape[0]} features per frame, got {features.shape[-1]}")
        out = (features - self.feature_mean) @ self.matrix + self.weight_mean  # T x C
        if self.config.output_sigma_frames > 0 and len(out) > 1:
            out = gaussian_filter1d(out, self.config.output_sigma_frames, axis=0, mode="nearest")
        return np.clip(out, 0.0, 1.0)

    def weights(self, landmarks: np.ndarray, aspect: float, solver, neutral: np.ndarray) -> np.ndarray:
        """T x 478 x 3 landmarks -> T x C weights (``channels`` order)."""
        return self.predict(decoder_features(landmarks, aspect, solver, neutral, self.config))


def landmark_parts(landmarks: np.ndarray, aspect: float, solver, neutral: np.ndarray, smooth_sigma_frames: float = 0.8):
    """T x 478 x 3 MediaPipe landmarks -> (T x 468 x 2, T x F): the mesh landmarks' x, y in
    the head's frame (metres, pose removed on the solver's rigid landmarks) and the
    ``solve.DISTANCE_PAIRS`` distances (metres), both relative to their mean over the
    ``neutral`` frames (the speaker's own rest face). Depth is left out: MediaPipe's z is its
    least reliable coordinate, and adding it did not help (measured)."""
    from scipy.ndimage import gaussian_filter1d

    from anim3d.data.importers.solve import pair_distances
    from anim3d.tracking import to_metric_image

    points = to_metric_image(landmarks, aspect)  # T x 478 x 3
    if smooth_sigma_frames > 0 and len(points) > 1:
        points = gaussian_filter1d(points, smooth_sigma_frames, axis=0, mode="nearest")
    aligned, s, _, _ = solver.align(points)
    mesh = aligned[:, :468, :2]  # T x 468 x 2
    mesh = mesh - mesh[neutral].mean(0)
    dist = pair_distances(points) / s[:, None]  # T x F, metres
    return mesh, dist - dist[neutral].mean(0)


def expand_features(mesh: np.ndarray, dist: np.ndarray, config: DecoderConfig) -> np.ndarray:
    """(T x 468 x 2, T x F) -> T x (936 + F + F(F+1)/2): positions, weighted distances and
    the distances' pairwise products (a lip gap means something else with the jaw open:
    with them mouthClose went from 0.75-0.80 to 0.81-0.84, measured)."""
    iu = np.triu_indices(dist.shape[1])
    quad = (dist[:, :, None] * dist[:, None, :])[:, iu[0], iu[1]]  # T x F(F+1)/2
    return np.concatenate([mesh.reshape(len(mesh), -1), np.sqrt(config.distance_weight) * dist, config.quad_weight * quad], axis=1)


def decoder_features(landmarks: np.ndarray, aspect: float, solver, neutral: np.ndarray, config: DecoderConfig) -> np.ndarray:
    """T x 478 x 3 MediaPipe landmarks -> T x D decoder features (``landmark_parts`` expanded)."""
    return expand_features(*landmark_parts(landmarks, aspect, solver, neutral, config.smooth_sigma_frames), config)


def mirror_maps(head) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The left/right mirror of the decoder's inputs and outputs, from ``head.parts["mirror"]``
    (each vertex's mirror image): (468 landmark permutation, DISTANCE_PAIRS permutation, 52
    channel permutation swapping Left and Right). None when the head has no mirror map or
    the pairs are not closed under mirroring."""
    from anim3d.channels import ARKIT_NAMES
    from anim3d.data.importers.solve import DISTANCE_PAIRS

    if "mirror" not in head.parts or "mediapipe_468" not in head.parts:
        return None
    lmv = np.asarray(head.parts["mediapipe_468"], np.int64)
    mirror = np.asarray(head.parts["mirror"], np.int64)
    where = {int(v): i for i, v in enumerate(lmv)}
    if len(where) != len(lmv) or any(int(mirror[v]) not in where for v in lmv):
        return None
    m468 = np.array([where[int(mirror[v])] for v in lmv])
    pairs = [tuple(sorted(p)) for p in DISTANCE_PAIRS.tolist()]
    try:
        perm = np.array([pairs.index(tuple(sorted((int(m468[a]), int(m468[b]))))) for a, b in DISTANCE_PAIRS])
    except ValueError:
        return None
    swap = np.array([INDEX[n.replace("Left", "#").replace("Right", "Left").replace("#", "Right")] for n in ARKIT_NAMES])
    return m468, perm, swap


def fit_decoder(parts: list, weights: list, config: DecoderConfig, channels=DECODER_CHANNELS, mirror=None) -> LandmarkDecoder:
    """Ridge regression from calibration clips: ``parts`` a list of ``landmark_parts``
    results, ``weights`` the matching T x 52 known weights. mirror: ``mirror_maps(head)`` to
    add every clip's left/right mirror image (a symmetric head's mirrored face is as valid a
    sample; measured: mouthClose 0.75-0.82 -> 0.82-0.86, at no rendering cost). Each
    channel's ridge weight is chosen from ``config.ridge_grid`` by ``config.folds``-fold
    cross-validation over contiguous blocks of the clips (a frame and its mirror image stay
    in one block): the best weight differs by channel (measured: 3e-6 for jawOpen, 3e-4 and
    more for mouthClose and the brows)."""
    channels = tuple(channels)
    cols = [INDEX[c] for c in channels]
    xs, ys, blocks = [], [], []
    for k, ((mesh, dist), w) in enumerate(zip(parts, weights)):
        w = np.asarray(w, np.float64)
        block = k * config.folds + np.arange(len(mesh)) * config.folds // len(mesh)  # T
        xs.append(expand_features(mesh, dist, config))
        ys.append(w[:, cols])
        blocks.append(block)
        if mirror is not None:
            m468, perm, swap = mirror
            flipped = mesh[:, m468] * np.array([-1.0, 1.0])
            xs.append(expand_features(flipped, dist[:, perm], config))
            ys.append(w[:, swap][:, cols])
            blocks.append(block)
    x, y, block = np.concatenate(xs), np.concatenate(ys), np.concatenate(blocks)  # N x D, N x C, N
    grid = np.asarray(config.ridge_grid, np.float64)  # L
    error = np.zeros((len(grid), len(cols)))  # L x C: held-out squared error
    for b in np.unique(block):
        train = block != b
        ridge_paths = _ridge_paths(x[train], y[train], grid, config.intercept)  # L x D x C, with the means
        for i, (mx, matrix, my) in enumerate(ridge_paths):
            error[i] += (((x[~train] - mx) @ matrix + my - y[~train]) ** 2).sum(0)
    best = grid[error.argmin(0)]  # C
    mx, my = (x.mean(0), y.mean(0)) if config.intercept else (np.zeros(x.shape[1]), np.zeros(y.shape[1]))
    xc = x - mx
    evals, evecs = np.linalg.eigh(xc.T @ xc)  # D, D x D
    proj = evecs.T @ (xc.T @ (y - my))  # D x C
    matrix = evecs @ (proj / (evals[:, None] + best[None, :] * len(x)))  # D x C
    return LandmarkDecoder(channels, mx, matrix, my, config, ridge=best)


def _ridge_paths(x: np.ndarray, y: np.ndarray, grid: np.ndarray, intercept: bool):
    """Ridge solutions for every weight in ``grid`` (per sample) from one eigendecomposition:
    [(x mean D, matrix D x C, y mean C)] in grid order (zero means without intercept)."""
    mx, my = (x.mean(0), y.mean(0)) if intercept else (np.zeros(x.shape[1]), np.zeros(y.shape[1]))
    xc = x - mx
    evals, evecs = np.linalg.eigh(xc.T @ xc)
    proj = evecs.T @ (xc.T @ (y - my))  # D x C
    return [(mx, evecs @ (proj / (evals + g * len(x))[:, None]), my) for g in grid]


def calibration_motion(config: DecoderConfig, channels=DECODER_CHANNELS):
    """A Motion for calibration: ``rest_frames`` neutral frontal frames, then smooth random
    bumps on each of ``channels`` (mouthClose only while the jaw is open, as ARKit's
    corrective shape) and a smooth random head rotation and translation (three sinusoids of
    random period and phase per axis, clipped to the limits)."""
    from anim3d.motion import Motion

    rng = np.random.default_rng(config.seed)
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
                      cache_dir: str | os.PathLike | None = None) -> LandmarkDecoder:
    """Render ``calibration_motion`` on the portrait-textured head (``textured``), encode it
    (H.264), track it (``track_video``) and fit the decoder on its known weights.

    cache_dir: keep the tracked landmarks there, in a file named by a hash of everything they
    depend on (head arrays, portrait, texture coordinates, config, mediapipe version), so a
    second calibration of the same setup skips the ~40 s of rendering and tracking.
    """
    import tempfile

    from anim3d import tracking as tr
    from anim3d.data.importers.solve import ArkitSolver
    from anim3d.data.importers.textured import default_portrait, render_textured, texture_coords, write_video
    from flame.open_head import motion_to_vertices

    config = config or DecoderConfig()
    portrait = default_portrait() if portrait is None else portrait
    uv = texture_coords(head, portrait) if uv is None else uv
    motion = calibration_motion(config)
    cache = None
    if cache_dir is not None:
        cache = os.path.join(os.fspath(cache_dir), f"decoder-landmarks-{_content_key(head, portrait, uv, config)}.npz")
    landmarks = _load_cached(cache)
    if landmarks is None:
        verts = motion_to_vertices(head, motion).cpu().numpy()  # T x V x 3
        frames = render_textured(head, verts, portrait, uv, size=config.size)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "decoder_calibration.mp4")
            write_video(path, frames, fps=motion.fps)
            landmarks = tr.track_video(path, progress=False).landmarks
        if cache is not None:
            _save_cached(cache, landmarks)
    solver = ArkitSolver(head)
    parts = landmark_parts(landmarks, 1.0, solver, np.arange(config.rest_frames), config.smooth_sigma_frames)
    return fit_decoder([parts], [motion.blendshapes], config, mirror=mirror_maps(head) if config.mirror else None)


def _content_key(head, portrait, uv, config: DecoderConfig) -> str:
    import mediapipe

    h = hashlib.sha256()
    for a in (head.vertices, head.faces, head.morph_targets, head.parts["mediapipe_468"], portrait, uv):
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype, a.shape)).encode())
        h.update(a.tobytes())
    clip = {k: v for k, v in dataclasses.asdict(config).items() if k in _CLIP_FIELDS}  # what the render depends on
    h.update(json.dumps(clip, sort_keys=True).encode())
    h.update(str(getattr(mediapipe, "__version__", "")).encode())
    return h.hexdigest()[:20]


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
