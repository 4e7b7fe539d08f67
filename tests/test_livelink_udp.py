"""Live Link Face UDP (``anim3d stream --protocol livelink``), checked with a decoder written here from the packet
layout (version 6, big-endian, field by field), not by decoding with the encoder's own code, and with the angle
chain of Unreal's ARKit face code replayed step by step."""

from __future__ import annotations

import math
import struct
import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from anim3d.channels import EYE_MAX_YAW, INDEX
from anim3d.cli import main
from anim3d.motion import Motion
from anim3d.unity_bridge.livelink_face import LiveLinkFaceSender, encode_packet, frame_angles, frame_rate
from anim3d.unity_bridge.process import stream_motion_in_process
from anim3d.unity_bridge.senders import sender_factory
from anim3d.unity_bridge.stream import stream_motion
from anim3d.unity_bridge.transport import Frame, UdpTarget

from loopback import drain, udp_receiver

# Unreal's EARFaceBlendShape, value by value (curve i of a packet is named after value i)
UNREAL_CURVES = (
    "EyeBlinkLeft EyeLookDownLeft EyeLookInLeft EyeLookOutLeft EyeLookUpLeft EyeSquintLeft EyeWideLeft "
    "EyeBlinkRight EyeLookDownRight EyeLookInRight EyeLookOutRight EyeLookUpRight EyeSquintRight EyeWideRight "
    "JawForward JawLeft JawRight JawOpen MouthClose MouthFunnel MouthPucker MouthLeft MouthRight "
    "MouthSmileLeft MouthSmileRight MouthFrownLeft MouthFrownRight MouthDimpleLeft MouthDimpleRight "
    "MouthStretchLeft MouthStretchRight MouthRollLower MouthRollUpper MouthShrugLower MouthShrugUpper "
    "MouthPressLeft MouthPressRight MouthLowerDownLeft MouthLowerDownRight MouthUpperUpLeft MouthUpperUpRight "
    "BrowDownLeft BrowDownRight BrowInnerUp BrowOuterUpLeft BrowOuterUpRight CheekPuff CheekSquintLeft "
    "CheekSquintRight NoseSneerLeft NoseSneerRight TongueOut HeadYaw HeadPitch HeadRoll LeftEyeYaw LeftEyePitch "
    "LeftEyeRoll RightEyeYaw RightEyePitch RightEyeRoll"
).split()


def decode(packet: bytes) -> dict:
    """A version-6 Live Link Face packet, read field by field with explicit big-endian formats."""
    at = 0

    def take(fmt: str):
        nonlocal at
        (value,) = struct.unpack_from(fmt, packet, at)
        at += struct.calcsize(fmt)
        return value

    def string() -> str:
        nonlocal at
        n = take(">i")
        assert 0 <= n <= 255, n
        text = packet[at:at + n].decode("utf-8")
        at += n
        return text

    out = {"version": take(">B")}
    out["device"] = string()
    out["subject"] = string()
    out["frame"] = take(">i")
    out["sub_frame"] = take(">f")
    out["rate"] = (take(">i"), take(">i"))
    out["count"] = take(">B")
    curves = [take(">f") for _ in range(out["count"])]
    assert at == len(packet), f"{len(packet) - at} bytes left over"
    out["curves"] = dict(zip(UNREAL_CURVES, curves))
    out["weights"] = np.array(curves[:52], np.float32)
    out["angles"] = np.array(curves[52:], np.float32)
    return out


def unreal_angles(rotvec) -> np.ndarray:
    """Yaw, pitch, roll curves as Unreal's ToBlendShapeMap makes them for a face whose rotation (ARKit frame:
    right-handed, Y up, the face looking down +Z, +X the face's left; anim3d's frame) is ``rotvec``:
    quaternion to Unreal's frame as AppleARKitConversion does ((-z, x, y, -w)), FQuat::Rotator(), degrees / 180,
    yaw and roll negated for the face-relative (not mirrored) direction."""
    qx, qy, qz, qw = Rotation.from_rotvec(np.asarray(rotvec, np.float64)).as_quat()
    x, y, z, w = -qz, qx, qy, -qw
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, 2 * (z * x - w * y)))))
    yaw = math.degrees(math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))
    roll = math.degrees(math.atan2(-2 * (w * x + y * z), 1 - 2 * (x * x + y * y)))
    return np.array([-yaw, pitch, -roll]) / 180.0


