"""Live Link Face UDP sender: the packets Epic's iPhone app "Live Link Face" sends, which Unreal's Live Link
receives natively (the Apple ARKit face source, port 11111), so a MetaHuman's face follows anim3d with no plugin.

One datagram per frame, packet version 6, every number big-endian (network byte order):

  uint8   version = 6
  int32   length, then the UTF-8 bytes of the device id (no terminator)
  int32   length, then the UTF-8 bytes of the subject name
  int32   frame number        } FQualifiedFrameTime: the frame time ...
  float32 sub-frame (0..1)     }
  int32   frame-rate numerator   } ... and its rate (60/1, 30000/1001 for 29.97 ...)
  int32   frame-rate denominator }
  uint8   curve count = 61
  61 x float32 curves, in Unreal's EARFaceBlendShape order: the 52 ARKit weights (EyeBlinkLeft ... TongueOut),
          then HeadYaw, HeadPitch, HeadRoll, LeftEyeYaw, LeftEyePitch, LeftEyeRoll, RightEyeYaw, RightEyePitch,
          RightEyeRoll.

The curve order is NOT the column order of the app's CSV takes: the CSV lists JawRight before JawLeft and
MouthRight before MouthLeft, while Unreal names packet curve i after EARFaceBlendShape value i, which has
JawLeft = 15, JawRight = 16, MouthLeft = 21, MouthRight = 22: Apple's order, anim3d's ``ARKIT_NAMES``. Curves
are sent name for name: anim3d's ``eyeBlinkLeft`` is the curve ``EyeBlinkLeft``.

Angles (in the face-relative convention of Unreal's ARKit face code, in its units: degrees / 180, so
1.0 = 180 degrees = pi radians; a 20-degree turn is 0.111):
  HeadYaw   > 0: the subject turns their head to their own left (a positive rotation about anim3d's +Y);
  HeadPitch > 0: the face tilts down (chin toward the chest; a positive rotation about +X);
  HeadRoll  > 0: the head tilts toward the subject's right shoulder (a positive rotation about +Z, the
                 direction the face looks);
  eyes the same way: yaw > 0 looks toward the subject's left, pitch > 0 looks down (``Motion.eye_rotations``).
These are the intrinsic Y-X-Z Euler angles of anim3d's axis-angle rotations (R = Ry(yaw) Rx(pitch) Rz(roll), the
same decomposition as the Live Link Face CSV writer, which writes them in radians), divided by pi.

Where this comes from (checked with the search tools against Epic's and others' source; no Unreal was run):
- The layout and big-endian fields: Unreal's AppleARKitFaceSupport, AppleARKitLiveLinkSource.cpp
  (``FAppleARKitLiveLinkRemotePublisher::PublishBlendShapes`` writes version, DeviceId, SubjectName, frame time,
  BlendShapeCount, the curves, through ``FNboSerializeToBuffer``, network byte order; the listener reads them in
  that order and drops a packet whose version or count differs), the version-6 receivers in
  think-biq/LLV (readme), a StepVR Live Link source (``FQualifiedFrameTime`` after the subject name) and two
  open-source decoders of the iPhone's packets (a Python ``LivelinkBuffer.parse_livelink``: '>B', length-prefixed
  strings, '>ifii', '>B', 61 '>f'; a C++ ``LiveLinkFrame`` reading version 6, two strings, four 32-bit words, a
  count of 61 and 61 byte-swapped floats, curve 15 = jawLeft).
- The curve order: Unreal's ``EARFaceBlendShape`` (ARTypes.h / its generated headers: ... JawForward 14,
  JawLeft 15, JawRight 16, JawOpen 17 ... TongueOut 51, HeadYaw 52 ... RightEyeRoll 60, MAX 61).
- The angles: ``ToBlendShapeMap`` in AppleARKitFaceSupport (UE 4.2x): ``FRotator(Transform.GetRotation())``
  of the face anchor in Unreal's frame, each angle / 180 ("map the -180..180 range to -1..1"), yaw and roll
  negated when the face is not mirrored; the eyes likewise from leftEyeTransform / rightEyeTransform.
  ``AppleARKitConversion`` maps ARKit (right-handed, Y up, the face looking down +Z, +X the face's left, as in
  anim3d) to Unreal with the quaternion (-z, x, y, -w). tests/test_livelink_udp.py replays that chain and
  compares. PyLiveLinkFace also documents head rotation "between -1 and 1".
- What open-source senders get wrong, avoided here: PyLiveLinkFace writes the version as a little-endian
  uint32 (06 00 00 00) and the device id with no length, which works only because its id is '$' (0x24 = 36)
  plus a 36-character UUID, so that 00 00 00 24 reads as the length; it sends a frame-rate denominator of
  int(fps / 60), 0 at 30 fps; some senders leave the head curves at 0.
Not verified (nothing here runs Unreal or the app): the unit today's app sends (one third-party sender
sends degrees; anim3d's CSV writer writes radians), and whether a MetaHuman face AnimBP expects the mirrored
convention (yaw and roll negated). ``LiveLinkFaceSender(angle_scale=...)`` changes the unit.
"""

