"""The 52 ARKit morph targets of the open head, as displacement fields on the rest mesh.

Each shape is written for the subject's LEFT side (+X) and its Right twin is its exact
mirror image (``mirror`` vertex map), so Left/Right pairs mirror by construction; shapes
without a side are symmetrised. Displacements are in metres, measured against typical
ARKit captures: a few millimetres for lips and brows, ~18 degrees of jaw rotation.

Gaze: the eyeLook* targets only move the eyelids (lids follow the gaze); the eyeballs
themselves turn on the eye joints (``Motion.eye_rotations()``), as in FLAME.
"""

from __future__ import annotations

import numpy as np

from anim3d import landmarks as lm
from anim3d.channels import ARKIT_NAMES, INDEX
from anim3d.flame.open_head_build import EYE_RADIUS, JAW_OPEN_ANGLE, Build
from anim3d.flame.open_head_geometry import smoothstep


# Amplitudes (metres) set against tracked real faces: the open head rendered with the model's emotion curves
# and re-tracked should move as far as MEAD's actors (anim3d.eval.expression, README "Expressions").
FROWN_CORNER = (0.009, -0.0115, -0.001)  # mouthFrown: the corner out, down, back
FROWN_MIDDLE_UP = 0.0035  # mouthFrown: the lips' middle up
UPPER_UP = 0.007  # mouthUpperUp: the upper lip's middle up (its border)
UPPER_UP_INNER = 0.0045  # mouthUpperUp: the upper lip's inner edge up (as before the amplitudes were set)
BROW_DOWN = 0.009  # browDown
EYE_WIDE_UPPER = 0.8  # eyeWide: the upper lid up by this share of the lid gap
SNEER_LIP_UP = 0.009  # noseSneer: the upper lip up
SNEER_BROW = 0.014  # noseSneer: the inner brow down (AU9's procerus share)
SMILE_LIP_UP = 0.004  # mouthSmile: the upper lip's border and the skin above it up


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


class _Fields:
    """Helpers bound to one rest mesh."""

    def __init__(self, b: Build):
        self.b = b
        self.p = b.verts
        v = len(self.p)
        self.soft = np.zeros(v, bool)  # skin-like vertices that fields may move
        for k in ("face", "skull", "left_eye_socket", "right_eye_socket", "mouth_cavity"):
            self.soft[b.parts[k]] = True
        self.lo = b.jaw_w * self.soft
        self.up = (1.0 - b.jaw_w) * self.soft
        f = self.p[:468]
        self.y_m, self.z_m = f[13, 1], f[13, 2]
        self.mouth_w = abs(f[291, 0])
        x, y = self.p[:, 0], self.p[:, 1]
        r_lip = np.sqrt((x / (self.mouth_w + 0.006)) ** 2 + ((y - self.y_m) / 0.016) ** 2)
        self.m_lip = (1.0 - smoothstep((r_lip - 0.75) / 0.6)) * self.soft * (self.p[:, 2] > self.z_m - 0.03)
        r_mouth = np.sqrt((x / (self.mouth_w + 0.02)) ** 2 + ((y - self.y_m + 0.004) / 0.03) ** 2)
        self.m_mouth = (1.0 - smoothstep((r_mouth - 0.6) / 0.6)) * self.soft
        self.left = 1.0 / (1.0 + np.exp(-x / 0.005))  # smooth left-side mask

    def handles(self, centers: np.ndarray, disps: np.ndarray, sigma: float, mask: np.ndarray | None = None) -> np.ndarray:
        """Gaussian-blended handle displacements (a partition of unity near the handles)."""
        d2 = ((self.p[:, None, :] - np.asarray(centers)[None]) ** 2).sum(-1)  # V x K
        phi = np.exp(-d2 / (2 * sigma**2))
        wsum = phi.sum(1, keepdims=True)
        out = (phi @ np.asarray(disps)) / np.maximum(wsum, 1.0)
        m = self.soft if mask is None else mask
        return out * m[:, None]

    def exact_handles(self, centers: np.ndarray, disps: np.ndarray, sigma: float, mask: np.ndarray) -> np.ndarray:
        """Gaussian RBF interpolation: exactly ``disps`` at the handles, smooth falloff away."""
        c = np.asarray(centers)
        phi_hh = np.exp(-((c[:, None] - c[None]) ** 2).sum(-1) / (2 * sigma**2))
        coef = np.linalg.solve(phi_hh + 1e-6 * np.eye(len(c)), np.asarray(disps))
        phi = np.exp(-((self.p[:, None, :] - c[None]) ** 2).sum(-1) / (2 * sigma**2))  # V x K
        return (phi @ coef) * mask[:, None]

    def keep_off_eyeball(self, delta: np.ndarray, center: np.ndarray, margin: float = 0.0008) -> np.ndarray:
        """Slide displaced lid vertices along the eyeball instead of through it."""
        new = self.p + delta
        r = np.linalg.norm(new - center, axis=1)
        near = (r < EYE_RADIUS + margin) & self.soft & (np.linalg.norm(delta, axis=1) > 0)
        near &= ~np.isin(np.arange(len(self.p)), np.concatenate([self.b.parts["left_eye_socket"], self.b.parts["right_eye_socket"]]))
        new[near] = center + (new[near] - center) / r[near, None] * (EYE_RADIUS + margin)
        return new - self.p


