"""Loopback OSC tests: VMC and plain schemes received by python-osc on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage

from anim3d.channels import INDEX, PASCAL_NAMES
from anim3d.motion import Motion
from anim3d.unity_bridge.osc_encode import bundle, message, python_osc_bundle
from anim3d.unity_bridge.plain import ADDRESS, PlainSender
from anim3d.unity_bridge.stream import stream_motion, tick_frames
from anim3d.unity_bridge.transport import Frame, StreamError, UdpTarget, parse_target
from anim3d.unity_bridge.vmc import BONES, VMCSender


class Receiver:
    """Collects (arrival time, datagram) on an ephemeral 127.0.0.1 port."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.packets: list[tuple[float, bytes]] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            self.packets.append((time.monotonic(), data))

    def close(self, settle=0.1):
        time.sleep(settle)
        self._stop = True
        self._thread.join()
        self.sock.close()


def contents(dgram: bytes) -> list[tuple[str, list]]:
    assert OscBundle.dgram_is_bundle(dgram)
    return [(m.address, list(m.params)) for m in OscBundle(dgram)]


def yaw_motion(deg=30.0, n=15, fps=30.0) -> Motion:
    m = Motion.neutral(n, fps)
    m.head_rotation[:, 1] = np.deg2rad(deg)
    m.blendshapes[:, INDEX["jawOpen"]] = 0.5
    m.blendshapes[:, INDEX["mouthLeft"]] = 0.25
    return m


def quat_mul(a, b):
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array([aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz])


def test_vmc_loopback_names_order_pacing_and_yaw():
    rx = Receiver()
    sender = VMCSender(UdpTarget("127.0.0.1", rx.port))
    stats = stream_motion(yaw_motion(), sender, fps=60.0)  # 0.5 s -> 30 ticks
    rx.close()
    sender.close()
    assert stats.frames == 30 and not stats.interrupted
    pk = rx.packets
    assert len(pk) == 2 * 31  # 30 frames + the neutral frame, two bundles each
    for i in range(0, len(pk), 2):
        bones, blend = contents(pk[i][1]), contents(pk[i + 1][1])
        assert [a for a, _ in bones[:3]] == ["/VMC/Ext/OK", "/VMC/Ext/T", "/VMC/Ext/Root/Pos"]
        assert bones[0][1] == [1] and bones[2][1][0] == "root"
        assert [(a, p[0]) for a, p in bones[3:]] == [("/VMC/Ext/Bone/Pos", b) for b in BONES]
        assert [a for a, _ in blend] == ["/VMC/Ext/Blend/Val"] * 52 + ["/VMC/Ext/Blend/Apply"]
        assert tuple(p[0] for _, p in blend[:52]) == PASCAL_NAMES
    first_bones, first_blend = contents(pk[0][1]), dict((p[0], p[1]) for _, p in contents(pk[1][1])[:52])
    assert first_blend["JawOpen"] == pytest.approx(0.5) and first_blend["MouthLeft"] == pytest.approx(0.25)
    # a 30-degree turn toward the subject's left (+Y in anim3d) is -Y in Unity's left-handed frame
    pose = {p[0]: np.array(p[4:8]) for a, p in first_bones if a == "/VMC/Ext/Bone/Pos"}
    total = quat_mul(pose["Neck"], pose["Head"])
    half = np.deg2rad(15)
    np.testing.assert_allclose(total, [0, -np.sin(half), 0, np.cos(half)], atol=1e-6)
    # jaw opens by pitching about +X (chin down), same sign in both frames
    assert pose["Jaw"][0] > 0.05
    # times: T = k / 60; arrival pacing ~ 16.7 ms
    times = [contents(pk[i][1])[1][1][0] for i in range(0, 60, 2)]
    np.testing.assert_allclose(times, np.arange(30) / 60.0, atol=1e-6)
    arrivals = np.array([pk[i][0] for i in range(0, 60, 2)])
    gaps = np.diff(arrivals) * 1000
    assert abs(np.median(gaps) - 1000 / 60) < 1.0, gaps
    assert abs((arrivals[-1] - arrivals[0]) - 29 / 60) < 0.03
    # the last frame is neutral
    last = dict((p[0], p[1]) for _, p in contents(pk[-1][1])[:52])
    assert max(last.values()) == 0.0
    last_pose = {p[0]: p[4:8] for a, p in contents(pk[-2][1]) if a == "/VMC/Ext/Bone/Pos"}
    np.testing.assert_allclose(last_pose["Head"], [0, 0, 0, 1], atol=1e-7)


