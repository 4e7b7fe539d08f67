"""Mouth opening of a Motion, to compare with a tracked speaker's inner-lip gap.

Measured on the open head mesh (gap between the inner-lip landmark vertices,
``head.landmarks['upper_lip_inner'] / ['lower_lip_inner']``), in metres; ``blendshape_opening``
is a proxy from the ARKit weights alone, for motions without a head (training's closure rate).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from anim3d.channels import INDEX
from anim3d.motion import Motion

# closure threshold per source: lips count as closed at or below this opening
CLOSED_BELOW = {"mesh": 0.002, "blendshapes": 0.05}  # metres (2 mm) / proxy units
OPEN_ABOVE = {"mesh": 0.006, "blendshapes": 0.2}  # an "open" vowel: >= 6 mm (about half the teacher's widest opening) / proxy 0.2
SHUT_BELOW = 1e-4  # metres of mesh inner-lip gap: the lips count as shut (touching), for shares of shut frames


def blendshape_opening(motion: Motion) -> np.ndarray:
    """(T,) proxy of the inner-lip gap from ARKit weights:

    max(0, jawOpen - mouthClose)  (mouthClose closes the lips against an open jaw)
    + 0.25 * mean(mouthUpperUp_L/R, mouthLowerDown_L/R)  (lips parted over the teeth)
    - 0.25 * mean(mouthPress_L/R, mouthRollUpper/Lower) (lips pressed or rolled in)
    clipped at 0.
    """
    b = motion.blendshapes

    def ch(*names):
        return np.mean([b[:, INDEX[n]] for n in names], axis=0)

    jaw = np.maximum(0.0, ch("jawOpen") - ch("mouthClose"))
    parted = ch("mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft", "mouthLowerDownRight")
    pressed = ch("mouthPressLeft", "mouthPressRight", "mouthRollUpper", "mouthRollLower")
    return np.clip(jaw + 0.25 * parted - 0.25 * pressed, 0.0, None).astype(np.float64)


@lru_cache(maxsize=1)
def _inner_lips() -> tuple[np.ndarray, np.ndarray]:
    """The open head's upper and lower inner-lip landmark vertices."""
    from anim3d.flame.open_head import load_open_head

    head = load_open_head()
    up = np.atleast_1d(np.asarray(head.landmarks["upper_lip_inner"], dtype=np.int64))
    lo = np.atleast_1d(np.asarray(head.landmarks["lower_lip_inner"], dtype=np.int64))
    return up, lo


def mesh_opening(motion: Motion) -> np.ndarray:
    """(T,) vertical inner-lip gap on the open head, metres (mean over the landmark vertices)."""
    from anim3d.flame.open_head import load_open_head, motion_to_vertices

    up, lo = _inner_lips()
    v = np.asarray(motion_to_vertices(load_open_head(), motion), dtype=np.float64)  # T x V x 3
    gap = v[:, up, 1].mean(axis=1) - v[:, lo, 1].mean(axis=1)  # T, Y up
    return np.clip(gap, 0.0, None)


@lru_cache(maxsize=1)
def jaw_gap_line() -> tuple[float, float]:
    """(mm per unit of jawOpen, mm at jawOpen 0) of the open head's inner-lip gap with every other channel at rest:
    the line through jawOpen 0.2..1, where the lips are apart and the gap grows linearly."""
    jaw = np.linspace(0.2, 1.0, 9)
    m = Motion.neutral(len(jaw), 30.0)
    m.blendshapes[:, INDEX["jawOpen"]] = jaw
    slope, intercept = np.polyfit(jaw, mesh_opening(m) * 1000.0, 1)
    return float(slope), float(intercept)


def mouth_opening(motion: Motion, source: str = "mesh") -> tuple[np.ndarray, str]:
    """(opening (T,), source) with source "mesh" (the open head's lip gap) or "blendshapes" (the proxy)."""
    if source == "mesh":
        return mesh_opening(motion), "mesh"
    return blendshape_opening(motion), "blendshapes"