from __future__ import annotations

import math
import socket
import struct
import uuid
from datetime import datetime
from fractions import Fraction

import numpy as np

from anim3d.channels import ARKIT_NAMES, to_pascal
from anim3d.unity_bridge.transport import Frame, StreamError, UdpTarget

DEFAULT_PORT = 11111
VERSION = 6
DEFAULT_SUBJECT = "anim3d"
ANGLE_CURVES: tuple[str, ...] = (
    "HeadYaw", "HeadPitch", "HeadRoll",
    "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
    "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)
CURVES: tuple[str, ...] = tuple(to_pascal(n) for n in ARKIT_NAMES) + ANGLE_CURVES  # EARFaceBlendShape order
NUM_CURVES = len(CURVES)
assert NUM_CURVES == 61
ANGLE_SCALE = 1.0 / math.pi  # radians -> Unreal's curve unit (degrees / 180)
MAX_NAME_BYTES = 255  # Unreal sizes its receive buffer for 256 characters per string
_CURVES = struct.Struct(">B61f")
_TIME = struct.Struct(">ifii")
_FRAME_NUMBER = struct.Struct(">i")
# rates that are written as n x 1000/1001 (NTSC): 23.976, 29.97, 47.952, 59.94, 119.88
_NTSC = {round(k * 1000 / 1001, 3): (k * 1000, 1001) for k in (24, 30, 48, 60, 120)}


def device_id() -> str:
    """A stable id for this machine (the app sends a UUID): the same on every run and in every process."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"anim3d.{socket.gethostname()}"))


def frame_rate(fps: float) -> tuple[int, int]:
    """The frame rate as Unreal's FFrameRate (numerator, denominator > 0): 60 -> 60/1, 29.97 -> 30000/1001."""
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"frame rate must be positive, got {fps!r}")
    ntsc = _NTSC.get(round(fps, 3))
    if ntsc is not None and abs(fps - ntsc[0] / ntsc[1]) < 0.0015:
        return ntsc
    f = Fraction(fps).limit_denominator(1001)
    return f.numerator, f.denominator