def test_plain_loopback():
    rx = Receiver()
    m = yaw_motion(n=9)  # 0.3 s -> 18 ticks
    m.head_translation[:, 0] = 0.02
    stats = stream_motion(m, PlainSender(UdpTarget("127.0.0.1", rx.port)), fps=60.0)
    rx.close()
    assert stats.frames == 18
    msgs = [OscMessage(d) for _, d in rx.packets]
    assert len(msgs) == 19 and all(x.address == ADDRESS for x in msgs)
    vals = np.array([list(x.params) for x in msgs])
    assert vals.shape == (19, 60)
    np.testing.assert_allclose(vals[0, INDEX["jawOpen"]], 0.5)
    half = np.deg2rad(15)
    np.testing.assert_allclose(vals[0, 52:56], [0, np.sin(half), 0, np.cos(half)], atol=1e-6)  # right-handed
    np.testing.assert_allclose(vals[0, 56:59], [0.02, 0, 0], atol=1e-7)
    np.testing.assert_allclose(vals[:18, 59], np.arange(18) / 60.0, atol=1e-6)
    assert np.all(vals[-1, :52] == 0) and np.allclose(vals[-1, 52:56], [0, 0, 0, 1])
    gaps = np.diff([t for t, _ in rx.packets[:18]]) * 1000
    assert abs(np.median(gaps) - 1000 / 60) < 1.0


def test_fast_bundle_matches_python_osc():
    msgs = [message("/VMC/Ext/OK", 1), message("/VMC/Ext/T", 1.5), message("/VMC/Ext/Blend/Apply")]
    assert bundle(msgs) == python_osc_bundle(msgs)
    sender = VMCSender.__new__(VMCSender)
    VMCSender.__init__(sender, target=None)
    rng = np.random.default_rng(0)
    fr = Frame(0.25, rng.random(52).astype(np.float32), rng.normal(size=3) * 0.3, rng.normal(size=3) * 0.01, rng.normal(size=(2, 3)) * 0.2)
    bones, blend = sender.encode(fr)
    vals = [p[1] for _, p in contents(blend)[:52]]
    np.testing.assert_allclose(vals, fr.blendshapes, atol=1e-7)
    assert contents(bones)[1][1][0] == pytest.approx(0.25)


def test_chunks_give_the_same_ticks_as_one_motion():
    rng = np.random.default_rng(3)
    m = Motion(rng.random((47, 52)), rng.normal(size=(47, 3)) * 0.3, rng.normal(size=(47, 3)) * 0.01, 30.0)
    whole = list(tick_frames([m], 60.0))
    parts = list(tick_frames(iter([m[0:10], m[10:11], m[11:30], m[30:47]]), 60.0))
    assert len(whole) == len(parts) == 94  # 47 frames at 30 fps = 1.5667 s -> ticks k/60 < duration
    for a, b in zip(whole, parts):
        assert a.time == b.time
        np.testing.assert_allclose(a.blendshapes, b.blendshapes, atol=1e-6)
        np.testing.assert_allclose(a.head_rotation, b.head_rotation, atol=1e-6)
    # interpolation: tick 1 (t = 1/60) lies halfway between source frames 0 and 1
    np.testing.assert_allclose(whole[1].blendshapes, 0.5 * (m.blendshapes[0] + m.blendshapes[1]), atol=1e-6)


def test_generator_is_pulled_lazily():
    pulled = []

    def gen():
        for i in range(3):
            pulled.append(i)
            yield Motion.neutral(10, 30.0)

    it = tick_frames(gen(), 60.0)
    next(it)
    assert pulled == [0]


