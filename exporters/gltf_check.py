"""Checking a user's glTF JSON before anything follows it: types, indices and byte ranges.

    check_document(path, doc, blob)    # raises InputError naming the object

The rules are the glTF 2.0 specification's, limited to what the exporters read or write
beside: every index points at an existing object; every bufferView lies inside its buffer
and every accessor (and sparse part) inside its bufferView; component types, element types,
strides and alignments are the allowed ones; nodes form a forest; a mesh's primitives have
the same number of morph targets and its default weights match them; the node and mesh
fields the retargeter reads have the specified types.
"""

from __future__ import annotations

import math

import numpy as np

from anim3d.errors import InputError

COMPONENT_SIZE = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
TYPE_SHAPE = {"SCALAR": (1, 1), "VEC2": (2, 1), "VEC3": (3, 1), "VEC4": (4, 1), "MAT2": (2, 2), "MAT3": (3, 3), "MAT4": (4, 4)}
SPARSE_INDEX_DTYPE = {5121: np.dtype("u1"), 5123: np.dtype("<u2"), 5125: np.dtype("<u4")}
ARRAYS = ("accessors", "animations", "buffers", "bufferViews", "cameras", "images", "materials", "meshes", "nodes",
          "samplers", "scenes", "skins", "textures")
# (array, path inside each element, array pointed at): "[]" is every item of a list,
# "*" every value of an object
REFS = (
    ("bufferViews", "buffer", "buffers"),
    ("accessors", "bufferView", "bufferViews"),
    ("accessors", "sparse.indices.bufferView", "bufferViews"),
    ("accessors", "sparse.values.bufferView", "bufferViews"),
    ("images", "bufferView", "bufferViews"),
    ("textures", "source", "images"),
    ("textures", "sampler", "samplers"),
    ("meshes", "primitives.[].indices", "accessors"),
    ("meshes", "primitives.[].material", "materials"),
    ("meshes", "primitives.[].attributes.*", "accessors"),
    ("meshes", "primitives.[].targets.[].*", "accessors"),
    ("nodes", "mesh", "meshes"),
    ("nodes", "skin", "skins"),
    ("nodes", "camera", "cameras"),
    ("nodes", "children.[]", "nodes"),
    ("skins", "joints.[]", "nodes"),
    ("skins", "skeleton", "nodes"),
    ("skins", "inverseBindMatrices", "accessors"),
    ("scenes", "nodes.[]", "nodes"),
    ("animations", "samplers.[].input", "accessors"),
    ("animations", "samplers.[].output", "accessors"),
    ("animations", "channels.[].target.node", "nodes"),
)
NODE_VECTORS = {"matrix": 16, "rotation": 4, "translation": 3, "scale": 3}


def _is_int(v) -> bool:
    return type(v) is int


def _is_number(v) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


def _walk(path: str, obj, parts: list[str], label: str):
    """(label, value) for each value at ``parts`` below ``obj``; absent keys yield nothing."""
    if not parts:
        yield label, obj
        return
    head, rest = parts[0], parts[1:]
    if head == "[]":
        if not isinstance(obj, list):
            raise InputError(path, f"{label} is a {type(obj).__name__}, not a list")
        for i, v in enumerate(obj):
            yield from _walk(path, v, rest, f"{label}[{i}]")
        return
    if not isinstance(obj, dict):
        raise InputError(path, f"{label} is a {type(obj).__name__}, not an object")
    if head == "*":
        for k, v in obj.items():
            yield from _walk(path, v, rest, f"{label}.{k}")
    elif head in obj:
        yield from _walk(path, obj[head], rest, f"{label}.{head}")


def _int(path: str, obj: dict, key: str, label: str, lo: int = 0, default=None, required: bool = False):
    """obj[key] as an integer >= lo (``default`` when absent and not required)."""
    if key not in obj:
        if required:
            raise InputError(path, f"{label} has no {key}")
        return default
    v = obj[key]
    if not _is_int(v) or v < lo:
        raise InputError(path, f"{label}.{key} is {v!r:.40}, not an integer >= {lo}")
    return v


def check_arrays(path: str, doc: dict) -> None:
    """The top-level arrays are lists of objects."""
    for key in ARRAYS:
        if key in doc and not (isinstance(doc[key], list) and all(isinstance(x, dict) for x in doc[key])):
            raise InputError(path, f"'{key}' is not a list of objects")
    if not isinstance(doc.get("extensions", {}), dict):
        raise InputError(path, "'extensions' is not an object")


def check_refs(path: str, doc: dict) -> None:
    """Every index in REFS (and each channel's sampler, and the default scene) points at an object."""
    for array, where, target in REFS:
        n = len(doc.get(target, []))
        for i, obj in enumerate(doc.get(array, [])):
            for label, v in _walk(path, obj, where.split("."), f"{array}[{i}]"):
                if not _is_int(v) or not 0 <= v < n:
                    raise InputError(path, f"{label} is {v!r:.40}, but the file has {n} {target}")
    for i, anim in enumerate(doc.get("animations", [])):
        n = len(anim.get("samplers", []))
        for label, v in _walk(path, anim, ["channels", "[]", "sampler"], f"animations[{i}]"):
            if not _is_int(v) or not 0 <= v < n:
                raise InputError(path, f"{label} is {v!r:.40}, but the animation has {n} samplers")
    if "scene" in doc and not (_is_int(doc["scene"]) and 0 <= doc["scene"] < len(doc.get("scenes", []))):
        raise InputError(path, f"scene is {doc['scene']!r:.40}, but the file has {len(doc.get('scenes', []))} scenes")


