"""Emotion overlays: the eight labels as ARKit offsets, head posture and energy, at graded intensity.

Shapes follow FACS descriptions of the prototypical expressions (Ekman & Friesen):
happy = AU6+12, sad = AU1+4+15, surprised = AU1+2+5+26, fear = AU1+2+4+5+20,
disgusted = AU9+10+15, angry = AU4+5+7+23, contempt = unilateral AU12+14.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anim3d.channels import INDEX, NUM_BLENDSHAPES
from anim3d.emotions import check_emotion


@dataclass(frozen=True)
class EmotionSpec:
    shapes: dict  # channel (L/R pairs without side, or one side) -> weight at intensity 1
    posture: tuple[float, float, float] = (0.0, 0.0, 0.0)  # mean head (pitch down, yaw, roll) radians
    energy: float = 1.0  # head-motion energy factor at intensity 1
    one_sided: bool = False  # contempt: shapes named "...Left" go to a random side


SPECS = {
    "neutral": EmotionSpec({}),
    "happy": EmotionSpec({"mouthSmile": 0.6, "cheekSquint": 0.45, "eyeSquint": 0.3, "mouthDimple": 0.15,
                          "browOuterUp": 0.1}, posture=(-0.03, 0.0, 0.0), energy=1.3),
    "sad": EmotionSpec({"browInnerUp": 0.6, "mouthFrown": 0.5, "browDown": 0.15, "mouthShrugLower": 0.2,
                        "eyeLookDown": 0.1, "eyeSquint": 0.1}, posture=(0.1, 0.0, 0.0), energy=0.6),
    "surprised": EmotionSpec({"browInnerUp": 0.7, "browOuterUp": 0.7, "eyeWide": 0.6, "jawOpen": 0.08,
                              "mouthFunnel": 0.05}, posture=(-0.06, 0.0, 0.0), energy=1.2),
    "fear": EmotionSpec({"browInnerUp": 0.7, "browOuterUp": 0.35, "browDown": 0.2, "eyeWide": 0.55,
                         "mouthStretch": 0.45, "jawOpen": 0.04}, posture=(0.04, 0.0, 0.0), energy=0.8),
    "disgusted": EmotionSpec({"noseSneer": 0.6, "mouthUpperUp": 0.35, "browDown": 0.4, "eyeSquint": 0.3,
                              "cheekSquint": 0.3, "mouthFrown": 0.25, "mouthShrugLower": 0.15},
                             posture=(-0.02, 0.0, 0.03), energy=0.9),
    "angry": EmotionSpec({"browDown": 0.75, "eyeSquint": 0.25, "eyeWide": 0.15, "mouthPress": 0.3,
                          "noseSneer": 0.2, "mouthFrown": 0.15, "jawForward": 0.1},
                         posture=(0.05, 0.0, 0.0), energy=1.5),
    "contempt": EmotionSpec({"mouthSmileLeft": 0.4, "mouthDimpleLeft": 0.4, "mouthPressLeft": 0.15,
                             "eyeSquintLeft": 0.1, "browDownLeft": 0.05},
                            posture=(-0.05, 0.0, 0.04), energy=0.8, one_sided=True),
}


def _mirror(name: str) -> str:
    if name.endswith("Left"):
        return name[:-4] + "Right"
    if name.endswith("Right"):
        return name[:-5] + "Left"
    return name


def emotion_vector(emotion: str, intensity: float, side: str = "Left") -> np.ndarray:
    """(52,) overlay weights of ``emotion`` at ``intensity`` in [0, 1]. ``side`` picks contempt's side."""
    spec = SPECS[check_emotion(emotion)]
    v = np.zeros(NUM_BLENDSHAPES, np.float32)
    k = float(np.clip(intensity, 0.0, 1.0))
    for name, w in spec.shapes.items():
        if name in INDEX:
            v[INDEX[_mirror(name) if (spec.one_sided and side == "Right") else name]] += w * k
        else:
            v[INDEX[name + "Left"]] += w * k
            v[INDEX[name + "Right"]] += w * k
    return v


def emotion_track(emotion: str, intensity: float, num_frames: int, fps: float, rng: np.random.Generator,
                  side: str = "Left") -> np.ndarray:
    """(T, 52) overlay with slow natural variation (85-100 % of the level, ~0.3 Hz)."""
    base = emotion_vector(emotion, intensity, side)
    t = np.arange(num_frames) / fps
    wobble = 0.925 + 0.075 * np.sin(2 * np.pi * rng.uniform(0.15, 0.4) * t + rng.uniform(0, 2 * np.pi))
    return wobble[:, None].astype(np.float32) * base[None]


def posture(emotion: str, intensity: float) -> np.ndarray:
    return np.asarray(SPECS[check_emotion(emotion)].posture, np.float64) * float(np.clip(intensity, 0.0, 1.0))


def energy(emotion: str, intensity: float) -> float:
    e = SPECS[check_emotion(emotion)].energy
    return 1.0 + (e - 1.0) * float(np.clip(intensity, 0.0, 1.0))
