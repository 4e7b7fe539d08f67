"""The jaw driven by the learned mouth opening (``anim3d.models.opening``): how far real speakers' lips part.

The opening net answers in standard units; its config's ``jaw_mean`` and ``jaw_std`` say what jawOpen one unit
is (the jaw that parts the open head's lips as wide as the training speakers' lips part, on average and in
spread), so the learned jaw opens as real speakers do, in timing and in size. The checkpoint's
``inference.opening_share`` is the share of it in jawOpen; the other channels stay the motion's.

The net learnt the lip gap averaged over real speakers, and it does not shut the lips for the brief closure of
a p, b or m. The motion does, pressing its lips together (the teacher's bilabial viseme). Where it presses them
(``mouthPress`` at least ``PRESSED``), on the frames where the press peaks or its jaw is lowest (the moment of
the closure), the jaw opens no wider than the motion's own. Only those frames: on real voices the motion also
presses its lips through many frames where real speakers' lips are apart.
"""

from __future__ import annotations

import numpy as np

from anim3d.channels import INDEX

JAW = INDEX["jawOpen"]
PRESS = (INDEX["mouthPressLeft"], INDEX["mouthPressRight"])
PRESSED = 0.03  # mean mouthPress from which the lips count as pressed (held-out synthetic voices: the lips meet on
# 95-96 % of p/b/m, as with the motion's own jaw, 95-97 %)


def learned_jaw(net, feats: np.ndarray) -> np.ndarray:
    """T x F features of the motion model's front end -> (T,) jawOpen in [0, 1]."""
    z = net.opening(feats)  # T, standard units
    return np.clip(net.cfg.jaw_mean + net.cfg.jaw_std * z, 0.0, 1.0).astype(np.float32)


def closing(blendshapes: np.ndarray) -> np.ndarray:
    """T x 52 blendshapes -> (T,) bool: the moments the lips close, where they are pressed and the press peaks or the
    jaw is lowest among the frame and its two neighbours."""
    b = np.asarray(blendshapes, np.float32)
    press = b[:, list(PRESS)].mean(axis=1)
    return (press >= PRESSED) & (_peak(press) | _peak(-b[:, JAW]))


def _peak(x: np.ndarray) -> np.ndarray:
    """(T,) -> (T,) bool: x[t] is the largest of x[t - 1], x[t], x[t + 1] (the ends repeated)."""
    pad = np.pad(x, 1, mode="edge")
    return x >= np.maximum(np.maximum(pad[:-2], pad[1:-1]), pad[2:])


def blend_opening(blendshapes: np.ndarray, jaw: np.ndarray, share: float) -> np.ndarray:
    """T x 52 blendshapes, (T' >= T,) learned jaw -> T x 52 with jawOpen (1 - share) * its own + share * learned,
    but no wider than its own where the lips are ``closing``."""
    b = np.array(blendshapes, np.float32, copy=True)
    if len(jaw) < len(b):
        raise ValueError(f"the learned jaw has {len(jaw)} frames, the motion {len(b)}")
    own = b[:, JAW].copy()
    mixed = (1.0 - share) * own + share * np.asarray(jaw, np.float32)[: len(b)]
    b[:, JAW] = np.where(closing(b), np.minimum(own, mixed), mixed)
    return b
