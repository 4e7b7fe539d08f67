"""VMC protocol sender (Virtual Motion Capture: VSeeFace, EVMC4U for Unity, VMC4UE/VRM4U for Unreal).

Per frame, two UDP datagrams, in this order:
1. a bundle of ``/VMC/Ext/OK 1``, ``/VMC/Ext/T <seconds>``, ``/VMC/Ext/Root/Pos "root" ...`` and
   ``/VMC/Ext/Bone/Pos <name> px py pz qx qy qz qw`` for Neck, Head, LeftEye, RightEye, Jaw
   (local poses in Unity's left-handed frame);
2. a bundle of 52 ``/VMC/Ext/Blend/Val <PascalCase name> <value>`` then ``/VMC/Ext/Blend/Apply``.
The head rotation is shared by Neck (40 %) and Head (60 %) about the same axis, so the two
compose exactly to the Motion's head rotation.
"""

from __future__ import annotations

import numpy as np

from anim3d.channels import INDEX, PASCAL_NAMES
from anim3d.unity_bridge.coords import unity_position, unity_quat_from_rotvec
from anim3d.unity_bridge.osc_encode import bundle, message, message_template
from anim3d.unity_bridge.transport import Frame, UdpTarget

DEFAULT_PORT = 39539
BONES = ("Neck", "Head", "LeftEye", "RightEye", "Jaw")
NECK_SHARE = 0.4
JAW_OPEN_ANGLE = 0.35  # radians of jaw pitch at jawOpen = 1 (~20 degrees)
JAW_SIDE_ANGLE = 0.1  # radians of jaw yaw at jawLeft/jawRight = 1
# Typical local rest positions (metres, Unity frame) of the bones relative to their parents.
# Receivers that copy bone positions (EVMC4U "Bone Position Synchronize") get a plausible head;
# turn that option off to keep the avatar's own proportions.
REST_POSITIONS = {
    "Neck": (0.0, 0.10, 0.0),
    "Head": (0.0, 0.08, 0.01),
    "LeftEye": (-0.032, 0.07, 0.08),
    "RightEye": (0.032, 0.07, 0.08),
    "Jaw": (0.0, 0.0, 0.03),
}


def bone_rotvecs(frame: Frame) -> np.ndarray:
    """5 x 3 axis-angle local rotations (anim3d frame) for BONES."""
    b = frame.blendshapes
    jaw = np.array([JAW_OPEN_ANGLE * b[INDEX["jawOpen"]], JAW_SIDE_ANGLE * (b[INDEX["jawLeft"]] - b[INDEX["jawRight"]]), 0.0])
    # jawLeft moves the jaw toward the subject's left (+X): a yaw about +Y, as for the head
    h = np.asarray(frame.head_rotation, np.float64)
    return np.stack([NECK_SHARE * h, (1 - NECK_SHARE) * h, frame.eye_rotations[0], frame.eye_rotations[1], jaw])


class VMCSender:
    """Encodes Frames as VMC bundles and sends them to ``target`` (a UdpTarget)."""

    def __init__(self, target: UdpTarget, names: tuple[str, ...] = PASCAL_NAMES):
        self.target = target
        self._blend = [message_template("/VMC/Ext/Blend/Val", n, n_floats=1) for n in names]
        self._bone = [message_template("/VMC/Ext/Bone/Pos", n, n_floats=7) for n in BONES]
        self._root = message_template("/VMC/Ext/Root/Pos", "root", n_floats=7)
        self._time = message_template("/VMC/Ext/T", n_floats=1)
        self._ok = message("/VMC/Ext/OK", 1)
        self._apply = message("/VMC/Ext/Blend/Apply")
        self._rest = np.array([REST_POSITIONS[n] for n in BONES], np.float64)

    def encode(self, frame: Frame) -> tuple[bytes, bytes]:
        """(bones bundle, blendshape bundle) for one frame."""
        q = unity_quat_from_rotvec(bone_rotvecs(frame))  # 5 x 4
        pose = np.concatenate([self._rest, q], axis=1)  # 5 x 7
        root = np.concatenate([unity_position(frame.head_translation), [0.0, 0.0, 0.0, 1.0]])
        msgs = [self._ok, self._time[0] + self._time[1].pack(frame.time), self._root[0] + self._root[1].pack(*root)]
        msgs += [p + s.pack(*row) for (p, s), row in zip(self._bone, pose.tolist())]
        blend = [p + s.pack(v) for (p, s), v in zip(self._blend, np.asarray(frame.blendshapes, np.float64).tolist())]
        blend.append(self._apply)
        return bundle(msgs), bundle(blend)

    def prepare(self, frame: Frame) -> tuple[bytes, bytes]:
        return self.encode(frame)

    def send_prepared(self, payload: tuple[bytes, bytes]) -> None:
        bones, blend = payload
        self.target.send(bones)
        self.target.send(blend)

    def send_frame(self, frame: Frame) -> None:
        self.send_prepared(self.encode(frame))

    def close(self) -> None:
        self.target.close()