def check_buffer_views(path: str, doc: dict) -> None:
    """Each bufferView lies inside its buffer (by the buffer's byteLength), with a valid stride and target."""
    buffer_lengths = [b["byteLength"] for b in doc.get("buffers", [])]
    for i, bv in enumerate(doc.get("bufferViews", [])):
        label = f"bufferViews[{i}]"
        b = _int(path, bv, "buffer", label, required=True)
        length = _int(path, bv, "byteLength", label, lo=1, required=True)
        offset = _int(path, bv, "byteOffset", label, default=0)
        stride = _int(path, bv, "byteStride", label, lo=4)
        if stride is not None and (stride > 252 or stride % 4):
            raise InputError(path, f"{label}.byteStride is {stride}, not a multiple of 4 in 4..252")
        if "target" in bv and not (_is_int(bv["target"]) and bv["target"] in (34962, 34963)):
            raise InputError(path, f"{label}.target is {bv['target']!r:.40}, not 34962 or 34963")
        if offset + length > buffer_lengths[b]:
            raise InputError(path, f"{label} covers bytes {offset}..{offset + length} past the end of buffer {b} ({buffer_lengths[b]} bytes)")


def element_size(component_type: int, type_: str) -> int:
    """Bytes of one element; matrix columns start on 4-byte boundaries."""
    rows, cols = TYPE_SHAPE[type_]
    col = rows * COMPONENT_SIZE[component_type]
    return cols * (col + (-col) % 4) if cols > 1 else col


def _view_range(path: str, doc: dict, view: int, offset: int, nbytes: int, label: str) -> int:
    """Absolute start of ``nbytes`` at ``offset`` in bufferView ``view``; raises if they do not fit."""
    bv = doc["bufferViews"][view]
    if offset + nbytes > bv["byteLength"]:
        raise InputError(path, f"{label} reads bytes {offset}..{offset + nbytes} past the end of bufferView {view} ({bv['byteLength']} bytes)")
    return bv.get("byteOffset", 0) + offset


def _check_sparse(path: str, doc: dict, acc: dict, label: str, elem: int, blob: bytes | None) -> None:
    sp = acc["sparse"]
    if not isinstance(sp, dict) or not isinstance(sp.get("indices"), dict) or not isinstance(sp.get("values"), dict):
        raise InputError(path, f"{label}.sparse needs count, indices and values")
    count = _int(path, sp, "count", f"{label}.sparse", lo=1, required=True)
    if count > acc["count"]:
        raise InputError(path, f"{label}.sparse.count {count} exceeds the accessor's count {acc['count']}")
    ind, val = sp["indices"], sp["values"]
    ctype = ind.get("componentType")
    if not _is_int(ctype) or ctype not in SPARSE_INDEX_DTYPE:
        raise InputError(path, f"{label}.sparse.indices.componentType is {ctype!r:.40}, not 5121, 5123 or 5125")
    for part, obj, size in (("indices", ind, COMPONENT_SIZE[ctype]), ("values", val, elem)):
        view = _int(path, obj, "bufferView", f"{label}.sparse.{part}", required=True)
        off = _int(path, obj, "byteOffset", f"{label}.sparse.{part}", default=0)
        start = _view_range(path, doc, view, off, count * size, f"{label}.sparse.{part}")
        if part == "indices" and blob is not None:
            idx = np.frombuffer(blob, SPARSE_INDEX_DTYPE[ctype], count=count, offset=start).astype(np.int64)
            if idx.max() >= acc["count"] or np.any(np.diff(idx) <= 0):
                raise InputError(path, f"{label}.sparse.indices are not increasing indices below {acc['count']}")