def _eyelids(fl: _Fields, upper_frac: float, lower_frac: float, x_shift: float = 0.0, cheek: float = 0.0) -> np.ndarray:
    """Left-eye lid motion: upper lid moves by ``upper_frac`` of the lid gap (positive = down),
    lower lid by ``lower_frac`` (positive = up)."""
    p = fl.p
    up_ids, lo_ids = np.array(lm.EYE_L_UPPER), np.array(lm.EYE_L_LOWER)
    c = fl.b.joints[3]
    gap = p[up_ids] - p[lo_ids]  # 9 x 3, upper minus lower
    d_up = -upper_frac * gap + np.array([x_shift, 0, 0])
    d_lo = lower_frac * gap + np.array([x_shift, 0, 0])
    d_up[[0, -1]] = 0.0
    d_lo[[0, -1]] = 0.0
    upper_side = 1.0 / (1.0 + np.exp(-(p[:, 1] - c[1]) / 0.0012))
    dist = np.linalg.norm(p - c, axis=1)
    near_eye = (1.0 - smoothstep((dist - 0.017) / 0.01)) * fl.soft * (p[:, 0] > 0.004)
    delta = fl.exact_handles(p[up_ids], d_up, 0.004, near_eye * upper_side)
    delta += fl.exact_handles(p[lo_ids], d_lo, 0.004, near_eye * (1 - upper_side))
    if cheek:
        cc = p[374] + np.array([0.004, -0.013, 0.0])
        delta += fl.handles(cc[None], np.array([[0.0, cheek, 0.3 * cheek]]), 0.009, near_eye * (1 - upper_side))
    return fl.keep_off_eyeball(delta, c)


def _corner(fl: _Fields, disp, sigma: float = 0.011) -> np.ndarray:
    p = fl.p
    return fl.handles(p[[291, 308]], np.array([disp, disp]), sigma, fl.m_mouth * fl.left)


