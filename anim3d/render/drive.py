"""Motion -> the portrait's driven face landmarks (the "driven mesh" of the renderer).

The portrait's 478 MediaPipe landmarks are aligned to a head model's neutral landmark vertices
(``head.parts["mediapipe_468"]``) by a similarity Procrustes on the rigid points; in the head's
frame (metres) each frame adds the ARKit deformation of the head's morph targets at those
vertices (sum_k w_k * target_k), turns the result by the Motion's head rotation about the neck
joint, shifts it by the head translation, and maps it back to crop pixels with the portrait's
own similarity. So the portrait keeps its face shape and pose; the Motion only adds change.

The expression channels' deltas are scaled per channel (``EXPRESSION_GAINS``) so that the re-tracked portrait video
moves as far as the re-tracked open head, whose amplitudes are set against real actors (anim3d.eval.expression).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anim3d.errors import Anim3dError
from anim3d.landmarks import NUM_LANDMARKS
from anim3d.motion import Motion

NUM_MESH_LANDMARKS = 468
VERTICAL_FOV_DEG = 30.0  # an assumed camera, to turn head translation along Z into scale
# Per ARKit channel prefix (both sides): the gain on the open head's landmark deltas in the portrait, so that MediaPipe
# reads the same feature change (anim3d.eval.expression's five) in the rendered portrait as on the rendered open head.
# The median over 5 training portraits (frames of real videos) of research/portrait_expression_gain.py --speech B03
# (one channel group added to the model's neutral speech); judged on other lines (hello.wav, B08) and portraits (the
# evaldata portrait, Reagan) with the emotions' own curves (research/portrait_expression.md). Speech channels (jaw,
# lips, blinks) keep gain 1, so the lips close and open as before.
EXPRESSION_GAINS: dict[str, float] = {"mouthSmile": 1.12, "mouthFrown": 1.05, "mouthDimple": 0.91, "noseSneer": 0.91,
                                      "browDown": 1.02, "browInnerUp": 1.13, "browOuterUp": 1.05, "eyeWide": 1.06,
                                      "eyeSquint": 1.21, "cheekSquint": 1.48}


@dataclass
class DriveRig:
    """Everything needed to drive one portrait.

    aligned: 478 x 3 portrait landmarks in the head's frame (metres)
    basis:   52 x 478 x 3 ARKit displacements per landmark (metres; zero for the 10 iris points)
    scale, rotation (3 x 3), shift (3): crop units = scale * rotation @ head + shift, where crop
             units are the project frame in crop heights (X = x/size, Y = -y/size, Z = -z/size)
    pivot:   3, the head's neck joint (head rotations turn about it)
    size:    crop size in pixels
    """

    aligned: np.ndarray
    basis: np.ndarray
    scale: float
    rotation: np.ndarray
    shift: np.ndarray
    pivot: np.ndarray
    size: int
    iris_ids: list | None = None  # per eye (Motion order) the iris landmarks moved by gaze
    iris_sv: list | None = None  # their (s, v) eye coordinates in the portrait (anim3d.render.gaze)
    eye_radius_px: float = 0.0  # the eyeball radius in crop pixels: an iris shift per unit of gaze direction


def crop_to_units(landmarks: np.ndarray, size: int) -> np.ndarray:
    """... x 3 crop pixels (x right, y down, z nearer-negative) -> project frame in crop heights."""
    lm = np.asarray(landmarks, np.float64)
    return np.stack([lm[..., 0], -lm[..., 1], -lm[..., 2]], -1) / size


def units_to_crop(points: np.ndarray, size: int) -> np.ndarray:
    p = np.asarray(points, np.float64) * size
    return np.stack([p[..., 0], -p[..., 1], -p[..., 2]], -1).astype(np.float32)


def channel_gains(gains: dict[str, float] | None = None) -> np.ndarray:
    """52 per-channel gains from {ARKit channel prefix: gain} (None: ``EXPRESSION_GAINS``); 1 for the rest."""
    from anim3d.channels import ARKIT_NAMES

    gains = EXPRESSION_GAINS if gains is None else gains
    out = np.ones(len(ARKIT_NAMES))
    for i, name in enumerate(ARKIT_NAMES):
        for prefix, g in gains.items():
            if name.startswith(prefix):
                out[i] = g
    return out


def make_rig(head, landmarks: np.ndarray, size: int, gains: dict[str, float] | None = None) -> DriveRig:
    """Align ``head`` (a flame.head.HeadModel with parts['mediapipe_468']) to a portrait's landmarks. ``gains``:
    per-channel gains on the head's deltas ({ARKit channel prefix: gain}; None: ``EXPRESSION_GAINS``, {}: none)."""
    from anim3d.landmarks import RIGID_LANDMARKS
    from anim3d.tracking import similarity_align

    if "mediapipe_468" not in head.parts:
        raise Anim3dError(f"head model {head.name!r} has no MediaPipe landmark map (parts['mediapipe_468'])")
    idx = np.asarray(head.parts["mediapipe_468"], np.int64)
    neutral = np.asarray(head.vertices, np.float64)[idx]  # 468 x 3 metres
    basis = np.zeros((52, NUM_LANDMARKS, 3))
    basis[:, :NUM_MESH_LANDMARKS] = np.asarray(head.morph_targets, np.float64)[:, idx] * channel_gains(gains)[:, None, None]
    p = crop_to_units(landmarks[:NUM_LANDMARKS], size)  # 478 x 3
    s, r, t = similarity_align(neutral[RIGID_LANDMARKS], p[RIGID_LANDMARKS])
    aligned = (p - t) @ r / s  # R^T (p - t) / s, row vectors
    pivot = np.asarray(head.joints, np.float64)[1]  # the neck joint
    from anim3d.render.gaze import EYEBALL_RADIUS_M, EYES, eye_iris_points, to_eye_coords

    lm = np.asarray(landmarks, np.float64)
    iris_ids = eye_iris_points(lm)
    iris_sv = [to_eye_coords(lm, lm[ids], up, lo) for ids, (up, lo) in zip(iris_ids, EYES)]
    return DriveRig(aligned, basis, float(s), r, t, pivot, int(size), iris_ids, iris_sv,
                    float(EYEBALL_RADIUS_M * s * size))


