"""ARKit-52 -> FLAME: a linear map from the 52 weights to expression coefficients + jaw pose.

    amap = fit_arkit_to_flame(load_flame(path))       # fitted against FLAME's own bases
    params = map_motion_to_flame(motion, amap)        # FlameParams (expression, pose, translation)
    verts = flame_vertices(model, params.shape, params.expression, params.pose, params.translation)

What each ARKit shape *means* is taken from the open head's morph targets, which tests check
on the mesh (jawOpen opens the lips, eyeBlinkLeft closes only the left lids, ...). The fit:
1. align the FLAME template to the open head with the eye joints (scale + translation; both
   are Y up, Z forward, metres);
2. pair every face vertex of the open head (MediaPipe's 468) with its nearest FLAME vertex;
3. per ARKit shape, solve weighted ridge least squares for the expression coefficients and
   the jaw rotation that best reproduce the shape's displacements at those vertices (the
   jaw rotation by a few Gauss-Newton steps, since rotation is not linear). Lips and lids
   weigh more: they define most shapes.

``open_head_as_flame(head)`` gives the open head in FLAME form (its morph targets as the
expression basis, the jaw on the jaw joint), so the same Motion -> FLAME parameters -> mesh
path runs without the licensed model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from anim3d import landmarks as lm
from anim3d.channels import ARKIT_NAMES, INDEX, NUM_BLENDSHAPES
from anim3d.flame.flame_loader import FlameModel
from anim3d.flame.head import HeadModel


@dataclass
class ArkitFlameMap:
    """expression: 52 x E coefficients per unit weight; jaw: 52 x 3 axis-angle per unit weight;
    residual: 52 relative fit errors (|fit - target| / |target| over the paired vertices)."""

    expression: np.ndarray
    jaw: np.ndarray
    residual: np.ndarray = field(default_factory=lambda: np.zeros(NUM_BLENDSHAPES))

    @property
    def num_expression(self) -> int:
        return int(self.expression.shape[1])

    @property
    def matrix(self) -> np.ndarray:
        """(E + 3) x 52: expression rows first, then the jaw pose rows (a column per ARKit weight)."""
        return np.concatenate([self.expression.T, self.jaw.T], axis=0)

    def save(self, path) -> None:
        from anim3d.fileio import atomic_output

        with atomic_output(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, expression=self.expression, jaw=self.jaw, residual=self.residual, names=np.array(ARKIT_NAMES))

    @classmethod
    def load(cls, path) -> "ArkitFlameMap":
        from anim3d.errors import InputError

        try:
            with np.load(path, allow_pickle=False) as z:
                if [str(n) for n in z["names"]] != list(ARKIT_NAMES):
                    raise InputError(path, "ARKit->FLAME map has other channel names")
                return cls(z["expression"], z["jaw"], z["residual"])
        except (OSError, KeyError, ValueError) as e:
            raise InputError(path, f"not an ARKit->FLAME map ({e})") from None


@dataclass
class FlameParams:
    """Per-frame FLAME parameters: expression T x E, pose T x 15 (root, neck, jaw, eyes),
    translation T x 3, shape S (identity, zeros unless given)."""

    expression: np.ndarray
    pose: np.ndarray
    translation: np.ndarray
    shape: np.ndarray
    fps: float = 30.0


def _skew(v: np.ndarray) -> np.ndarray:
    """N x 3 -> N x 3 x 3 cross-product matrices ([v]x w = v x w)."""
    z = np.zeros(len(v))
    return np.stack([np.stack([z, -v[:, 2], v[:, 1]], 1), np.stack([v[:, 2], z, -v[:, 0]], 1),
                     np.stack([-v[:, 1], v[:, 0], z], 1)], 1)


def _rotvec_matrix(w: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(w).as_matrix()


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return (Rotation.from_rotvec(a) * Rotation.from_rotvec(b)).as_rotvec()


def _vertex_weights(head: HeadModel) -> np.ndarray:
    """468 fitting weights: lips and eyelids define most shapes, so they count 3x."""
    w = np.ones(468)
    lips = np.asarray(head.parts.get("lips", []), int)
    w[lips[lips < 468]] = 3.0
    for ids in (lm.EYE_L_UPPER, lm.EYE_L_LOWER, lm.EYE_R_UPPER, lm.EYE_R_LOWER,
                lm.MOUTH_UPPER, lm.MOUTH_LOWER):
        w[list(ids)] = 3.0
    return w


def fit_arkit_to_flame(flame_model: FlameModel, head: HeadModel | None = None, ridge: float = 1e-4,
                       max_distance: float = 0.01, gauss_newton_steps: int = 4) -> ArkitFlameMap:
    """Fit the ARKit -> FLAME map (see the module docstring)."""
    from scipy.spatial import cKDTree

    from anim3d.flame.open_head import load_open_head

    head = head or load_open_head()
    oh_idx = np.asarray(head.parts["mediapipe_468"], int)
    oh_pts = head.vertices[oh_idx].astype(np.float64)
    fj = flame_model.joints()
    scale = np.linalg.norm(head.joints[3] - head.joints[4]) / max(np.linalg.norm(fj[3] - fj[4]), 1e-12)
    shift = 0.5 * (head.joints[3] + head.joints[4]) - scale * 0.5 * (fj[3] + fj[4])
    fl_pts = flame_model.v_template * scale + shift  # FLAME template in the open head's frame
    dist, fl_idx = cKDTree(fl_pts).query(oh_pts)
    keep = dist < max_distance  # metres, in the open head's frame
    if keep.sum() < 20:
        raise ValueError(f"only {int(keep.sum())} open-head face vertices lie within {max_distance} m of the "
                         "aligned FLAME template; is the model in metres, Y up, facing +Z?")
    oh_idx, fl_idx = oh_idx[keep], fl_idx[keep]
    vw = np.sqrt(np.repeat(_vertex_weights(head)[keep], 3))  # 3N
    n = len(fl_idx)
    e_dirs = flame_model.exprdirs[fl_idx].reshape(n * 3, -1)  # 3N x E (FLAME units)
    ne = e_dirs.shape[1]
    j_jaw = fj[2]
    rel = flame_model.v_template[fl_idx] - j_jaw  # N x 3
    w_jaw = flame_model.weights[fl_idx, 2]  # N
    col_scale = np.concatenate([np.linalg.norm(e_dirs, axis=0), np.full(3, np.linalg.norm(w_jaw[:, None] * rel))])
    col_scale = np.where(col_scale > 1e-12, col_scale, 1.0)

    expr = np.zeros((NUM_BLENDSHAPES, ne))
    jaw = np.zeros((NUM_BLENDSHAPES, 3))
    resid = np.zeros(NUM_BLENDSHAPES)
    for k in range(NUM_BLENDSHAPES):
        target = head.morph_targets[k, oh_idx].astype(np.float64).reshape(-1) / scale  # 3N, FLAME units
        omega = np.zeros(3)
        for _ in range(gauss_newton_steps):
            r_rot = rel @ _rotvec_matrix(omega).T  # N x 3
            base = (w_jaw[:, None] * (r_rot - rel)).reshape(-1)
            j_cols = (w_jaw[:, None, None] * -_skew(r_rot)).reshape(n * 3, 3)  # d/d(delta) of delta x R r
            a = np.concatenate([e_dirs, j_cols], 1) / col_scale  # 3N x (E + 3)
            aw = a * vw[:, None]
            rhs = (target - base) * vw
            lhs = aw.T @ aw + ridge * np.trace(aw.T @ aw) / aw.shape[1] * np.eye(aw.shape[1])
            x = np.linalg.solve(lhs, aw.T @ rhs) / col_scale
            e, delta = x[:ne], x[ne:]
            omega = _compose(delta, omega)  # R(delta) @ R(omega), as linearised above
            if np.linalg.norm(delta) < 1e-7:
                break
        fit = e_dirs @ e + (w_jaw[:, None] * (rel @ _rotvec_matrix(omega).T - rel)).reshape(-1)
        expr[k], jaw[k] = e, omega
        resid[k] = np.linalg.norm(fit - target) / max(np.linalg.norm(target), 1e-12)
    return ArkitFlameMap(expr, jaw, resid)


def map_motion_to_flame(motion, amap: ArkitFlameMap, shape: np.ndarray | None = None) -> FlameParams:
    """Motion -> FlameParams: expression and jaw from the weights (linear map), head rotation
    on the neck joint, eye rotations from ``Motion.eye_rotations()``, head translation."""
    bs = motion.blendshapes.astype(np.float64)  # T x 52
    t = len(bs)
    pose = np.zeros((t, 5, 3))
    pose[:, 1] = motion.head_rotation
    pose[:, 2] = bs @ amap.jaw
    eyes = motion.eye_rotations()
    pose[:, 3], pose[:, 4] = eyes[:, 0], eyes[:, 1]
    return FlameParams(
        expression=(bs @ amap.expression).astype(np.float32),
        pose=pose.reshape(t, 15).astype(np.float32),
        translation=motion.head_translation.astype(np.float32),
        shape=np.zeros(0, np.float32) if shape is None else np.asarray(shape, np.float32),
        fps=motion.fps,
    )


def flame_params_to_vertices(model: FlameModel, params: FlameParams, device=None):
    """T x V x 3 torch tensor: the FLAME mesh for every frame of ``params``."""
    from anim3d.flame.flame_loader import flame_vertices

    return flame_vertices(model, params.shape if params.shape.size else None, params.expression, params.pose,
                          params.translation, device=device)


def _affine_regressor(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """J x P minimum-norm weights, each row summing to 1, with weights @ points == targets."""
    a = np.concatenate([points.T, np.ones((1, len(points)))], 0)  # 4 x P
    b = np.concatenate([targets.T, np.ones((1, len(targets)))], 0)  # 4 x J
    return (np.linalg.pinv(a) @ b).T


def open_head_as_flame(head: HeadModel | None = None) -> FlameModel:
    """The open head in FLAME form: no identity basis, its 52 morph targets as the expression
    basis (jawOpen's column zeroed: the jaw opens on the jaw joint instead), no pose correctives,
    and a joint regressor that reproduces the head's joints from vertices no morph moves."""
    from anim3d.flame.open_head import load_open_head

    head = head or load_open_head()
    v = head.vertices.astype(np.float64)
    exprdirs = np.transpose(head.morph_targets, (1, 2, 0)).astype(np.float64).copy()  # V x 3 x 52
    exprdirs[:, :, INDEX["jawOpen"]] = 0.0
    still = np.flatnonzero(np.abs(head.morph_targets).max(axis=(0, 2)) == 0)  # vertices no morph moves
    jr = np.zeros((5, len(v)))
    neck = np.intersect1d(np.asarray(head.parts.get("neck", still), int), still)
    jr[:3][:, neck] = _affine_regressor(v[neck], head.joints[:3].astype(np.float64))
    for j, side in ((3, "left"), (4, "right")):
        ids = np.intersect1d(np.asarray(head.parts[f"{side}_eyeball"], int), still)
        jr[j, ids] = _affine_regressor(v[ids], head.joints[j : j + 1].astype(np.float64))[0]
    return FlameModel(
        v_template=v, shapedirs=np.zeros((len(v), 3, 0)), exprdirs=exprdirs,
        posedirs=np.zeros((36, len(v) * 3)), J_regressor=jr, weights=head.skin_weights.astype(np.float64),
        parents=np.array(head.parents), faces=head.faces.astype(np.int64), path=None,
    )


def flame_head_model(model: FlameModel, amap: ArkitFlameMap, name: str = "flame") -> HeadModel:
    """A loaded FLAME as a HeadModel (e.g. for glTF export): its 52 morph targets are the
    mapped expression offsets plus the mapped jaw rotation baked in at full weight."""
    v = model.v_template
    j = model.joints()
    morphs = np.einsum("vce,ke->kvc", model.exprdirs, amap.expression)  # 52 x V x 3
    rel = v - j[2]
    for k in range(NUM_BLENDSHAPES):
        if np.any(amap.jaw[k]):
            morphs[k] += model.weights[:, 2:3] * (rel @ _rotvec_matrix(amap.jaw[k]).T - rel)
    head = HeadModel(vertices=v.astype(np.float32), faces=model.faces.astype(np.int32), morph_targets=morphs.astype(np.float32),
                     joints=j.astype(np.float32), skin_weights=model.weights.astype(np.float32),
                     parents=tuple(int(p) for p in model.parents), name=name)
    return head
