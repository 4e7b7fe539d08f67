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
round trip of tests/test_roundtrip_tracking.py uses it (r 0.915-0.986 on its 7 channels,
against 0.33-0.95 for the least-squares solve); on the real evaldata videos its jawOpen
follows the tracked lip gap less well than the solve's (research/plot_tracked_jaw.py
--decoder: r 0.36-0.64 against 0.49-0.64), so the least-squares solve stays the importer's
default on real videos.

The shipped decoder (``open_head_decoder/``: config.json + model.safetensors, 3 clips x 900
frames) is rebuilt with ``python -m anim3d.data.importers.decoder_calibration [--cache DIR]``
(~5 min of rendering and tracking); ``default_decoder()`` loads it and checks that it was
calibrated for the current head, portrait and mediapipe.

    decoder = default_decoder()                           # or decoder_calibration.calibrate_decoder(head, ...)
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
_CLIP_FIELDS = ("frames", "rest_frames", "size", "shading", "bumps_per_100_frames", "bump_width", "bump_height", "max_angle", "max_shift")


@dataclass
class DecoderConfig:
    """How the calibration clips are made and the decoder fitted. The clip fields
    (``_CLIP_FIELDS``) and the seed name a clip's landmark cache; all fields enter the
    decoder's ``calibration_key``."""

    # frames per calibration clip. Measured on the round trip's clips (smileLeft, the
    # hardest channel): 0.6-0.85 from 300 frames, 0.8-0.94 from 600, 0.88-0.94 from 900,
    # 0.89-0.98 from 2100: the decoder is data-hungry, so the shipped one uses 3 x 900.
    frames: int = 900
    rest_frames: int = 3  # a neutral, frontal start: the clip's neutral reference
    seeds: tuple[int, ...] = (0, 1, 2)  # one calibration clip of ``frames`` frames per seed
    size: int = 256  # render size in pixels
    shading: float = 0.0  # Lambert shading of the textured render (``textured.render_textured``)
    bumps_per_100_frames: float = 4.0  # expression events per channel
    bump_width: tuple[float, float] = (2.0, 8.0)  # Gaussian sigma, frames
    bump_height: tuple[float, float] = (0.3, 1.0)
    max_angle: tuple[float, float, float] = (0.15, 0.3, 0.1)  # radians about x (pitch), y (yaw), z (roll)
    max_shift: float = 0.01  # metres, head translation on each axis
    # Tikhonov weights per calibration sample (features are metres), one chosen per channel
    # by cross-validation (``fit_decoder``); with the shipped 5418 samples it picks 1e-10 to
    # 1e-8 (little regularisation), with one 900-frame clip 1e-9 to 1e-5
    ridge_grid: tuple[float, ...] = (1e-10, 3e-10, 1e-9, 3e-9, 1e-8, 3e-8, 1e-7, 3e-7, 1e-6, 3e-6, 1e-5)
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
    key: str = ""  # ``calibration_key`` of the setup it was calibrated on

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
    mx, my, evals, evecs, proj = _ridge_basis(x, y, config.intercept)
    matrix = evecs @ (proj / (evals[:, None] + best[None, :] * len(x)))  # D x C: each channel its own weight
    return LandmarkDecoder(channels, mx, matrix, my, config, ridge=best)


def _ridge_basis(x: np.ndarray, y: np.ndarray, intercept: bool):
    """What every ridge solution of x (N x D) -> y (N x C) shares: (x mean D, y mean C, eigenvalues D and
    eigenvectors D x D of the centred x's Gram matrix, projected targets D x C); zero means without intercept."""
    mx, my = (x.mean(0), y.mean(0)) if intercept else (np.zeros(x.shape[1]), np.zeros(y.shape[1]))
    xc = x - mx
    evals, evecs = np.linalg.eigh(xc.T @ xc)
    return mx, my, evals, evecs, evecs.T @ (xc.T @ (y - my))


def _ridge_paths(x: np.ndarray, y: np.ndarray, grid: np.ndarray, intercept: bool):
    """Ridge solutions for every weight in ``grid`` (per sample) from one eigendecomposition:
    [(x mean D, matrix D x C, y mean C)] in grid order (zero means without intercept)."""
    mx, my, evals, evecs, proj = _ridge_basis(x, y, intercept)
    return [(mx, evecs @ (proj / (evals + g * len(x))[:, None]), my) for g in grid]


def calibration_key(head, portrait: np.ndarray, uv: np.ndarray, config: DecoderConfig) -> str:
    """A hash of everything a calibrated decoder depends on: the head, the portrait and its
    texture coordinates, the whole config, the mediapipe version."""
    return _hash(head, portrait, uv, dataclasses.asdict(config))


