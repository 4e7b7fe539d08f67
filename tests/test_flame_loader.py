"""The FLAME loader on a small synthetic FLAME-format file, checked against smplx's own FLAME."""

import pickle

import numpy as np
import pytest
import torch

from anim3d.errors import InputError
from anim3d.flame.flame_loader import flame_vertices, load_flame

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


# ------------------------------------------------------------------ hostile pickles


def call_pickle(module: str, name: str, args: tuple, form: str) -> bytes:
    """A pickle whose top-level object is ``module.name(*args)``: named by a protocol 0 or 2
    GLOBAL, a protocol 4 STACK_GLOBAL, or called by protocol 0's INST opcode."""
    if form == "inst":
        items = b"".join(pickle.dumps(a, 0)[:-1] for a in args)
        return b"(" + items + b"i" + module.encode() + b"\n" + name.encode() + b"\n."
    if form == "stack":
        head = b"\x80\x04" + b"".join(b"\x8c" + bytes([len(s)]) + s.encode() for s in (module, name)) + b"\x93"
        return head + pickle.dumps(tuple(args), 2)[2:-1] + b"R."
    proto = 0 if form == "p0" else 2
    tup = pickle.dumps(tuple(args), proto)
    tup = tup[:-1] if proto == 0 else tup[2:-1]
    return (b"\x80\x02" if proto else b"") + b"c" + module.encode() + b"\n" + name.encode() + b"\n" + tup + b"R."


class Reduce:
    """An object that pickles as ``func(*args)`` (then ``BUILD state`` when given)."""

    def __init__(self, *reduce):
        self.reduce = reduce

    def __reduce__(self):
        return self.reduce


def write_canary_code(canary) -> str:
    return f"open({str(canary)!r}, 'w').close()"


def hostile_calls(tmp_path, canary):
    code = write_canary_code(canary)
    inner = tmp_path / "inner.pkl"  # a second file that runs code when numpy.load unpickles it
    inner.write_bytes(call_pickle("builtins", "exec", (code,), "p2"))
    touch = f"touch {canary}"
    return {
        "runstring": ("numpy.testing._private.utils", "runstring", (code, {})),
        "numpy.load": ("numpy", "load", (str(inner), None, True)),
        "numpy.lib.npyio.load": ("numpy.lib.npyio", "load", (str(inner), None, True)),
        "numpy.fromfile": ("numpy", "fromfile", (str(inner),)),
        "os.system": ("os", "system", (touch,)),
        "posix.system": ("posix", "system", (touch,)),
        "subprocess.Popen": ("subprocess", "Popen", (["touch", str(canary)],)),
        "subprocess.check_call": ("subprocess", "check_call", (["touch", str(canary)],)),
        "eval": ("builtins", "eval", (code,)),
        "exec": ("builtins", "exec", (code,)),
        "py2 eval": ("__builtin__", "eval", (code,)),
        "__import__": ("builtins", "__import__", ("os",)),
        "getattr": ("builtins", "getattr", ("os", "system")),
        "scipy.sparse.load_npz": ("scipy.sparse", "load_npz", (str(inner),)),
        "scipy.sparse.random": ("scipy.sparse", "random", (3, 3)),
        "collections.namedtuple": ("collections", "namedtuple", ("X", "a")),
        "operator.attrgetter": ("operator", "attrgetter", ("system",)),
        "pickle.loads": ("pickle", "loads", (inner.read_bytes(),)),
        "codecs rot13": ("_codecs", "encode", ("abc", "rot13")),
        "numpy object dtype": ("numpy", "dtype", ("O8", False, True)),
        "bytes bomb": ("builtins", "bytes", (10**10,)),
        "chumpy look-alike": ("chumpyx", "Ch", ()),
    }


HOSTILE_NAMES = ["runstring", "numpy.load", "numpy.lib.npyio.load", "numpy.fromfile", "os.system", "posix.system",
                 "subprocess.Popen", "subprocess.check_call", "eval", "exec", "py2 eval", "__import__", "getattr",
                 "scipy.sparse.load_npz", "scipy.sparse.random", "collections.namedtuple", "operator.attrgetter",
                 "pickle.loads", "codecs rot13", "numpy object dtype", "bytes bomb", "chumpy look-alike"]


