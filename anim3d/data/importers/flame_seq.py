"""FLAME parameter sequence (+ audio) -> Utterance.

Input: an ``.npz`` with, per frame, ``expression`` (T x E), ``jaw_pose`` (T x 3 axis-angle),
optionally ``neck_pose`` (T x 3), ``global_orient`` (T x 3), ``transl`` (T x 3, metres),
``eye_pose`` (T x 6: left then right eye axis-angle), and ``fps`` (a scalar). Keys are
matched case-insensitively, with the common aliases (``exp``, ``jaw``, ``neck``,
``global_pose``/``root_orient``, ``trans``/``translation``, ``eyes``).

The expression and jaw go to ARKit weights through the ARKit->FLAME map of
``anim3d.flame.arkit_mapping`` (52 weights -> expression coefficients + jaw pose, linear): we
invert it by bounded least squares in [0, 1] (the map's pseudo-inverse when no weight
hits a bound). Head rotation = global orientation composed with the neck rotation.
"""

from __future__ import annotations

import os

import numpy as np

from anim3d.audio import MEDIA_EXTENSIONS
from anim3d.channels import ARKIT_NAMES, EYE_MAX_DOWN, EYE_MAX_UP, EYE_MAX_YAW, INDEX
from anim3d.errors import InputError
from anim3d.fileio import read_npz

MOTION_FPS = 30.0
_ALIASES = {
    "expression": ("expression", "exp", "expr", "expression_params"),
    "jaw_pose": ("jaw_pose", "jaw"),
    "neck_pose": ("neck_pose", "neck"),
    "global_orient": ("global_orient", "global_pose", "root_orient", "rotation"),
    "transl": ("transl", "trans", "translation"),
    "eye_pose": ("eye_pose", "eyes", "eye_poses"),
    "fps": ("fps", "frame_rate", "framerate"),
}


