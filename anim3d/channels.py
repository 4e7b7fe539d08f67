"""ARKit-52 channel names and the conversions between the spellings ecosystems use.

Canonical names are Apple's camelCase ``ARFaceAnchor.BlendShapeLocation`` names in
Apple's documented order (``eyeBlinkLeft`` ... ``tongueOut``). Other spellings:

- PascalCase (VRM "perfect sync", Live Link Face): ``EyeBlinkLeft``.
- Apple's raw string values: ``eyeBlink_L`` (only the *side* suffix changes;
  ``jawLeft``/``mouthRight`` are directions, not sides, and stay as they are).

Foreign files must be parsed by column name: Live Link Face, for example, lists
JawRight before JawLeft and MouthRight before MouthLeft.
"""

from __future__ import annotations

from anim3d import arkit_spelling

# Apple's order (ARFaceAnchor.BlendShapeLocation documentation).
ARKIT_NAMES: tuple[str, ...] = (
    # left eye
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft",
    "eyeLookUpLeft", "eyeSquintLeft", "eyeWideLeft",
    # right eye
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight",
    "eyeLookUpRight", "eyeSquintRight", "eyeWideRight",
    # jaw
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    # mouth
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    # brows
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    # cheeks, nose, tongue
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)
NUM_BLENDSHAPES = len(ARKIT_NAMES)
assert NUM_BLENDSHAPES == 52
INDEX: dict[str, int] = {n: i for i, n in enumerate(ARKIT_NAMES)}

# Names whose Left/Right is a direction of movement, not a side of the face.
_DIRECTIONAL = frozenset(arkit_spelling.DIRECTIONAL)


def _check(name: str) -> None:
    if name not in INDEX:
        raise KeyError(f"not an ARKit blendshape name: {name!r}")


def to_pascal(name: str) -> str:
    """``eyeBlinkLeft`` -> ``EyeBlinkLeft`` (VRM perfect sync, Live Link Face)."""
    _check(name)
    return name[0].upper() + name[1:]


def from_pascal(name: str) -> str:
    """``EyeBlinkLeft`` -> ``eyeBlinkLeft``."""
    out = name[0].lower() + name[1:]
    _check(out)
    return out


def to_apple_raw(name: str) -> str:
    """``eyeBlinkLeft`` -> ``eyeBlink_L``; ``jawLeft`` stays ``jawLeft``."""
    _check(name)
    return arkit_spelling.apple_raw(name)


def from_apple_raw(name: str) -> str:
    """``eyeBlink_L`` -> ``eyeBlinkLeft``."""
    if name.endswith("_L"):
        out = name[:-2] + "Left"
    elif name.endswith("_R"):
        out = name[:-2] + "Right"
    else:
        out = name
    _check(out)
    if out in _DIRECTIONAL and out != name:
        raise KeyError(f"not an ARKit raw blendshape name: {name!r}")
    return out


PASCAL_NAMES: tuple[str, ...] = tuple(to_pascal(n) for n in ARKIT_NAMES)
APPLE_RAW_NAMES: tuple[str, ...] = tuple(to_apple_raw(n) for n in ARKIT_NAMES)


_LOOKUP: dict[str, str] = arkit_spelling.lookup_table(ARKIT_NAMES)  # every spelling we accept, folded -> name


def canonical_name(name: str) -> str | None:
    """Map any common spelling of an ARKit shape name to Apple's camelCase, else None.

    Accepts camelCase, PascalCase, snake/kebab case, ``_L``/``_R``/``.L``/``.R``/
    ``Left``/``Right`` side suffixes, any letter case, and namespace prefixes such as
    ``blendShape1.jawOpen`` or ``ARKit_jawOpen`` (Maya, Ready Player Me exports)
    (``anim3d.arkit_spelling``, which the Blender add-on ships too).
    """
    return arkit_spelling.canonical(name, _LOOKUP)


# Gaze: the eyeLook* channels rotate the eyes. Maximum angles (radians) at weight 1,
# close to what ARKit reports for a full look in each direction.
EYE_MAX_YAW = 0.52  # ~30 degrees
EYE_MAX_UP = 0.35  # ~20 degrees
EYE_MAX_DOWN = 0.44  # ~25 degrees
