"""What the commands share on the command line: the motion controls (``add_motion_arguments`` and
``motion_settings``, one definition for ``animate``, ``render`` and ``stream``), and argument types that
refuse, in the unit the user typed, a value the command could not use (one line, exit 2)."""

from __future__ import annotations

import argparse
import math

FPS_MAX = 1000.0
GAZE_MAX_DEGREES = 45.0  # the motion model is trained on gaze within about +-46 degrees (0.8 rad)
SAMPLERS = ("ddim", "dpmpp_2m", "euler_ancestral")  # models.diffusion.SAMPLERS (named here: --help stays torch-free)
LANGUAGE_CODES = ("en", "es", "fr", "de", "it", "pt", "ru", "ja", "zh", "ko")  # anim3d.languages.LANGUAGES (as above)


def add_motion_arguments(p: argparse.ArgumentParser, *, batch: bool = False) -> None:
    """The motion controls, as every command that generates motion takes them (``motion_settings`` reads
    them back). ``batch``: also ``--num-samples`` (several takes in one batch)."""
    from anim3d.emotions import EMOTIONS
    from anim3d.models.config import CONDITIONS

    g = p.add_argument_group("motion controls")
    g.add_argument("--emotion", default="neutral", help=f"one of: {', '.join(EMOTIONS)} (default neutral)")
    g.add_argument("--intensity", type=unit_interval, default=1.0, help="emotion intensity 0..1 (default 1)")
    g.add_argument("--gaze", type=gaze_degrees, default=(0.0, 0.0), metavar="YAW,PITCH",
                   help="gaze direction in degrees, each within +-45: yaw toward the subject's left, pitch down (default 0,0)")
    g.add_argument("--free-gaze", action="store_true", help="let the model choose the gaze (ignore --gaze)")
    g.add_argument("--distance", type=finite_float, default=0.0,
                   help="head forward offset in metres, + toward the camera, within +-0.3 (default 0)")
    g.add_argument("--style", help="reference clip whose speaking style to follow: a Motion .npz or a Live Link Face .csv")
    g = p.add_argument_group("script")
    t = g.add_mutually_exclusive_group()
    t.add_argument("--text", help="the words the audio says; the mouth follows their phones aligned to the audio "
                   "(a script that does not match the audio is warned about, and the audio alone is used)")
    t.add_argument("--transcript", metavar="FILE", help="as --text, read from a UTF-8 text file")
    g.add_argument("--language", default="en", metavar="CODE",
                   help=f"the script's language: {', '.join(LANGUAGE_CODES)} (default en)")
    g = p.add_argument_group("sampling")
    g.add_argument("--steps", type=int_range(1, 200), help="sampler steps (default: the checkpoint's)")
    g.add_argument("--sampler", choices=SAMPLERS, help="sampler (default: the checkpoint's)")
    g.add_argument("--guidance", type=guidance,
                   help=f"classifier-free guidance per condition, e.g. audio=2,emotion=1.5 ({', '.join(CONDITIONS)}; default: the checkpoint's)")
    g.add_argument("--mouth-steps", type=int_range(0, 200), metavar="K",
                   help="the mouth keeps the estimate of sampler step K while later steps refine the rest; "
                        "0 samples it with every step like the rest (default: the checkpoint's)")
    g.add_argument("--teacher-blend", type=unit_interval, metavar="SHARE",
                   help="share 0..1 of the rule-based mouth (visemes on the audio's recognised phones) blended into "
                        "the generated lips and jaw; 0 = the model's mouth alone (default: the checkpoint's)")
    g.add_argument("--opening-share", type=unit_interval, metavar="SHARE",
                   help="share 0..1 of the learned opening (learnt from videos of real speakers; see the model card) "
                        "in the jaw; 0 = without it (default: the checkpoint's)")
    if batch:
        g.add_argument("--num-samples", type=int_range(1, 64), default=1,
                       help="N different takes (seeds seed..seed+N-1), generated in one batch")
    g = p.add_argument_group("model")
    g.add_argument("--checkpoint", help="a motion model checkpoint folder (default: the shipped model)")


def motion_settings(args: argparse.Namespace):
    """The ``MotionSettings`` of parsed ``add_motion_arguments`` options (gaze turned into radians)."""
    from anim3d.inference.settings import MotionSettings

    from anim3d.script import read_transcript

    gaze = None if args.free_gaze else (math.radians(args.gaze[0]), math.radians(args.gaze[1]))
    text = read_transcript(args.transcript) if args.transcript else args.text
    return MotionSettings(text=text, language=args.language, emotion=args.emotion, intensity=args.intensity, gaze=gaze, distance=args.distance,
                          style=args.style, seed=args.seed, steps=args.steps, sampler=args.sampler,
                          guidance=args.guidance, mouth_steps=args.mouth_steps, teacher_blend=args.teacher_blend,
                          opening_share=args.opening_share)


def seed(text: str) -> int:
    """A seed: a whole number in [0, anim3d.inference.settings.SEED_MAX]."""
    from anim3d.inference.settings import SEED_MAX  # here, not at the top: the package loads torch

    return int_range(0, SEED_MAX)(text)


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
