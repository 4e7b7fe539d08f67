"""What the mouth does, generated or tracked, beside the correlation: the share of frames with
the lips shut, and the opening per phone class.

Openings come in three units (``mouth.mouth_opening`` sources and the tracker): "mesh" (open
head inner-lip gap, metres), "blendshapes" (the ARKit proxy) and "tracked" (MediaPipe inner-lip
gap over the outer-eye-corner distance). Lips count as shut below ``SHUT_BELOW[source]``: 2 mm
for the mesh, and the same 2 mm over an adult's outer-eye-corner span (``EYE_SPAN_MM``) for
the tracked gap.

Per phone class, a clip's opening curve is divided by its own 95th percentile (so that speakers,
heads and units compare), and each phone contributes the mean over its middle frame +/- 1; the
class value of a clip is the mean over its phones of that class.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from anim3d.eval.metrics import middle_frame
from anim3d.eval.mouth import CLOSED_BELOW
from anim3d.phones import BILABIALS, OPEN_VOWELS, SIL

SHUT_MM = 2.0  # lips closer than this count as shut
EYE_SPAN_MM = 90.0  # adult outer-eye-corner (exocanthion) distance: the tracked opening's unit
SHUT_BELOW = {"mesh": SHUT_MM / 1000.0, "blendshapes": CLOSED_BELOW["blendshapes"], "tracked": SHUT_MM / EYE_SPAN_MM}

PHONE_CLASSES: dict[str, frozenset] = {
    "bilabial": frozenset(BILABIALS),  # P B M
    "labiodental": frozenset({"F", "V"}),
    "rounded": frozenset({"W", "UW", "OW", "UH"}),
    "open vowel": frozenset(OPEN_VOWELS),  # AA AE AO AW AY
    "silence": frozenset({SIL}),
}
TOP_PERCENTILE = 95.0
WINDOW = 1  # frames either side of a phone's middle frame


def shut_share(opening: np.ndarray, source: str) -> float:
    """Share of frames of ``opening`` (T,) with the lips shut (below ``SHUT_BELOW[source]``)."""
    x = np.asarray(opening, dtype=np.float64).reshape(-1)
    if x.size == 0:
        return float("nan")
    return float(np.mean(x < SHUT_BELOW[source]))


def relative_opening(opening: np.ndarray) -> np.ndarray:
    """(T,) opening over its 95th percentile; all NaN when that is ~0 (a mouth that never opens)."""
    x = np.asarray(opening, dtype=np.float64).reshape(-1)
    top = np.percentile(x, TOP_PERCENTILE) if x.size else 0.0
    if top <= 1e-12:
        return np.full(x.shape, np.nan)
    return x / top


def class_openings(opening: np.ndarray, phones: Iterable, fps: float, shift: int = 0) -> dict[str, tuple[float, int]]:
    """Phone class -> (mean relative opening over the class's phones, number of phones).

    ``phones`` are in audio time; ``shift`` frames are subtracted from each phone's middle frame
    to find it in ``opening`` (the clip's AV offset for a tracked mouth whose audio is late,
    0 for a curve generated from the audio). Phones outside the curve are skipped; a class
    without phones is (NaN, 0)."""
    rel = relative_opening(opening)
    values: dict[str, list[float]] = {c: [] for c in PHONE_CLASSES}
    for p in phones:
        cls = next((c for c, labels in PHONE_CLASSES.items() if p.label in labels), None)
        if cls is None:
            continue
        m = middle_frame(p.start, p.end, fps) - shift
        lo, hi = max(0, m - WINDOW), min(rel.size, m + WINDOW + 1)
        if lo < hi:
            values[cls].append(float(np.mean(rel[lo:hi])))
    return {c: (float(np.mean(v)) if v else float("nan"), len(v)) for c, v in values.items()}