def clip_key(head, portrait, uv, config: DecoderConfig, seed: int) -> str:
    clip = {k: v for k, v in dataclasses.asdict(config).items() if k in _CLIP_FIELDS}  # what the clip depends on
    clip["seed"] = seed
    return _hash(head, portrait, uv, clip)


def _hash(head, portrait, uv, settings: dict) -> str:
    import mediapipe

    h = hashlib.sha256()
    for a in (head.vertices, head.faces, head.morph_targets, head.parts["mediapipe_468"], portrait, uv):
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype, a.shape)).encode())
        h.update(a.tobytes())
    h.update(json.dumps(settings, sort_keys=True).encode())
    h.update(str(getattr(mediapipe, "__version__", "")).encode())
    return h.hexdigest()[:20]


# ----------------------------------------------------------------- storage

DEFAULT_DECODER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "open_head_decoder")


def save_decoder(decoder: LandmarkDecoder, folder: str | os.PathLike, notes: str = "") -> None:
    """``folder``/config.json (channels, config, chosen ridge weights, calibration key) and
    ``folder``/model.safetensors (feature_mean, matrix, weight_mean), each written atomically."""
    from safetensors.numpy import save_file

    from anim3d.fileio import atomic_output

    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    meta = {
        "format": CACHE_FORMAT,
        "channels": list(decoder.channels),
        "config": dataclasses.asdict(decoder.config),
        "ridge": [] if decoder.ridge is None else [float(r) for r in decoder.ridge],
        "key": decoder.key,
        "features": int(decoder.matrix.shape[0]),
        "notes": notes,
    }
    with atomic_output(os.path.join(folder, "config.json")) as tmp:
        with open(tmp, "w") as f:
            json.dump(meta, f, indent=1)
    arrays = {"feature_mean": decoder.feature_mean, "matrix": decoder.matrix, "weight_mean": decoder.weight_mean}
    with atomic_output(os.path.join(folder, "model.safetensors")) as tmp:
        save_file({k: np.ascontiguousarray(v, np.float64) for k, v in arrays.items()}, tmp)


def load_decoder(folder: str | os.PathLike = DEFAULT_DECODER_DIR) -> LandmarkDecoder:
    """Read a decoder written by ``save_decoder``. Raises InputError naming the file when it
    is missing or not a decoder."""
    from safetensors.numpy import load_file

    from anim3d.errors import InputError

    folder = os.fspath(folder)
    cfg_path, model_path = os.path.join(folder, "config.json"), os.path.join(folder, "model.safetensors")
    try:
        with open(cfg_path) as f:
            meta = json.load(f)
    except FileNotFoundError:
        raise InputError(cfg_path, "missing: not a landmark decoder folder") from None
    except (OSError, ValueError) as e:
        raise InputError(cfg_path, f"unreadable ({type(e).__name__}: {e})") from None
    if not isinstance(meta, dict) or meta.get("format") != CACHE_FORMAT:
        raise InputError(cfg_path, f"not a landmark decoder (format {meta.get('format') if isinstance(meta, dict) else None!r})")
    if not os.path.exists(model_path):
        raise InputError(model_path, "missing: the decoder's arrays")
    try:
        arrays = load_file(model_path)
    except Exception as e:  # safetensors raises its own SafetensorError for a damaged file
        raise InputError(model_path, f"unreadable ({type(e).__name__}: {e})") from None
    if not {"feature_mean", "matrix", "weight_mean"} <= set(arrays):
        raise InputError(model_path, f"not a landmark decoder's arrays (has {sorted(arrays)})")
    config = DecoderConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items()})
    ridge = np.asarray(meta["ridge"], np.float64) if meta.get("ridge") else None
    return LandmarkDecoder(tuple(meta["channels"]), arrays["feature_mean"], arrays["matrix"], arrays["weight_mean"], config,
                           ridge=ridge, key=meta.get("key", ""))


def default_decoder(head=None, portrait: np.ndarray | None = None) -> LandmarkDecoder:
    """The shipped decoder for the open head textured with the default portrait, checked
    against the current head, portrait and mediapipe (``calibration_key``). Raises
    Anim3dError when it no longer matches (recalibrate: ``python -m
    anim3d.data.importers.decoder_calibration``)."""
    from anim3d.data.importers.textured import default_portrait, texture_coords
    from anim3d.errors import Anim3dError

    decoder = load_decoder(DEFAULT_DECODER_DIR)
    if head is None:
        from anim3d.flame.open_head import load_open_head

        head = load_open_head()
    portrait = default_portrait() if portrait is None else portrait
    key = calibration_key(head, portrait, texture_coords(head, portrait), decoder.config)
    if key != decoder.key:
        raise Anim3dError(f"{DEFAULT_DECODER_DIR}: calibrated for another head, portrait or mediapipe (key {decoder.key} != {key}); "
                          "recalibrate with `python -m anim3d.data.importers.decoder_calibration`")
    return decoder