def _left_shapes(fl: _Fields) -> dict[str, np.ndarray]:
    p, b = fl.p, fl.b
    s: dict[str, np.ndarray] = {}
    s["eyeBlinkLeft"] = _eyelids(fl, 0.82, 0.18)
    s["eyeLookDownLeft"] = _eyelids(fl, 0.3, -0.12)
    s["eyeLookUpLeft"] = _eyelids(fl, -0.22, -0.06)
    s["eyeLookInLeft"] = _eyelids(fl, 0.0, 0.0, x_shift=-0.0012)
    s["eyeLookOutLeft"] = _eyelids(fl, 0.0, 0.0, x_shift=0.0012)
    s["eyeSquintLeft"] = _eyelids(fl, 0.08, 0.3, cheek=0.0025)
    s["eyeWideLeft"] = _eyelids(fl, -EYE_WIDE_UPPER, -0.15)
    s["jawLeft"] = b.jaw_w[:, None] * np.array([0.008, 0.0, 0.0])
    s["mouthLeft"] = fl.m_mouth[:, None] * np.array([0.009, 0.0, 0.0])
    y_up_outer = p[0, 1] - fl.y_m
    # the upper lip's border and the skin above it, up to the nostrils (left side); its inner edge stays, so the
    # lips still close and the inner-lip gap (speech, the lip-sync measures) is what it was
    border = np.clip((p[:, 1] - fl.y_m) / y_up_outer, 0.0, 1.0)
    lip_region = fl.up * fl.soft * fl.left * (p[:, 1] < p[2, 1]) * (p[:, 2] > fl.z_m - 0.02) * border
    upper_lip = [0, 37, 39, 267, 269, 164]
    # AU12 lifts the upper lip with the corners (ARKit's mouthSmile does too: the nose-to-lip skin shortens)
    smile_lip = fl.handles(p[upper_lip], np.tile([0.0, SMILE_LIP_UP, 0.0005], (6, 1)), 0.009, lip_region)
    s["mouthSmileLeft"] = _corner(fl, (0.004, 0.0065, -0.003)) + fl.handles(
        p[[425]], np.array([[0.001, 0.0025, 0.0015]]), 0.013, fl.left * fl.soft * (1 - fl.lo)) + smile_lip
    # AU15 with the chin's push (AU17): the corner down and out, the lips' middle up a little (the inverted U)
    mid = fl.handles(p[[13, 0, 17]], np.tile([0.0, FROWN_MIDDLE_UP, 0.0005], (3, 1)), 0.012, fl.m_lip * fl.left)
    s["mouthFrownLeft"] = _corner(fl, FROWN_CORNER, 0.013) + mid
    s["mouthDimpleLeft"] = _corner(fl, (0.002, 0.0008, -0.0045))
    s["mouthStretchLeft"] = _corner(fl, (0.0055, -0.003, -0.002), 0.013)
    y_lo_outer = fl.y_m - p[17, 1]
    verm_up = fl.up * fl.m_lip * np.clip((p[:, 1] - fl.y_m) / y_up_outer, 0, 1)
    verm_lo = fl.lo * fl.m_lip * np.clip((fl.y_m - p[:, 1]) / y_lo_outer, 0, 1)
    s["mouthPressLeft"] = (fl.left * (-0.0025 * verm_up + 0.0025 * verm_lo))[:, None] * np.array([0, 1.0, 0]) + (
        fl.left * fl.m_lip)[:, None] * np.array([0.0015, 0, -0.001])
    lip_left = 1.0 / (1.0 + np.exp(-p[:, 0] / 0.0035))  # a sharper side mask: the narrowed mouth's halves are close
    s["mouthLowerDownLeft"] = (lip_left * fl.lo * fl.m_lip)[:, None] * np.array([0.0005, -0.0055, 0.0005])
    centre = np.clip(1.0 - (p[:, 0] / fl.mouth_w) ** 2, 0.0, 1.0)  # 1 in the middle of the lip, 0 at the corner
    # the lip's inner edge rises UPPER_UP_INNER (the lips part as much as they always did: speech and the lip-sync
    # measures read that gap), its border and the skin above UPPER_UP (nose to lip shorter)
    lift = UPPER_UP_INNER + (UPPER_UP - UPPER_UP_INNER) * np.clip((p[:, 1] - fl.y_m) / y_up_outer, 0.0, 1.0)
    s["mouthUpperUpLeft"] = (lip_left * fl.up * fl.m_lip * centre)[:, None] * np.stack(
        [np.full_like(lift, 0.0005), lift, np.full_like(lift, 0.0008)], 1)
    brow = np.array(lm.BROW_L)
    above_eye = smoothstep((p[:, 1] - b.joints[3, 1] - 0.004) / 0.006) * fl.soft / (1.0 + np.exp(-(p[:, 0] + 0.005) / 0.004))
    d_down = np.tile([0.0, -BROW_DOWN, 0.0], (len(brow), 1))
    d_down[[4, 9, 3, 8]] += [-0.002, 0.0, 0.001]  # inner brow also pulls toward the nose
    # the forehead above the brows stays put: the video solver takes the head pose from landmarks no shape moves
    # by 1 mm or more (importers/solve.py), 109/338 among them
    top = p[brow, 1].max()
    forehead = 1.0 - smoothstep((p[:, 1] - top - 0.004) / 0.02)
    s["browDownLeft"] = fl.handles(p[brow], d_down, 0.011, above_eye * forehead)
    s["browOuterUpLeft"] = fl.handles(p[brow[[0, 1, 5, 6]]], np.tile([0.0, 0.006, 0.0], (4, 1)), 0.012, above_eye)
    cs = p[374] + np.array([0.004, -0.016, 0.002])
    s["cheekSquintLeft"] = fl.handles(cs[None], np.array([[0.0, 0.0035, 0.0012]]), 0.011, fl.soft * fl.left) + _eyelids(fl, 0.0, 0.12)
    # AU9 (with AU10's share): the nostril wing and the upper lip up, the inner brow down toward the nose
    nose = fl.handles(p[[327, 358, 279]], np.tile([0.0, 0.0035, 0.0005], (3, 1)), 0.006, fl.soft * fl.left)
    # the lip's border and the skin above it rise, its inner edge stays: a sneer while speaking still closes the
    # lips for p, b, m (the vermilion shows taller instead)
    lip = fl.handles(p[upper_lip], np.tile([0.0, SNEER_LIP_UP, 0.0008], (6, 1)), 0.009, lip_region)
    brows = fl.handles(p[[285, 295, 282, 283, 276]], np.array([[-0.0015, -SNEER_BROW, 0.0], [-0.001, -SNEER_BROW, 0.0],
                                                         [-0.0005, -0.7 * SNEER_BROW, 0.0], [0.0, -0.4 * SNEER_BROW, 0.0],
                                                         [0.0, -0.25 * SNEER_BROW, 0.0]]), 0.009, above_eye * fl.left)
    s["noseSneerLeft"] = nose + lip + brows
    return s


