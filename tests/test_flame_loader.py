"""The FLAME loader on a small synthetic FLAME-format file, checked against smplx's own FLAME."""

import pickle

import numpy as np
import pytest
import torch

from anim3d.errors import InputError
from flame.flame_loader import flame_vertices, load_flame

V, F = 60, 80


def synthetic_flame(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    w = rng.uniform(0, 1, (V, 5)) ** 3
    w /= w.sum(1, keepdims=True)
    jr = rng.uniform(0, 1, (5, V)) * (rng.uniform(0, 1, (5, V)) > 0.7)
    jr /= jr.sum(1, keepdims=True)
    return {
        "v_template": rng.normal(0, 0.05, (V, 3)),
        "shapedirs": rng.normal(0, 1e-3, (V, 3, 400)),
        "posedirs": rng.normal(0, 1e-3, (V, 3, 36)),
        "J_regressor": jr,
        "weights": w,
        "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]], np.int64),
        "f": rng.integers(0, V, (F, 3)).astype(np.uint32),
    }


def write_pkl(path, data):
    with open(path, "wb") as fh:
        pickle.dump(data, fh, protocol=2)


@pytest.fixture
def flame_file(tmp_path):
    data = synthetic_flame()
    path = tmp_path / "FLAME_NEUTRAL.pkl"  # the file name smplx looks for in a model folder
    write_pkl(path, data)
    # smplx's FLAME also reads a landmark embedding next to the model
    write_pkl(tmp_path / "flame_static_embedding.pkl",
              {"lmk_face_idx": np.arange(5, dtype=np.int64), "lmk_b_coords": np.full((5, 3), 1 / 3)})
    return path, data


def test_matches_smplx_flame(flame_file):
    import smplx
    path, data = flame_file
    model = load_flame(path)
    assert (model.num_vertices, model.num_shape, model.num_expression) == (V, 300, 100)
    assert model.parents.tolist() == [-1, 0, 1, 1, 1]
    t = 4
    rng = np.random.default_rng(1)
    betas = rng.normal(0, 1, (t, 300))
    expr = rng.normal(0, 1, (t, 100))
    pose = rng.normal(0, 0.3, (t, 15))
    transl = rng.normal(0, 0.1, (t, 3))
    ref_model = smplx.FLAME(model_path=str(path.parent), num_betas=300, num_expression_coeffs=100, batch_size=t)
    f32 = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    with torch.no_grad():
        ref = ref_model(betas=f32(betas), expression=f32(expr), global_orient=f32(pose[:, 0:3]), neck_pose=f32(pose[:, 3:6]),
                        jaw_pose=f32(pose[:, 6:9]), leye_pose=f32(pose[:, 9:12]), reye_pose=f32(pose[:, 12:15]),
                        transl=f32(transl)).vertices
    ours = flame_vertices(model, betas, expr, pose, transl)
    assert ours.shape == (t, V, 3)
    assert torch.allclose(ours, ref, atol=1e-5), (ours - ref).abs().max()
    # the pose actually matters (the check is not vacuous)
    still = flame_vertices(model, betas, expr, np.zeros((t, 15)), transl)
    assert (still - ref).abs().max() > 1e-3


def test_npz_and_partial_coefficients(tmp_path):
    data = synthetic_flame(2)
    np.savez(tmp_path / "flame.npz", **data)
    model = load_flame(tmp_path / "flame.npz")
    full = flame_vertices(model, np.zeros(300), np.r_[np.ones(10), np.zeros(90)][None])
    short = flame_vertices(model, None, np.ones((1, 10)))  # fewer coefficients are zero-padded
    assert torch.allclose(full, short, atol=1e-7)


def test_sparse_regressor(tmp_path):
    import scipy.sparse as sp

    data = synthetic_flame(3)
    dense = data["J_regressor"]
    data["J_regressor"] = sp.csc_matrix(dense)
    write_pkl(tmp_path / "m.pkl", data)
    np.testing.assert_allclose(load_flame(tmp_path / "m.pkl").J_regressor, dense)


@pytest.mark.parametrize("key", ["v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f"])
def test_missing_key_is_named(tmp_path, key):
    data = synthetic_flame()
    del data[key]
    write_pkl(tmp_path / "m.pkl", data)
    with pytest.raises(InputError, match=f"missing key '{key}'") as e:
        load_flame(tmp_path / "m.pkl")
    assert "m.pkl" in str(e.value)


@pytest.mark.parametrize("key,value", [
    ("shapedirs", np.zeros((V, 3, 50))),          # fewer than 300 shape components
    ("posedirs", np.zeros((V, 3, 7))),
    ("J_regressor", np.zeros((4, V))),
    ("weights", np.zeros((V, 3))),
    ("f", np.array([[0, 1, V + 5]])),              # index out of range
    ("v_template", np.full((V, 3), np.nan)),
    ("kintree_table", np.array([[0, 0], [0, 1]])),
    ("v_template", "not an array"),
])
def test_malformed_key_is_named(tmp_path, key, value):
    data = synthetic_flame()
    data[key] = value
    write_pkl(tmp_path / "m.pkl", data)
    with pytest.raises(InputError, match=f"'{key}'"):
        load_flame(tmp_path / "m.pkl")


def test_corrupt_and_hostile_files(tmp_path):
    (tmp_path / "junk.pkl").write_bytes(b"\x80\x04 this is not a pickle")
    with pytest.raises(InputError, match="not a readable FLAME pickle"):
        load_flame(tmp_path / "junk.pkl")
    truncated = pickle.dumps(synthetic_flame(), protocol=2)[:500]
    (tmp_path / "cut.pkl").write_bytes(truncated)
    with pytest.raises(InputError, match="cut.pkl"):
        load_flame(tmp_path / "cut.pkl")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"v_template": Evil()}))
    with pytest.raises(InputError, match="refusing"):
        load_flame(tmp_path / "evil.pkl")
    with pytest.raises(InputError, match="not found"):
        load_flame(tmp_path / "absent.pkl")
    write_pkl(tmp_path / "list.pkl", [1, 2, 3])
    with pytest.raises(InputError, match="not a dict"):
        load_flame(tmp_path / "list.pkl")


def test_chumpy_arrays_load_without_chumpy(tmp_path, monkeypatch):
    """Official FLAME pickles keep some arrays as chumpy ``Ch`` objects (state: {'x': array, ...});
    they load as numpy without chumpy being installed."""
    import sys
    import types

    fake = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = x
            self._dirty_vars = set()

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    fake.Ch = Ch
    monkeypatch.setitem(sys.modules, "chumpy", types.ModuleType("chumpy"))
    monkeypatch.setitem(sys.modules, "chumpy.ch", fake)
    data = synthetic_flame(5)
    shapedirs = data["shapedirs"]
    data["shapedirs"] = Ch(shapedirs)
    write_pkl(tmp_path / "ch.pkl", data)
    monkeypatch.delitem(sys.modules, "chumpy.ch")
    monkeypatch.delitem(sys.modules, "chumpy")
    model = load_flame(tmp_path / "ch.pkl")
    np.testing.assert_allclose(model.shapedirs, shapedirs[:, :, :300])
    np.testing.assert_allclose(model.exprdirs, shapedirs[:, :, 300:])
