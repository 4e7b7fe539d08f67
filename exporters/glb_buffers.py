"""Packing numpy arrays into one glTF binary buffer: 4-byte padding, deduplicated views.

pygltflib gives the JSON model; this module owns the byte layout that both the GLB
writer (``anim3d.exporters.gltf``) and the avatar retargeter (``anim3d.exporters.retarget``) append to.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pygltflib as g

ARRAY_BUFFER = 34962
ELEMENT_ARRAY_BUFFER = 34963

_COMPONENT = {
    np.dtype(np.float32): g.FLOAT,
    np.dtype(np.uint32): g.UNSIGNED_INT,
    np.dtype(np.uint16): g.UNSIGNED_SHORT,
    np.dtype(np.uint8): g.UNSIGNED_BYTE,
}
_TYPE = {1: g.SCALAR, 2: g.VEC2, 3: g.VEC3, 4: g.VEC4, 16: g.MAT4}


class BufferBuilder:
    """Appends arrays to buffer 0 of ``gltf`` and creates its bufferViews and accessors.

    Identical byte blocks for the same target share one bufferView (deduplication);
    every block starts on a 4-byte boundary, as glTF requires for vertex data.
    """

    def __init__(self, gltf: g.GLTF2, initial: bytes = b""):
        self.gltf = gltf
        self.chunks: list[bytes] = []
        self.size = 0
        self._views: dict[tuple, int] = {}
        if initial:
            self._append(initial)

    def _append(self, data: bytes) -> int:
        pad = (-self.size) % 4
        if pad:
            self.chunks.append(b"\x00" * pad)
            self.size += pad
        offset = self.size
        self.chunks.append(data)
        self.size += len(data)
        return offset

    def view(self, data: bytes, target: int | None = None, stride: int | None = None) -> int:
        """A bufferView over ``data`` (reused when the same bytes were added for the same target)."""
        key = (hashlib.sha1(data).digest(), len(data), target, stride)
        if key in self._views:
            return self._views[key]
        offset = self._append(data)
        self.gltf.bufferViews.append(g.BufferView(buffer=0, byteOffset=offset, byteLength=len(data), target=target, byteStride=stride))
        idx = len(self.gltf.bufferViews) - 1
        self._views[key] = idx
        return idx

    def accessor(self, arr: np.ndarray, target: int | None = None, minmax: bool = False, normalized: bool = False) -> int:
        """An accessor for ``arr`` (N x C or N,); min/max filled in when ``minmax``."""
        arr = np.ascontiguousarray(arr)
        comps = 1 if arr.ndim == 1 else int(np.prod(arr.shape[1:]))
        view = self.view(arr.tobytes(), target)
        acc = g.Accessor(
            bufferView=view,
            componentType=_COMPONENT[arr.dtype],
            count=int(arr.shape[0]),
            type=_TYPE[comps],
            normalized=True if normalized else None,
        )
        if minmax:
            flat = arr.reshape(arr.shape[0], comps)
            acc.min = [_py(v) for v in flat.min(0)]
            acc.max = [_py(v) for v in flat.max(0)]
        self.gltf.accessors.append(acc)
        return len(self.gltf.accessors) - 1

    def zeros_accessor(self, count: int, comps: int) -> int:
        """A float accessor with no bufferView: glTF defines its elements as zeros."""
        acc = g.Accessor(byteOffset=None, componentType=g.FLOAT, count=int(count), type=_TYPE[comps], min=[0.0] * comps, max=[0.0] * comps)
        self.gltf.accessors.append(acc)
        return len(self.gltf.accessors) - 1

    def sparse_accessor(self, count: int, indices: np.ndarray, values: np.ndarray) -> int:
        """A VEC3 float accessor that is zero except ``values`` at ``indices`` (sorted, unique)."""
        indices = np.ascontiguousarray(indices, dtype=np.uint16 if count < 65536 else np.uint32)
        values = np.ascontiguousarray(values, dtype=np.float32)
        iv = self.view(indices.tobytes())
        vv = self.view(values.tobytes())
        lo = np.minimum(values.min(0), 0.0) if len(indices) < count else values.min(0)
        hi = np.maximum(values.max(0), 0.0) if len(indices) < count else values.max(0)
        acc = g.Accessor(
            byteOffset=None,
            componentType=g.FLOAT,
            count=int(count),
            type=g.VEC3,
            min=[float(v) for v in lo],
            max=[float(v) for v in hi],
            sparse=g.Sparse(
                count=int(len(indices)),
                indices=g.AccessorSparseIndices(bufferView=iv, componentType=_COMPONENT[indices.dtype]),
                values=g.AccessorSparseValues(bufferView=vv),
            ),
        )
        self.gltf.accessors.append(acc)
        return len(self.gltf.accessors) - 1

    def finish(self) -> bytes:
        """The whole buffer (padded to 4 bytes); sets buffer 0's length."""
        pad = (-self.size) % 4
        blob = b"".join(self.chunks) + b"\x00" * pad
        if not self.gltf.buffers:
            self.gltf.buffers.append(g.Buffer(byteLength=len(blob)))
        else:
            self.gltf.buffers[0].byteLength = len(blob)
        return blob


