"""The plain OSC scheme for custom receivers (and the Unity package in unity_bridge/unity/).

One message per frame, address ``/anim3d/frame``, 60 float32 arguments:
  [0:52]   the 52 ARKit blendshape weights in Apple's order (eyeBlinkLeft ... tongueOut)
  [52:56]  head rotation quaternion x, y, z, w
  [56:59]  head translation x, y, z (metres, relative to the neutral position)
  [59]     time in seconds since the stream started
Rotation and translation are in anim3d's right-handed frame (glTF: Y up, the face looking
down +Z, the subject's left at +X). For Unity, mirror X: position (-x, y, z), quaternion
(x, -y, -z, w). Eye rotations follow from the eyeLook* weights.
"""

from __future__ import annotations

import numpy as np

from anim3d.unity_bridge.coords import rotvec_to_quat
from anim3d.unity_bridge.osc_encode import message_template
from anim3d.unity_bridge.transport import Frame, UdpTarget

DEFAULT_PORT = 39540
ADDRESS = "/anim3d/frame"
NUM_VALUES = 60


class PlainSender:
    def __init__(self, target: UdpTarget):
        self.target = target
        self._prefix, self._packer = message_template(ADDRESS, n_floats=NUM_VALUES)

    def encode(self, frame: Frame) -> bytes:
        vals = np.concatenate([frame.blendshapes, rotvec_to_quat(frame.head_rotation), frame.head_translation, [frame.time]])
        return self._prefix + self._packer.pack(*vals.tolist())

    def prepare(self, frame: Frame) -> bytes:
        return self.encode(frame)

    def send_prepared(self, payload: bytes) -> None:
        self.target.send(payload)

    def send_frame(self, frame: Frame) -> None:
        self.target.send(self.encode(frame))

    def close(self) -> None:
        self.target.close()
