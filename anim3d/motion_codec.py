"""Motion <-> the model's normalised arrays, and the motion-derived conditions (gaze, distance, style).

Layout of a frame vector (58): 52 ARKit blendshapes (Apple order), head rotation (3, axis-angle rad),
head translation (3, metres). Normalisation is per channel: (x - mean) / std with stats from the
training corpus, stored in the model config.
"""

from __future__ import annotations

import numpy as np

from anim3d.channels import EYE_MAX_DOWN, EYE_MAX_UP, EYE_MAX_YAW, INDEX
from anim3d.motion import Motion

MOTION_DIM = 58
STD_FLOOR = np.array([0.02] * 52 + [0.005] * 3 + [0.001] * 3, np.float32)
DISTANCE_SCALE = 10.0  # metres -> condition units (10 cm = 1)


def motion_to_array(motion: Motion) -> np.ndarray:
    """Motion -> T x 58 raw (un-normalised) float32."""
    return np.concatenate([motion.blendshapes, motion.head_rotation, motion.head_translation], axis=1).astype(np.float32)


def array_to_motion(arr: np.ndarray, fps: float = 30.0) -> Motion:
    """T x 58 raw -> Motion (blendshapes clamped to [0, 1])."""
    arr = np.asarray(arr, np.float32)
    return Motion(np.clip(arr[:, :52], 0.0, 1.0), arr[:, 52:55], arr[:, 55:58], fps)


def compute_stats(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and (floored) std over a list of T x 58 raw arrays."""
    cat = np.concatenate(arrays, axis=0).astype(np.float64)
    return cat.mean(0).astype(np.float32), np.maximum(cat.std(0).astype(np.float32), STD_FLOOR)


def normalize(arr: np.ndarray, mean, std) -> np.ndarray:
    return ((arr - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)).astype(np.float32)


def denormalize(arr: np.ndarray, mean, std) -> np.ndarray:
    return (arr * np.asarray(std, np.float32) + np.asarray(mean, np.float32)).astype(np.float32)


def gaze_angles(blendshapes: np.ndarray) -> np.ndarray:
    """T x 52 -> T x 2 gaze (yaw toward the subject's left, pitch down) in radians, both eyes averaged."""
    b = blendshapes
    yaw = 0.5 * EYE_MAX_YAW * (
        (b[:, INDEX["eyeLookOutLeft"]] - b[:, INDEX["eyeLookInLeft"]]) + (b[:, INDEX["eyeLookInRight"]] - b[:, INDEX["eyeLookOutRight"]])
    )
    down = 0.5 * (b[:, INDEX["eyeLookDownLeft"]] + b[:, INDEX["eyeLookDownRight"]])
    up = 0.5 * (b[:, INDEX["eyeLookUpLeft"]] + b[:, INDEX["eyeLookUpRight"]])
    return np.stack([yaw, EYE_MAX_DOWN * down - EYE_MAX_UP * up], axis=1).astype(np.float32)


def gaze_condition(raw: np.ndarray) -> np.ndarray:
    """T x 58 raw -> (2,) mean gaze (yaw, pitch) in radians: the condition a window was made with."""
    return gaze_angles(raw[:, :52]).mean(0)


def distance_condition(raw: np.ndarray) -> np.ndarray:
    """T x 58 raw -> (1,) mean head forward offset (+Z, toward the viewer) in condition units."""
    return np.array([raw[:, 57].mean() * DISTANCE_SCALE], np.float32)


def style_vector(norm: np.ndarray) -> np.ndarray:
    """T x 58 normalised motion -> (116,) speaking style: per-channel mean and std."""
    return np.concatenate([norm.mean(0), norm.std(0)]).astype(np.float32)
