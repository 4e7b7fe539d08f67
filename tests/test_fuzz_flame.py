"""Fuzzing the FLAME model reader: damaged pickles and .npz files load or raise one
Anim3dError naming the file; never another exception, a hang, or a file written."""

from __future__ import annotations

import io
import pickle
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from anim3d.flame.flame_loader import load_flame
from fuzzing import fuzz_settings, loads_or_names_the_file, mutations

V, NUM_SHAPE = 8, 4


def small_flame() -> dict:
    """A tiny FLAME-layout model (4 shape + 2 expression components) with a sparse regressor."""
    rng = np.random.default_rng(0)
    w = rng.uniform(0.1, 1, (V, 5))
    return {
        "v_template": rng.normal(0, 0.05, (V, 3)),
        "shapedirs": rng.normal(0, 1e-3, (V, 3, NUM_SHAPE + 2)),
        "posedirs": np.asfortranarray(rng.normal(0, 1e-3, (V, 3, 36)).astype(np.float32)),
        "J_regressor": sp.csc_matrix(np.eye(5, V)),
        "weights": w / w.sum(1, keepdims=True),
        "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]], np.int64),
        "f": np.array([[0, 1, 2], [2, 3, 4], [5, 6, 7]], np.uint32),
        "scale": np.float64(1.0),
    }


def chumpy_pickle(protocol: int) -> bytes:
    """small_flame() with shapedirs as a chumpy ``Ch`` (made without chumpy installed)."""
    fake = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x, self._dirty_vars = x, {"x"}

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    fake.Ch = Ch
    saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch")}
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = types.ModuleType("chumpy"), fake
    try:
        data = small_flame()
        data["shapedirs"] = Ch(data["shapedirs"])
        return pickle.dumps(data, protocol)
    finally:
        for k, mod in saved.items():
            if mod is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = mod


def npz_bytes(compressed: bool) -> bytes:
    buf = io.BytesIO()
    data = {k: (v.toarray() if sp.issparse(v) else v) for k, v in small_flame().items()}
    (np.savez_compressed if compressed else np.savez)(buf, **data)
    return buf.getvalue()


BASES = {"model.pkl": [chumpy_pickle(0), chumpy_pickle(2), chumpy_pickle(4)], "model.npz": [npz_bytes(False), npz_bytes(True)]}


def test_the_undamaged_files_load(tmp_path):
    for name, blobs in BASES.items():
        for blob in blobs:
            (tmp_path / name).write_bytes(blob)
            model = load_flame(tmp_path / name, num_shape=NUM_SHAPE)
            assert model.num_expression == 2 and model.J_regressor.shape == (5, V)


def check_damaged(name: str, blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        path.write_bytes(blob)
        loads_or_names_the_file(lambda: load_flame(path, num_shape=NUM_SHAPE), path)
        assert sorted(p.name for p in Path(d).iterdir()) == [name]


@fuzz_settings(250)
@given(st.data())
def test_damaged_pickles(data):
    base = data.draw(st.sampled_from(BASES["model.pkl"]))
    check_damaged("model.pkl", data.draw(mutations(base)))


@fuzz_settings(120)
@given(st.data())
def test_damaged_npz(data):
    base = data.draw(st.sampled_from(BASES["model.npz"]))
    check_damaged("model.npz", data.draw(mutations(base)))