def _py(v):
    return float(v) if isinstance(v, (np.floating, float)) else int(v)


def morph_target_accessor(bb: BufferBuilder, offsets: np.ndarray, cache: dict, eps: float = 1e-7) -> int:
    """POSITION accessor for one morph target (V x 3): zeros, sparse or dense, whichever is smallest.

    ``cache`` maps identical targets to one accessor (e.g. all-zero targets).
    """
    offsets = np.ascontiguousarray(offsets, np.float32)
    key = hashlib.sha1(offsets.tobytes()).digest()
    if key in cache:
        return cache[key]
    v = offsets.shape[0]
    moved = np.flatnonzero(np.abs(offsets).max(1) > eps)
    if len(moved) == 0:
        idx = bb.zeros_accessor(v, 3)
    elif len(moved) * (12 + (2 if v < 65536 else 4)) < v * 12:
        idx = bb.sparse_accessor(v, moved, offsets[moved])
    else:
        idx = bb.accessor(offsets, ARRAY_BUFFER, minmax=True)
    cache[key] = idx
    return idx


_NP = {g.FLOAT: np.float32, g.UNSIGNED_INT: np.uint32, g.UNSIGNED_SHORT: np.uint16, g.UNSIGNED_BYTE: np.uint8, g.SHORT: np.int16, g.BYTE: np.int8}
_NCOMP = {g.SCALAR: 1, g.VEC2: 2, g.VEC3: 3, g.VEC4: 4, g.MAT2: 4, g.MAT3: 9, g.MAT4: 16}


def read_accessor(gltf: g.GLTF2, blob: bytes, index: int) -> np.ndarray:
    """The elements of accessor ``index`` (count x comps), honouring sparse storage and strides."""
    acc = gltf.accessors[index]
    dt = np.dtype(_NP[acc.componentType])
    comps = _NCOMP[acc.type]
    if acc.bufferView is None:
        out = np.zeros((acc.count, comps), dt)
    else:
        bv = gltf.bufferViews[acc.bufferView]
        start = (bv.byteOffset or 0) + (acc.byteOffset or 0)
        elem = dt.itemsize * comps
        stride = bv.byteStride or elem
        raw = np.frombuffer(blob, np.uint8, count=stride * (acc.count - 1) + elem, offset=start)
        rows = np.lib.stride_tricks.as_strided(raw, shape=(acc.count, elem), strides=(stride, 1))
        out = np.ascontiguousarray(rows).view(dt).reshape(acc.count, comps).copy()
    if acc.sparse is not None:
        sp = acc.sparse
        ibv = gltf.bufferViews[sp.indices.bufferView]
        idt = np.dtype(_NP[sp.indices.componentType])
        ind = np.frombuffer(blob, idt, count=sp.count, offset=(ibv.byteOffset or 0) + (sp.indices.byteOffset or 0))
        vbv = gltf.bufferViews[sp.values.bufferView]
        val = np.frombuffer(blob, dt, count=sp.count * comps, offset=(vbv.byteOffset or 0) + (sp.values.byteOffset or 0))
        out[ind.astype(np.int64)] = val.reshape(sp.count, comps)
    return out
