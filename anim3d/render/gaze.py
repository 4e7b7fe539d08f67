"""Gaze: the Motion's eyeLook* channels move the portrait's irises inside its eyelids.

Each iris landmark (MediaPipe's iris centre and its two side points, 468-477) is written in an
eye frame spanned by the eye's corners and lids: s from corner to corner (0..1) and v from the
upper lid (0) to the lower lid (1) at that s. In a driven frame the point is put back at the same
(s, v) between the driven lids, so the iris follows the head and closes with a blink, and then
shifted by the gaze: the eyeball's rotation (``Motion.eye_rotations``) turns the iris centre,
about an eyeball radius from the eye's centre, by radius * (forward direction's x, y). (s, v) are
clamped inside the opening so the iris never leaves the eye. The warp mesh triangulates each
eye opening with these points (``flow.build_warp_mesh``), so moving them moves the iris pixels.
"""

from __future__ import annotations

import numpy as np

from anim3d.landmarks import EYE_L_LOWER, EYE_L_UPPER, EYE_R_LOWER, EYE_R_UPPER, IRIS_GROUPS

# Motion.eye_rotations order: the subject's left eye (image right), then the right eye.
EYES = ((EYE_L_UPPER, EYE_L_LOWER), (EYE_R_UPPER, EYE_R_LOWER))
EYEBALL_RADIUS_M = 0.0115  # cornea centre to eyeball centre, about
S_RANGE, V_RANGE = (0.12, 0.88), (0.08, 0.92)


def eye_iris_points(lm: np.ndarray) -> list[np.ndarray]:
    """Per eye (Motion order), the iris landmark ids to move: the centre and the two ring points
    beside it (the top and bottom ring points usually lie on or beyond the lids)."""
    out = []
    for upper, lower in EYES:
        centre_eye = lm[list(upper) + list(lower), :2].mean(0)
        group = min(IRIS_GROUPS, key=lambda g: np.linalg.norm(lm[g[0], :2] - centre_eye))
        ring = np.array(group[1:])
        side = ring[np.argsort(-np.abs(lm[ring, 0] - lm[group[0], 0]))[:2]]
        out.append(np.array([group[0], *sorted(side)], np.int64))
    return out


def _frame(lm: np.ndarray, upper, lower):
    """One eye's frame in one set of landmarks: corner c0, unit axes ex, ey (ey towards the lower
    lid), width, and the lids' (s, y) samples."""
    c0, c1 = lm[upper[0], :2].astype(np.float64), lm[upper[-1], :2].astype(np.float64)
    d = c1 - c0
    width = max(float(np.linalg.norm(d)), 1e-6)
    ex = d / width
    ey = np.array([-ex[1], ex[0]])
    if np.dot(lm[list(lower), :2].mean(0) - lm[list(upper), :2].mean(0), ey) < 0:
        ey = -ey
    up = (lm[list(upper), :2] - c0) @ np.stack([ex, ey], 1)  # 9 x 2 (along, across) pixels
    lo = (lm[list(lower), :2] - c0) @ np.stack([ex, ey], 1)
    return c0, ex, ey, width, up, lo


def _lids_at(s: np.ndarray, width: float, up: np.ndarray, lo: np.ndarray):
    su, sl = up[:, 0] / width, lo[:, 0] / width
    ou, ol = np.argsort(su), np.argsort(sl)
    return np.interp(s, su[ou], up[ou, 1]), np.interp(s, sl[ol], lo[ol, 1])


def to_eye_coords(lm: np.ndarray, points: np.ndarray, upper, lower) -> np.ndarray:
    """Pixel points (K x 2) -> (s, v) in one eye of landmarks ``lm`` (478 x 2+)."""
    c0, ex, ey, width, up, lo = _frame(lm, upper, lower)
    rel = (np.asarray(points, np.float64)[:, :2] - c0)
    s = rel @ ex / width
    y = rel @ ey
    yu, yl = _lids_at(s, width, up, lo)
    h = yl - yu
    v = np.where(h > 1e-3, (y - yu) / np.maximum(h, 1e-3), 0.5)
    return np.stack([s, v], 1)


def from_eye_coords(lm: np.ndarray, sv: np.ndarray, upper, lower, offset=(0.0, 0.0)) -> np.ndarray:
    """(s, v) (K x 2) in one eye of ``lm`` -> pixel points, shifted by ``offset`` (pixels, image
    axes) and clamped inside the opening."""
    c0, ex, ey, width, up, lo = _frame(lm, upper, lower)
    s, v = sv[:, 0], sv[:, 1]
    yu, yl = _lids_at(s, width, up, lo)
    p = c0 + np.outer(s * width, ex) + np.outer(yu + v * (yl - yu), ey) + np.asarray(offset, np.float64)
    # clamp in eye coordinates
    rel = p - c0
    s2 = np.clip(rel @ ex / width, *S_RANGE)
    yu2, yl2 = _lids_at(s2, width, up, lo)
    h = np.maximum(yl2 - yu2, 0.0)
    y2 = np.clip(rel @ ey, yu2 + V_RANGE[0] * h, yu2 + V_RANGE[1] * h)
    return c0 + np.outer(s2 * width, ex) + np.outer(y2, ey)


def gaze_offsets(eye_rotations: np.ndarray, radius_px: float) -> np.ndarray:
    """T x 2 x 3 eyeball rotations (axis-angle) -> T x 2 x 2 iris shifts in image pixels
    (x right, y down): the rotated forward axis's X and -Y times the radius."""
    from scipy.spatial.transform import Rotation

    r = np.asarray(eye_rotations, np.float64)
    fwd = Rotation.from_rotvec(r.reshape(-1, 3)).apply([0.0, 0.0, 1.0]).reshape(*r.shape[:-1], 3)
    return np.stack([fwd[..., 0], -fwd[..., 1]], -1) * radius_px


def place_irises(driven: np.ndarray, iris_ids: list[np.ndarray], iris_sv: list[np.ndarray],
                 offsets: np.ndarray | None) -> np.ndarray:
    """Put the iris points of T x 478 x 3 driven landmarks (in place) at their source (s, v)
    between the driven lids, shifted by ``offsets`` (T x 2 x 2 pixels, or None)."""
    for t in range(len(driven)):
        for e, (upper, lower) in enumerate(EYES):
            rest = from_eye_coords(driven[t], iris_sv[e], upper, lower)
            if offsets is not None:
                # the centre's shift, limited to the opening, moves the whole iris
                centre = from_eye_coords(driven[t], iris_sv[e][:1], upper, lower, offsets[t, e])
                shift = centre[0] - rest[0]
                rest = from_eye_coords(driven[t], to_eye_coords(driven[t], rest, upper, lower), upper, lower, shift)
            driven[t, iris_ids[e], :2] = rest
    return driven
