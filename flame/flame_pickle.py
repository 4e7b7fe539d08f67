"""Reading a FLAME pickle without running code.

    data = load_flame_pickle(blob)     # dict of numpy arrays / stand-ins, see ``materialize``

A pickle names globals that the unpickler calls; a hostile file names ones that run code.
Here every global a FLAME pickle needs (numpy arrays, dtypes and scalars, scipy sparse
matrices, chumpy ``Ch``, a few builtins, in their Python 2 and 3 spellings) resolves to a
stand-in class or a checked function of this module, never to the real numpy, scipy or
chumpy callable, and every other global is refused. The stand-ins only record their state;
``materialize`` builds plain numpy arrays from it with numpy's public constructors. So no
attacker-chosen argument or state reaches a numpy/scipy ``__setstate__`` or constructor.
"""

from __future__ import annotations

import io
import math
import pickle
import pickletools
import re
import warnings

import numpy as np

MAX_DENSE_SPARSE = 10_000_000  # elements a sparse matrix may expand to (FLAME's J_regressor: 5 x 5023)
# A memo index beyond this (or beyond the opcodes before it) is hostile: the unpickler would
# allocate and clear a memo table that large.
MAX_MEMO_INDEX = 1_000_000
_DTYPE_CODES = re.compile(r"b1|[iu][1248]|f[248]")  # bool, integers, floats: what a FLAME array holds
_LATIN1 = ("latin1", "latin-1", "iso-8859-1", "iso8859-1")


class _Marker:
    """A named placeholder that cannot be called, built or iterated (``numpy.ndarray``)."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


_NDARRAY = _Marker("numpy.ndarray")


class _StandIn:
    """Base of the stand-ins: constructible with any arguments, which are ignored."""

    __slots__ = ("state",)

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        obj.state = None
        return obj

    def __init__(self, *args, **kwargs):
        pass


class ChumpyArray(_StandIn):
    """Stand-in for chumpy's ``Ch`` (and any chumpy class): keeps the state dict."""

    __slots__ = ()

    def __setstate__(self, state):
        self.state = state


class DtypeStandIn(_StandIn):
    """Stand-in for ``numpy.dtype(code, align, copy)``; its state sets the byte order."""

    __slots__ = ("dtype",)

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) < 5 or state[1] not in ("<", ">", "|", "="):
            raise pickle.UnpicklingError("a dtype with a malformed state")
        if any(s is not None for s in state[2:5]):
            raise pickle.UnpicklingError("a structured or sub-array dtype (not a plain number type)")
        if state[1] in "<>":
            self.dtype = self.dtype.newbyteorder(state[1])


class ArrayStandIn(_StandIn):
    """Stand-in for an ndarray made by ``numpy.core.multiarray._reconstruct``; its ``state``
    becomes the array built from the pickled state."""

    __slots__ = ()

    def __setstate__(self, state):
        if self.state is not None:
            raise pickle.UnpicklingError("an array is given data twice")
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("an array with a malformed state")
        shape, dtype, fortran, raw = state[-4:]
        self.state = _build_array(shape, dtype, bool(fortran), raw)


class SparseStandIn(_StandIn):
    """Stand-in for a scipy.sparse matrix/array of format ``fmt``; keeps the state dict."""

    __slots__ = ()
    fmt = ""

    def __setstate__(self, state):
        if not isinstance(state, dict):
            raise pickle.UnpicklingError("a sparse matrix with a malformed state")
        self.state = state


def _dtype_of(dt) -> np.dtype:
    if not isinstance(dt, DtypeStandIn) or getattr(dt, "dtype", None) is None:
        raise pickle.UnpicklingError("an array whose dtype is not a numpy dtype")
    return dt.dtype


def _raw_bytes(raw) -> bytes:
    if isinstance(raw, str):  # a Python 2 str read with encoding='latin1'
        return raw.encode("latin1")
    if isinstance(raw, (bytes, bytearray)):
        return bytes(raw)
    raise pickle.UnpicklingError(f"array data is a {type(raw).__name__}, not bytes")


def _build_array(shape, dt, fortran: bool, raw) -> np.ndarray:
    if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
        raise pickle.UnpicklingError(f"an array with a malformed shape {shape!r:.60}")
    dtype = _dtype_of(dt)
    raw = _raw_bytes(raw)
    if math.prod(shape) * dtype.itemsize != len(raw):
        raise pickle.UnpicklingError(f"an array of shape {shape} ({dtype}) with {len(raw)} bytes of data")
    if not raw:
        return np.zeros(shape, dtype)
    return np.frombuffer(raw, dtype).reshape(shape, order="F" if fortran else "C").copy()


# --- the functions a FLAME pickle may call, each checking its arguments


def _reconstruct(subtype=None, shape=None, code=None, *rest):
    if subtype is not _NDARRAY or rest:
        raise pickle.UnpicklingError("refusing to reconstruct anything but a plain numpy.ndarray")
    return ArrayStandIn()


def _dtype(code=None, align=False, copy=False, *rest):
    if not isinstance(code, str) or not _DTYPE_CODES.fullmatch(code) or rest:
        raise pickle.UnpicklingError(f"refusing numpy dtype {code!r:.40} (not a plain number type)")
    dt = DtypeStandIn()
    dt.dtype = np.dtype(code)
    return dt


def _scalar(dt=None, raw=None, *rest):
    dtype = _dtype_of(dt)
    raw = _raw_bytes(raw)
    if len(raw) != dtype.itemsize or rest:
        raise pickle.UnpicklingError("a numpy scalar with the wrong number of bytes")
    return np.frombuffer(raw, dtype)[0].item()  # a Python number: nothing to BUILD on


