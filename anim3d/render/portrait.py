"""Portrait preparation: find the one face in a photo, crop and align it to a square
(FFHQ-style: eyes level, face centred), and track its 478 MediaPipe landmarks.

Face finding and landmarks use MediaPipe Face Mesh (the legacy model that ships inside the
mediapipe wheel, offline). Every bad photo raises ``InputError`` naming the file: no face,
several faces, or a face too small to animate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from anim3d.errors import InputError
from anim3d.landmarks import LEFT_EYE_INNER, LEFT_EYE_OUTER, RIGHT_EYE_INNER, RIGHT_EYE_OUTER
from anim3d.optional import QuietSolution, mediapipe, require

CROP_SIZE = 512
PORTRAIT_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF")  # photo formats; Pillow's other readers guess at any bytes
MIN_EYE_DISTANCE_PX = 32.0  # inter-ocular distance in the original photo below this = "too small"

# MediaPipe Face Mesh indices used for alignment.
# the eye in the image's left half (the subject's right) and the other, each (outer/inner corner)
LEFT_EYE_CORNERS = (RIGHT_EYE_OUTER, RIGHT_EYE_INNER)
RIGHT_EYE_CORNERS = (LEFT_EYE_INNER, LEFT_EYE_OUTER)
MOUTH_CORNERS = (61, 291)


@dataclass
class Portrait:
    """A face photo cropped and aligned to ``size x size`` with its landmarks.

    image:     size x size x 3 uint8 RGB
    landmarks: 478 x 3 float32 in crop pixels (x right, y down, z MediaPipe depth in x's pixel scale;
               smaller z = nearer the camera)
    crop:      2 x 3 affine matrix mapping original-photo pixels to crop pixels
    source:    the photo's path (or None)
    """

    image: np.ndarray
    landmarks: np.ndarray
    crop: np.ndarray
    source: str | None = None

    @property
    def size(self) -> int:
        return int(self.image.shape[0])


_FACE_MESH = {}


def _face_mesh(max_faces: int):
    """A cached static-image MediaPipe FaceMesh (creating one costs ~0.1 s)."""
    if max_faces not in _FACE_MESH:
        mp = mediapipe("face finding")

        _FACE_MESH[max_faces] = QuietSolution(lambda: mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=max_faces, refine_landmarks=True, min_detection_confidence=0.5
        ))
    return _FACE_MESH[max_faces]


def detect_faces(rgb: np.ndarray, max_faces: int = 4) -> list[np.ndarray]:
    """All faces MediaPipe finds in ``rgb`` (H x W x 3 uint8): a list of 478 x 3 pixel landmarks."""
    rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
    h, w = rgb.shape[:2]
    res = _face_mesh(max_faces).process(rgb)
    faces = []
    for lm in res.multi_face_landmarks or []:
        a = np.array([(p.x * w, p.y * h, p.z * w) for p in lm.landmark], np.float32)  # 478 x 3
        faces.append(a)
    return faces


def small_face_widths(rgb: np.ndarray) -> list[float]:
    """Widths (px) of faces that MediaPipe's full-range detector sees where Face Mesh found none:
    faces too small (or too far) for the mesh, told apart from "no face at all"."""
    mp = mediapipe("face finding")

    if "detector" not in _FACE_MESH:
        _FACE_MESH["detector"] = QuietSolution(
            lambda: mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5))
    res = _FACE_MESH["detector"].process(np.ascontiguousarray(rgb[..., :3], dtype=np.uint8))
    return [d.location_data.relative_bounding_box.width * rgb.shape[1] for d in res.detections or []]


def track_landmarks(rgb: np.ndarray) -> np.ndarray | None:
    """478 x 3 pixel landmarks of the single most prominent face, or None."""
    faces = detect_faces(rgb, max_faces=1)
    return faces[0] if faces else None


def eye_distance(landmarks: np.ndarray) -> float:
    le = landmarks[list(LEFT_EYE_CORNERS), :2].mean(0)
    re = landmarks[list(RIGHT_EYE_CORNERS), :2].mean(0)
    return float(np.linalg.norm(re - le))


def alignment_matrix(landmarks: np.ndarray, size: int = CROP_SIZE, zoom: float = 1.0) -> np.ndarray:
    """2 x 3 affine (rotation + scale + shift) from photo pixels to an aligned ``size`` crop.

    FFHQ's recipe: the eye line is made horizontal, the face is centred a little below the eyes,
    and the crop spans about 2x the eye-to-eye / 1.8x the eye-to-mouth distance (``zoom`` > 1 shows
    more around the face).
    """
    le = landmarks[list(LEFT_EYE_CORNERS), :2].mean(0).astype(np.float64)
    re = landmarks[list(RIGHT_EYE_CORNERS), :2].mean(0).astype(np.float64)
    mouth = landmarks[list(MOUTH_CORNERS), :2].mean(0).astype(np.float64)
    eye_avg = (le + re) / 2
    eye_to_eye = re - le
    eye_to_mouth = mouth - eye_avg
    x = eye_to_eye - np.array([-eye_to_mouth[1], eye_to_mouth[0]])  # eye line minus mouth-axis rotated 90°
    x /= np.linalg.norm(x)
    half = max(np.linalg.norm(eye_to_eye) * 2.0, np.linalg.norm(eye_to_mouth) * 1.8) * zoom
    center = eye_avg + eye_to_mouth * 0.1
    scale = (size / 2) / half
    c, s = x  # rotate by -angle(x) so that x maps to +x
    rot = np.array([[c, s], [-s, c]]) * scale
    shift = np.array([size / 2, size / 2]) - rot @ center
    return np.concatenate([rot, shift[:, None]], 1).astype(np.float64)  # 2 x 3


def apply_affine(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map N x 2 (or N x 3, z scaled by the same factor) points by the 2 x 3 affine ``m``."""
    out = points.astype(np.float64).copy()
    out[:, :2] = points[:, :2] @ m[:, :2].T + m[:, 2]
    if points.shape[1] == 3:
        out[:, 2] = points[:, 2] * np.sqrt(abs(np.linalg.det(m[:, :2])))
    return out.astype(np.float32)


