"""Load a FLAME model file (the licensed model the user downloads) and run it.

    model = load_flame("generic_model.pkl")     # or an .npz with the same keys
    verts = flame_vertices(model, shape, expression, pose, translation)   # T x V x 3

The file uses smplx's keys: ``v_template`` (V x 3), ``shapedirs`` (V x 3 x (300 + E): 300
shape then E expression components), ``posedirs`` (V x 3 x 36), ``J_regressor`` (5 x V,
dense or scipy-sparse), ``weights`` (V x 5), ``kintree_table`` (2 x 5), ``f`` (F x 3).
Pose is 15 axis-angle values: root (global), neck, jaw, left eye, right eye (smplx's order).

Pickles are read by ``anim3d.flame.flame_pickle``, which resolves only the globals a FLAME model
names (numpy arrays, scipy sparse matrices, chumpy ``Ch``) to inert stand-ins, so that a
model file cannot run code; chumpy objects (the official FLAME pickles store some arrays as
chumpy ``Ch``) become numpy arrays without needing chumpy installed.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass

import numpy as np

from anim3d.errors import InputError
from anim3d.flame.flame_pickle import load_flame_pickle, materialize

NUM_JOINTS = 5
SHAPE_SPACE_DIM = 300
REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")


@dataclass
class FlameModel:
    """A FLAME-layout model: arrays in smplx's layout, shape and expression bases split."""

    v_template: np.ndarray  # V x 3
    shapedirs: np.ndarray  # V x 3 x S (identity)
    exprdirs: np.ndarray  # V x 3 x E (expression)
    posedirs: np.ndarray  # (J-1)*9 x V*3 (smplx's flattened layout), may be all zero
    J_regressor: np.ndarray  # J x V
    weights: np.ndarray  # V x J
    parents: np.ndarray  # J, parents[0] = -1
    faces: np.ndarray  # F x 3
    path: str | None = None

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def num_shape(self) -> int:
        return int(self.shapedirs.shape[2])

    @property
    def num_expression(self) -> int:
        return int(self.exprdirs.shape[2])

    def joints(self, shape: np.ndarray | None = None) -> np.ndarray:
        """Rest joints (J x 3) of the template, or of the given identity (S,) coefficients."""
        v = self.v_template
        if shape is not None:
            k = min(len(shape), self.num_shape)
            v = v + self.shapedirs[:, :, :k] @ np.asarray(shape)[:k]
        return self.J_regressor @ v


MAX_NPZ_BYTES = 2**31  # uncompressed size of all arrays of an .npz (a real FLAME model: ~60 MB)


def _read_npz(path: str, blob: bytes) -> dict:
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            size = sum(info.file_size for info in zf.infolist())
        if size > MAX_NPZ_BYTES:
            raise InputError(path, f"not a FLAME model: its arrays would take {size / 2**30:.1f} GiB")
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except InputError:
        raise
    except Exception as e:  # zipfile and numpy raise many kinds on a damaged archive
        raise InputError(path, f"not a readable FLAME .npz ({type(e).__name__}: {e})") from None


