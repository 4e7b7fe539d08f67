"""Face tracking with MediaPipe Face Mesh (the legacy model inside the mediapipe 0.10.14
wheel; runs offline) and measurements on the tracked landmarks.

Landmarks are MediaPipe's: 478 points (468 mesh + 10 iris, ``refine_landmarks=True``),
x and y normalised by the image width and height (in [0, 1] inside the image), z in
roughly the x scale (smaller = nearer the camera). Measurements convert them to "3D image
units" first (``to_metric_image``): x scaled by W/H so that x, y and z share the image
height as unit, and axes turned into the project's frame (right-handed, Y up, the face
looking down +Z towards the camera).

Used by the video importer (``anim3d.data.importers.video``) and by the evaluation
(the real speakers' inner-lip gap is the lip-sync ground truth).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

from anim3d.errors import InputError
from anim3d.fileio import open_media
from anim3d.landmarks import (LEFT_EYE_INNER, LEFT_EYE_LOWER, LEFT_EYE_OUTER, LEFT_EYE_UPPER, LOWER_LIP_INNER, NUM_LANDMARKS,
                              RIGHT_EYE_INNER, RIGHT_EYE_LOWER, RIGHT_EYE_OUTER, RIGHT_EYE_UPPER, RIGID_LANDMARKS,
                              SYMMETRIC_PAIRS,
                              UPPER_LIP_INNER)
from anim3d.optional import QuietSolution, mediapipe, require

MIN_INTEROCULAR_PX = 16.0  # faces smaller than this (outer eye corners, pixels) are too small to track
MAX_MULTI_FACE_FRACTION = 0.2  # more than this share of face frames with 2 faces -> "several faces"


@dataclass
class Tracking:
    """Face Mesh landmarks for each frame of a video.

    landmarks: T x 478 x 3 float32, MediaPipe's normalised image coordinates. Frames without
               a face (``valid`` False) are filled by linear interpolation between the nearest
               tracked frames (held constant at the ends).
    valid:     T bool, a face was found in that frame.
    fps:       frames per second of the video.
    size:      (W, H) in pixels.
    """

    landmarks: np.ndarray
    valid: np.ndarray
    fps: float
    size: tuple[int, int]
    path: str | None = None

    @property
    def num_frames(self) -> int:
        return int(self.landmarks.shape[0])

    @property
    def aspect(self) -> float:
        """W / H, the factor that puts normalised x (and z) in image-height units."""
        return self.size[0] / self.size[1]

    def mouth_opening(self) -> np.ndarray:
        return mouth_opening(self.landmarks, aspect=self.aspect)

    def eye_openness(self) -> np.ndarray:
        return eye_openness(self.landmarks, aspect=self.aspect)

    def head_pose(self, **kwargs) -> tuple[np.ndarray, np.ndarray]:
        return head_pose(self.landmarks, aspect=self.aspect, **kwargs)


# ---------------------------------------------------------------- MediaPipe wrapper


def _face_mesh(static: bool):
    mp = mediapipe("face tracking")
    return QuietSolution(lambda: mp.solutions.face_mesh.FaceMesh(
        static_image_mode=static,
        max_num_faces=2,  # 2 so that a second face is noticed
        refine_landmarks=True,
        min_detection_confidence=0.5,
        min_tracking_confidence=0.5,
    ))


def _faces_to_arrays(result) -> list[np.ndarray]:
    faces = result.multi_face_landmarks or []
    return [np.array([(p.x, p.y, p.z) for p in f.landmark], dtype=np.float32) for f in faces]


def _face_extent(lm: np.ndarray) -> float:
    """Area of the landmarks' bounding box in normalised units (to pick the main face)."""
    span = lm[:, :2].max(0) - lm[:, :2].min(0)
    return float(span[0] * span[1])


