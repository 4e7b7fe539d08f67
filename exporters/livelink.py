"""Live Link Face CSV (Epic's iOS app "take" export): writer and reader.

The header is ``Timecode,BlendShapeCount`` then the 52 shapes in PascalCase in Live Link
Face's order (which lists JawRight before JawLeft and MouthRight before MouthLeft, unlike
Apple's order), then ``HeadYaw,HeadPitch,HeadRoll,LeftEyeYaw,LeftEyePitch,LeftEyeRoll,
RightEyeYaw,RightEyePitch,RightEyeRoll``; ``BlendShapeCount`` is 61 (52 + 9 angles).
Timecode is ``HH:MM:SS:FF.fff``: FF counts frames at the timecode rate, ``.fff`` the sub-frame.

Angles are radians. Our convention (written and read back the same way): the head rotation
R = Ry(yaw) @ Rx(pitch) @ Rz(roll) in the Motion's frame (Y up, face looking down +Z), so
yaw > 0 turns the face toward the subject's left (+X), pitch > 0 tilts the face down, roll is
the right-hand rotation about +Z (the viewing axis).
Columns are always read by name, never by position.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass

import numpy as np

from anim3d.channels import ARKIT_NAMES, INDEX, canonical_name, to_pascal
from anim3d.errors import InputError, MotionError, warn_input
from anim3d.motion import MAX_FPS, Motion, weights_out_of_range

_SWAPPED = {"jawLeft": "jawRight", "jawRight": "jawLeft", "mouthLeft": "mouthRight", "mouthRight": "mouthLeft"}
LIVELINK_ORDER: tuple[str, ...] = tuple(_SWAPPED.get(n, n) for n in ARKIT_NAMES)  # camelCase, Live Link's column order
ANGLE_COLUMNS: tuple[str, ...] = (
    "HeadYaw", "HeadPitch", "HeadRoll",
    "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
    "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)
HEADER: tuple[str, ...] = ("Timecode", "BlendShapeCount", *(to_pascal(n) for n in LIVELINK_ORDER), *ANGLE_COLUMNS)
BLENDSHAPE_COUNT = 61
_TC = re.compile(r"^\s*(\d{1,2}):(\d{2}):(\d{2})[:;](\d{1,3})(?:\.(\d+))?\s*$")
DAY_SECONDS = 86400  # timecode is the time of day
_COMMON_RATES = (23.976, 24.0, 25.0, 29.97, 30.0, 48.0, 50.0, 59.94, 60.0, 120.0)


@dataclass
class TimecodeInfo:
    """Timing of a take: first timecode, the timecode frame rate, the data frame rate."""

    start: str
    timecode_fps: float
    fps: float
    num_rows: int
    resampled: bool  # True when the rows were irregular and were resampled to ``fps``
    angle_columns: tuple[str, ...] = ()  # the ANGLE_COLUMNS the file has (absent ones read as 0)


# ------------------------------------------------------------------ angles
def rotvec_to_ypr(rotvec: np.ndarray) -> np.ndarray:
    """(T, 3) axis-angle -> (T, 3) yaw, pitch, roll (radians), R = Ry(yaw) Rx(pitch) Rz(roll)."""
    from scipy.spatial.transform import Rotation

    if len(rotvec) == 0:
        return np.zeros((0, 3), np.float64)
    return Rotation.from_rotvec(np.asarray(rotvec, np.float64)).as_euler("YXZ")


def ypr_to_rotvec(ypr: np.ndarray) -> np.ndarray:
    """(T, 3) yaw, pitch, roll -> (T, 3) axis-angle (inverse of ``rotvec_to_ypr``)."""
    from scipy.spatial.transform import Rotation

    if len(ypr) == 0:
        return np.zeros((0, 3), np.float32)
    return Rotation.from_euler("YXZ", np.asarray(ypr, np.float64)).as_rotvec().astype(np.float32)


# ---------------------------------------------------------------- timecode
def format_timecode(seconds: float, timecode_fps: float) -> str:
    """Seconds -> ``HH:MM:SS:FF.fff`` (FF frames at ``timecode_fps``, ``.fff`` the sub-frame)."""
    rate = int(round(timecode_fps))
    total_frames = seconds * rate
    whole = int(np.floor(total_frames + 1e-6))
    sub = max(0.0, total_frames - whole)
    ff = whole % rate
    s = (whole // rate) % DAY_SECONDS
    return f"{s // 3600:02d}:{(s // 60) % 60:02d}:{s % 60:02d}:{ff:02d}.{int(round(sub * 1000)) % 1000:03d}"


def parse_timecode(text: str) -> tuple[int, float]:
    """``HH:MM:SS:FF.fff`` -> (whole seconds, frames incl. sub-frame). Raises ValueError."""
    m = _TC.match(text)
    if not m:
        raise ValueError(f"bad timecode {text!r} (expected HH:MM:SS:FF.fff)")
    h, mi, s, ff = (int(m.group(i)) for i in range(1, 5))
    sub = float("0." + m.group(5)) if m.group(5) else 0.0
    return h * 3600 + mi * 60 + s, ff + sub


# ------------------------------------------------------------------ writer
def write_livelink_csv(motion: Motion, path: str | os.PathLike, start_seconds: float = 0.0, timecode_fps: float | None = None) -> str:
    """Write ``motion`` as a Live Link Face take CSV (atomically). Returns the path."""
    from anim3d.fileio import atomic_output

    path = os.fspath(path)
    motion.validate(path)
    if motion.num_frames == 0:
        raise MotionError(path, "the motion has no frames")
    tc_fps = float(timecode_fps or round(motion.fps))
    head = rotvec_to_ypr(motion.head_rotation)  # T x 3
    eyes = motion.eye_rotations()  # T x 2 x 3
    eye_ypr = [rotvec_to_ypr(eyes[:, e]) for e in range(2)]
    cols = [INDEX[n] for n in LIVELINK_ORDER]
    bs = np.clip(motion.blendshapes[:, cols], 0.0, 1.0)
    angles = np.concatenate([head, eye_ypr[0], eye_ypr[1]], axis=1)  # T x 9
    with atomic_output(path) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(HEADER)
            for i in range(motion.num_frames):
                tc = format_timecode(start_seconds + i / motion.fps, tc_fps)
                w.writerow([tc, BLENDSHAPE_COUNT, *(f"{x:.8f}" for x in bs[i]), *(f"{x:.8f}" for x in angles[i])])
    return path


# ------------------------------------------------------------------ reader
def _guess_timecode_fps(whole_seconds: np.ndarray, frame_numbers: np.ndarray) -> float:
    """The timecode rate: exact when the take crosses a second boundary (max FF + 1), else
    the smallest of 30/60/120 above the largest frame number seen."""
    top = int(np.max(np.floor(frame_numbers))) if len(frame_numbers) else 0
    if len(whole_seconds) > 1 and whole_seconds[-1] > whole_seconds[0] + 1:
        rate = top + 1
        nearest = min((24, 25, 30, 48, 50, 60, 120), key=lambda r: abs(r - rate))
        return float(nearest if abs(nearest - rate) <= 1 else rate)
    for rate in (30, 60, 120):
        if top < rate:
            return float(rate)
    return float(top + 1)


def read_livelink_csv(path: str | os.PathLike, timecode_fps: float | None = None) -> tuple[Motion, TimecodeInfo]:
    """Read a Live Link Face take CSV -> (Motion at the take's frame rate, TimecodeInfo).

    Columns are matched by name in any common spelling. Raises InputError when the file is
    not a Live Link take, MotionError for missing shape columns or bad values (naming the row
    and column). Warns (InputWarning) about weights outside [0, 1], which are clamped, and
    about timecodes that go back, repeat or jump, where the rows are used in order.
    """
    path = os.fspath(path)
    header, body = _read_table(path)
    lower = {c.lower(): i for i, c in enumerate(header)}
    if "timecode" not in lower or "blendshapecount" not in lower:
        raise InputError(path, "not a Live Link Face take: the header needs 'Timecode' and 'BlendShapeCount' columns")
    shape_col: dict[str, int] = {}
    for i, c in enumerate(header):
        n = canonical_name(c)
        if n is not None and n not in shape_col:
            shape_col[n] = i
    missing = [to_pascal(n) for n in ARKIT_NAMES if n not in shape_col]
    if missing:
        raise MotionError(path, f"missing {len(missing)} blendshape column(s): {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}")
    if not body:
        raise MotionError(path, "the take has a header but no frames")
    for line, r in body:
        if len(r) < len(header):
            raise MotionError(path, f"row {line} has {len(r)} values, the header has {len(header)}")
    cols = [shape_col[n] for n in ARKIT_NAMES]
    bs = np.stack([_column(path, body, i, header[i]) for i in cols], axis=1)  # T x 52
    ang = np.zeros((len(body), 9))
    for j, name in enumerate(ANGLE_COLUMNS):
        if name.lower() in lower:
            ang[:, j] = _column(path, body, lower[name.lower()], name)
    loud = weights_out_of_range(bs)
    if loud:
        where = ", ".join(f"{header[cols[k]]} (first at row {body[i][0]})" for k, i in loud)
        warn_input(path, f"blendshape weights outside [0, 1] are clamped: {where}")
    t, tc_fps, fps = _timeline(path, body, lower["timecode"], timecode_fps)
    motion = _motion(path, np.clip(bs, 0.0, 1.0), ypr_to_rotvec(ang[:, 0:3]), fps)
    grid = np.arange(len(t)) / fps
    resampled = bool(len(t) > 1 and np.max(np.abs(grid - t)) > 0.25 / fps)
    if resampled:  # dropped or irregular frames: put the rows on a regular grid
        n = int(round(t[-1] * fps)) + 1
        motion = _sample_at(motion, t, np.arange(n) / fps, fps)
    info = TimecodeInfo(start=body[0][1][lower["timecode"]].strip(), timecode_fps=tc_fps, fps=fps, num_rows=len(body),
                        resampled=resampled, angle_columns=tuple(c for c in ANGLE_COLUMNS if c.lower() in lower))
    return motion, info


def _read_table(path: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header cells, [(line number, cells)] of the non-blank rows below it)."""
    if not os.path.isfile(path):
        raise InputError(path, "file not found")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            rows = [(reader.line_num, r) for r in reader if any(c.strip() for c in r)]
    except (UnicodeDecodeError, csv.Error) as e:
        raise InputError(path, f"not a readable CSV text file ({e})") from None
    if not rows:
        raise InputError(path, "file is empty")
    return [c.strip() for c in rows[0][1]], rows[1:]


def _column(path: str, body: list[tuple[int, list[str]]], i: int, name: str) -> np.ndarray:
    """Column ``i`` as finite floats; a cell that is not one is a MotionError naming row and column."""
    out = np.empty(len(body))
    for k, (line, r) in enumerate(body):
        try:
            out[k] = float(r[i])
        except ValueError:
            raise MotionError(path, f"row {line}: {name} is not a number ({r[i]!r})") from None
        if not np.isfinite(out[k]):
            raise MotionError(path, f"row {line}: {name} is not a finite number ({r[i]!r})")
    return out


def _timeline(path: str, body: list[tuple[int, list[str]]], col: int, timecode_fps: float | None) -> tuple[np.ndarray, float, float]:
    """(row times in seconds from the first row, timecode rate, data frame rate).

    Timecode is the time of day, so a take may wrap from 23:59:59 to 00:00:00. Rows are
    written in capture order: where the timecodes go back, repeat, jump over more rows than
    the take holds or give no usable frame rate, the rows are used in order at the timecode
    rate, with a warning naming the row.
    """
    secs_frames = []
    for line, r in body:
        try:
            secs_frames.append(parse_timecode(r[col]))
        except ValueError as e:
            raise MotionError(path, f"row {line}: {e}") from None
    whole = _unwrap_midnight(np.array([s for s, _ in secs_frames], np.float64))
    frames = np.array([f for _, f in secs_frames], np.float64)
    tc_fps = float(timecode_fps or _guess_timecode_fps(whole, frames))
    t = whole + frames / tc_fps
    t -= t[0]
    problem, fps = _timing_problem(t, body, col)
    if problem:
        warn_input(path, f"{problem}; the rows are used in order at {tc_fps:g} fps")
        return np.arange(len(t)) / tc_fps, tc_fps, tc_fps
    return t, tc_fps, fps or tc_fps


def _timing_problem(t: np.ndarray, body: list[tuple[int, list[str]]], col: int) -> tuple[str | None, float | None]:
    """(what is wrong with the row times ``t``, or None; the data frame rate they give)."""
    if len(t) < 2:
        return None, None
    steps = np.diff(t)
    if (steps <= 0).any():
        k = int(np.argmax(steps <= 0)) + 1
        verb = "repeats" if steps[k - 1] == 0 else "goes back"
        return f"timecode {verb} at row {body[k][0]} ({body[k][1][col].strip()} after {body[k - 1][1][col].strip()})", None
    est = 1.0 / float(np.median(steps))
    if not 1.0 <= est <= MAX_FPS:
        return f"rows are {1 / est:.3g} s apart, not a frame rate between 1 and {MAX_FPS:g} fps", None
    fps = min(_COMMON_RATES, key=lambda r: abs(r - est))
    if abs(fps - est) > 0.02 * est:
        fps = round(est, 3)
    if t[-1] * fps + 1 > 2 * len(t):  # more frames missing than present: not dropped frames
        k = int(np.argmax(steps)) + 1
        return f"timecode jumps {steps[k - 1]:.2f} s ahead at row {body[k][0]}", None
    return None, fps


def _unwrap_midnight(seconds: np.ndarray) -> np.ndarray:
    """Whole seconds of the day made continuous where a take runs past midnight."""
    wraps = np.concatenate([[0], np.cumsum(np.diff(seconds) < -DAY_SECONDS / 2)])
    return seconds + DAY_SECONDS * wraps


def _motion(path: str, bs: np.ndarray, rot: np.ndarray, fps: float) -> Motion:
    try:
        return Motion(bs, rot, np.zeros((len(bs), 3)), fps)
    except MotionError as e:
        raise MotionError(path, e.problem) from None


def _sample_at(m: Motion, src_times: np.ndarray, times: np.ndarray, fps: float) -> Motion:
    """Interpolate rows given at irregular ``src_times`` onto ``times`` (slerp for the head)."""
    from scipy.spatial.transform import Rotation, Slerp

    bs = np.stack([np.interp(times, src_times, m.blendshapes[:, k]) for k in range(52)], axis=1)
    rot = Slerp(src_times, Rotation.from_rotvec(m.head_rotation.astype(np.float64)))(np.clip(times, src_times[0], src_times[-1]))
    return Motion(bs, rot.as_rotvec(), np.zeros((len(times), 3)), fps)