def _read_raw(path: str) -> dict:
    if not os.path.isfile(path):
        raise InputError(path, "FLAME model file not found")
    with open(path, "rb") as fh:
        blob = fh.read()
    if blob[:2] == b"PK":  # npz (zip)
        return _read_npz(path, blob)
    try:
        data = load_flame_pickle(blob)
    except Exception as e:  # any unpickling failure is a bad file, reported in one line
        raise InputError(path, f"not a readable FLAME pickle ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict):
        raise InputError(path, f"not a FLAME model: the pickle holds a {type(data).__name__}, not a dict of arrays")
    return data


def _array(path: str, data: dict, key: str, dtype=np.float64) -> np.ndarray:
    try:
        val = materialize(data[key])
    except Exception as e:  # a stand-in whose recorded state does not make an array
        raise InputError(path, f"key '{key}' is malformed ({type(e).__name__}: {e})") from None
    if not isinstance(val, np.ndarray):
        raise InputError(path, f"key '{key}' is malformed: not a numeric array (a {type(val).__name__})")
    try:
        arr = np.asarray(val, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise InputError(path, f"key '{key}' is malformed: not a numeric array ({e})") from None
    if not np.all(np.isfinite(arr)):
        raise InputError(path, f"key '{key}' is malformed: contains NaN or infinite values")
    return arr


def load_flame(path: str | os.PathLike, num_shape: int = SHAPE_SPACE_DIM) -> FlameModel:
    """Read a FLAME pickle/npz (smplx's keys). Raises InputError naming a missing or malformed key."""
    path = os.fspath(path)
    data = _read_raw(path)
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise InputError(path, f"not a FLAME model: missing key{'s' if len(missing) > 1 else ''} {', '.join(repr(k) for k in missing)}")

    def bad(key: str, want: str, arr: np.ndarray) -> InputError:
        return InputError(path, f"key '{key}' is malformed: expected {want}, got shape {tuple(arr.shape)}")

    v = _array(path, data, "v_template")
    if v.ndim != 2 or v.shape[1] != 3 or len(v) < 3:
        raise bad("v_template", "(V, 3)", v)
    nv = len(v)
    sd = _array(path, data, "shapedirs")
    if sd.ndim != 3 or sd.shape[:2] != (nv, 3) or sd.shape[2] <= num_shape:
        raise bad("shapedirs", f"({nv}, 3, {num_shape} + expressions)", sd)
    pd = _array(path, data, "posedirs")
    npose = (NUM_JOINTS - 1) * 9
    if pd.ndim == 3 and pd.shape == (nv, 3, npose):
        pd = pd.reshape(-1, npose).T  # smplx: (V*3, P) -> (P, V*3)
    elif not (pd.ndim == 2 and pd.shape == (npose, nv * 3)):
        raise bad("posedirs", f"({nv}, 3, {npose})", pd)
    jr = _array(path, data, "J_regressor")
    if jr.shape != (NUM_JOINTS, nv):
        raise bad("J_regressor", f"({NUM_JOINTS}, {nv})", jr)
    w = _array(path, data, "weights")
    if w.shape != (nv, NUM_JOINTS):
        raise bad("weights", f"({nv}, {NUM_JOINTS})", w)
    kt = _array(path, data, "kintree_table", np.int64)
    if kt.shape != (2, NUM_JOINTS):
        raise bad("kintree_table", f"(2, {NUM_JOINTS})", kt)
    parents = kt[0].copy()
    parents[0] = -1
    if any(not (0 <= parents[i] < i) for i in range(1, NUM_JOINTS)):
        raise InputError(path, f"key 'kintree_table' is malformed: parents {parents.tolist()} are not a tree in joint order")
    f = _array(path, data, "f", np.float64)
    if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0 or np.any(f != np.round(f)) or f.min() < 0 or f.max() >= nv:
        raise InputError(path, f"key 'f' is malformed: expected (F, 3) vertex indices in [0, {nv}), got shape {tuple(f.shape)}")
    return FlameModel(
        v_template=v, shapedirs=sd[:, :, :num_shape], exprdirs=sd[:, :, num_shape:], posedirs=pd,
        J_regressor=jr, weights=w, parents=parents, faces=f.astype(np.int64), path=path,
    )


def _coeffs(x, n: int, t: int, name: str) -> np.ndarray:
    """Pad/trim T x k coefficients to T x n (missing ones are zero)."""
    out = np.zeros((t, n), np.float64)
    if x is None:
        return out
    a = np.asarray(x, np.float64)
    if a.ndim == 1:
        a = np.broadcast_to(a, (t, a.shape[0]))
    if a.shape[0] != t:
        raise ValueError(f"{name} has {a.shape[0]} frames, expected {t}")
    k = min(n, a.shape[1])
    out[:, :k] = a[:, :k]
    return out


def flame_vertices(model: FlameModel, shape=None, expression=None, pose=None, translation=None,
                   device=None, pose_correctives: bool = True):
    """FLAME forward pass: T x V x 3 torch tensor (float32 on ``device``).

    shape: (S,) or T x S identity; expression: T x E; pose: T x 15 axis-angle (root, neck,
    jaw, left eye, right eye); translation: T x 3. Missing arguments are zeros; fewer
    coefficients than the model has are zero-padded.
    """
    import torch

    from anim3d.flame.lbs import lbs

    t = 1
    for x in (expression, pose, translation):
        if x is not None and np.ndim(x) == 2:
            t = np.shape(x)[0]
            break
    betas = np.concatenate([_coeffs(shape, model.num_shape, t, "shape"),
                            _coeffs(expression, model.num_expression, t, "expression")], 1)  # T x (S+E)
    pose = _coeffs(pose, NUM_JOINTS * 3, t, "pose")
    tr = _coeffs(translation, 3, t, "translation")
    dev = torch.device(device) if device is not None else torch.device("cpu")
    f32 = dict(dtype=torch.float32, device=dev)
    dirs = np.concatenate([model.shapedirs, model.exprdirs], 2)
    verts, _ = lbs(
        torch.as_tensor(betas, **f32), torch.as_tensor(pose, **f32), torch.as_tensor(model.v_template, **f32),
        torch.as_tensor(dirs, **f32), torch.as_tensor(model.posedirs, **f32) if pose_correctives else None,
        torch.as_tensor(model.J_regressor, **f32), torch.as_tensor(model.parents, dtype=torch.long, device=dev),
        torch.as_tensor(model.weights, **f32),
    )
    return verts + torch.as_tensor(tr, **f32)[:, None, :]