def assert_refused(path, canary):
    with pytest.raises(InputError) as e:
        load_flame(path)
    assert str(e.value).startswith(f"{path}: ") and "\n" not in str(e.value)
    assert not canary.exists(), "the pickle ran code"


@pytest.mark.parametrize("form", ["p0", "p2", "stack", "inst"])
@pytest.mark.parametrize("what", HOSTILE_NAMES)
def test_hostile_globals_are_refused(tmp_path, what, form):
    canary = tmp_path / "canary"
    module, name, args = hostile_calls(tmp_path, canary)[what]
    path = tmp_path / "evil.pkl"
    path.write_bytes(call_pickle(module, name, args, form))
    assert_refused(path, canary)


def test_getattr_chain_is_refused(tmp_path):
    canary = tmp_path / "canary"
    # getattr(__import__('os'), 'system')('touch canary')
    chain = (b"cbuiltins\ngetattr\n(cbuiltins\n__import__\n(Vos\ntRVsystem\ntR(V" + f"touch {canary}".encode() + b"\ntR.")
    (tmp_path / "chain.pkl").write_bytes(chain)
    assert_refused(tmp_path / "chain.pkl", canary)


def test_allowed_names_with_hostile_arguments_are_refused(tmp_path):
    """The names a FLAME pickle needs, called or built with arguments no numpy/scipy pickle has."""
    import copyreg
    import subprocess

    canary = tmp_path / "canary"
    recon = np._core.multiarray._reconstruct
    f8 = np.dtype("f8")
    cases = {
        # copyreg._reconstructor(cls, base, state) runs base.__init__(obj, state)
        "reconstructor Popen": Reduce(copyreg._reconstructor, (subprocess.Popen, subprocess.Popen, ["touch", str(canary)])),
        "reconstructor on ndarray": Reduce(copyreg._reconstructor, (np.ndarray, np.ndarray, (3,))),
        "reconstruct a subclass": Reduce(recon, (np.matrix, (0,), b"b")),
        "array shape beyond its data": Reduce(recon, (np.ndarray, (0,), b"b"), (1, (10**6,), f8, False, b"\0" * 8)),
        "array negative shape": Reduce(recon, (np.ndarray, (0,), b"b"), (1, (-1,), f8, False, b"")),
        "array data not bytes": Reduce(recon, (np.ndarray, (0,), b"b"), (1, (1,), f8, False, [1.0])),
        "array dtype not a dtype": Reduce(recon, (np.ndarray, (0,), b"b"), (1, (1,), "f8", False, b"\0" * 8)),
        "structured dtype": Reduce(np.dtype, ("f8", False, True), (3, "<", None, ("a",), {"a": (f8, 0)}, 8, 1, 0)),
    }
    for what, obj in cases.items():
        data = synthetic_flame()
        data["v_template"] = obj
        path = tmp_path / f"{what.replace(' ', '_')}.pkl"
        write_pkl(path, data)
        assert_refused(path, canary)


@pytest.mark.parametrize("state", [
    # indices past the matrix: scipy's toarray writes out of bounds (a crash, or worse)
    {"_shape": (5, V), "data": np.ones(1), "indices": np.array([10**6]), "indptr": np.r_[0, np.ones(V, int)]},
    # a million by a million: toarray would need 8 TB
    {"_shape": (10**6, 10**6), "data": np.ones(1), "indices": np.zeros(1, np.int32), "indptr": np.r_[0, np.ones(10**6, np.int32)]},
    {"_shape": (5, V), "data": np.ones(1)},  # no indices
], ids=["index-out-of-range", "too-large", "incomplete"])
def test_sparse_matrix_state_is_checked(tmp_path, state):
    import scipy.sparse as sp

    hostile = sp.csc_matrix(np.eye(2))
    hostile.__dict__.clear()
    hostile.__dict__.update(state, maxprint=50)  # pickled as NEWOBJ csc_matrix, BUILD state
    data = synthetic_flame()
    data["J_regressor"] = hostile
    write_pkl(tmp_path / "sparse.pkl", data)
    with pytest.raises(InputError, match="sparse.pkl: key 'J_regressor' is malformed"):
        load_flame(tmp_path / "sparse.pkl")