def check_name(name: str, what: str = "subject name") -> bytes:
    """``name`` as UTF-8 bytes; a StreamError for an empty, too long or control-character name."""
    if not isinstance(name, str) or not name.strip():
        raise StreamError(f"the Live Link {what} must not be empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise StreamError(f"the Live Link {what} {name!r} has control characters")
    data = name.encode("utf-8")
    if len(data) > MAX_NAME_BYTES:
        raise StreamError(f"the Live Link {what} is {len(data)} bytes long; Unreal reads at most {MAX_NAME_BYTES}")
    return data


def frame_angles(head_rotation: np.ndarray, eye_rotations: np.ndarray, angle_scale: float = ANGLE_SCALE) -> np.ndarray:
    """The 9 angle curves (head, left eye, right eye: yaw, pitch, roll) of one frame, from axis-angle rotations in
    anim3d's frame (head: 3, eyes: 2 x 3), in the curve unit (``angle_scale`` per radian; signs: module docstring)."""
    rv = np.concatenate([np.asarray(head_rotation, np.float64).reshape(1, 3), np.asarray(eye_rotations, np.float64).reshape(2, 3)])
    return _yxz(rv).reshape(9) * angle_scale


def _yxz(rv: np.ndarray) -> np.ndarray:
    """(n, 3) axis-angle -> (n, 3) intrinsic Y-X-Z Euler angles (yaw, pitch, roll), R = Ry(yaw) Rx(pitch) Rz(roll)
    (scipy's ``as_euler("YXZ")``, in closed form: a few microseconds per frame instead of ~50)."""
    angle = np.linalg.norm(rv, axis=1, keepdims=True)
    axis = np.divide(rv, angle, out=np.zeros_like(rv), where=angle > 1e-12)
    x, y, z = axis.T
    c, s = np.cos(angle[:, 0]), np.sin(angle[:, 0])
    t = 1.0 - c
    # the rotation matrix entries needed: R = Ry Rx Rz gives R[1,2] = -sin(pitch), R[0,2] / R[2,2] = tan(yaw),
    # R[1,0] / R[1,1] = tan(roll)
    r02 = t * x * z + s * y
    r12 = t * y * z - s * x
    r22 = c + t * z * z
    r10 = t * x * y + s * z
    r11 = c + t * y * y
    pitch = np.arcsin(np.clip(-r12, -1.0, 1.0))
    yaw = np.arctan2(r02, r22)
    roll = np.arctan2(r10, r11)
    return np.stack([yaw, pitch, roll], axis=1)


def encode_packet(weights: np.ndarray, angles: np.ndarray, frame_number: int, rate: tuple[int, int] = (60, 1),
                  subject: str = DEFAULT_SUBJECT, device: str | None = None, sub_frame: float = 0.0) -> bytes:
    """One Live Link Face packet (version 6): ``weights`` the 52 ARKit weights in Apple's order (anim3d's),
    ``angles`` the 9 angle curves already in the curve unit, ``rate`` (numerator, denominator)."""
    w = np.asarray(weights, np.float64).reshape(-1)
    a = np.asarray(angles, np.float64).reshape(-1)
    if w.size != 52 or a.size != 9:
        raise ValueError(f"expected 52 weights and 9 angles, got {w.size} and {a.size}")
    num, den = int(rate[0]), int(rate[1])
    if num <= 0 or den <= 0:
        raise ValueError(f"bad frame rate {num}/{den}")
    return _header(check_name(subject), check_name(device or device_id(), "device id")) + _body(frame_number, sub_frame, num, den, w, a)


def _header(subject: bytes, device: bytes) -> bytes:
    return struct.pack(">Bi", VERSION, len(device)) + device + struct.pack(">i", len(subject)) + subject


def _body(frame_number: int, sub_frame: float, num: int, den: int, w: np.ndarray, a: np.ndarray) -> bytes:
    return _TIME.pack(_wrap(frame_number), float(sub_frame), num, den) + _CURVES.pack(NUM_CURVES, *np.clip(w, 0.0, 1.0).tolist(), *a.tolist())


def _wrap(frame_number: int) -> int:
    return int(frame_number) % (1 << 31)  # an int32 that stays positive


class LiveLinkFaceSender:
    """Encodes Frames as Live Link Face packets (version 6) and sends them to ``target`` (a UdpTarget).

    Frame numbers rise by one per packet sent (the neutral frame on stop included); the first is the time of
    day in frames at ``fps`` when the first packet leaves, as the app stamps its frames with timecode. The frame
    rate field is ``fps`` (60/1; 29.97 as 30000/1001)."""

    def __init__(self, target: UdpTarget, subject: str = DEFAULT_SUBJECT, fps: float = 60.0, device: str | None = None,
                 angle_scale: float = ANGLE_SCALE, clock=None):
        self.target = target
        self.subject = subject
        self.rate = frame_rate(fps)
        self.angle_scale = float(angle_scale)
        self._head = _header(check_name(subject), check_name(device or device_id(), "device id"))
        self._number_at = len(self._head)  # byte offset of the frame number
        self._clock = clock or _time_of_day
        self.next_frame: int | None = None  # set when the first packet leaves
        self.sent = 0

    def encode(self, frame: Frame, frame_number: int = 0) -> bytes:
        angles = frame_angles(frame.head_rotation, frame.eye_rotations, self.angle_scale)
        return self._head + _body(frame_number, 0.0, *self.rate, np.asarray(frame.blendshapes, np.float64), angles)

    def prepare(self, frame: Frame) -> bytearray:
        """The packet with its frame number left to ``send_prepared`` (so numbers count packets actually sent)."""
        return bytearray(self.encode(frame))

    def send_prepared(self, payload: bytearray) -> None:
        if self.next_frame is None:
            num, den = self.rate
            self.next_frame = int(self._clock() * num / den)
        _FRAME_NUMBER.pack_into(payload, self._number_at, _wrap(self.next_frame))
        self.target.send(bytes(payload))
        self.next_frame += 1
        self.sent += 1

    def send_frame(self, frame: Frame) -> None:
        self.send_prepared(self.prepare(frame))

    def close(self) -> None:
        self.target.close()


def _time_of_day() -> float:
    """Seconds since local midnight (Unreal's default timecode provider is the system time of day)."""
    now = datetime.now()
    return now.hour * 3600 + now.minute * 60 + now.second + now.microsecond * 1e-6