def _rotations(rotvec: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(np.asarray(rotvec, np.float64)).as_matrix()  # T x 3 x 3


def drive_landmarks(rig: DriveRig, motion: Motion) -> np.ndarray:
    """T x 478 x 3 driven landmarks in crop pixels for every frame of ``motion``."""
    w = np.clip(motion.blendshapes.astype(np.float64), 0.0, 1.0)  # T x 52
    a = rig.aligned[None] + np.einsum("tk,knc->tnc", w, rig.basis)  # T x 478 x 3, head frame
    rm = _rotations(motion.head_rotation)  # T x 3 x 3
    a = np.einsum("tij,tnj->tni", rm, a - rig.pivot) + rig.pivot + motion.head_translation[:, None, :].astype(np.float64)
    # Z translation changes the apparent size: depth d = f / scale, moving dz nearer -> scale * d / (d - dz)
    f = 0.5 / np.tan(np.radians(VERTICAL_FOV_DEG) / 2)
    d = f / rig.scale
    dz = np.clip(motion.head_translation[:, 2].astype(np.float64), -0.5 * d, 0.5 * d)
    scale = rig.scale * d / (d - dz)  # T
    centre = rig.aligned[:NUM_MESH_LANDMARKS].mean(0)  # keep the face centre where the x/y shift puts it
    a = a - centre
    p = scale[:, None, None] * np.einsum("ij,tnj->tni", rig.rotation, a)
    p = p + rig.scale * (rig.rotation @ centre) + rig.shift
    lm = uncross_lips(units_to_crop(p, rig.size))
    if rig.iris_ids is not None:
        from anim3d.render.gaze import gaze_offsets, place_irises

        offsets = gaze_offsets(motion.eye_rotations(), rig.eye_radius_px) * (scale / rig.scale)[:, None, None]
        lm = place_irises(lm, rig.iris_ids, rig.iris_sv, offsets)
    return lm


def uncross_lips(lm: np.ndarray) -> np.ndarray:
    """T x 478 x 3 crop pixels: where a lower inner-lip point rose above its upper partner (morph
    targets summed past contact, e.g. mouthPress on a portrait whose lips already touch), put
    both at their midpoint, so the lips meet instead of passing through each other."""
    from anim3d.landmarks import MOUTH_LOWER, MOUTH_UPPER

    up, lo = list(MOUTH_UPPER[1:-1]), list(MOUTH_LOWER[1:-1])
    gap = lm[:, lo, 1] - lm[:, up, 1]  # T x 9, positive = open (y grows downwards)
    crossed = gap < 0
    if crossed.any():
        mid = (lm[:, lo, 1] + lm[:, up, 1]) / 2
        lm[:, up, 1] = np.where(crossed, mid, lm[:, up, 1])
        lm[:, lo, 1] = np.where(crossed, mid, lm[:, lo, 1])
    return lm