def read_flame_sequence(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read and check a FLAME parameter NPZ -> dict with the canonical keys above
    (missing optional arrays are zeros; ``fps`` a float). Raises InputError naming the file."""
    path = os.fspath(path)
    raw = {k.lower(): v for k, v in read_npz(path).items()}
    data: dict[str, np.ndarray] = {}
    for key, names in _ALIASES.items():
        for n in names:
            if n in raw:
                data[key] = raw[n]
                break
    for key in ("expression", "jaw_pose"):
        if key not in data:
            raise InputError(path, f"not a FLAME parameter sequence: no '{key}' array (keys: {', '.join(sorted(raw)) or 'none'})")
    if "fps" not in data:
        raise InputError(path, "no 'fps' value: the frame rate of the sequence is needed")
    try:
        fps = float(np.asarray(data["fps"]).reshape(-1)[0])
    except (ValueError, IndexError, TypeError):
        raise InputError(path, f"'fps' is not a number ({data['fps']!r})") from None
    if not (1.0 <= fps <= 1000.0):
        raise InputError(path, f"'fps' must be between 1 and 1000, got {fps}")
    expr = np.asarray(data["expression"], np.float64)
    if expr.ndim != 2 or expr.shape[0] < 1:
        raise InputError(path, f"'expression' must be T x E, got shape {expr.shape}")
    t = expr.shape[0]
    out = {"expression": expr, "fps": fps}
    for key, width in (("jaw_pose", 3), ("neck_pose", 3), ("global_orient", 3), ("transl", 3), ("eye_pose", 6)):
        if key not in data:
            out[key] = np.zeros((t, width))
            continue
        a = np.asarray(data[key], np.float64)
        if a.shape != (t, width):
            raise InputError(path, f"'{key}' must be {t} x {width} (one row per frame), got shape {a.shape}")
        out[key] = a
    for key, a in out.items():
        if key != "fps" and not np.isfinite(a).all():
            raise InputError(path, f"'{key}' contains NaN or infinite values")
    return out


def flame_to_arkit(expression: np.ndarray, jaw_pose: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Invert a linear ARKit->FLAME map by bounded least squares.

    expression: T x E, jaw_pose: T x 3, matrix: (E' + 3) x 52 with the map's expression rows
    first (E' <= E or >= E: missing coefficients count as 0) then the jaw pose rows.
    Returns T x 52 weights in [0, 1].
    """
    from scipy.optimize import lsq_linear

    e_map = matrix.shape[0] - 3
    e = np.zeros((len(expression), e_map))
    k = min(e_map, expression.shape[1])
    e[:, :k] = expression[:, :k]
    target = np.concatenate([e, jaw_pose], axis=1)  # T x (E' + 3)
    # scale the jaw rows (radians) to weigh like the expression rows
    scale = np.ones(matrix.shape[0])
    col = np.abs(matrix[:e_map]).max() if e_map else 1.0
    jaw = np.abs(matrix[e_map:]).max()
    if jaw > 0 and col > 0:
        scale[e_map:] = col / jaw
    a = matrix * scale[:, None]
    out = np.zeros((len(target), matrix.shape[1]))
    for i, row in enumerate(target * scale):
        out[i] = lsq_linear(a, row, bounds=(0.0, 1.0), method="bvls").x
    return out


def eye_pose_to_gaze(eye_pose: np.ndarray) -> np.ndarray:
    """T x 6 eye axis-angles (left, right) -> T x 52 array with only the eyeLook* channels
    set, the inverse of ``Motion.eye_rotations`` (yaw about +Y, then pitch about +X)."""
    from scipy.spatial.transform import Rotation

    out = np.zeros((len(eye_pose), len(ARKIT_NAMES)))
    for e, side in enumerate(("Left", "Right")):
        yaw, pitch, _ = Rotation.from_rotvec(eye_pose[:, 3 * e : 3 * e + 3]).as_euler("YXZ").T
        toward_left = np.clip(yaw / EYE_MAX_YAW, -1, 1)
        out_, in_ = (toward_left, -toward_left) if side == "Left" else (-toward_left, toward_left)
        out[:, INDEX[f"eyeLookOut{side}"]] = np.clip(out_, 0, 1)
        out[:, INDEX[f"eyeLookIn{side}"]] = np.clip(in_, 0, 1)
        out[:, INDEX[f"eyeLookDown{side}"]] = np.clip(pitch / EYE_MAX_DOWN, 0, 1)
        out[:, INDEX[f"eyeLookUp{side}"]] = np.clip(-pitch / EYE_MAX_UP, 0, 1)
    return out


def find_audio(path: str) -> str:
    stem = os.path.splitext(path)[0]
    for ext in MEDIA_EXTENSIONS:
        if os.path.isfile(stem + ext):
            return stem + ext
    raise InputError(path, f"no audio beside the sequence (looked for {os.path.basename(stem)}{{{','.join(MEDIA_EXTENSIONS)}}}); give the audio file explicitly")


def load_mapping(flame_model: str | os.PathLike | None = None, flame_map: str | os.PathLike | None = None):
    """The ARKit->FLAME map for a FLAME model: a saved map (``ArkitFlameMap.save``), a
    FLAME model file (fitted now with ``anim3d.flame.arkit_mapping.fit_arkit_to_flame``), or the
    string "open" for the open head in FLAME form. Raises InputError naming the file."""
    from anim3d.flame.arkit_mapping import (
        ArkitFlameMap,
        fit_arkit_to_flame,
        open_head_as_flame,
    )

    if flame_map is not None:
        return ArkitFlameMap.load(flame_map)
    if flame_model is None:
        raise InputError(None, "FLAME expression coefficients only mean something with the FLAME model they were "
                               "made with: give that model (--flame-model PATH) or a saved ARKit->FLAME map (--flame-map)")
    if os.fspath(flame_model) == "open":
        return fit_arkit_to_flame(open_head_as_flame())
    from anim3d.flame.flame_loader import load_flame

    model = load_flame(flame_model)
    try:
        return fit_arkit_to_flame(model)
    except ValueError as e:
        raise InputError(flame_model, f"cannot fit the ARKit->FLAME map ({e})") from None


def sequence_to_motion(seq: dict[str, np.ndarray], amap) -> "object":
    """A ``read_flame_sequence`` dict + an ArkitFlameMap -> Motion at the sequence's rate.

    Weights: bounded inverse of the map (``flame_to_arkit``) plus gaze from the eye poses;
    head rotation = global orientation then neck (R_global @ R_neck); translation as given.
    """
    from scipy.spatial.transform import Rotation

    from anim3d.motion import Motion

    weights = flame_to_arkit(seq["expression"], seq["jaw_pose"], amap.matrix)
    gaze = eye_pose_to_gaze(seq["eye_pose"])
    look = [INDEX[n] for n in ARKIT_NAMES if n.startswith("eyeLook")]
    weights[:, look] = gaze[:, look]
    rot = (Rotation.from_rotvec(seq["global_orient"]) * Rotation.from_rotvec(seq["neck_pose"])).as_rotvec()
    return Motion(np.clip(weights, 0, 1).astype(np.float32), rot.astype(np.float32), seq["transl"].astype(np.float32), fps=seq["fps"])


def import_flame_sequence(path: str | os.PathLike, audio_path: str | os.PathLike | None = None, *, amap=None,
                          flame_model: str | os.PathLike | None = None, flame_map: str | os.PathLike | None = None,
                          speaker: str | None = None):
    """A FLAME parameter sequence with its audio -> ``anim3d.data.shards.Utterance``
    (source "flame", 30 fps). The audio is ``audio_path`` or the file with the same name
    beside the sequence; the map is ``amap`` or ``load_mapping(flame_model, flame_map)``."""
    from anim3d.audio import load_audio
    from anim3d.data.importers.video import match_duration, make_utterance

    path = os.fspath(path)
    seq = read_flame_sequence(path)
    audio_path = find_audio(path) if audio_path is None else os.fspath(audio_path)
    audio = load_audio(audio_path)
    amap = amap if amap is not None else load_mapping(flame_model, flame_map)
    motion = sequence_to_motion(seq, amap)
    if abs(motion.fps - MOTION_FPS) > 1e-6:
        motion = motion.resample(MOTION_FPS)
    motion = match_duration(motion, audio.duration)
    stem = os.path.splitext(os.path.basename(path))[0]
    return make_utterance(uid=f"flame-{stem}", audio=audio, motion=motion, source="flame", speaker=speaker or stem,
                      extra={"sequence_fps": float(seq["fps"]), "path": path, "audio_path": audio_path})
