"""Gaze and head-distance control: request several values, measure what the motion does.

Gaze: each method animates the same speech with gaze (yaw toward the subject's left,
pitch down) requests; the achieved gaze is the eyes' mean direction in the head
(``anim3d.motion_codec.gaze_angles``: the eyeLook* channels turned into angles, both eyes
averaged — the quantity the model's gaze condition was trained on) and, for reference,
the head's mean yaw / pitch. Distance: requests of a forward head offset (metres), the
achieved value is the mean head_translation z.

Per control: mean achieved per requested value, the slope of a least-squares line through
(requested, achieved) over all clips (1 = follows exactly), the Pearson correlation of
requested and achieved, and the mean absolute error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GAZE_REQUESTS_DEG = ((0.0, 0.0), (15.0, 0.0), (-15.0, 0.0), (0.0, 12.0), (0.0, -12.0))  # (yaw, pitch)
DISTANCE_REQUESTS_M = (-0.08, -0.04, 0.0, 0.04, 0.08)


@dataclass
class ControlSample:
    method: str
    control: str  # "gaze" or "distance"
    clip: int
    requested: tuple  # (yaw, pitch) degrees, or (metres,)
    achieved: tuple  # eye (yaw, pitch) degrees, or (metres,)
    head: tuple = ()  # head (yaw, pitch) degrees, for gaze


def head_yaw_pitch(rotvecs: np.ndarray) -> np.ndarray:
    """T x 3 axis-angle -> T x 2 (yaw toward the subject's left about +Y, pitch down about +X) in
    degrees, from the direction the face looks (+Z) after the rotation."""
    from scipy.spatial.transform import Rotation

    fwd = Rotation.from_rotvec(np.asarray(rotvecs, np.float64).reshape(-1, 3)).apply([0.0, 0.0, 1.0])  # T x 3
    yaw = np.degrees(np.arctan2(fwd[:, 0], fwd[:, 2]))
    pitch = np.degrees(np.arcsin(np.clip(-fwd[:, 1], -1, 1)))  # looking down: forward tips to -Y
    return np.stack([yaw, pitch], axis=1)


def measure_gaze(motion) -> tuple[tuple, tuple]:
    """-> ((eye yaw, eye pitch), (head yaw, head pitch)), clip means in degrees."""
    from anim3d.motion_codec import gaze_angles

    eye = np.degrees(gaze_angles(motion.blendshapes).mean(0))
    head = head_yaw_pitch(motion.head_rotation).mean(0)
    return (float(eye[0]), float(eye[1])), (float(head[0]), float(head[1]))


def measure_distance(motion) -> float:
    """Mean forward head offset (head_translation z, metres)."""
    return float(np.mean(motion.head_translation[:, 2]))


def response(requested, achieved) -> dict:
    """How an achieved value follows the requested one: least-squares slope and intercept,
    Pearson r, mean absolute error (NaN where undefined)."""
    from anim3d.eval.metrics import pearson

    x = np.asarray(requested, np.float64)
    y = np.asarray(achieved, np.float64)
    if x.size < 2 or np.ptp(x) == 0:
        return {"slope": float("nan"), "intercept": float("nan"), "r": float("nan"), "mae": float(np.mean(np.abs(y - x))) if x.size else float("nan")}
    slope, intercept = np.polyfit(x, y, 1)
    return {"slope": float(slope), "intercept": float(intercept), "r": pearson(x, y), "mae": float(np.mean(np.abs(y - x)))}


def evaluate_controls(method, audios, *, seed: int = 0, progress: bool = True,
                      gaze_requests=GAZE_REQUESTS_DEG, distance_requests=DISTANCE_REQUESTS_M) -> list[ControlSample]:
    """Animate every audio with every gaze and distance request (other controls at their defaults)."""
    from anim3d.progress import progress as bar

    jobs = []
    if "gaze" in method.controls:
        jobs += [("gaze", g, k) for g in gaze_requests for k in range(len(audios))]
    if "distance" in method.controls:
        jobs += [("distance", d, k) for d in distance_requests for k in range(len(audios))]
    out: list[ControlSample] = []
    for control, value, k in bar(jobs, desc=f"gaze/distance control: {method.name}", unit="clip") if progress else jobs:
        if control == "gaze":
            m = method.generate(audios[k], seed=seed + k, gaze=(np.radians(value[0]), np.radians(value[1])))
            eye, head = measure_gaze(m)
            out.append(ControlSample(method.name, "gaze", k, tuple(value), eye, head))
        else:
            m = method.generate(audios[k], seed=seed + k, distance=value)
            out.append(ControlSample(method.name, "distance", k, (value,), (measure_distance(m),)))
    return out


def summarize_gaze(samples: list[ControlSample]) -> dict:
    """-> {"rows": [[requested yaw, pitch, eye yaw, eye pitch, head yaw, head pitch]...] (means over clips),
    "yaw": response over the yaw requests (pitch 0), "pitch": over the pitch requests (yaw 0)}."""
    gz = [s for s in samples if s.control == "gaze"]
    rows = []
    for req in dict.fromkeys(s.requested for s in gz):
        sel = [s for s in gz if s.requested == req]
        rows.append([req[0], req[1], *np.mean([s.achieved for s in sel], axis=0), *np.mean([s.head for s in sel], axis=0)])
    yaw = [s for s in gz if s.requested[1] == 0]
    pitch = [s for s in gz if s.requested[0] == 0]
    return {
        "rows": rows,
        "yaw": response([s.requested[0] for s in yaw], [s.achieved[0] for s in yaw]),
        "pitch": response([s.requested[1] for s in pitch], [s.achieved[1] for s in pitch]),
        "head_yaw": response([s.requested[0] for s in yaw], [s.head[0] for s in yaw]),
        "head_pitch": response([s.requested[1] for s in pitch], [s.head[1] for s in pitch]),
    }


def summarize_distance(samples: list[ControlSample]) -> dict:
    """-> {"rows": [[requested m, achieved m]...], "response": response dict}."""
    ds = [s for s in samples if s.control == "distance"]
    rows = []
    for req in dict.fromkeys(s.requested for s in ds):
        rows.append([req[0], float(np.mean([s.achieved[0] for s in ds if s.requested == req]))])
    return {"rows": rows, "response": response([s.requested[0] for s in ds], [s.achieved[0] for s in ds])}
