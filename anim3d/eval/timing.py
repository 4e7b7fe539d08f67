"""How many milliseconds a generated mouth leads or lags the real one.

Measured by dynamic time warping (DTW) of the two opening curves, each z-scored, after the
clip's audio-video offset is removed: the warping path pairs frame i of the generated curve
with frame j of the tracked one, and the timing is the mean of i - j over the path, in ms
(> 0: the generated mouth is late). The path stays within a band of +/- ``band`` frames
(Sakoe-Chiba). Unlike the lag of the peak cross-correlation (one whole-frame shift for the
whole clip, often on a flat peak), DTW follows local timing (openings on time, closures late)
and averages it to a signed number finer than a frame; its mean |i - j| is reported beside it.
"""

from __future__ import annotations

import numpy as np


def _z(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    s = x.std()
    return (x - x.mean()) / s if s > 1e-12 else x - x.mean()


def dtw_path(a: np.ndarray, b: np.ndarray, band: int) -> tuple[np.ndarray, np.ndarray]:
    """DTW of curves a (N,) and b (M,) with cost |a_i - b_j|, steps (1,0), (0,1), (1,1), and
    |i - j| <= max(band, |N - M|). Returns the path's index arrays (i, j), both (P,), from
    (0, 0) to (N - 1, M - 1)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    n, m = a.size, b.size
    if n == 0 or m == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    w = max(int(band), abs(n - m))
    width = 2 * w + 1
    acc = np.full((n, width), np.inf)  # acc[i, k]: cell (i, j = i + k - w)
    step = np.zeros((n, width), np.int8)  # 0: diagonal, 1: from (i-1, j), 2: from (i, j-1)
    for i in range(n):
        ks = np.arange(width)
        js = i + ks - w
        ok = (js >= 0) & (js < m)
        cost = np.where(ok, np.abs(a[i] - b[np.clip(js, 0, m - 1)]), np.inf)  # width
        up = np.full(width, np.inf)  # (i-1, j): k + 1 in the row above
        diag = np.full(width, np.inf)  # (i-1, j-1): k in the row above
        if i > 0:
            diag = acc[i - 1].copy()
            up[:-1] = acc[i - 1, 1:]
        row = np.full(width, np.inf)
        for k in range(width):  # the left neighbour is in this row: sequential
            if not ok[k]:
                continue
            if i == 0 and js[k] == 0:
                row[k], step[i, k] = cost[k], 0
                continue
            left = row[k - 1] if k > 0 else np.inf
            choices = (diag[k], up[k], left)
            s = int(np.argmin(choices))
            row[k], step[i, k] = cost[k] + choices[s], s
        acc[i] = row
    i, k = n - 1, (m - 1) - (n - 1) + w
    path_i, path_j = [i], [i + k - w]
    while i > 0 or i + k - w > 0:
        s = step[i, k]
        if s == 0:
            i -= 1
        elif s == 1:
            i, k = i - 1, k + 1
        else:
            k -= 1
        path_i.append(i)
        path_j.append(i + k - w)
    return np.array(path_i[::-1], np.int64), np.array(path_j[::-1], np.int64)


def dtw_timing(generated: np.ndarray, reference: np.ndarray, lag: int, fps: float, band: int = 10) -> tuple[float, float]:
    """(mean signed offset, mean absolute offset) in ms of the DTW path between z-scored
    generated[t + lag] and reference[t] (``lag``: the clip's AV offset, as in
    ``metrics.lagged_pearson``); > 0: generated late. NaN when a curve is too short or flat."""
    g = np.asarray(generated, dtype=np.float64).reshape(-1)
    r = np.asarray(reference, dtype=np.float64).reshape(-1)
    n = min(g.size, r.size)
    g, r = (g[lag:n], r[: n - lag]) if lag >= 0 else (g[: n + lag], r[-lag:n])
    if g.size < 3 or g.std() < 1e-12 or r.std() < 1e-12:
        return float("nan"), float("nan")
    i, j = dtw_path(_z(g), _z(r), band)
    d = (i - j).astype(np.float64) * 1000.0 / fps
    return float(d.mean()), float(np.abs(d).mean())
