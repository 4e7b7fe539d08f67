"""Argument types shared by the commands: each parses one option and refuses, in the unit the user
typed, a value the command could not use (argparse prints it as one line and exits 2)."""

from __future__ import annotations

import argparse
import math

FPS_MAX = 1000.0
GAZE_MAX_DEGREES = 45.0  # the motion model is trained on gaze within about +-46 degrees (0.8 rad)


def seed(text: str) -> int:
    """A seed: a whole number in [0, anim3d.pipeline.SEED_MAX]."""
    from anim3d.pipeline import SEED_MAX

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be between 0 and {SEED_MAX}, got {text}")
    return value


def fps(text: str) -> float:
    """A frame rate: a number in (0, 1000] frames per second."""
    value = _float(text)
    if not 0 < value <= FPS_MAX:
        raise argparse.ArgumentTypeError(f"must be a frame rate above 0 and at most {FPS_MAX:g} frames per second, got {text}")
    return value


def unit_interval(text: str) -> float:
    """A share or intensity in [0, 1]."""
    value = _float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def int_range(lo: int, hi: int, unit: str = ""):
    """A type for a whole number in [lo, hi]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be between {lo} and {hi}{' ' + unit if unit else ''}, got {text}")
        return value

    return parse


def finite_float(text: str) -> float:
    return _float(text)


def gaze_degrees(text: str) -> tuple[float, float]:
    """``YAW,PITCH`` in degrees, each within +-45."""
    try:
        yaw, pitch = (float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YAW,PITCH in degrees, e.g. 10,-5; got {text!r}") from None
    if not all(math.isfinite(v) and abs(v) <= GAZE_MAX_DEGREES for v in (yaw, pitch)):
        raise argparse.ArgumentTypeError(f"each angle must be within +-{GAZE_MAX_DEGREES:g} degrees, got {text}")
    return yaw, pitch


def guidance(text: str) -> dict:
    """``NAME=SCALE[,NAME=SCALE...]`` classifier-free guidance scales."""
    out = {}
    for part in filter(None, text.replace(" ", "").split(",")):
        key, _, val = part.partition("=")
        try:
            out[key] = float(val)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected NAME=SCALE[,NAME=SCALE...], e.g. audio=2,emotion=1.5; got {text!r}") from None
        if not math.isfinite(out[key]):
            raise argparse.ArgumentTypeError(f"the scale of {key} must be a finite number, got {val}")
    return out


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value
