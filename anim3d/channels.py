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

import re

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
_DIRECTIONAL = frozenset({"jawLeft", "jawRight", "mouthLeft", "mouthRight"})


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
    if name in _DIRECTIONAL:
        return name
    if name.endswith("Left"):
        return name[:-4] + "_L"
    if name.endswith("Right"):
        return name[:-5] + "_R"
    return name


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


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


# Every spelling we accept, folded to a key: lower case, no separators, sides spelled out.
_LOOKUP: dict[str, str] = {}
for _n in ARKIT_NAMES:
    _LOOKUP[_key(_n)] = _n
    _LOOKUP[_key(to_apple_raw(_n))] = _n

_PREFIXES = ("blendshape", "blendshapes", "arkit", "shape", "key", "morph", "bs", "target")


def canonical_name(name: str) -> str | None:
    """Map any common spelling of an ARKit shape name to Apple's camelCase, else None.

    Accepts camelCase, PascalCase, snake/kebab case, ``_L``/``_R``/``.L``/``.R``/
    ``Left``/``Right`` side suffixes, any letter case, and namespace prefixes such as
    ``blendShape1.jawOpen`` or ``ARKit_jawOpen`` (Maya, Ready Player Me exports).
    """
    base = name.rsplit(".", 1)
    candidates = [name]
    if len(base) == 2 and base[1] not in ("L", "R", "l", "r"):
        candidates.append(base[1])  # strip "blendShape1." style namespaces
    for cand in candidates:
        k = _key(cand)
        # side suffix spellings: "_l", ".L", "-left"... fold "eyeblinkl" -> "eyeblinkleft"
        side = re.search(r"[._\- ]([lLrR])$", cand)
        if side:
            k = k[:-1] + ("left" if side.group(1).lower() == "l" else "right")
        if k in _LOOKUP:
            return _LOOKUP[k]
        for p in _PREFIXES:
            if k.startswith(p):
                rest = k[len(p):].lstrip("0123456789")
                if rest in _LOOKUP:
                    return _LOOKUP[rest]
    return None


# Gaze: the eyeLook* channels rotate the eyes. Maximum angles (radians) at weight 1,
# close to what ARKit reports for a full look in each direction.
EYE_MAX_YAW = 0.52  # ~30 degrees
EYE_MAX_UP = 0.35  # ~20 degrees
EYE_MAX_DOWN = 0.44  # ~25 degrees