def warp_crop(rgb: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """The aligned crop (reflecting the photo at its borders so no black wedges appear)."""
    cv2 = require("cv2", "portrait alignment")

    return cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_AREA if m[0, 0] ** 2 + m[0, 1] ** 2 < 1 else cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REFLECT101)


def load_image(path: str | os.PathLike) -> np.ndarray:
    """An image file -> H x W x 3 uint8 RGB, or InputError."""
    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    if os.path.isdir(path):
        raise InputError(path, "is a folder, not a portrait image")
    if not os.path.isfile(path):
        raise InputError(path, "portrait file not found")
    try:
        with Image.open(path, formats=PORTRAIT_FORMATS) as im:
            im = im.convert("RGB")
            return np.asarray(im, dtype=np.uint8).copy()
    except UnidentifiedImageError:
        raise InputError(path, f"not a readable image (use {', '.join(PORTRAIT_FORMATS)})") from None
    except Exception as e:  # Pillow's decoders raise many kinds on malformed files
        raise InputError(path, f"not a readable image ({e.__class__.__name__}: {e})") from None


def prepare_portrait(image: np.ndarray | str | os.PathLike, size: int = CROP_SIZE, *, zoom: float = 1.0,
                     min_eye_distance: float = MIN_EYE_DISTANCE_PX, source: str | None = None) -> Portrait:
    """Find exactly one usable face, crop/align it to ``size`` and track its landmarks in the crop."""
    if not isinstance(image, np.ndarray):
        source = os.fspath(image)
        image = load_image(image)
    rgb = image
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, 2)
    if rgb.ndim != 3 or rgb.shape[2] < 3 or min(rgb.shape[:2]) < 16:
        raise InputError(source, f"expected a colour image, got an array of shape {image.shape}")
    rgb = np.ascontiguousarray(rgb[..., :3]).astype(np.uint8)
    faces = detect_faces(rgb, max_faces=4)
    if not faces:
        widths = small_face_widths(rgb)
        if widths:
            raise InputError(source, f"the face is too small to animate (about {max(widths):.0f} px wide); "
                                     "use a larger or closer photo")
        raise InputError(source, "no face found in the portrait (use a photo with one clearly visible, roughly frontal face)")
    if len(faces) > 1:
        raise InputError(source, f"{len(faces)} faces found in the portrait; crop the photo to the one face to animate")
    lm = faces[0]
    d = eye_distance(lm)
    if d < min_eye_distance:
        raise InputError(source, f"the face is too small ({d:.0f} px between the eyes, need at least "
                                 f"{min_eye_distance:.0f}); use a larger or closer photo")
    m = alignment_matrix(lm, size, zoom)
    crop = warp_crop(rgb, m, size)
    tracked = track_landmarks(crop)  # re-track in the crop: sharper than mapping the photo's landmarks
    lm_crop = tracked if tracked is not None else apply_affine(m, lm)
    return Portrait(image=crop, landmarks=lm_crop.astype(np.float32), crop=m, source=source)
