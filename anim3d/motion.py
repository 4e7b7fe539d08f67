"""The Motion type: the contract between the generator, the head models and every exporter.

A Motion is a sequence of frames at ``fps`` with
- ``blendshapes``: (T, 52) float32 ARKit weights in Apple's order, each in [0, 1];
- ``head_rotation``: (T, 3) float32 axis-angle (radians) relative to the neutral forward pose;
- ``head_translation``: (T, 3) float32 metres relative to the neutral position.

Coordinates are right-handed, Y up, metres, the face looking down +Z (glTF's convention).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from anim3d.channels import ARKIT_NAMES, EYE_MAX_DOWN, EYE_MAX_UP, EYE_MAX_YAW, INDEX, NUM_BLENDSHAPES
from anim3d.errors import MotionError

NPZ_FORMAT = "anim3d.motion/1"
MAX_FPS = 1000.0  # a frame rate above this is a corrupt file, not a capture
WEIGHT_SLACK = 1e-3  # weights this far outside [0, 1] are rounding, not out of range


@dataclass
class Motion:
    blendshapes: np.ndarray  # T x 52, ARKit order, [0, 1]
    head_rotation: np.ndarray  # T x 3, axis-angle radians
    head_translation: np.ndarray  # T x 3, metres
    fps: float = 30.0

    def __post_init__(self) -> None:
        self.blendshapes = np.asarray(self.blendshapes, dtype=np.float32)
        self.head_rotation = np.asarray(self.head_rotation, dtype=np.float32)
        self.head_translation = np.asarray(self.head_translation, dtype=np.float32)
        self.fps = float(self.fps)
        self.validate()

    # ------------------------------------------------------------------ basics
    def validate(self, source: str | os.PathLike | None = None) -> None:
        """Raise MotionError (naming ``source``) if shapes, values or fps are wrong."""
        t = self.blendshapes.shape[0] if self.blendshapes.ndim == 2 else -1
        if self.blendshapes.ndim != 2 or self.blendshapes.shape[1] != NUM_BLENDSHAPES:
            raise MotionError(source, f"blendshapes must be (frames, 52), got {self.blendshapes.shape}")
        for name, arr in (("head_rotation", self.head_rotation), ("head_translation", self.head_translation)):
            if arr.shape != (t, 3):
                raise MotionError(source, f"{name} must be ({t}, 3), got {arr.shape}")
        if not (np.isfinite(self.fps) and 0 < self.fps <= MAX_FPS):
            raise MotionError(source, f"fps must be a positive number up to {MAX_FPS:g}, got {self.fps:g}")
        for name, arr in (
            ("blendshapes", self.blendshapes),
            ("head_rotation", self.head_rotation),
            ("head_translation", self.head_translation),
        ):
            bad = ~np.isfinite(arr)
            if bad.any():
                frame = int(np.argwhere(bad)[0][0])
                raise MotionError(source, f"{name} has NaN or infinite values (first at frame {frame})")

    @classmethod
    def neutral(cls, num_frames: int, fps: float = 30.0) -> "Motion":
        z = np.zeros((num_frames, 3), np.float32)
        return cls(np.zeros((num_frames, NUM_BLENDSHAPES), np.float32), z, z.copy(), fps)

    @property
    def num_frames(self) -> int:
        return int(self.blendshapes.shape[0])

    def __len__(self) -> int:
        return self.num_frames

    @property
    def duration(self) -> float:
        """Seconds covered: frame i is shown at i / fps for 1 / fps."""
        return self.num_frames / self.fps

    @property
    def times(self) -> np.ndarray:
        return np.arange(self.num_frames, dtype=np.float64) / self.fps

    def channel(self, name: str) -> np.ndarray:
        """(T,) weights of one ARKit channel by name."""
        return self.blendshapes[:, INDEX[name]]

    def clipped(self) -> "Motion":
        """A copy with blendshape weights clamped to [0, 1]."""
        return Motion(np.clip(self.blendshapes, 0.0, 1.0), self.head_rotation, self.head_translation, self.fps)

    def copy(self) -> "Motion":
        return Motion(self.blendshapes.copy(), self.head_rotation.copy(), self.head_translation.copy(), self.fps)

    # ---------------------------------------------------------- time handling
    def __getitem__(self, key: slice) -> "Motion":
        if not isinstance(key, slice):
            raise TypeError("Motion supports slicing by frames only, e.g. motion[10:40]")
        return Motion(self.blendshapes[key], self.head_rotation[key], self.head_translation[key], self.fps)

    def slice_time(self, start: float, end: float | None = None) -> "Motion":
        """Frames whose time lies in [start, end) seconds."""
        i0 = max(0, int(np.ceil(start * self.fps - 1e-6)))
        i1 = self.num_frames if end is None else max(i0, int(np.ceil(end * self.fps - 1e-6)))
        return self[i0:i1]

    @staticmethod
    def concatenate(parts: Sequence["Motion"]) -> "Motion":
        if not parts:
            raise ValueError("nothing to concatenate")
        fps = parts[0].fps
        if any(abs(p.fps - fps) > 1e-9 for p in parts):
            raise ValueError("all motions must have the same fps; resample first")
        return Motion(
            np.concatenate([p.blendshapes for p in parts]),
            np.concatenate([p.head_rotation for p in parts]),
            np.concatenate([p.head_translation for p in parts]),
            fps,
        )

    def sample(self, t: np.ndarray | Iterable[float]) -> "Motion":
        """Interpolate the motion at arbitrary times (seconds); rotations by slerp.

        Times outside the motion hold the first/last frame.
        """
        from scipy.spatial.transform import Rotation, Slerp

        t = np.asarray(list(t) if not isinstance(t, np.ndarray) else t, dtype=np.float64)
        src = self.times
        if self.num_frames == 0:
            raise ValueError("cannot sample an empty motion")
        tc = np.clip(t, src[0], src[-1])
        bs = np.stack([np.interp(tc, src, self.blendshapes[:, k]) for k in range(NUM_BLENDSHAPES)], axis=1)
        tr = np.stack([np.interp(tc, src, self.head_translation[:, k]) for k in range(3)], axis=1)
        if self.num_frames == 1:
            rot = np.repeat(self.head_rotation, len(t), axis=0)
        else:
            rot = Slerp(src, Rotation.from_rotvec(self.head_rotation.astype(np.float64)))(tc).as_rotvec()
        return Motion(bs, rot, tr, self.fps)

    def resample(self, fps: float) -> "Motion":
        """The same performance at another frame rate (timing is kept: frame i at i / fps)."""
        n = max(1, int(round(self.duration * fps)))
        out = self.sample(np.arange(n) / fps)
        out.fps = float(fps)
        return out

    # -------------------------------------------------------------- derived
    def eye_rotations(self) -> np.ndarray:
        """(T, 2, 3) axis-angle rotations of the left and right eyeball from the eyeLook* channels.

        Yaw about +Y (positive turns the gaze toward the subject's left, +X), pitch about
        +X (positive turns the gaze down). Left eye: lookOut = toward the subject's left.
        """
        b = self.blendshapes
        out = np.zeros((self.num_frames, 2, 3), np.float32)
        for e, side in enumerate(("Left", "Right")):
            look_in = b[:, INDEX[f"eyeLookIn{side}"]]
            look_out = b[:, INDEX[f"eyeLookOut{side}"]]
            toward_left = (look_out - look_in) if side == "Left" else (look_in - look_out)
            yaw = EYE_MAX_YAW * toward_left
            pitch = EYE_MAX_DOWN * b[:, INDEX[f"eyeLookDown{side}"]] - EYE_MAX_UP * b[:, INDEX[f"eyeLookUp{side}"]]
            out[:, e] = _yaw_pitch_to_rotvec(yaw, pitch)
        return out

    # ------------------------------------------------------------------ I/O
    def save_npz(self, path: str | os.PathLike) -> None:
        """Write an NPZ with the channel names inside (written atomically)."""
        from anim3d.fileio import atomic_output

        with atomic_output(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(
                    f,
                    format=np.array(NPZ_FORMAT),
                    blendshapes=self.blendshapes,
                    blendshape_names=np.array(ARKIT_NAMES),
                    head_rotation=self.head_rotation,
                    head_translation=self.head_translation,
                    fps=np.array(self.fps),
                )

    @classmethod
    def load_npz(cls, path: str | os.PathLike) -> "Motion":
        """Read a Motion NPZ; columns are matched by name, so any channel order works.

        Raises MotionError naming ``path`` unless the file holds a Motion with at least one
        frame; warns (InputWarning) about weights outside [0, 1].
        """
        from anim3d.errors import warn_input
        from anim3d.fileio import read_npz

        data = read_npz(path, error=MotionError)
        missing = [k for k in ("blendshapes", "blendshape_names", "head_rotation", "head_translation", "fps") if k not in data]
        if missing:
            raise MotionError(path, f"not an anim3d Motion NPZ: missing {', '.join(missing)}")
        names = _names(path, data["blendshape_names"])
        bs_in = _real_array(path, "blendshapes", data["blendshapes"])
        if bs_in.ndim != 2 or bs_in.shape[1] != len(names):
            raise MotionError(path, f"blendshapes {bs_in.shape} do not match {len(names)} names")
        col = {n: i for i, n in enumerate(names)}
        absent = [n for n in ARKIT_NAMES if n not in col]
        if absent:
            raise MotionError(path, f"missing ARKit channels: {', '.join(absent[:5])}{'...' if len(absent) > 5 else ''}")
        if bs_in.shape[0] == 0:
            raise MotionError(path, "the motion has no frames")
        fps = _real_array(path, "fps", data["fps"])
        if fps.size != 1:
            raise MotionError(path, f"fps must be one number, got an array of shape {fps.shape}")
        motion = cls.__new__(cls)
        motion.blendshapes = bs_in[:, [col[n] for n in ARKIT_NAMES]]
        motion.head_rotation = _real_array(path, "head_rotation", data["head_rotation"])
        motion.head_translation = _real_array(path, "head_translation", data["head_translation"])
        motion.fps = float(fps.reshape(()))
        motion.validate(path)
        loud = weights_out_of_range(motion.blendshapes)
        if loud:
            where = ", ".join(f"{ARKIT_NAMES[k]} (first at frame {i})" for k, i in loud)
            warn_input(path, f"blendshape weights outside [0, 1] (exporters clamp them): {where}")
        return motion


def weights_out_of_range(blendshapes: np.ndarray, slack: float = WEIGHT_SLACK) -> list[tuple[int, int]]:
    """(column, first row) of every column of a T x C weight array with a value outside
    [-slack, 1 + slack]."""
    bad = (blendshapes < -slack) | (blendshapes > 1.0 + slack)
    return [(int(k), int(np.argmax(bad[:, k]))) for k in np.flatnonzero(bad.any(axis=0))]


def _real_array(path, key: str, value) -> np.ndarray:
    """An NPZ field as float32 when it holds integers or floats; else MotionError."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise MotionError(path, f"{key} must hold numbers, not {arr.dtype} values")
    with np.errstate(over="ignore"):
        return arr.astype(np.float32)


def _names(path, value) -> list[str]:
    """The NPZ's channel names: a 1-D array of strings."""
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.dtype.kind not in "US":
        raise MotionError(path, f"blendshape_names must be a list of strings, got {arr.dtype} of shape {arr.shape}")
    return [n.decode("latin-1") if isinstance(n, bytes) else str(n) for n in arr.tolist()]


def _yaw_pitch_to_rotvec(yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """(T,) yaw about +Y then pitch about +X (R = Ry(yaw) @ Rx(pitch)) -> (T, 3) axis-angle."""
    from scipy.spatial.transform import Rotation

    if len(yaw) == 0:
        return np.zeros((0, 3), np.float32)
    r = Rotation.from_euler("YX", np.stack([yaw, pitch], axis=1))  # intrinsic: yaw, then pitch
    return r.as_rotvec().astype(np.float32)