def take_motion(n=30, fps=60.0, seed=0) -> Motion:
    """Random weights, the head turning to the subject's left and down, the left eye looking out."""
    rng = np.random.default_rng(seed)
    bs = rng.uniform(0.05, 0.95, (n, 52))
    bs[:, INDEX["jawLeft"]] = 0.9
    bs[:, INDEX["jawRight"]] = 0.1
    bs[:, INDEX["mouthLeft"]] = 0.8
    bs[:, INDEX["mouthRight"]] = 0.2
    for k in ("eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeLookDownLeft",
              "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight", "eyeLookDownRight"):
        bs[:, INDEX[k]] = 0.0
    bs[:, INDEX["eyeLookOutLeft"]] = 0.5  # the left eye looks toward the subject's left
    # the head turns toward the subject's left (yaw about +Y) while the chin goes down (pitch about +X)
    yaw_pitch_roll = np.radians(np.stack([np.linspace(0, 20, n), np.linspace(0, 10, n), np.zeros(n)], axis=1))
    rot = Rotation.from_euler("YXZ", yaw_pitch_roll).as_rotvec()
    return Motion(bs, rot, np.zeros((n, 3)), fps)


def run_stream(src, *extra, fps="60"):
    rx = udp_receiver(5)
    port = rx.getsockname()[1]
    proc = subprocess.run([sys.executable, "-m", "anim3d", "stream", str(src), "--protocol", "livelink", "--osc",
                           f"127.0.0.1:{port}", "--fps", fps, "-q", *extra], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc, [decode(p) for p in drain(rx, timeout=0.5)]


def test_the_unreal_chain_matches_known_turns():
    """The oracle itself: a turn to the subject's left, a nod down and a tilt, by hand."""
    np.testing.assert_allclose(unreal_angles([0, math.radians(20), 0]), [20 / 180, 0, 0], atol=1e-12)
    np.testing.assert_allclose(unreal_angles([math.radians(10), 0, 0]), [0, 10 / 180, 0], atol=1e-12)
    np.testing.assert_allclose(unreal_angles([0, 0, math.radians(15)]), [0, 0, 15 / 180], atol=1e-12)


def test_signs_of_known_head_and_eye_turns():
    """In anim3d's frame (+X the subject's left, +Y up, the face looking down +Z): a turn to the subject's left
    gives HeadYaw > 0, the chin going down HeadPitch > 0, the head tilting toward the right shoulder HeadRoll > 0."""
    forward, up = np.array([0.0, 0, 1]), np.array([0.0, 1, 0])
    left = Rotation.from_rotvec([0, math.radians(20), 0])
    down = Rotation.from_rotvec([math.radians(10), 0, 0])
    tilt = Rotation.from_rotvec([0, 0, math.radians(15)])
    assert left.apply(forward)[0] > 0.3  # the face now points toward the subject's left
    assert down.apply(forward)[1] < -0.1  # ... down
    assert tilt.apply(up)[0] < -0.2  # the top of the head toward the subject's right (-X)
    z = np.zeros((2, 3))
    np.testing.assert_allclose(frame_angles(left.as_rotvec(), z)[:3], [20 / 180, 0, 0], atol=1e-12)
    np.testing.assert_allclose(frame_angles(down.as_rotvec(), z)[:3], [0, 10 / 180, 0], atol=1e-12)
    np.testing.assert_allclose(frame_angles(tilt.as_rotvec(), z)[:3], [0, 0, 15 / 180], atol=1e-12)
    # the eyes: Motion.eye_rotations turns eyeLookOutLeft (toward the subject's left) into a positive yaw
    m = Motion.neutral(1)
    m.blendshapes[0, INDEX["eyeLookOutLeft"]] = 1.0
    m.blendshapes[0, INDEX["eyeLookDownRight"]] = 1.0
    a = frame_angles(np.zeros(3), m.eye_rotations()[0])
    assert a[3] > 0.05 and abs(a[4]) < 1e-9  # LeftEyeYaw: looks to the subject's left
    assert a[7] > 0.05 and abs(a[6]) < 1e-9  # RightEyePitch: looks down


def test_angles_follow_unreals_face_code():
    rng = np.random.default_rng(1)
    for _ in range(200):
        head, eyes = rng.normal(size=3) * 0.5, rng.normal(size=(2, 3)) * 0.3
        got = frame_angles(head, eyes)
        want = np.concatenate([unreal_angles(head), unreal_angles(eyes[0]), unreal_angles(eyes[1])])
        np.testing.assert_allclose(got, want, atol=1e-9)


def test_file_stream_over_udp(tmp_path):
    m = take_motion()
    src = tmp_path / "take.npz"
    m.save_npz(src)
    proc, pk = run_stream(src, "--subject", "MetaHuman Face")
    assert "30 frames" in proc.stdout and "neutral frame sent" in proc.stdout
    assert len(pk) == 31  # 30 ticks at 60 fps (the motion is 60 fps: tick k is frame k) + the neutral frame
    for p in pk:
        assert p["version"] == 6 and p["count"] == 61
        assert p["subject"] == "MetaHuman Face"
        assert p["rate"] == (60, 1) and p["rate"][1] != 0
        assert p["sub_frame"] == 0.0
        assert p["device"] and p["device"] == pk[0]["device"]
    frames = np.array([p["frame"] for p in pk])
    assert (np.diff(frames) == 1).all() and frames[0] >= 0
    for i, p in enumerate(pk[:30]):
        np.testing.assert_allclose(p["weights"], m.blendshapes[i], atol=1e-6)
        want = np.concatenate([unreal_angles(m.head_rotation[i]), unreal_angles(m.eye_rotations()[i, 0]),
                               unreal_angles(m.eye_rotations()[i, 1])])
        np.testing.assert_allclose(p["angles"], want, atol=2e-6)
    # curves by name (Unreal's order, not the CSV's JawRight, JawLeft)
    last = pk[29]["curves"]
    assert last["JawLeft"] == pytest.approx(0.9) and last["JawRight"] == pytest.approx(0.1)
    assert last["MouthLeft"] == pytest.approx(0.8) and last["MouthRight"] == pytest.approx(0.2)
    # signs: the head turned 20 degrees to the subject's left and 10 down; the left eye looks to the left
    assert last["HeadYaw"] == pytest.approx(20 / 180, abs=1e-6) and last["HeadPitch"] == pytest.approx(10 / 180, abs=1e-6)
    assert last["HeadRoll"] == pytest.approx(0.0, abs=1e-6)
    assert last["LeftEyeYaw"] == pytest.approx(EYE_MAX_YAW * 0.5 / math.pi, abs=1e-6) and last["LeftEyeYaw"] > 0
    assert last["RightEyeYaw"] == pytest.approx(0.0, abs=1e-6)
    # the neutral frame at the end
    assert not pk[-1]["weights"].any() and not pk[-1]["angles"].any()


def test_csv_take_at_30_fps(tmp_path):
    from anim3d.exporters.livelink import write_livelink_csv

    m = take_motion(30, 30.0)
    src = write_livelink_csv(m, tmp_path / "take.csv")
    _, pk = run_stream(src, fps="30")
    assert len(pk) == 31
    assert all(p["rate"] == (30, 1) and p["subject"] == "anim3d" for p in pk)  # no denominator of 0 at 30 fps
    assert (np.diff([p["frame"] for p in pk]) == 1).all()
    np.testing.assert_allclose(pk[10]["weights"], m.blendshapes[10], atol=1e-6)  # the CSV keeps 8 decimals
    assert pk[29]["curves"]["HeadYaw"] == pytest.approx(20 / 180, abs=1e-6)
    assert not pk[-1]["weights"].any()


def test_live_chunks_from_a_sending_process():
    """The path live speech takes: Motion chunks handed to a sending process built from the factory."""
    rx = udp_receiver(5)
    port = rx.getsockname()[1]
    factory, where = sender_factory("livelink", f"127.0.0.1:{port}", subject="live", fps=30.0)
    m = take_motion(30, 30.0)
    stats = stream_motion_in_process(iter([m[0:10], m[10:20], m[20:30]]), factory, fps=30.0)
    pk = [decode(p) for p in drain(rx, timeout=0.5)]
    assert stats.frames == 30 and len(pk) == 31
    assert all(p["subject"] == "live" and p["rate"] == (30, 1) for p in pk)
    assert (np.diff([p["frame"] for p in pk]) == 1).all()
    np.testing.assert_allclose(pk[15]["weights"], m.blendshapes[15], atol=1e-6)
    assert not pk[-1]["weights"].any()


def test_frame_numbers_count_packets_sent_even_when_a_tick_repeats():
    rx = udp_receiver(2)
    sender = LiveLinkFaceSender(UdpTarget("127.0.0.1", rx.getsockname()[1]), fps=29.97, clock=lambda: 3600.0)
    f = Frame.neutral()
    unsent = sender.prepare(f)  # encoded for a tick that never went out: no number used
    for _ in range(3):
        sender.send_prepared(sender.prepare(f))
    sender.send_frame(f)
    del unsent
    sender.close()
    pk = [decode(p) for p in drain(rx, timeout=0.3)]
    assert [p["frame"] for p in pk] == [int(3600 * 30000 / 1001) + k for k in range(4)]
    assert all(p["rate"] == (30000, 1001) for p in pk)


def test_encoder_fields_and_rates():
    w = np.linspace(0, 1, 52)
    a = np.linspace(-0.5, 0.5, 9)
    p = decode(encode_packet(w, a, 1234, (24000, 1001), subject="Ünïcode", device="dev-1"))
    assert (p["version"], p["device"], p["subject"], p["frame"], p["rate"]) == (6, "dev-1", "Ünïcode", 1234, (24000, 1001))
    np.testing.assert_allclose(p["weights"], w, atol=1e-7)
    np.testing.assert_allclose(p["angles"], a, atol=1e-7)
    assert frame_rate(60) == (60, 1) and frame_rate(30) == (30, 1) and frame_rate(29.97) == (30000, 1001)
    assert frame_rate(59.94) == (60000, 1001) and frame_rate(25) == (25, 1)
    with pytest.raises(ValueError):
        encode_packet(w[:51], a, 0)


def test_default_port_and_bad_targets(tmp_path, capsys):
    _, where = sender_factory("livelink", None)
    assert where == "127.0.0.1:11111"
    src = tmp_path / "m.npz"
    take_motion(4).save_npz(src)
    cases = [
        (["--protocol", "livelink", "--osc", "127.0.0.1:0"], "port"),
        (["--protocol", "livelink", "--osc", "127.0.0.1:70000"], "port"),
        (["--protocol", "livelink", "--osc", "no-such-host.invalid:11111"], "cannot resolve"),
        (["--protocol", "livelink", "--osc", "127.0.0.1:9", "--subject", ""], "subject"),
        (["--protocol", "livelink", "--osc", "127.0.0.1:9", "--subject", "x" * 300], "subject"),
        (["--protocol", "vmc", "--osc", "127.0.0.1:9", "--subject", "a"], "--subject is for --protocol livelink"),
    ]
    for argv, words in cases:
        assert main(["stream", str(src), *argv, "-q"]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err and "Traceback" not in err, err


def test_stream_motion_paces_livelink_at_60_fps():
    rx = udp_receiver(2)
    sender = LiveLinkFaceSender(UdpTarget("127.0.0.1", rx.getsockname()[1]))
    stats = stream_motion(take_motion(30), sender, fps=60.0)
    sender.close()
    assert stats.frames == 30 and stats.percentile(50) < 1.0
    assert len(drain(rx, timeout=0.3)) == 31
