"""Reading a user's glTF/GLB/VRM safely: the container, the JSON, the URIs.

    doc, gltf, blob = read_gltf("avatar.glb")   # raw JSON dict, pygltflib model, buffer 0's bytes

- GLB: magic, version 2, a length field within the file, whole chunks, a JSON chunk first.
- JSON: UTF-8, no NaN/Infinity, an object; the rest is checked by ``anim3d.exporters.gltf_check``.
- URIs (buffers, images) are data: URIs or relative references to files inside the
  avatar's own folder: percent-decoded as the glTF specification says, then resolved with
  ``..`` and symlinks; absolute paths, other schemes (file:, http:) and anything that
  resolves outside the folder are refused. Only buffer files are read here; image files
  are read by ``read_uri`` when an exporter embeds them.
Every failure is one InputError naming the file and the offending object or uri.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import struct
import urllib.parse
import warnings

import pygltflib as g

from anim3d.errors import InputError
from anim3d.exporters.gltf_check import check_arrays, check_document

GLB_MAGIC = b"glTF"
JSON_CHUNK = 0x4E4F534A
BIN_CHUNK = 0x004E4942
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_DATA_URI = re.compile(r"data:([^,]*),(.*)", re.DOTALL)


def split_glb(path: str, data: bytes) -> tuple[bytes, bytes | None]:
    """(JSON chunk, BIN chunk or None) of a GLB file's bytes."""
    # Our own chunk walk: pygltflib's GLTF2.load_from_bytes reads chunk lengths without checking them
    # against the file, decodes the JSON without refusing NaN, and fails on a BIN chunk before a JSON one
    # with AttributeError; the checks here need the raw JSON before pygltflib builds anything from it.
    if len(data) < 12:
        raise InputError(path, f"GLB file is truncated ({len(data)} bytes, less than its 12-byte header)")
    magic, version, length = struct.unpack_from("<4sII", data)
    if magic != GLB_MAGIC:
        raise InputError(path, "not a GLB file (no 'glTF' magic)")
    if version != 2:
        raise InputError(path, f"GLB container version {version}; only version 2 (glTF 2.0) is supported")
    if length > len(data):
        raise InputError(path, f"GLB file is truncated ({len(data)} of {length} bytes)")
    chunks: list[tuple[int, bytes]] = []
    pos = 12
    while pos < length:
        if pos + 8 > length:
            raise InputError(path, f"GLB chunk {len(chunks)} has a truncated header at byte {pos}")
        size, kind = struct.unpack_from("<II", data, pos)
        if pos + 8 + size > length:
            raise InputError(path, f"GLB chunk {len(chunks)} is truncated ({length - pos - 8} of {size} bytes)")
        chunks.append((kind, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size
    if not chunks or chunks[0][0] != JSON_CHUNK:
        raise InputError(path, "GLB file does not start with a JSON chunk")
    binary = chunks[1][1] if len(chunks) > 1 and chunks[1][0] == BIN_CHUNK else None
    return chunks[0][1].rstrip(b"\0"), binary  # some writers pad the JSON with NULs, not spaces


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def parse_json(path: str, text: bytes) -> dict:
    """The glTF JSON object; refuses what is not UTF-8 JSON or would not write back as such."""
    try:
        doc = json.loads(text.decode("utf-8-sig"), parse_constant=_no_constant)
        json.dumps(doc, ensure_ascii=False).encode("utf-8")  # lone surrogates from \\u escapes
    except (UnicodeError, ValueError, RecursionError) as e:
        raise InputError(path, f"not a readable glTF/GLB file: the JSON is not readable ({type(e).__name__}: {e})") from None
    if not isinstance(doc, dict):
        raise InputError(path, "not a readable glTF/GLB file: the JSON is not an object")
    asset = doc.get("asset")
    if not isinstance(asset, dict) or not str(asset.get("version", "")).startswith("2"):
        raise InputError(path, "not a glTF 2.0 file (missing or wrong asset.version)")
    return doc


def read_document(path: str | os.PathLike) -> tuple[dict, bytes | None, bool]:
    """(JSON object, BIN chunk or None, is GLB) of a .glb/.vrm or .gltf file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(path, "file not found")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InputError(path, f"cannot read the file ({e.strerror or e})") from None
    if data[:4] == GLB_MAGIC:
        text, binary = split_glb(path, data)
        return parse_json(path, text), binary, True
    return parse_json(path, data), None, False


def local_file(path: str, uri, what: str) -> str:
    """The file a relative ``uri`` of the glTF at ``path`` names, which must lie inside its folder."""
    if not isinstance(uri, str):
        raise InputError(path, f"{what}.uri is a {type(uri).__name__}, not a string")
    shown = repr(uri[:200] + ("..." if len(uri) > 200 else ""))
    if _SCHEME.match(uri) or uri.startswith(("/", "\\")):
        raise InputError(path, f"{what}.uri {shown} is not a relative path; only files inside the avatar's folder and data: URIs are read")
    try:
        rel = urllib.parse.unquote(uri, errors="strict")
    except UnicodeDecodeError:
        raise InputError(path, f"{what}.uri {shown} is not valid percent-encoded UTF-8") from None
    if "\0" in rel:
        raise InputError(path, f"{what}.uri {shown} holds a NUL character")
    folder = os.path.dirname(os.path.realpath(path))
    target = os.path.realpath(os.path.join(folder, rel))
    if os.path.commonpath([folder, target]) != folder:
        raise InputError(path, f"{what}.uri {shown} points outside the avatar's folder ({folder})")
    return target


def _data_uri(path: str, uri: str, what: str) -> bytes:
    m = _DATA_URI.fullmatch(uri)
    if m is None:
        raise InputError(path, f"{what}.uri is a malformed data: URI")
    try:
        if m.group(1).endswith(";base64"):
            return base64.b64decode(m.group(2), validate=True)
        return urllib.parse.unquote_to_bytes(m.group(2))
    except (binascii.Error, ValueError) as e:
        raise InputError(path, f"{what}.uri is a data: URI that does not decode ({e})") from None


def read_uri(path: str, uri, what: str, limit: int | None = None) -> bytes:
    """The bytes a buffer or image ``uri`` names (at most ``limit``): a data: URI or a file
    inside the avatar's folder."""
    if isinstance(uri, str) and uri.startswith("data:"):
        return _data_uri(path, uri, what)
    target = local_file(path, uri, what)
    if not os.path.isfile(target):
        raise InputError(path, f"{what}.uri {uri[:200]!r}: file not found")
    try:
        with open(target, "rb") as f:
            return f.read(-1 if limit is None else limit)
    except OSError as e:
        raise InputError(path, f"{what}.uri {uri[:200]!r}: cannot read the file ({e.strerror or e})") from None


def _buffer_data(path: str, doc: dict, binary: bytes | None, is_glb: bool) -> bytes:
    """Buffer 0's bytes: the GLB's BIN chunk, or what its uri names."""
    buffers = doc.get("buffers", [])
    if not buffers:
        return b""
    if len(buffers) > 1:
        raise InputError(path, f"has {len(buffers)} buffers; only single-buffer files are supported")
    buf = buffers[0]
    length = buf.get("byteLength")
    if type(length) is not int or length < 1:
        raise InputError(path, f"buffers[0].byteLength is {length!r:.40}, not an integer >= 1")
    if "uri" in buf:
        data = read_uri(path, buf["uri"], "buffers[0]", limit=length)
    elif is_glb and binary is not None:
        data = binary
    else:
        raise InputError(path, "buffers[0] has no uri and the file has no GLB binary chunk")
    if len(data) < length:
        raise InputError(path, f"binary buffer is truncated ({len(data)} of {length} bytes)")
    return data


def check_image_uris(path: str, doc: dict) -> None:
    """Image URIs are data: URIs or name files inside the avatar's folder."""
    for i, img in enumerate(doc.get("images", [])):
        if "uri" in img and not (isinstance(img["uri"], str) and img["uri"].startswith("data:")):
            local_file(path, img["uri"], f"images[{i}]")


def read_gltf(path: str | os.PathLike) -> tuple[dict, g.GLTF2, bytes]:
    """(JSON object, pygltflib model, buffer 0's bytes) of a checked glTF/GLB/VRM file."""
    path = os.fspath(path)
    doc, binary, is_glb = read_document(path)
    check_arrays(path, doc)
    check_image_uris(path, doc)
    blob = _buffer_data(path, doc, binary, is_glb)
    check_document(path, doc, blob)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gltf = g.GLTF2.from_json(json.dumps(doc))
    except Exception as e:  # pygltflib raises many kinds on values of unexpected types
        raise InputError(path, f"not a readable glTF/GLB file ({type(e).__name__}: {e})") from None
    if gltf.buffers:
        gltf.buffers[0].uri = None
    gltf.set_binary_blob(blob)
    return doc, gltf, blob