def check_accessors(path: str, doc: dict, blob: bytes | None = None) -> None:
    """Each accessor has a valid component type and type, and reads inside its bufferView.

    ``blob`` (buffer 0) lets sparse indices be checked against the accessor's count.
    """
    for i, acc in enumerate(doc.get("accessors", [])):
        label = f"accessors[{i}]"
        ctype, type_ = acc.get("componentType"), acc.get("type")
        if not _is_int(ctype) or ctype not in COMPONENT_SIZE:
            raise InputError(path, f"{label}.componentType is {ctype!r:.40}, not one of {sorted(COMPONENT_SIZE)}")
        if not isinstance(type_, str) or type_ not in TYPE_SHAPE:
            raise InputError(path, f"{label}.type is {type_!r:.40}, not one of {', '.join(TYPE_SHAPE)}")
        count = _int(path, acc, "count", label, lo=1, required=True)
        offset = _int(path, acc, "byteOffset", label, default=0)
        comps = TYPE_SHAPE[type_][0] * TYPE_SHAPE[type_][1]
        for key in ("min", "max"):
            if key in acc and not (isinstance(acc[key], list) and len(acc[key]) == comps and all(map(_is_number, acc[key]))):
                raise InputError(path, f"{label}.{key} is not a list of {comps} numbers")
        elem = element_size(ctype, type_)
        if "bufferView" in acc:
            view = acc["bufferView"]
            stride = doc["bufferViews"][view].get("byteStride") or elem
            if stride < elem:
                raise InputError(path, f"{label} has {elem}-byte elements but bufferView {view} has a stride of {stride}")
            start = _view_range(path, doc, view, offset, stride * (count - 1) + elem, label)
            if start % COMPONENT_SIZE[ctype]:
                raise InputError(path, f"{label} starts at byte {start}, not a multiple of its component size {COMPONENT_SIZE[ctype]}")
        if "sparse" in acc:
            _check_sparse(path, doc, acc, label, elem, blob)


def _numbers(path: str, obj: dict, key: str, label: str, n: int | None = None) -> None:
    v = obj.get(key)
    if v is not None and not (isinstance(v, list) and (n is None or len(v) == n) and all(map(_is_number, v))):
        raise InputError(path, f"{label}.{key} is not a list of {n or 'some'} numbers")


def _name(path: str, obj: dict, label: str) -> None:
    if "name" in obj and not isinstance(obj["name"], str):
        raise InputError(path, f"{label}.name is not a string")


def check_meshes(path: str, doc: dict) -> list[int]:
    """Morph target counts per mesh (equal over its primitives, matched by ``weights``)."""
    counts = []
    for i, mesh in enumerate(doc.get("meshes", [])):
        label = f"meshes[{i}]"
        _name(path, mesh, label)
        prims = mesh.get("primitives")
        if not isinstance(prims, list) or not prims or not all(isinstance(p, dict) for p in prims):
            raise InputError(path, f"{label}.primitives is not a non-empty list of objects")
        for k, p in enumerate(prims):
            if not isinstance(p.get("attributes"), dict):
                raise InputError(path, f"{label}.primitives[{k}].attributes is not an object")
            if not isinstance(p.get("targets", []), list):
                raise InputError(path, f"{label}.primitives[{k}].targets is not a list")
        n = {len(p.get("targets", [])) for p in prims}
        if len(n) > 1:
            raise InputError(path, f"{label}'s primitives have different numbers of morph targets ({sorted(n)})")
        counts.append(n.pop())
        _numbers(path, mesh, "weights", label, counts[-1])
    return counts


def check_nodes(path: str, doc: dict, target_counts: list[int]) -> None:
    """Node fields have their types, node weights match the mesh, and nodes form a forest."""
    nodes = doc.get("nodes", [])
    parent: dict[int, int] = {}
    for i, node in enumerate(nodes):
        label = f"nodes[{i}]"
        _name(path, node, label)
        for key, n in NODE_VECTORS.items():
            _numbers(path, node, key, label, n)
        if "weights" in node:
            _numbers(path, node, "weights", label, target_counts[node["mesh"]] if "mesh" in node else None)
        for c in node.get("children", []):
            if c == i:
                raise InputError(path, f"node {c} is its own child")
            if c in parent:
                raise InputError(path, f"node {c} has more than one parent")
            parent[c] = i
    for i in range(len(nodes)):
        seen, j = set(), i
        while j in parent:
            if j in seen:
                raise InputError(path, f"node {i} is its own ancestor (the node hierarchy has a cycle)")
            seen.add(j)
            j = parent[j]


def check_document(path: str, doc: dict, blob: bytes | None = None) -> None:
    """All checks above, in the order that lets each rely on the ones before. The caller has
    checked that each buffer's data holds its byteLength; ``blob`` is buffer 0's data."""
    check_arrays(path, doc)
    for i, buf in enumerate(doc.get("buffers", [])):
        _int(path, buf, "byteLength", f"buffers[{i}]", lo=1, required=True)
    check_refs(path, doc)
    check_buffer_views(path, doc)
    check_accessors(path, doc, blob)
    check_nodes(path, doc, check_meshes(path, doc))
    for i, img in enumerate(doc.get("images", [])):
        if ("uri" in img) == ("bufferView" in img) or ("bufferView" in img and not isinstance(img.get("mimeType"), str)):
            raise InputError(path, f"images[{i}] needs either a uri or a bufferView with a mimeType")
    for i, anim in enumerate(doc.get("animations", [])):
        for label, ch in _walk(path, anim, ["channels", "[]"], f"animations[{i}]"):
            if not isinstance(ch, dict) or not isinstance(ch.get("target"), dict) or not isinstance(ch["target"].get("path"), str):
                raise InputError(path, f"{label} has no target path")
        for label, s in _walk(path, anim, ["samplers", "[]"], f"animations[{i}]"):
            if not isinstance(s, dict) or "input" not in s or "output" not in s:
                raise InputError(path, f"{label} needs an input and an output accessor")
