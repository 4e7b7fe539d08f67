"""Reading users' avatars safely: URIs stay inside the avatar's folder, byte ranges and indices
are checked, the GLB container is checked; each refusal names the file and the object."""

from __future__ import annotations

import base64
import io
import json
import os
import struct

import pygltflib as g
import pytest

from anim3d.errors import InputError
from anim3d.motion import Motion
from anim3d.exporters.gltf_read import read_document
from anim3d.exporters.retarget import retarget, write_glb_raw
from test_gltf import assert_valid
from test_retarget import FACE_TARGETS, build_avatar


def png_bytes(color=(200, 120, 90)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def glb_parts(tmp_path):
    """(JSON, BIN) of a small valid avatar GLB with three ARKit morph targets."""
    path = build_avatar(tmp_path / "src.glb", {"Face": FACE_TARGETS[:3]})
    return read_document(path)[0], g.GLTF2.load_binary(str(path)).binary_blob()


def write_gltf(folder, doc: dict, blob: bytes, buffer_uri: str, blob_path, image_uri: str | None = None, image_path=None):
    """A .gltf avatar in ``folder`` whose buffer (and optional texture) are the given URIs,
    with the bytes written at ``blob_path`` (and ``image_path``)."""
    doc = json.loads(json.dumps(doc))
    doc["buffers"] = [{"uri": buffer_uri, "byteLength": len(blob)}]
    os.makedirs(os.path.dirname(blob_path), exist_ok=True)
    with open(blob_path, "wb") as f:
        f.write(blob)
    if image_uri is not None:
        doc["images"] = [{"uri": image_uri}]
        doc["textures"] = [{"source": 0}]  # not bound to a material: the test meshes have no TEXCOORD_0
        if image_path is not None:
            os.makedirs(os.path.dirname(image_path), exist_ok=True)
            with open(image_path, "wb") as f:
                f.write(png_bytes())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "avatar.gltf"
    path.write_text(json.dumps(doc))
    return path


def assert_refused(avatar, out, *fragments):
    with pytest.raises(InputError) as e:
        retarget(Motion.neutral(4), avatar, out)
    msg = str(e.value)
    assert msg.startswith(f"{avatar}: ") and "\n" not in msg, msg
    for frag in fragments:
        assert frag in msg, msg
    assert not out.exists() and not [p for p in out.parent.iterdir() if p.name.startswith(".anim3d-")]


# ------------------------------------------------------------------ URIs


@pytest.mark.parametrize("kind", ["buffer", "image"])
@pytest.mark.parametrize("how", ["dotdot", "percent-dotdot", "absolute", "file-uri", "symlink", "symlinked-folder"])
def test_uris_outside_the_avatar_folder_are_refused(tmp_path, glb_parts, kind, how):
    doc, blob = glb_parts
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / ("data.bin" if kind == "buffer" else "secret.png")
    secret.write_bytes(blob if kind == "buffer" else png_bytes())
    av = tmp_path / "av"
    av.mkdir()
    uri = {"dotdot": f"../outside/{secret.name}", "percent-dotdot": f"%2E%2E/outside/{secret.name}",
           "absolute": str(secret), "file-uri": secret.as_uri(), "symlink": "link", "symlinked-folder": f"tex/{secret.name}"}[how]
    if how == "symlink":
        os.symlink(secret, av / "link")
    if how == "symlinked-folder":
        os.symlink(outside, av / "tex")
    if kind == "buffer":
        path = write_gltf(av, doc, blob, uri, outside / "unused.bin")
    else:
        path = write_gltf(av, doc, blob, "a.bin", av / "a.bin", image_uri=uri)
    what = "buffers[0].uri" if kind == "buffer" else "images[0].uri"
    assert_refused(path, tmp_path / "out.glb", what, repr(uri))


def test_relative_uris_in_subfolders_are_read_and_images_embedded(tmp_path, glb_parts, capsys):
    doc, blob = glb_parts
    av = tmp_path / "my avatar"
    path = write_gltf(av, doc, blob, "bin%20files/face.bin", av / "bin files" / "face.bin",
                      image_uri="tex/../tex/skin.png", image_path=av / "tex" / "skin.png")
    os.symlink(av / "tex" / "skin.png", av / "alias.png")  # a symlink that stays inside is fine
    retarget(Motion.neutral(4), path, tmp_path / "out.glb")
    out = g.GLTF2.load_binary(str(tmp_path / "out.glb"))
    img = out.images[0]
    assert img.uri is None and img.mimeType == "image/png"
    view = out.bufferViews[img.bufferView]
    assert out.binary_blob()[view.byteOffset : view.byteOffset + view.byteLength] == png_bytes()
    assert out.binary_blob()[: len(blob)] == blob
    assert_valid(tmp_path / "out.glb")
    doc2 = json.loads(path.read_text())
    doc2["images"][0]["uri"] = "alias.png"
    path.write_text(json.dumps(doc2))
    rep = retarget(Motion.neutral(4), path, tmp_path / "out2.glb")
    assert rep.embedded_images == 1 and "embedded 1 image file" in rep.summary()


def test_data_uris_are_read(tmp_path, glb_parts):
    doc, blob = glb_parts
    doc = json.loads(json.dumps(doc))
    doc["buffers"] = [{"uri": "data:application/octet-stream;base64," + base64.b64encode(blob).decode(), "byteLength": len(blob)}]
    (tmp_path / "inline.gltf").write_text(json.dumps(doc))
    retarget(Motion.neutral(3), tmp_path / "inline.gltf", tmp_path / "o.glb")
    assert g.GLTF2.load_binary(str(tmp_path / "o.glb")).binary_blob()[: len(blob)] == blob
    doc["buffers"][0]["uri"] = "data:application/octet-stream;base64,@@not base64@@"
    (tmp_path / "bad.gltf").write_text(json.dumps(doc))
    assert_refused(tmp_path / "bad.gltf", tmp_path / "o2.glb", "buffers[0].uri is a data: URI that does not decode")


# ------------------------------------------------------------------ byte ranges and indices


def _set(path: str, value):
    """A mutation setting doc[path] (dotted, list indices as numbers) to value."""
    def apply(doc):
        *head, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        obj = doc
        for p in head:
            obj = obj[p]
        obj[last] = value
    return apply


def _both(*mutations):
    def apply(doc):
        for m in mutations:
            m(doc)
    return apply


CORRUPT = {
    "view past buffer": (_set("bufferViews.4.byteLength", 4096), "bufferViews[4] covers bytes 156..4252 past the end of buffer 0 (204 bytes)"),
    "view offset past buffer": (_set("bufferViews.1.byteOffset", 200), "bufferViews[1] covers bytes 200..212 past the end of buffer 0"),
    "accessor count past view": (_set("accessors.2.count", 5), "accessors[2] reads bytes 0..60 past the end of bufferView 2 (48 bytes)"),
    "accessor offset past view": (_set("accessors.0.byteOffset", 4), "accessors[0] reads bytes 4..52 past the end of bufferView 0"),
    "stride smaller than element": (_set("bufferViews.0.byteStride", 8), "accessors[0] has 12-byte elements but bufferView 0 has a stride of 8"),
    "stride not a multiple of 4": (_set("bufferViews.0.byteStride", 14), "bufferViews[0].byteStride is 14"),
    "bad componentType": (_set("accessors.0.componentType", 5127), "accessors[0].componentType is 5127"),
    "bad type": (_set("accessors.0.type", "VEC5"), "accessors[0].type is 'VEC5'"),
    "negative offset": (_set("accessors.1.byteOffset", -2), "accessors[1].byteOffset is -2, not an integer >= 0"),
    "fractional count": (_set("accessors.1.count", 2.5), "accessors[1].count is 2.5, not an integer >= 1"),
    "count as string": (_set("accessors.1.count", "6"), "accessors[1].count is '6'"),
    "misaligned accessor": (_both(_set("accessors.1.byteOffset", 1), _set("accessors.1.count", 5)), "accessors[1] starts at byte 49, not a multiple of its component size 2"),
    "view index out of range": (_set("accessors.3.bufferView", 9), "accessors[3].bufferView is 9, but the file has 5 bufferViews"),
    "buffer index out of range": (_set("bufferViews.0.buffer", 1), "bufferViews[0].buffer is 1, but the file has 1 buffers"),
    "attribute out of range": (_set("meshes.0.primitives.0.attributes.POSITION", 99), "meshes[0].primitives[0].attributes.POSITION is 99, but the file has 5 accessors"),
    "indices out of range": (_set("meshes.0.primitives.0.indices", -1), "meshes[0].primitives[0].indices is -1"),
    "morph target out of range": (_set("meshes.0.primitives.0.targets.2.POSITION", 5), "meshes[0].primitives[0].targets[2].POSITION is 5"),
    "mesh weights too short": (_set("meshes.0.weights", [0.0]), "meshes[0].weights is not a list of 3 numbers"),
    "node mesh out of range": (_set("nodes.0.mesh", 3), "nodes[0].mesh is 3, but the file has 1 meshes"),
    "child out of range": (_set("nodes.4.children", [5, 70]), "nodes[4].children[1] is 70, but the file has 7 nodes"),
    "children cycle": (_set("nodes.6.children", [1]), "the node hierarchy has a cycle"),
    "two parents": (_set("nodes.6.children", [2]), "node 2 has more than one parent"),
    "own child": (_set("nodes.1.children", [1]), "node 1 is its own child"),
    "rotation of 3 numbers": (_set("nodes.3.rotation", [0, 0, 1]), "nodes[3].rotation is not a list of 4 numbers"),
    "node name not a string": (_set("nodes.3.name", 7), "nodes[3].name is not a string"),
    "sparse indices not increasing": (_set("accessors.2.sparse", {"count": 4, "indices": {"bufferView": 1, "componentType": 5123},
                                                                 "values": {"bufferView": 3}}), "accessors[2].sparse.indices are not increasing"),
    "scene out of range": (_set("scene", 4), "scene is 4, but the file has 1 scenes"),
    "nodes not a list": (_set("nodes", {"0": {}}), "'nodes' is not a list of objects"),
    "vrm bone out of range": (_both(_set("extensions", {"VRMC_vrm": {"specVersion": "1.0", "humanoid": {"humanBones": {"head": {"node": 99}}}}}),
                                    _set("extensionsUsed", ["VRMC_vrm"])), None),
}


@pytest.mark.parametrize("what", list(CORRUPT))
def test_corrupt_avatars_are_refused(tmp_path, glb_parts, what):
    doc, blob = glb_parts
    mutate, expected = CORRUPT[what]
    mutate(doc)
    write_glb_raw(doc, blob, tmp_path / "avatar.glb")
    if expected is None:  # not an error: an invalid VRM bone entry is ignored, and the rest retargets
        retarget(Motion.neutral(4), tmp_path / "avatar.glb", tmp_path / "out.glb")
        assert_valid(tmp_path / "out.glb")
        return
    assert_refused(tmp_path / "avatar.glb", tmp_path / "out.glb", expected)


def test_existing_animations_are_checked(tmp_path, glb_parts):
    """An avatar with an animation (here: one written by anim3d) whose channel names a missing sampler."""
    doc, blob = glb_parts
    write_glb_raw(doc, blob, tmp_path / "a.glb")
    retarget(Motion.neutral(4), tmp_path / "a.glb", tmp_path / "animated.glb")
    doc2, blob2 = read_document(tmp_path / "animated.glb")[0], g.GLTF2.load_binary(str(tmp_path / "animated.glb")).binary_blob()
    doc2["animations"][0]["channels"][0]["sampler"] = 40
    write_glb_raw(doc2, blob2, tmp_path / "b.glb")
    assert_refused(tmp_path / "b.glb", tmp_path / "out.glb", "animations[0].channels[0].sampler is 40, but the animation has")


# ------------------------------------------------------------------ the GLB container


def glb_bytes(json_chunk: bytes, bin_chunk: bytes | None, version=2, length=None, bin_len=None) -> bytes:
    body = struct.pack("<II", len(json_chunk), 0x4E4F534A) + json_chunk
    if bin_chunk is not None:
        body += struct.pack("<II", len(bin_chunk) if bin_len is None else bin_len, 0x004E4942) + bin_chunk
    return struct.pack("<4sII", b"glTF", version, 12 + len(body) if length is None else length) + body


def _js(doc) -> bytes:
    s = json.dumps(doc).encode()
    return s + b" " * (-len(s) % 4)


CONTAINERS = {
    "version 1": (lambda d, b: glb_bytes(_js(d), b, version=1), "GLB container version 1"),
    "length past the file": (lambda d, b: glb_bytes(_js(d), b, length=99999), "GLB file is truncated"),
    "BIN chunk past the file": (lambda d, b: glb_bytes(_js(d), b, bin_len=len(b) + 64), "GLB chunk 1 is truncated"),
    "BIN shorter than the buffer": (lambda d, b: glb_bytes(_js(d), b[:100]), "binary buffer is truncated (100 of 204 bytes)"),
    "no BIN chunk": (lambda d, b: glb_bytes(_js(d), None), "buffers[0] has no uri and the file has no GLB binary chunk"),
    "JSON syntax": (lambda d, b: glb_bytes(_js(d)[:-9] + b"        ", b), "the JSON is not readable"),
    "JSON NaN": (lambda d, b: glb_bytes(_js(d).replace(b'"byteLength": 204', b'"byteLength": NaN '), b), "NaN is not a JSON number"),
    "JSON not an object": (lambda d, b: glb_bytes(b"[1, 2] ", b), "the JSON is not an object"),
    "JSON not UTF-8": (lambda d, b: glb_bytes(_js(d).replace(b'"Face"', b'"F\xffce"'), b), "the JSON is not readable (UnicodeDecodeError"),
    "lone surrogate": (lambda d, b: glb_bytes(_js(d).replace(b'"Face"', b'"\\ud800"'), b), "the JSON is not readable"),
    "header only": (lambda d, b: struct.pack("<4sII", b"glTF", 2, 12), "GLB file does not start with a JSON chunk"),
    "short header": (lambda d, b: b"glTF\x02\x00", "GLB file is truncated (6 bytes"),
    "chunk header cut": (lambda d, b: glb_bytes(_js(d), b)[: 20 + len(_js(d)) + 4], "GLB file is truncated"),
    "BIN first": (lambda d, b: struct.pack("<4sII", b"glTF", 2, 20 + len(b)) + struct.pack("<II", len(b), 0x004E4942) + b,
                  "GLB file does not start with a JSON chunk"),
}


@pytest.mark.parametrize("what", list(CONTAINERS))
def test_glb_container_is_checked(tmp_path, glb_parts, what):
    doc, blob = glb_parts
    make, expected = CONTAINERS[what]
    (tmp_path / "avatar.glb").write_bytes(make(doc, blob))
    assert_refused(tmp_path / "avatar.glb", tmp_path / "out.glb", expected)
