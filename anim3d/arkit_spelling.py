"""ARKit shape names in any common spelling -> Apple's camelCase: the rules of ``anim3d.channels.canonical_name``
(camelCase, PascalCase, snake/kebab case, ``_L``/``_R``/``.L``/``.R``/``Left``/``Right`` sides, any letter case,
namespace prefixes such as ``blendShape1.jawOpen``).

Standard library only: the Blender add-on ships this very file as its ``arkit_names`` module
(``anim3d.exporters.blender_addon``), because it runs in Blender's own Python, which cannot import anim3d (it
needs torch); there the names come from the Live Link Face CSV that ``anim3d animate`` writes.
"""

import re

PREFIXES = ("blendshape", "blendshapes", "arkit", "shape", "key", "morph", "bs", "target")
DIRECTIONAL = ("jawLeft", "jawRight", "mouthLeft", "mouthRight")  # Left/Right is a movement, not a side


def fold(name):
    return re.sub(r"[^a-z0-9]", "", name.lower())


def apple_raw(name):
    """``eyeBlinkLeft`` -> ``eyeBlink_L``; the directional names stay."""
    if name in DIRECTIONAL:
        return name
    if name.endswith("Left"):
        return name[:-4] + "_L"
    if name.endswith("Right"):
        return name[:-5] + "_R"
    return name


def lookup_table(names):
    """camelCase ARKit names -> {folded spelling: name}."""
    table = {}
    for n in names:
        table[fold(n)] = n
        table[fold(apple_raw(n))] = n
    return table


def canonical(name, table):
    """The ARKit name ``name`` spells (a value of ``table``, made by ``lookup_table``), or None."""
    base = name.rsplit(".", 1)
    candidates = [name]
    if len(base) == 2 and base[1] not in ("L", "R", "l", "r"):
        candidates.append(base[1])  # strip "blendShape1." style namespaces
    for cand in candidates:
        k = fold(cand)
        side = re.search(r"[._\- ]([lLrR])$", cand)
        if side:
            k = k[:-1] + ("left" if side.group(1).lower() == "l" else "right")
        if k in table:
            return table[k]
        for p in PREFIXES:
            if k.startswith(p):
                rest = k[len(p):].lstrip("0123456789")
                if rest in table:
                    return table[rest]
    return None