def test_interrupt_sends_neutral_frame():
    class Fake:
        def __init__(self):
            self.frames = []

        def send_frame(self, f):
            if len(self.frames) == 5 and f.time > 0:
                self.frames.append(None)
                raise KeyboardInterrupt
            self.frames.append(f)

    fake = Fake()
    stats = stream_motion(yaw_motion(n=30), fake, fps=60.0)
    assert stats.interrupted and stats.frames == 5
    last = fake.frames[-1]
    assert last is not None and not last.blendshapes.any() and not last.head_rotation.any()


def test_targets():
    assert parse_target("127.0.0.1:9000", 39539) == ("127.0.0.1", 9000)
    assert parse_target("localhost", 39539) == ("localhost", 39539)
    assert parse_target(":7000", 39539) == ("127.0.0.1", 7000)
    for bad in ("127.0.0.1:abc", "127.0.0.1:70000", "127.0.0.1:0"):
        with pytest.raises(StreamError, match="port|target"):
            parse_target(bad, 39539)
    with pytest.raises(StreamError, match="cannot resolve"):
        UdpTarget("no-such-host.invalid", 9000)
    # nobody listening on this port: sending is no error
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    t = UdpTarget("127.0.0.1", port)
    sender = PlainSender(t)
    for _ in range(5):
        sender.send_frame(Frame.neutral())
    sender.close()


# ---------------------------------------------------------------- the Unity package's C#
UNITY = Path(__file__).resolve().parents[1] / "unity_bridge" / "unity" / "Runtime"
HARNESS_CS = r'''
using System;
using System.Threading;
using Anim3d;
public static class Harness {
    public static int Main(string[] args) {
        if (args.Length > 0 && args[0] == "names") {
            for (int i = 1; i < args.Length; i++) Console.WriteLine(args[i] + "=" + ArkitNames.IndexOf(args[i]));
            return 0;
        }
        int port = int.Parse(args[0]);
        int want = int.Parse(args[1]);
        using (var l = new OscFrameListener(port)) {
            Console.WriteLine("READY"); Console.Out.Flush();
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (l.Received < want && DateTime.UtcNow < deadline) Thread.Sleep(5);
            Thread.Sleep(50);
            var f = l.TakeLatest();
            if (f == null) { Console.WriteLine("NOFRAME"); return 1; }
            Console.WriteLine("received=" + l.Received);
            Console.WriteLine(string.Format(System.Globalization.CultureInfo.InvariantCulture, "jawOpen={0:R} q={1:R},{2:R},{3:R},{4:R} t={5:R},{6:R},{7:R} time={8:R}",
                f.Weights[17], f.Qx, f.Qy, f.Qz, f.Qw, f.Tx, f.Ty, f.Tz, f.Time));
        }
        return 0;
    }
}
'''
UNITY_STUB_CS = r'''
// Compile-only stand-ins for the UnityEngine API used by Anim3dFaceReceiver.cs (no behaviour).
using System;
namespace UnityEngine {
    public class AddComponentMenu : Attribute { public AddComponentMenu(string s) {} }
    public class TooltipAttribute : Attribute { public TooltipAttribute(string s) {} }
    public class RangeAttribute : Attribute { public RangeAttribute(float a, float b) {} }
    public class Object {}
    public class Component : Object { public Transform transform; }
    public class Behaviour : Component {}
    public class MonoBehaviour : Behaviour {}
    public class Transform : Component { public Quaternion rotation, localRotation; public Vector3 localPosition; public Transform parent; }
    public class Mesh : Object { public int blendShapeCount; public string GetBlendShapeName(int i) { return ""; } }
    public class SkinnedMeshRenderer : Component { public Mesh sharedMesh; public void SetBlendShapeWeight(int i, float w) {} }
    public struct Vector3 { public float x, y, z; public Vector3(float a, float b, float c) { x = a; y = b; z = c; }
        public static Vector3 zero, up, right; public static Vector3 Lerp(Vector3 a, Vector3 b, float t) { return a; }
        public static Vector3 operator +(Vector3 a, Vector3 b) { return a; } }
    public struct Quaternion { public float x, y, z, w; public Quaternion(float a, float b, float c, float d) { x = a; y = b; z = c; w = d; }
        public static Quaternion identity; public static Quaternion operator *(Quaternion a, Quaternion b) { return a; }
        public static Quaternion Inverse(Quaternion q) { return q; } public static Quaternion Slerp(Quaternion a, Quaternion b, float t) { return a; }
        public static Quaternion AngleAxis(float a, Vector3 v) { return identity; }
        public void ToAngleAxis(out float angle, out Vector3 axis) { angle = 0; axis = Vector3.up; } }
    public static class Mathf { public const float Rad2Deg = 57.29578f; public static float Exp(float x) { return (float)Math.Exp(x); }
        public static float Lerp(float a, float b, float t) { return a; } public static float Clamp01(float x) { return x; } }
    public static class Time { public static float unscaledTime, unscaledDeltaTime; }
    public static class Debug { public static void Log(object o) {} }
}
'''


