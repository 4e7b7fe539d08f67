"""Lip and jaw articulation from phones: per-phone targets, Cohen-Massaro dominance blending,
then hard guarantees (closure on P/B/M, lip-to-teeth on F/V, rounding on W/UW/OW).

Cohen & Massaro (1993): each phone has, per articulator group, a target and a dominance
function D(t) = alpha * exp(-(tau / sigma) ** c) that decays with the time tau outside the
phone; a channel's value is the dominance-weighted mean of the targets. A wide sigma
before a rounded phone gives anticipatory rounding over the preceding consonants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anim3d.channels import INDEX, NUM_BLENDSHAPES
from anim3d.phones import SIL, VISEME_OF, Phone

GROUPS = ("jaw", "lips", "round", "spread", "tongue")
GROUP_CHANNELS = {
    "jaw": ("jawOpen", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight"),
    "lips": ("mouthClose", "mouthPressLeft", "mouthPressRight", "mouthRollLower", "mouthRollUpper",
             "mouthShrugLower", "mouthShrugUpper"),
    "round": ("mouthPucker", "mouthFunnel"),
    "spread": ("mouthStretchLeft", "mouthStretchRight"),
    "tongue": ("tongueOut",),
}
ARTIC_CHANNELS = tuple(c for g in GROUPS for c in GROUP_CHANNELS[g])
_SHAPE = 1.5  # c in the dominance function

# Targets per phone (weights at articulation 1); L/R pairs are given once without side. The jaw openings
# follow the per-phone lip gaps of MediaPipe-tracked real speakers (research/calibrate_teacher.py). Rounding
# is mostly pucker, little funnel: real speakers protrude the lips on rounded phones instead of parting them
# (the funnel at SH, CH, JH, ER, UH and OW sits at the pauses' level in the tracked evaldata speakers).
T = {
    SIL: {},
    "P": {"jawOpen": 0.04, "mouthPress": 0.35, "mouthRollLower": 0.15, "mouthRollUpper": 0.1},
    "F": {"jawOpen": 0.07, "mouthRollLower": 0.55, "mouthShrugLower": 0.15, "mouthUpperUp": 0.12, "mouthShrugUpper": 0.1},
    "TH": {"jawOpen": 0.12, "tongueOut": 0.3, "mouthLowerDown": 0.08},
    "T": {"jawOpen": 0.12, "mouthLowerDown": 0.05},
    "S": {"jawOpen": 0.14, "mouthStretch": 0.2},
    "SH": {"jawOpen": 0.1, "mouthFunnel": 0.0875, "mouthPucker": 0.4625, "mouthShrugUpper": 0.15},
    "K": {"jawOpen": 0.12},
    "HH": {"jawOpen": 0.28},
    "R": {"jawOpen": 0.05, "mouthPucker": 0.3375, "mouthFunnel": 0.0125},
    "W": {"jawOpen": 0.03, "mouthPucker": 0.75, "mouthFunnel": 0.0},
    "Y": {"jawOpen": 0.24, "mouthStretch": 0.25},
    "IY": {"jawOpen": 0.26, "mouthStretch": 0.35},
    "IH": {"jawOpen": 0.28, "mouthStretch": 0.25},
    "EH": {"jawOpen": 0.4, "mouthStretch": 0.15, "mouthLowerDown": 0.12},
    "AE": {"jawOpen": 0.48, "mouthStretch": 0.15, "mouthLowerDown": 0.22, "mouthUpperUp": 0.12},
    "AA": {"jawOpen": 0.45, "mouthLowerDown": 0.2, "mouthUpperUp": 0.05},
    "AO": {"jawOpen": 0.22, "mouthFunnel": 0.05, "mouthPucker": 0.25, "mouthLowerDown": 0.1},
    "AH": {"jawOpen": 0.34, "mouthLowerDown": 0.1},
    "ER": {"jawOpen": 0.18, "mouthFunnel": 0.075, "mouthPucker": 0.475},
    "UH": {"jawOpen": 0.2, "mouthPucker": 0.5875, "mouthFunnel": 0.0625},
    "UW": {"jawOpen": 0.06, "mouthPucker": 0.7625, "mouthFunnel": 0.0375},
    "OW_END": {"jawOpen": 0.15, "mouthPucker": 0.85, "mouthFunnel": 0.1},
    "OW": {"jawOpen": 0.2, "mouthFunnel": 0.1, "mouthPucker": 0.6},
}
_ALIAS = {"B": "P", "M": "P", "V": "F", "DH": "TH", "D": "T", "N": "T", "L": "T", "Z": "S", "ZH": "SH",
          "CH": "SH", "JH": "SH", "G": "K", "NG": "K"}
# Diphthongs: (first target, second target, split point as a fraction of the duration)
DIPHTHONGS = {"AY": ("AA", "IY", 0.55), "AW": ("AA", "UW", 0.5), "OY": ("AO", "IY", 0.5),
              "EY": ("EH", "IY", 0.6), "OW": ("OW", "OW_END", 0.55)}

# Dominance per class: alpha per group (jaw, lips, round, spread, tongue), sigma before/after (s).
@dataclass(frozen=True)
class Dominance:
    alpha: tuple[float, float, float, float, float]
    before: float
    after: float
    round_before: float | None = None  # anticipation of rounding (None: same as before)


_DOM = {
    "SIL": Dominance((0.6, 0.6, 0.4, 0.4, 0.6), 0.06, 0.06),
    "PBM": Dominance((0.9, 1.0, 0.25, 0.3, 0.3), 0.05, 0.04),
    "FV": Dominance((0.8, 1.0, 0.25, 0.3, 0.3), 0.05, 0.04),
    "TH": Dominance((0.5, 0.3, 0.2, 0.3, 1.0), 0.04, 0.04),
    "TDNL": Dominance((0.35, 0.15, 0.1, 0.15, 0.4), 0.04, 0.04),
    "SZ": Dominance((0.6, 0.2, 0.15, 0.5, 0.4), 0.04, 0.04),
    "SHCH": Dominance((0.5, 0.4, 0.8, 0.4, 0.4), 0.05, 0.04),
    "KG": Dominance((0.3, 0.1, 0.1, 0.1, 0.4), 0.04, 0.04),
    "R": Dominance((0.4, 0.2, 0.6, 0.3, 0.4), 0.05, 0.05),
    "WUW": Dominance((0.7, 0.5, 1.0, 0.6, 0.4), 0.07, 0.06, round_before=0.16),
    "IY": Dominance((1.0, 0.6, 0.5, 0.8, 0.4), 0.07, 0.06),
    "IH": Dominance((1.0, 0.6, 0.5, 0.7, 0.4), 0.07, 0.06),
    "EH": Dominance((1.0, 0.6, 0.5, 0.6, 0.4), 0.07, 0.06),
    "AA": Dominance((1.0, 0.6, 0.5, 0.6, 0.4), 0.08, 0.06),
    "AO": Dominance((1.0, 0.6, 0.9, 0.6, 0.4), 0.08, 0.06, round_before=0.14),
    "AH": Dominance((1.0, 0.6, 0.5, 0.6, 0.4), 0.07, 0.06),
}


def _target_vector(key: str) -> np.ndarray:
    v = np.zeros(NUM_BLENDSHAPES, np.float32)
    for name, w in T[key].items():
        if name in INDEX:
            v[INDEX[name]] = w
        else:
            v[INDEX[name + "Left"]] = w
            v[INDEX[name + "Right"]] = w
    return v


_TARGETS = {k: _target_vector(k) for k in T}
_GROUP_MASK = np.zeros((len(GROUPS), NUM_BLENDSHAPES), np.float32)  # G x 52
for _g, _name in enumerate(GROUPS):
    for _c in GROUP_CHANNELS[_name]:
        _GROUP_MASK[_g, INDEX[_c]] = 1.0


@dataclass
class _Seg:
    key: str  # target key
    cls: str  # dominance class
    start: float
    end: float


def _segments(phones: list[Phone]) -> list[_Seg]:
    segs: list[_Seg] = []
    for p in phones:
        lab = p.label
        cls = VISEME_OF.get(lab, "SIL")
        if lab in DIPHTHONGS:
            a, b, f = DIPHTHONGS[lab]
            mid = p.start + f * p.duration
            segs.append(_Seg(a, VISEME_OF.get(a, cls), p.start, mid))
            segs.append(_Seg(b, "WUW" if b in ("UW", "OW_END") else VISEME_OF.get(b, cls), mid, p.end))
        else:
            segs.append(_Seg(_ALIAS.get(lab, lab) if lab in _ALIAS or lab in T else SIL, cls, p.start, p.end))
    return segs


def blend(phones: list[Phone], times: np.ndarray, scale: np.ndarray, chunk: int = 256, rest: float = 0.0) -> np.ndarray:
    """(T, 52) dominance-blended articulation at ``times`` (only articulation channels are non-zero).

    ``scale`` (52,) multiplies the targets (speaker articulation, jaw, rounding); ``rest`` is
    the jaw opening of the relaxed mouth in pauses (lips slightly parted when > 0).
    """
    segs = _segments(phones)
    out = np.zeros((len(times), NUM_BLENDSHAPES), np.float32)
    if not segs:
        return out
    starts = np.array([s.start for s in segs])
    ends = np.array([s.end for s in segs])
    targets = np.stack([_TARGETS[s.key] for s in segs]) * scale[None]  # P x 52
    sil = np.array([s.key == SIL for s in segs])
    targets[sil, INDEX["jawOpen"]] = rest
    targets[np.ix_(sil, [INDEX["mouthLowerDownLeft"], INDEX["mouthLowerDownRight"]])] = 0.5 * rest
    alpha = np.array([_DOM[s.cls].alpha for s in segs], np.float64)  # P x G
    # short pauses (between words) barely pull the mouth to rest; long ones do
    alpha[sil] *= np.clip((ends[sil] - starts[sil] - 0.08) / 0.25, 0.05, 1.0)[:, None]
    before = np.array([_DOM[s.cls].before for s in segs])
    after = np.array([_DOM[s.cls].after for s in segs])
    rbefore = np.array([_DOM[s.cls].round_before or _DOM[s.cls].before for s in segs])
    reach = 0.6  # s: beyond this a phone's dominance is negligible
    for i0 in range(0, len(times), chunk):
        t = times[i0:i0 + chunk]  # C
        sel = np.nonzero((ends > t[0] - reach) & (starts < t[-1] + reach))[0]
        if sel.size == 0:
            continue
        pre = np.clip(starts[sel, None] - t[None], 0.0, None)  # P x C: time before the phone
        post = np.clip(t[None] - ends[sel, None], 0.0, None)  # P x C: time after the phone
        d_after = np.exp(-((post / after[sel, None]) ** _SHAPE))
        d_std = np.exp(-((pre / before[sel, None]) ** _SHAPE)) * d_after  # P x C
        d_round = np.exp(-((pre / rbefore[sel, None]) ** _SHAPE)) * d_after
        num = np.zeros((len(t), NUM_BLENDSHAPES))
        for g, name in enumerate(GROUPS):
            d = (d_round if name == "round" else d_std) * alpha[sel, g][:, None] + 1e-6  # P x C
            val = (d.T @ targets[sel]) / d.sum(axis=0)[:, None]  # C x 52
            num += val * _GROUP_MASK[g][None]
        out[i0:i0 + chunk] = num
    return out


JAW_CHANNELS = tuple(INDEX[c] for c in GROUP_CHANNELS["jaw"])
LOUDNESS_DB_PER_UNIT = 40.0  # dB below the loud frames per unit of gain lost (at loudness_jaw 1)
LOUDNESS_GAIN_RANGE = (0.3, 1.1)


def loudness_gain(energy_db: np.ndarray, depth: float = 1.0) -> np.ndarray:
    """(T,) gain on the jaw channels from the speech's loudness: the jaw opens wider on louder,
    stressed syllables (vocal effort). ``energy_db`` (T,): dB relative to the utterance's loud
    frames (0 = its 95th percentile); gain = 1 + depth * dB / 40, clipped to [0.3, 1.1] and
    smoothed over 3 frames.

    Measured by research/calibrate_teacher.py (teacher on recognised phones and the clip's audio
    against the tracked real mouths, at each clip's audio-video offset, lead 0.01 s): mean r
    0.428 without the gain (depth 0), 0.440 / 0.441 / 0.437 / 0.430 at depth 0.5 / 1 / 1.5 / 2.
    """
    g = np.clip(1.0 + depth * np.asarray(energy_db, np.float64) / LOUDNESS_DB_PER_UNIT, *LOUDNESS_GAIN_RANGE)
    if g.size >= 3:
        g = np.convolve(np.pad(g, 1, mode="edge"), np.ones(3) / 3.0, mode="valid")
    return g.astype(np.float32)


def _window_weight(times: np.ndarray, start: float, end: float, ramp: float, core: float = 0.15) -> np.ndarray:
    """1 inside the phone's core (its middle, shrunk by ``core`` of its length at each side,
    always including the frame nearest its centre), raised-cosine ramp of ``ramp`` s outside."""
    d = end - start
    s, e = start + core * d, end - core * d
    dist = np.maximum(np.maximum(s - times, times - e), 0.0)
    w = np.where(dist < ramp, 0.5 + 0.5 * np.cos(np.pi * dist / ramp), 0.0)
    if len(times):
        w[int(np.argmin(np.abs(times - 0.5 * (start + end))))] = 1.0
    return w


def enforce(x: np.ndarray, phones: list[Phone], times: np.ndarray, strength: float, lead: float = 0.0) -> np.ndarray:
    """Apply the hard guarantees in place and return ``x`` (T x 52).

    ``times`` are the times at which the articulation is evaluated (already shifted by
    the speaker's ``lead``), so the guarantees hold on the shifted timeline. A bilabial's
    lips close ``lead`` early; a short one stays sealed at least until its acoustic middle,
    so the lips are also closed at the phone's own time (where evaluation looks).
    """
    j, close = INDEX["jawOpen"], INDEX["mouthClose"]
    lo = [INDEX["mouthLowerDownLeft"], INDEX["mouthLowerDownRight"]]
    up = [INDEX["mouthUpperUpLeft"], INDEX["mouthUpperUpRight"]]
    press = [INDEX["mouthPressLeft"], INDEX["mouthPressRight"]]
    funnel, pucker = INDEX["mouthFunnel"], INDEX["mouthPucker"]
    # closures last: where a ramp of a neighbouring F/V or rounded phone overlaps a bilabial,
    # the bilabial's closure wins
    order = sorted((p for p in phones if VISEME_OF.get(p.label) in ("PBM", "FV", "WUW") or p.label == "OW"),
                   key=lambda p: VISEME_OF.get(p.label) == "PBM")
    for p in order:
        vis = VISEME_OF.get(p.label)
        # shifted timeline: a short bilabial stays sealed at least until its acoustic middle
        end = p.end + (max(lead - 0.5 * (p.end - p.start), 0.0) if vis == "PBM" else 0.0)
        m = (times > p.start - 0.1) & (times < end + 0.1)
        if not m.any():
            continue
        w = _window_weight(times[m], p.start, end, ramp=0.04)  # C
        w[int(np.argmin(np.abs(times[m] - 0.5 * (p.start + p.end))))] = 1.0  # the phone's own centre too
        w = w[:, None]  # C x 1
        cur = x[m]
        tgt = cur.copy()
        if vis == "PBM":  # lips sealed: mouthClose cancels the (small) jaw opening
            tgt[:, j] = np.minimum(cur[:, j], 0.08)
            tgt[:, close] = tgt[:, j]
            tgt[:, lo + up] = 0.0
            tgt[:, funnel] = np.minimum(cur[:, funnel], 0.05)
            tgt[:, press] = np.maximum(cur[:, press], 0.3 * strength)
        elif vis == "FV":  # lower lip tucked up against the upper teeth
            tgt[:, j] = np.minimum(cur[:, j], 0.1)
            tgt[:, close] = 0.0
            tgt[:, lo] = 0.0
            tgt[:, INDEX["mouthRollLower"]] = np.maximum(cur[:, INDEX["mouthRollLower"]], 0.45 * strength)
            tgt[:, INDEX["mouthShrugLower"]] = np.maximum(cur[:, INDEX["mouthShrugLower"]], 0.12 * strength)
            tgt[:, funnel] = np.minimum(cur[:, funnel], 0.2)
        else:  # rounding reaches at least most of its target
            key = "W" if p.label == "W" else "UW" if p.label in ("UW", "UH") else "OW"
            tgt[:, pucker] = np.maximum(cur[:, pucker], 0.8 * strength * T[key]["mouthPucker"])
            tgt[:, funnel] = np.maximum(cur[:, funnel], 0.8 * strength * T[key]["mouthFunnel"])
        x[m] = (1.0 - w) * cur + w * tgt
    return x


def lip_gap(blendshapes: np.ndarray) -> np.ndarray:
    """(T,) a proxy for the vertical opening between the lips, from ARKit weights.

    ARKit's mouthClose closes the lips against jawOpen (lips sealed when they are equal);
    lowerDown/upperUp and funnel part the lips further.
    """
    b = np.asarray(blendshapes)
    jaw_gap = np.maximum(b[:, INDEX["jawOpen"]] - b[:, INDEX["mouthClose"]], 0.0)
    lips = 0.5 * (b[:, INDEX["mouthLowerDownLeft"]] + b[:, INDEX["mouthLowerDownRight"]]) * 0.5
    lips += 0.5 * (b[:, INDEX["mouthUpperUpLeft"]] + b[:, INDEX["mouthUpperUpRight"]]) * 0.5
    return jaw_gap + lips + 0.3 * b[:, INDEX["mouthFunnel"]]
