"""Fuzzing the avatar reader: damaged GLB/glTF avatars retarget or raise one Anim3dError
naming the file; never another exception or a hang, and nothing but the output is written."""

from __future__ import annotations

import copy
import functools
import json
import random
import struct
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from anim3d.errors import Anim3dError
from anim3d.motion import Motion
from anim3d.exporters.gltf_read import read_document, read_gltf
from anim3d.exporters.retarget import retarget
from fuzzing import fuzz_settings, loads_or_names_the_file, mutations
from test_gltf import run_validator
from test_retarget import FACE_TARGETS, build_avatar

STRUCTURE = ("buffers", "bufferViews", "accessors", "meshes", "nodes", "scenes", "animations", "images", "textures")
ODD_NUMBERS = st.one_of(st.integers(-3, 300), st.sampled_from([2**31, 2**32 + 1, 2**53, 10**30, 0.5, 1.0, -0.0, 1e308]))
ODD_VALUES = st.one_of(ODD_NUMBERS, st.sampled_from([None, "1", [], {}, True, [0, 1], "SCALAR", "MAT3"]))


def glb(js: bytes, blob: bytes | None) -> bytes:
    """A GLB container around a JSON chunk (padded with spaces) and an optional BIN chunk."""
    js += b" " * (-len(js) % 4)
    body = struct.pack("<II", len(js), 0x4E4F534A) + js
    if blob is not None:
        body += struct.pack("<II", len(blob), 0x004E4942) + blob
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


@functools.lru_cache(maxsize=None)
def bases() -> list[tuple[bytes, bytes]]:
    """(JSON, BIN) of a plain avatar and of one that already has an animation (an earlier export)."""
    with tempfile.TemporaryDirectory() as d:
        plain = build_avatar(Path(d) / "plain.glb", {"Face": FACE_TARGETS[:3], "Lashes": ["eyeBlinkLeft"]})
        retarget(Motion.neutral(3), plain, Path(d) / "animated.glb")
        out = []
        for p in (plain, Path(d) / "animated.glb"):
            data = p.read_bytes()
            n = struct.unpack_from("<I", data, 12)[0]
            out.append((json.dumps(read_document(p)[0]).encode(), data[28 + n :]))
        return out


def fields(doc: dict, numbers_only: bool) -> list[tuple[object, object]]:
    """(container, key) of the values in the structural arrays (every number, or every value
    at all), not accessor min/max."""
    found = [] if numbers_only else [(doc, k) for k in doc]

    def walk(obj):
        items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
        for k, v in items:
            if k in ("min", "max", "extras"):
                continue
            if not numbers_only or type(v) in (int, float):
                found.append((obj, k))
            walk(v)

    for key in STRUCTURE + ("extensions",):
        walk(doc.get(key, []))
    return found


@st.composite
def damaged_glb(draw) -> bytes:
    js, blob = draw(st.sampled_from(bases()))
    kind = draw(st.sampled_from(["file", "json", "bin", "numbers", "values"]))
    if kind == "file":
        return draw(mutations(glb(js, blob)))
    if kind == "json":
        return glb(draw(mutations(js)), blob)
    if kind == "bin":
        return glb(js, draw(mutations(blob)))
    doc = json.loads(js)
    for _ in range(draw(st.integers(1, 3))):
        where = fields(doc, numbers_only=kind == "numbers")
        obj, key = where[draw(st.integers(0, len(where) - 1))]
        obj[key] = copy.deepcopy(draw(ODD_NUMBERS if kind == "numbers" and draw(st.booleans()) else ODD_VALUES))
    return glb(json.dumps(doc).encode(), blob)


def retarget_damaged(files: dict[str, bytes], avatar: str) -> bool:
    """Write ``files`` in a fresh folder and retarget ``avatar`` (one of them) to out.glb there.
    True when it was accepted; checks that only out.glb was added, and only then."""
    with tempfile.TemporaryDirectory() as d:
        for name, data in files.items():
            (Path(d) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(d) / name).write_bytes(data)
        out = Path(d) / "out.glb"
        ok = loads_or_names_the_file(lambda: retarget(Motion.neutral(3), Path(d) / avatar, out), avatar)
        expected = sorted(files) + (["out.glb"] if ok else [])
        assert sorted(str(p.relative_to(d)) for p in Path(d).rglob("*") if not p.is_dir()) == sorted(expected)
        if ok:
            read_gltf(out)  # what is written passes the same checks
        return ok


@fuzz_settings(300)
@given(damaged_glb())
def test_damaged_glb_avatars(data):
    retarget_damaged({"avatar.glb": data}, "avatar.glb")


def gltf_files() -> dict[str, bytes]:
    """A .gltf avatar whose buffer and texture are files beside it."""
    js, blob = bases()[0]
    doc = json.loads(js)
    doc["buffers"] = [{"uri": "avatar%20data.bin", "byteLength": len(blob)}]
    doc["images"] = [{"uri": "tex/skin.png"}]
    doc["textures"] = [{"source": 0}]
    png = b"\x89PNG\r\n\x1a\n" + bytes(24)
    return {"avatar.gltf": json.dumps(doc, indent=1).encode(), "avatar data.bin": blob, "tex/skin.png": png}


def test_the_undamaged_avatars_retarget():
    assert all(retarget_damaged({"avatar.glb": glb(js, blob)}, "avatar.glb") for js, blob in bases())
    assert retarget_damaged(gltf_files(), "avatar.gltf")


@fuzz_settings(150)
@given(st.data())
def test_damaged_gltf_avatars(data):
    files = gltf_files()
    files["avatar.gltf"] = data.draw(mutations(files["avatar.gltf"]))
    retarget_damaged(files, "avatar.gltf")


def test_accepted_damage_adds_no_validator_errors(tmp_path):
    """Avatars with damaged numbers that are still accepted: the output has no error code that
    the input does not already have (the retargeter adds nothing invalid)."""
    rng = random.Random(7)
    pairs = []
    while len(pairs) < 25:
        js, blob = bases()[rng.randrange(2)]
        doc = json.loads(js)
        where = fields(doc, numbers_only=True)
        obj, key = where[rng.randrange(len(where))]
        obj[key] = rng.choice([0, 1, 2, 3, 4, 5, 8, 12, 16, 24, 48, 0.5, -0.0])
        k = len(pairs)
        (tmp_path / f"in{k}.glb").write_bytes(glb(json.dumps(doc).encode(), blob))
        try:
            retarget(Motion.neutral(3), tmp_path / f"in{k}.glb", tmp_path / f"out{k}.glb")
        except Anim3dError:
            (tmp_path / f"in{k}.glb").unlink()
            continue
        pairs.append(k)
    reports = run_validator(*[tmp_path / f"{s}{k}.glb" for k in pairs for s in ("in", "out")])
    for k in pairs:
        before, after = reports[2 * pairs.index(k)], reports[2 * pairs.index(k) + 1]
        new = {e["code"] for e in after["errors"]} - {e["code"] for e in before["errors"]}
        assert not new, (k, after["errors"][:3])