def _need_mono():
    if not (shutil.which("mcs") and shutil.which("mono")):
        pytest.skip("Mono C# compiler not installed (apt-get install -y mono-mcs)")


def test_unity_receiver_compiles_against_api_stand_ins(tmp_path):
    """Compile-only check of the whole Runtime folder against stand-ins of the UnityEngine API it uses."""
    _need_mono()
    (tmp_path / "UnityStub.cs").write_text(UNITY_STUB_CS)
    proc = subprocess.run(["mcs", "-target:library", f"-out:{tmp_path / 'r.dll'}", str(tmp_path / "UnityStub.cs"),
                           *map(str, sorted(UNITY.glob("*.cs")))], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_unity_osc_listener_decodes_the_plain_stream(tmp_path):
    """The package's C# OSC listener and name matcher (no UnityEngine needed) run under Mono
    and decode frames sent by PlainSender."""
    _need_mono()
    (tmp_path / "Harness.cs").write_text(HARNESS_CS)
    exe = tmp_path / "h.exe"
    proc = subprocess.run(["mcs", f"-out:{exe}", str(tmp_path / "Harness.cs"), str(UNITY / "OscFrameListener.cs"), str(UNITY / "ArkitNames.cs")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = subprocess.run(["mono", str(exe), "names", "EyeBlinkLeft", "eyeBlink_R", "blendShape1.jawOpen", "ARKit_tongueOut", "mouth_L", "Fcl_MTH_A"],
                           capture_output=True, text=True, timeout=60).stdout.split()
    assert names == ["EyeBlinkLeft=0", "eyeBlink_R=7", "blendShape1.jawOpen=17", "ARKit_tongueOut=51", "mouth_L=-1", "Fcl_MTH_A=-1"]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    rx = subprocess.Popen(["mono", str(exe), str(port), "5"], stdout=subprocess.PIPE, text=True)
    assert rx.stdout.readline().strip() == "READY"
    sender = PlainSender(UdpTarget("127.0.0.1", port))
    bs = np.zeros(52, np.float32)
    bs[17] = 0.625
    half = np.deg2rad(15)
    for k in range(5):
        sender.send_frame(Frame(0.5 + k / 60, bs, np.array([0, 2 * half, 0]), np.array([0.01, 0.02, 0.03]), np.zeros((2, 3))))
        time.sleep(0.01)
    sender.close()
    out, _ = rx.communicate(timeout=30)
    assert "received=5" in out, out
    fields = dict(kv.split("=") for kv in out.split("\n")[1].split())
    assert float(fields["jawOpen"]) == 0.625
    np.testing.assert_allclose([float(x) for x in fields["q"].split(",")], [0, np.sin(half), 0, np.cos(half)], atol=1e-6)
    np.testing.assert_allclose([float(x) for x in fields["t"].split(",")], [0.01, 0.02, 0.03], atol=1e-7)
    assert float(fields["time"]) == pytest.approx(0.5 + 4 / 60, abs=1e-6)