def _symmetric_shapes(fl: _Fields) -> dict[str, np.ndarray]:
    p, b = fl.p, fl.b
    j = b.joints[2]
    d_full = (p - j) @ _rot_x(JAW_OPEN_ANGLE).T + j - p  # V x 3: jaw rotation at full weight
    s: dict[str, np.ndarray] = {}
    s["jawOpen"] = b.jaw_w[:, None] * d_full
    s["jawForward"] = b.jaw_w[:, None] * np.array([0.0, 0.0, 0.007])
    a = 0.65  # share of the closing done by the lower lip
    s["mouthClose"] = (fl.m_lip * (-a * fl.lo + (1 - a) * fl.up))[:, None] * d_full
    xw = p[:, 0]
    s["mouthFunnel"] = fl.m_lip[:, None] * np.stack([-0.2 * xw, 0.0025 * fl.up - 0.0035 * fl.lo, np.full_like(xw, 0.007)], 1)
    s["mouthPucker"] = fl.m_lip[:, None] * np.stack([-0.32 * xw, np.zeros_like(xw), np.full_like(xw, 0.009)], 1)
    s["mouthRollLower"] = (fl.lo * fl.m_lip)[:, None] * np.array([0.0, 0.002, -0.004])
    s["mouthRollUpper"] = (fl.up * fl.m_lip)[:, None] * np.array([0.0, -0.002, -0.004])
    chin = np.exp(-(((p[:, 0]) / 0.025) ** 2 + ((p[:, 1] - (fl.y_m - 0.025)) / 0.025) ** 2)) * fl.soft
    s["mouthShrugLower"] = (fl.lo * np.maximum(fl.m_lip, chin))[:, None] * np.array([0.0, 0.0035, 0.0015])
    s["mouthShrugUpper"] = (fl.up * fl.m_lip)[:, None] * np.array([0.0, 0.0028, 0.001])
    inner = [285, 336, 296, 55, 107, 66]
    above = smoothstep((p[:, 1] - b.joints[3, 1] - 0.004) / 0.006) * fl.soft
    s["browInnerUp"] = fl.handles(p[inner], np.tile([0.0, 0.0065, 0.0], (6, 1)), 0.011, above)
    cheeks = p[[425, 205, 411, 187]]
    out = np.array([[0.006, 0, 0.003], [-0.006, 0, 0.003], [0.005, 0, 0.002], [-0.005, 0, 0.002]])
    s["cheekPuff"] = fl.handles(cheeks, out, 0.013, fl.soft * (1 - fl.m_lip))
    tongue = b.parts["tongue"]
    tz = p[tongue, 2]
    front = np.clip((tz - tz.min()) / (tz.max() - tz.min()), 0, 1)
    d = np.zeros_like(p)
    # the tongue slides forward and up between the lips, the lower lip drops to let it out
    d[tongue] = np.stack([np.zeros_like(tz), 0.004 + 0.006 * front, 0.012 + 0.016 * front], 1)
    d += (fl.lo * fl.m_lip)[:, None] * np.array([0.0, -0.006, 0.001])
    s["tongueOut"] = d
    return s


def _mirror(delta: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    return delta[mirror] * np.array([-1.0, 1.0, 1.0])


def build_morphs(b: Build) -> np.ndarray:
    """52 x V x 3 morph targets in ARKit order."""
    fl = _Fields(b)
    out = np.zeros((len(ARKIT_NAMES), len(b.verts), 3))
    for name, d in _left_shapes(fl).items():
        out[INDEX[name]] = d
        twin = name[:-4] + "Right"
        out[INDEX[twin]] = _mirror(d, b.mirror)
    for name, d in _symmetric_shapes(fl).items():
        out[INDEX[name]] = 0.5 * (d + _mirror(d, b.mirror))
    return out
