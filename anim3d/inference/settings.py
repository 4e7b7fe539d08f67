"""What a request asks of the motion model, and the checks that turn it into what the sampler uses.

``MotionSettings`` is the one description of the motion controls, shared by ``animate``, the streaming
animator and every command that generates motion (``anim3d animate``, ``render``, ``stream``). A field left
at None takes the checkpoint's value (its ``InferenceConfig``). ``resolve`` checks a request against a model
and returns the ``Conditions`` (model inputs) and the ``Sampling`` (how to denoise); each bad value is one
``ConditionError`` naming it, raised before any work.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from anim3d.errors import Anim3dError

SEED_MAX = 2**32 - 1  # seeds are whole numbers in [0, 2^32 - 1]; sample i of a batch uses seed + i
GAZE_MAX = 0.8  # radians (about 46 degrees): the gaze range the model was trained on
DISTANCE_MAX = 0.3  # metres of forward head offset
STEPS_MAX = 200
GUIDANCE_MAX = 10.0


class ConditionError(Anim3dError):
    """A control value (emotion, intensity, gaze, guidance...) that the model cannot use."""


@dataclass
class MotionSettings:
    """The motion controls of one request (gaze in radians; None = the checkpoint's choice where noted)."""

    emotion: str = "neutral"  # one of the model's emotion labels
    intensity: float = 1.0  # emotion intensity in [0, 1]
    gaze: tuple[float, float] | None = (0.0, 0.0)  # (yaw toward the subject's left, pitch down); None = free
    distance: float | None = 0.0  # forward head offset in metres; None = free
    style: object = None  # a Motion, a Motion .npz / Live Link .csv path, or None: no reference style
    seed: int = 0  # the same seed gives the same motion
    steps: int | None = None  # sampler steps
    sampler: str | None = None  # ddim, dpmpp_2m or euler_ancestral
    guidance: dict | None = None  # condition -> classifier-free guidance scale
    mouth_steps: int | None = None  # the mouth keeps the estimate of this sampler step (0: refined by every step)
    teacher_blend: float | None = None  # share in [0, 1] of the rule-based mouth blended into the generated one
    opening_share: float | None = None  # share in [0, 1] of the learned opening in jawOpen (anim3d.inference.opening)
    text: str | None = None  # the line's script: the words the audio says (None: audio only)
    language: str = "en"  # the script's language (anim3d.languages.LANGUAGES)

    def replace(self, **changes) -> "MotionSettings":
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise TypeError(f"unknown motion setting{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)


@dataclass
class Conditions:
    """The per-request model conditions, already checked."""

    emotion: int = 0
    intensity: float = 1.0
    gaze: tuple | None = (0.0, 0.0)  # radians; None = free
    distance: float | None = 0.0  # metres; None = free
    style: object = None  # (116,) normalised style vector or None


@dataclass
class Sampling:
    """How to denoise, already checked: every field filled from the request or the checkpoint."""

    steps: int
    sampler: str
    guidance: dict  # condition -> scale
    group_steps: dict  # channel group -> the step whose estimate it keeps (0: refined by every step)
    teacher_blend: float
    opening_share: float
    script_blend: float = 0.0  # the teacher blend share where the line's script is aligned to the audio


def check_conditions(settings: MotionSettings, emotions) -> Conditions:
    """The emotion index, intensity, gaze and distance of ``settings`` (style is the generator's job)."""
    names = list(emotions)
    key = str(settings.emotion).strip().lower()
    if key not in names:
        raise ConditionError(f"unknown emotion {settings.emotion!r}; choose one of: {', '.join(names)}")
    intensity = _number(settings.intensity, "intensity")
    if not 0.0 <= intensity <= 1.0:
        raise ConditionError(f"intensity must be between 0 and 1, got {settings.intensity}")
    gaze = settings.gaze
    if gaze is not None:
        try:
            gaze = tuple(float(g) for g in gaze)
        except (TypeError, ValueError):
            gaze = ()
        if len(gaze) != 2 or not all(math.isfinite(g) and abs(g) <= GAZE_MAX for g in gaze):
            raise ConditionError(f"gaze must be (yaw, pitch) in radians, each within +-{GAZE_MAX}, got {settings.gaze!r}")
    distance = settings.distance
    if distance is not None:
        distance = _number(distance, "distance")
        if not abs(distance) <= DISTANCE_MAX:
            raise ConditionError(f"distance must be a head offset in metres within +-{DISTANCE_MAX}, got {settings.distance}")
    return Conditions(names.index(key), intensity, gaze, distance)


def check_seed(seed, num_samples: int = 1) -> int:
    """A seed such that seed .. seed + num_samples - 1 are all valid."""
    top = SEED_MAX - (int(num_samples) - 1)
    if isinstance(seed, bool) or not hasattr(seed, "__index__") or not 0 <= int(seed) <= top:
        raise ConditionError(f"seed must be a whole number from 0 to {top}"
                             f"{f' (sample i uses seed + i, up to {SEED_MAX})' if top < SEED_MAX else ''}, got {seed!r}")
    return int(seed)


def resolve_sampling(settings: MotionSettings, inference) -> Sampling:
    """The request's sampling, each unset field taken from ``inference`` (the checkpoint's ``InferenceConfig``)."""
    from anim3d.models.diffusion import SAMPLERS

    steps = inference.steps if settings.steps is None else settings.steps
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= STEPS_MAX:
        raise ConditionError(f"steps must be a whole number between 1 and {STEPS_MAX}, got {steps!r}")
    sampler = settings.sampler or inference.sampler
    if sampler not in SAMPLERS:
        raise ConditionError(f"unknown sampler {sampler!r}; choose from {', '.join(SAMPLERS)}")
    group_steps = dict(inference.group_steps)
    if settings.mouth_steps is not None:
        group_steps["mouth"] = settings.mouth_steps
    return Sampling(steps, sampler, check_guidance(inference.guidance if settings.guidance is None else settings.guidance),
                    check_group_steps(group_steps, steps),
                    check_teacher_blend(inference.teacher_blend if settings.teacher_blend is None else settings.teacher_blend),
                    check_share(inference.opening_share if settings.opening_share is None else settings.opening_share,
                                "the learned opening share"),
                    check_teacher_blend(script_blend(settings, inference)))


def script_blend(settings: MotionSettings, inference) -> float:
    """The teacher blend share of a line with its script: the request's ``teacher_blend`` when it sets one, else the
    checkpoint's ``script_blend`` (its ``teacher_blend`` when it has none)."""
    if settings.teacher_blend is not None:
        return settings.teacher_blend
    return inference.teacher_blend if inference.script_blend is None else inference.script_blend


def check_guidance(guidance: dict) -> dict:
    from anim3d.models.config import CONDITIONS

    out = dict(guidance)
    for k, v in out.items():
        if k not in CONDITIONS:
            raise ConditionError(f"unknown guidance condition {k!r}; choose from {', '.join(CONDITIONS)}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and 0.0 <= v <= GUIDANCE_MAX):
            raise ConditionError(f"guidance scale for {k} must be a number in [0, {GUIDANCE_MAX:g}], got {v!r}")
    return out


def check_group_steps(group_steps: dict, steps: int) -> dict:
    """Channel group -> the sampler step whose estimate it keeps: known groups, whole steps in [0, steps]."""
    from anim3d.models.config import CHANNEL_GROUPS

    out = {}
    for name, k in group_steps.items():
        if name not in CHANNEL_GROUPS:
            raise ConditionError(f"unknown channel group {name!r}; choose from {', '.join(CHANNEL_GROUPS)}")
        if isinstance(k, bool) or not hasattr(k, "__index__") or k < 0:
            raise ConditionError(f"the step after which the {name} is kept must be a whole number >= 0, got {k!r}")
        if k > steps:
            raise ConditionError(f"the {name} cannot keep the estimate of step {k}: the sampler takes {steps} steps")
        out[name] = int(k)
    return out


def check_teacher_blend(share) -> float:
    return check_share(share, "the teacher blend share")


def check_share(share, what: str) -> float:
    share = _number(share, what)
    if not 0.0 <= share <= 1.0:
        raise ConditionError(f"{what} must be in [0, 1], got {share}")
    return share


def _number(value, what: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ConditionError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise ConditionError(f"{what} must be a finite number, got {value!r}")
    return out