def _frombuffer(buf=None, dt=None, shape=None, order="C", *rest):
    if order not in ("C", "F") or rest:
        raise pickle.UnpicklingError("a buffer array with a malformed order")
    return _build_array(shape, dt, order == "F", buf)


def _reconstructor(cls=None, base=None, state=None, *rest):
    """copyreg._reconstructor for the stand-ins only (``base.__new__(cls)`` with base object)."""
    if not (isinstance(cls, type) and issubclass(cls, _StandIn)) or base is not object or state is not None or rest:
        raise pickle.UnpicklingError("refusing copyreg._reconstructor of a class that is not part of a FLAME model")
    return cls()


def _encode(text=None, encoding="utf-8", *rest):
    """_codecs.encode as Python 3 pickles use it for bytes: a str encoded as latin-1."""
    if not isinstance(text, str) or not isinstance(encoding, str) or encoding.lower() not in _LATIN1 or rest:
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r:.40}")
    return text.encode("latin1")


def _bytes(*args):
    """builtins.bytes as protocol 0 uses it: ``bytes()`` or ``bytes(list of small ints)``."""
    if len(args) > 1 or (args and not isinstance(args[0], (list, tuple))):
        raise pickle.UnpicklingError("refusing builtins.bytes with these arguments")
    return bytes(*args)


def _globals() -> dict[tuple[str, str], object]:
    table: dict[tuple[str, str], object] = {
        ("numpy", "ndarray"): _NDARRAY,
        ("numpy", "dtype"): _dtype,
        ("copyreg", "_reconstructor"): _reconstructor,
        ("_codecs", "encode"): _encode,
        ("builtins", "object"): object,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "bytes"): _bytes,
        ("collections", "OrderedDict"): dict,
    }
    for core in ("numpy.core", "numpy._core"):
        table[(f"{core}.multiarray", "_reconstruct")] = _reconstruct
        table[(f"{core}.multiarray", "scalar")] = _scalar
        table[(f"{core}.numeric", "_frombuffer")] = _frombuffer
    for fmt in ("csc", "csr", "coo"):
        cls = type(f"Sparse_{fmt}", (SparseStandIn,), {"__slots__": (), "fmt": fmt})
        for module in ("scipy.sparse", f"scipy.sparse.{fmt}", f"scipy.sparse._{fmt}"):
            for kind in ("matrix", "array"):
                table[(module, f"{fmt}_{kind}")] = cls
    return table


_GLOBALS = _globals()
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class _FlameUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        module = _PY2_MODULES.get(module, module)
        if module == "chumpy" or module.startswith("chumpy."):
            return ChumpyArray
        found = _GLOBALS.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (not part of a FLAME model)")
        return found

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing a persistent id (not part of a FLAME model)")


def _check_opcodes(blob: bytes) -> None:
    """Refuse a stream that is malformed or puts to a memo index no pickler would write
    (a pickler numbers its memo entries in order, so an index never exceeds the opcodes before it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pickletools warns about odd escapes in protocol 0 strings
        for i, (op, arg, _) in enumerate(pickletools.genops(blob)):
            if op.name in ("PUT", "BINPUT", "LONG_BINPUT") and not 0 <= int(arg) <= min(i, MAX_MEMO_INDEX):
                raise pickle.UnpicklingError(f"memo index {arg} is out of range")


def load_flame_pickle(blob: bytes):
    """Unpickle a FLAME model file with the stand-ins above. Raises on anything refused or malformed."""
    _check_opcodes(blob)
    return _FlameUnpickler(io.BytesIO(blob), encoding="latin1").load()


# --- stand-ins -> numpy arrays


def _sparse_to_dense(obj: SparseStandIn, depth: int) -> np.ndarray:
    import scipy.sparse as sp

    st = obj.state
    if not isinstance(st, dict):
        raise ValueError("a sparse matrix without data")
    shape = st.get("_shape", st.get("shape"))
    if not (isinstance(shape, tuple) and len(shape) == 2 and all(type(n) is int and n >= 0 for n in shape)):
        raise ValueError(f"a sparse matrix with a malformed shape {shape!r:.60}")
    if shape[0] * shape[1] > MAX_DENSE_SPARSE:
        raise ValueError(f"a sparse matrix of shape {shape} is too large for a FLAME array")

    def arr(key):
        val = materialize(st.get(key), depth + 1)
        if not isinstance(val, np.ndarray) or val.ndim != 1:
            raise ValueError(f"a sparse matrix whose '{key}' is not a 1-D array")
        return val

    if obj.fmt == "coo":
        coords = st.get("coords")
        row, col = (arr("row"), arr("col")) if coords is None else (materialize(coords[0], depth + 1), materialize(coords[1], depth + 1))
        m = sp.coo_matrix((arr("data"), (row, col)), shape=shape)
    else:
        cls = sp.csc_matrix if obj.fmt == "csc" else sp.csr_matrix
        m = cls((arr("data"), arr("indices"), arr("indptr")), shape=shape)
        m.check_format(full_check=True)
    return m.toarray()


def materialize(obj, depth: int = 0):
    """A loaded value with its stand-ins replaced by numpy arrays (other values as they are).

    Raises ValueError for a stand-in without usable data.
    """
    if depth > 16:
        raise ValueError("arrays nested too deeply")
    if isinstance(obj, ArrayStandIn):
        if obj.state is None:
            raise ValueError("an array without data")
        return obj.state
    if isinstance(obj, SparseStandIn):
        return _sparse_to_dense(obj, depth)
    if isinstance(obj, ChumpyArray):
        st = obj.state if isinstance(obj.state, dict) else {}
        for key in ("x", "_x", "a"):
            if key in st:
                return materialize(st[key], depth + 1)
        raise ValueError("a chumpy object without an array value")
    return obj