def fake_chumpy(monkeypatch):
    """A ``chumpy.ch.Ch`` class to pickle with (chumpy itself is not installed)."""
    import sys
    import types

    fake = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = x
            self._dirty_vars = {"x"}

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    fake.Ch = Ch
    monkeypatch.setitem(sys.modules, "chumpy", types.ModuleType("chumpy"))
    monkeypatch.setitem(sys.modules, "chumpy.ch", fake)
    return Ch


def test_self_referencing_chumpy_and_memo_bomb(tmp_path, monkeypatch):
    canary = tmp_path / "canary"
    Ch = fake_chumpy(monkeypatch)
    loop = Ch(None)
    loop.x = loop  # a chumpy Ch whose value is itself
    data = synthetic_flame()
    data["shapedirs"] = loop
    write_pkl(tmp_path / "loop.pkl", data)
    with pytest.raises(InputError, match="loop.pkl: key 'shapedirs' is malformed"):
        load_flame(tmp_path / "loop.pkl")
    # LONG_BINPUT at index 2**31 - 1: the unpickler would allocate and clear a 32 GiB memo table
    (tmp_path / "memo.pkl").write_bytes(b"\x80\x02}r\xff\xff\xff\x7f.")
    assert_refused(tmp_path / "memo.pkl", canary)


def test_cli_refuses_a_hostile_flame_model(tmp_path, capsys):
    from anim3d.audio import save_wav
    from anim3d.cli import main

    canary = tmp_path / "canary"
    np.savez(tmp_path / "take.npz", expression=np.zeros((5, 10)), jaw_pose=np.zeros((5, 3)), fps=30)
    save_wav(tmp_path / "a.wav", np.zeros(8000, np.float32) + 0.01 * np.sin(np.arange(8000)), 16000)
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(call_pickle("numpy.testing._private.utils", "runstring", (write_canary_code(canary), {}), "p2"))
    rc = main(["import", "flame", str(tmp_path / "take.npz"), "--audio", str(tmp_path / "a.wav"),
               "--flame-model", str(evil), "--out", str(tmp_path / "d"), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and not canary.exists()
    assert err.count("\n") == 1 and str(evil) in err and "refusing to load numpy.testing._private.utils.runstring" in err
    assert "Traceback" not in err and not (tmp_path / "d").exists()


class Py2Pickler(pickle._Pickler):
    """Pickles bytes as Python 2 ``str`` (BINSTRING), as the official FLAME files hold array data."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        import struct

        n = len(obj)
        self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj if n < 256 else pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def test_python2_style_pickle_loads(tmp_path, monkeypatch):
    """Python 2 names (numpy.core, scipy.sparse.csc, __builtin__, copy_reg), str array data and a chumpy Ch."""
    import io

    import scipy.sparse as sp

    Ch = fake_chumpy(monkeypatch)
    data = synthetic_flame(6)
    ref = {k: v.copy() for k, v in data.items()}
    data["shapedirs"] = Ch(data["shapedirs"])
    data["J_regressor"] = sp.csc_matrix(data["J_regressor"])
    data["posedirs"] = np.asfortranarray(data["posedirs"])
    for proto in (0, 2):
        buf = io.BytesIO()
        Py2Pickler(buf, proto).dump(data)
        blob = buf.getvalue().replace(b"numpy._core.", b"numpy.core.").replace(b"scipy.sparse._csc\n", b"scipy.sparse.csc\n")
        assert b"numpy.core.multiarray\n_reconstruct" in blob and b"scipy.sparse.csc\ncsc_matrix" in blob
        assert b"__builtin__\nset" in blob and b"_codecs" not in blob
        (tmp_path / "py2.pkl").write_bytes(blob)
        model = load_flame(tmp_path / "py2.pkl")
        np.testing.assert_array_equal(model.shapedirs, ref["shapedirs"][:, :, :300])
        np.testing.assert_array_equal(model.J_regressor, ref["J_regressor"])
        np.testing.assert_array_equal(model.posedirs, ref["posedirs"].reshape(-1, 36).T)