def _interocular_px(lm: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """... x 2 -> outer-eye-corner distance in pixels."""
    d = (lm[..., LEFT_EYE_OUTER, :2] - lm[..., RIGHT_EYE_OUTER, :2]) * np.array(size, dtype=np.float32)
    return np.linalg.norm(d, axis=-1)


def track_image(rgb: np.ndarray, *, path: str | os.PathLike | None = None) -> np.ndarray:
    """One RGB image (H x W x 3 uint8) -> 478 x 3 float32 landmarks of its face.

    Raises InputError (naming ``path`` when given) when there is no face, several faces,
    or the face is too small to track.
    """
    rgb = np.ascontiguousarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InputError(path, f"expected an H x W x 3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")
    with _face_mesh(static=True) as mesh:
        faces = _faces_to_arrays(mesh.process(rgb))
    if not faces:
        raise InputError(path, "no face found in the image")
    if len(faces) > 1:
        raise InputError(path, f"several faces found in the image ({len(faces)}); expected one")
    size = (rgb.shape[1], rgb.shape[0])
    iod = float(_interocular_px(faces[0], size))
    if iod < MIN_INTEROCULAR_PX:
        raise InputError(path, f"the face is too small to track ({iod:.0f} px between the outer eye corners; need >= {MIN_INTEROCULAR_PX:.0f})")
    return faces[0]


def _open_video(path: str):
    container = open_media(path, noun="a video file", readable="video file")
    if not container.streams.video:
        container.close()
        raise InputError(path, "has no video stream (not a video)")
    return container


def track_video(path: str | os.PathLike, *, max_frames: int | None = None, progress: bool = True) -> Tracking:
    """Track the one face in a video, frame by frame (frames decoded with PyAV).

    Raises InputError naming the file when it is not a readable video, has no face in any
    frame, shows several faces (in more than 20 % of the frames with a face), or the face is
    too small to track.
    """
    import av

    from anim3d.progress import progress as progress_bar

    path = os.fspath(path)
    container = _open_video(path)
    frames: list[np.ndarray | None] = []
    multi = 0
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else 30.0
        size = (int(stream.codec_context.width), int(stream.codec_context.height))
        total = stream.frames or None
        if max_frames is not None:
            total = min(total, max_frames) if total else max_frames
        it = container.decode(stream)
        if progress:
            it = progress_bar(it, desc=f"tracking {os.path.basename(path)}", total=total, unit="frame")
        try:
            with _face_mesh(static=False) as mesh:
                for frame in it:
                    if max_frames is not None and len(frames) >= max_frames:
                        break
                    rgb = frame.to_ndarray(format="rgb24")
                    size = (rgb.shape[1], rgb.shape[0])
                    faces = _faces_to_arrays(mesh.process(rgb))
                    if len(faces) > 1:
                        multi += 1
                        faces.sort(key=_face_extent, reverse=True)
                    frames.append(faces[0] if faces else None)
        except av.error.FFmpegError as e:
            if not frames:
                raise InputError(path, f"cannot decode the video ({type(e).__name__})") from None
            # a damaged tail: keep the frames decoded so far
        finally:
            if hasattr(it, "close"):
                it.close()
    if not frames:
        raise InputError(path, "the video has no frames")
    valid = np.array([f is not None for f in frames])
    n_valid = int(valid.sum())
    if n_valid == 0:
        raise InputError(path, f"no face found in any of its {len(frames)} frames")
    if multi > MAX_MULTI_FACE_FRACTION * n_valid:
        raise InputError(path, f"several faces in the video ({multi} of {n_valid} frames show 2 faces); expected one speaker")
    landmarks = np.zeros((len(frames), NUM_LANDMARKS, 3), dtype=np.float32)
    landmarks[valid] = np.stack([f for f in frames if f is not None])
    landmarks = _fill_gaps(landmarks, valid)
    iod = float(np.median(_interocular_px(landmarks[valid], size)))
    if iod < MIN_INTEROCULAR_PX:
        raise InputError(path, f"the face is too small to track ({iod:.0f} px between the outer eye corners; need >= {MIN_INTEROCULAR_PX:.0f})")
    return Tracking(landmarks=landmarks, valid=valid, fps=fps, size=size, path=path)


def _fill_gaps(landmarks: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """T x N x 3 with invalid frames -> linear interpolation over time from the valid ones."""
    if valid.all():
        return landmarks
    t = np.arange(len(valid))
    flat = landmarks.reshape(len(valid), -1)  # T x 3N
    good = np.flatnonzero(valid)
    out = np.empty_like(flat)
    for j in range(flat.shape[1]):
        out[:, j] = np.interp(t, good, flat[good, j])
    return out.reshape(landmarks.shape)


# ---------------------------------------------------------------- measurements


def to_metric_image(landmarks: np.ndarray, aspect: float = 1.0) -> np.ndarray:
    """... x N x 3 MediaPipe coordinates -> the project's frame in image-height units.

    X = x * W/H (image right = the subject's left), Y = -y (up), Z = -z * W/H (towards the
    camera). Two axis flips: a proper rotation, the frame stays right-handed.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    return np.stack([lm[..., 0] * aspect, -lm[..., 1], -lm[..., 2] * aspect], axis=-1)


def _dist(p: np.ndarray, i: int, j: int) -> np.ndarray:
    return np.linalg.norm(p[..., i, :] - p[..., j, :], axis=-1)


def mouth_opening(landmarks: np.ndarray, aspect: float = 1.0) -> np.ndarray:
    """T x 478 x 3 -> T: inner-lip gap (13-14) over the inter-ocular distance (33-263), 3D."""
    p = to_metric_image(landmarks, aspect)
    return _dist(p, UPPER_LIP_INNER, LOWER_LIP_INNER) / _dist(p, RIGHT_EYE_OUTER, LEFT_EYE_OUTER)


def eye_openness(landmarks: np.ndarray, aspect: float = 1.0) -> np.ndarray:
    """T x 478 x 3 -> T x 2 (subject's left, right): eyelid gap over the eye's width.

    About 0.25-0.35 for an open eye, near 0.05 when closed.
    """
    p = to_metric_image(landmarks, aspect)
    left = _dist(p, LEFT_EYE_UPPER, LEFT_EYE_LOWER) / _dist(p, LEFT_EYE_INNER, LEFT_EYE_OUTER)
    right = _dist(p, RIGHT_EYE_UPPER, RIGHT_EYE_LOWER) / _dist(p, RIGHT_EYE_INNER, RIGHT_EYE_OUTER)
    return np.stack([left, right], axis=-1)


def similarity_align(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None):
    """Umeyama: the similarity (s, R, t) minimising sum w |s R src + t - dst|^2.

    src: ... x N x 3 (or N x 3), dst: ... x N x 3. Returns s (...), R (... x 3 x 3), t (... x 3).
    Batched over leading dimensions; R is a proper rotation (det +1).
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src, dst = np.broadcast_arrays(src, dst)
    w = np.ones(src.shape[-2]) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mu_s = np.einsum("n,...nc->...c", w, src)  # ... x 3
    mu_d = np.einsum("n,...nc->...c", w, dst)
    a = src - mu_s[..., None, :]
    b = dst - mu_d[..., None, :]
    cov = np.einsum("n,...ni,...nj->...ij", w, b, a)  # ... x 3 x 3 (dst x src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.ones(sig.shape)
    fix[..., 2] = d
    r = u @ (fix[..., :, None] * vt)
    var_s = np.einsum("n,...nc->...", w, a * a)
    s = (sig * fix).sum(-1) / var_s
    t = mu_d - s[..., None] * np.einsum("...ij,...j->...i", r, mu_s)
    return s, r, t


def frontal_frame(points: np.ndarray) -> np.ndarray:
    """N x 3 face landmarks (project frame) -> 3 x 3 rotation whose rows are the face's
    axes: X along the symmetric left/right pairs (towards the subject's left), Z the camera
    axis made orthogonal to X, Y = Z x X (up). This removes roll and yaw but keeps the
    pitch that the face has towards the camera (a portrait's is near zero): the face's own
    "forward" cannot be told from landmarks without a model of the skull.
    """
    x = (points[SYMMETRIC_PAIRS[:, 0]] - points[SYMMETRIC_PAIRS[:, 1]]).sum(0)
    x /= np.linalg.norm(x)
    z = np.array([0.0, 0.0, 1.0]) - x * x[2]
    z /= np.linalg.norm(z)
    y = np.cross(z, x)
    return np.stack([x, y, z])


@functools.lru_cache(maxsize=1)
def reference_face() -> np.ndarray:
    """478 x 3 frontal reference shape in image-height units, centred on its rigid points.

    Built at run time from MediaPipe's landmarks of ``skimage.data.astronaut()`` (a
    public-domain portrait shipped in scikit-image), turned to face straight ahead by
    ``frontal_frame``. MediaPipe's canonical face model is not in the pip wheel.
    """
    skimage_data = require("skimage.data", "the reference face")

    lm = track_image(skimage_data.astronaut(), path="skimage.data.astronaut()")
    p = to_metric_image(lm[None], 1.0)[0]
    p = p - p[RIGID_LANDMARKS].mean(0)
    return (frontal_frame(p) @ p.T).T


def rotvec_from_matrix(r: np.ndarray) -> np.ndarray:
    """... x 3 x 3 rotations -> ... x 3 axis-angle (scipy)."""
    from scipy.spatial.transform import Rotation

    shape = r.shape[:-2]
    return Rotation.from_matrix(r.reshape(-1, 3, 3)).as_rotvec().reshape(*shape, 3)


def head_pose(
    landmarks: np.ndarray,
    *,
    aspect: float = 1.0,
    reference: np.ndarray | None = None,
    vertical_fov_deg: float = 30.0,
    face_width_m: float = 0.095,
) -> tuple[np.ndarray, np.ndarray]:
    """T x 478 x 3 landmarks -> (rotvec T x 3 radians, translation T x 3 metres).

    Rotation: similarity Procrustes of the rigid landmarks against ``reference`` (478 x 3 in
    the project frame, default ``reference_face()``, a frontal face), so zero means facing
    the camera upright; axis-angle in the project frame (Y up, +Z towards the camera).
    Translation: the head's rigid centre in camera coordinates (metres, camera at the origin
    looking down -Z), from a pinhole camera with ``vertical_fov_deg`` and an assumed outer
    eye-corner distance ``face_width_m`` (the camera is unknown, so the absolute depth is
    an estimate; changes over time are what count).
    """
    p = to_metric_image(landmarks, aspect)  # T x N x 3, image-height units
    ref = reference_face() if reference is None else np.asarray(reference, dtype=np.float64)
    idx = RIGID_LANDMARKS
    s, r, t = similarity_align(ref[idx], p[:, idx])
    rotvec = rotvec_from_matrix(r)
    # pinhole: focal length in image-height units
    f = 0.5 / np.tan(np.radians(vertical_fov_deg) / 2)
    iod_ref = np.linalg.norm(ref[LEFT_EYE_OUTER] - ref[RIGHT_EYE_OUTER])
    metres_per_unit_ref = face_width_m / iod_ref
    size_units = s  # image-height units per reference unit
    depth = f * metres_per_unit_ref / size_units  # T metres
    centre = p[:, idx].mean(1)  # T x 3; image centre is (aspect/2, -1/2)
    cx = (centre[:, 0] - aspect / 2) * depth / f
    cy = (centre[:, 1] + 0.5) * depth / f
    translation = np.stack([cx, cy, -depth], axis=-1)
    return rotvec.astype(np.float32), translation.astype(np.float32)
