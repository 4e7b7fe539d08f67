"""Retargeting onto user avatars the tests build: several meshes, partial shape sets, odd spellings."""

from __future__ import annotations

import json

import numpy as np
import pygltflib as g
import pytest
from scipy.spatial.transform import Rotation

from anim3d.channels import ARKIT_NAMES, INDEX
from anim3d.errors import InputError
from anim3d.motion import Motion
from anim3d.exporters.glb_buffers import ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER, BufferBuilder, read_accessor
from anim3d.exporters.gltf_read import read_document
from anim3d.exporters.retarget import bone_role, retarget
from test_gltf import assert_valid

FACE_TARGETS = ["EyeBlinkLeft", "eyeBlink_R", "JawOpen", "mouth_smile_l", "MOUTH_SMILE_R", "browInnerUp", "ARKit_cheekPuff",
                "Fcl_MTH_A", "Fcl_EYE_Joy", "MouthFunnel", "mouthPucker", "noseSneer.L", "NoseSneerRight"]
TEETH_TARGETS = ["jaw_open", "blendShape1.mouthClose", "TONGUE_OUT"]


def _quad(bb: BufferBuilder, n_targets: int, seed: int):
    rng = np.random.default_rng(seed)
    pos = np.array([[0, 0, 0], [0.1, 0, 0], [0, 0.1, 0], [0.1, 0.1, 0]], np.float32) + rng.normal(size=3).astype(np.float32) * 0.1
    attrs = g.Attributes(POSITION=bb.accessor(pos, ARRAY_BUFFER, minmax=True))
    idx = bb.accessor(np.array([0, 1, 2, 2, 1, 3], np.uint16), ELEMENT_ARRAY_BUFFER, minmax=True)
    targets = [{"POSITION": bb.accessor(rng.normal(size=(4, 3)).astype(np.float32) * 0.01, ARRAY_BUFFER, minmax=True)} for _ in range(n_targets)]
    return g.Primitive(attributes=attrs, indices=idx, material=0, targets=targets or None)


def build_avatar(path, meshes: dict[str, list[str]], bone_names=("Hips", "Spine", "Neck", "Head", "LeftEye", "RightEye"),
                 neck_rest_deg=20.0, extensions=None):
    """A GLB avatar: a bone chain Hips>Spine>Neck>Head>{LeftEye,RightEye} and one node per mesh."""
    gltf = g.GLTF2(asset=g.Asset(version="2.0", generator="test avatar"))
    bb = BufferBuilder(gltf)
    gltf.materials = [g.Material(name="skin", pbrMetallicRoughness=g.PbrMetallicRoughness(baseColorFactor=[1, 0.8, 0.7, 1])),
                      g.Material(name="cloth", doubleSided=True)]
    for k, (name, targets) in enumerate(meshes.items()):
        prim = _quad(bb, len(targets), k)
        mesh = g.Mesh(name=name, primitives=[prim], extras={"targetNames": targets} if targets else {})
        if targets:
            mesh.weights = [0.0] * len(targets)
        gltf.meshes.append(mesh)
        gltf.nodes.append(g.Node(name=name, mesh=k))
    base = len(gltf.nodes)
    rot = {2: Rotation.from_euler("x", neck_rest_deg, degrees=True).as_quat().tolist()}
    trans = [[0, 1, 0], [0, 0.3, 0], [0, 0.3, 0], [0, 0.1, 0], [0.03, 0.07, 0.08], [-0.03, 0.07, 0.08]]
    for j, name in enumerate(bone_names):
        gltf.nodes.append(g.Node(name=name, translation=trans[j], rotation=rot.get(j)))
    children = {0: [1], 1: [2], 2: [3], 3: [4, 5]}
    for j, ch in children.items():
        gltf.nodes[base + j].children = [base + c for c in ch]
    gltf.scenes = [g.Scene(nodes=list(range(base)) + [base])]
    gltf.scene = 0
    if extensions:
        gltf.extensions = extensions(base)
        gltf.extensionsUsed = list(gltf.extensions)
    blob = bb.finish()
    gltf.set_binary_blob(blob)
    gltf.save_binary(str(path))
    return path


def test_bone_names():
    assert bone_role("mixamorig:Head") == "head" and bone_role("J_Bip_C_Neck") == "neck"
    assert bone_role("J_Adj_L_FaceEye") == "left_eye" and bone_role("eye.R") == "right_eye"
    assert bone_role("HeadTop_End") is None and bone_role("Eyelid_L") is None and bone_role("Forehead") is None


def test_retarget_several_meshes_partial_sets(tmp_path, capsys):
    av = build_avatar(tmp_path / "me.glb", {"Body": [], "Face": FACE_TARGETS, "Teeth": TEETH_TARGETS, "Lashes": ["eyeBlinkLeft", "eyeBlinkRight"]})
    before = g.GLTF2.load_binary(str(av))
    old_blob = before.binary_blob()
    rng = np.random.default_rng(0)
    m = Motion(rng.random((40, 52)), np.zeros((40, 3)), np.zeros((40, 3)), 30.0)
    out = tmp_path / "talking.glb"
    rep = retarget(m, av, out)
    expect = {"eyeBlinkLeft", "eyeBlinkRight", "jawOpen", "mouthSmileLeft", "mouthSmileRight", "browInnerUp", "cheekPuff",
              "mouthFunnel", "mouthPucker", "noseSneerLeft", "noseSneerRight", "mouthClose", "tongueOut"}
    assert set(rep.found) == expect
    assert set(rep.missing) == set(ARKIT_NAMES) - expect and len(rep.missing) == 52 - 13
    assert [(n, k) for n, k, _ in rep.meshes] == [("Face", 11), ("Teeth", 3), ("Lashes", 2)]
    assert rep.bones == {"neck": "Neck", "head": "Head", "left_eye": "LeftEye", "right_eye": "RightEye"}
    assert "13 of 52 found" in rep.summary()

    after = g.GLTF2.load_binary(str(out))
    blob = after.binary_blob()
    # the user's meshes, materials, nodes and bytes are untouched
    raw_before, raw_after = read_document(av)[0], read_document(out)[0]
    for key in ("meshes", "materials", "nodes", "scenes", "extensionsUsed"):
        assert json.dumps(raw_after.get(key)) == json.dumps(raw_before.get(key))
    n_bv, n_acc = len(raw_before["bufferViews"]), len(raw_before["accessors"])
    assert raw_after["bufferViews"][:n_bv] == raw_before["bufferViews"]
    assert raw_after["accessors"][:n_acc] == raw_before["accessors"]
    assert blob[: len(old_blob)] == old_blob
    # weights: each target column carries its ARKit channel; non-ARKit targets stay at 0
    anim = after.animations[0]
    ch = {(after.nodes[c.target.node].name, c.target.path): anim.samplers[c.sampler] for c in anim.channels}
    w = read_accessor(after, blob, ch[("Face", "weights")].output).reshape(40, len(FACE_TARGETS))
    np.testing.assert_allclose(w[:, 1], m.channel("eyeBlinkRight"))
    np.testing.assert_allclose(w[:, 6], m.channel("cheekPuff"))
    assert not w[:, 7].any() and not w[:, 8].any()
    wt = read_accessor(after, blob, ch[("Teeth", "weights")].output).reshape(40, 3)
    np.testing.assert_allclose(wt, m.blendshapes[:, [INDEX["jawOpen"], INDEX["mouthClose"], INDEX["tongueOut"]]])
    assert ("Body", "weights") not in ch
    assert_valid(out)


def test_node_weights_and_unknown_fields_survive(tmp_path):
    av = build_avatar(tmp_path / "me.glb", {"Face": FACE_TARGETS})
    doc = read_document(av)[0]
    doc["nodes"][0]["weights"] = [0.0] * 7 + [0.7] + [0.0] * 5  # the avatar's own default for Fcl_MTH_A
    doc["nodes"][0]["extras"] = {"vendor": {"x": 1}}
    gl = g.GLTF2.load_binary(str(av))
    from anim3d.exporters.retarget import write_glb_raw

    write_glb_raw(doc, gl.binary_blob(), tmp_path / "me2.glb")
    retarget(Motion.neutral(4), tmp_path / "me2.glb", tmp_path / "out.glb")
    after = read_document(tmp_path / "out.glb")[0]
    assert after["nodes"][0]["weights"][7] == 0.7 and after["nodes"][0]["extras"] == {"vendor": {"x": 1}}
    gl2 = g.GLTF2.load_binary(str(tmp_path / "out.glb"))
    c = gl2.animations[0].channels[0]
    w = read_accessor(gl2, gl2.binary_blob(), gl2.animations[0].samplers[c.sampler].output).reshape(4, -1)
    assert np.all(w[:, 7] == pytest.approx(0.7)) and not w[:, 0].any()  # undriven shape keeps its default
    assert_valid(tmp_path / "out.glb")


def test_head_yaw_lands_in_world_frame(tmp_path):
    av = build_avatar(tmp_path / "me.glb", {"Face": FACE_TARGETS}, neck_rest_deg=25.0)
    m = Motion.neutral(3)
    m.head_rotation[:, 1] = 0.5  # turn toward the subject's left
    out = tmp_path / "o.glb"
    retarget(m, av, out)
    gl = g.GLTF2.load_binary(str(out))
    blob = gl.binary_blob()
    anim = gl.animations[0]
    q = {gl.nodes[c.target.node].name: read_accessor(gl, blob, anim.samplers[c.sampler].output)[0]
         for c in anim.channels if c.target.path == "rotation"}
    neck_rest = Rotation.from_euler("x", 25, degrees=True)
    # the head's world rotation = yaw applied on top of its rest world rotation
    world_head = Rotation.from_quat(q["Neck"]) * Rotation.from_quat(q["Head"])  # Hips/Spine are identity
    expected = Rotation.from_rotvec([0, 0.5, 0]) * neck_rest
    assert (world_head * expected.inv()).magnitude() < 1e-5
    assert_valid(out)


def test_vrm1_humanoid_bones_and_vrm0_facing(tmp_path):
    odd = ("root", "spine", "kubi", "atama", "me_hidari", "me_migi")

    def vrm1(base):
        return {"VRMC_vrm": {"specVersion": "1.0", "humanoid": {"humanBones": {
            "neck": {"node": base + 2}, "head": {"node": base + 3}, "leftEye": {"node": base + 4}, "rightEye": {"node": base + 5}}}}}

    av = build_avatar(tmp_path / "a.vrm", {"Face": FACE_TARGETS}, bone_names=odd, extensions=vrm1)
    rep = retarget(Motion.neutral(5), av, tmp_path / "b.vrm")
    assert rep.bones == {"neck": "kubi", "head": "atama", "left_eye": "me_hidari", "right_eye": "me_migi"}

    def vrm0(base):
        return {"VRM": {"humanoid": {"humanBones": [{"bone": "head", "node": base + 3}]}}}

    av0 = build_avatar(tmp_path / "c.vrm", {"Face": FACE_TARGETS}, bone_names=odd, neck_rest_deg=0.0, extensions=vrm0)
    m = Motion.neutral(2)
    m.head_rotation[:, 1] = 0.4
    retarget(m, av0, tmp_path / "d.vrm")
    gl = g.GLTF2.load_binary(str(tmp_path / "d.vrm"))
    c = [c for c in gl.animations[0].channels if c.target.path == "rotation"][0]
    qh = read_accessor(gl, gl.binary_blob(), gl.animations[0].samplers[c.sampler].output)[0]
    # a VRM 0.x model faces -Z: its yaw about +Y keeps the sign (axis x/z mirrored, y kept)
    np.testing.assert_allclose(qh, Rotation.from_rotvec([0, 0.4, 0]).as_quat(), atol=1e-6)


def test_bad_avatars_write_nothing(tmp_path):
    m = Motion.neutral(5)
    plain = build_avatar(tmp_path / "plain.glb", {"Body": [], "Hat": []})
    with pytest.raises(InputError, match="no morph targets with ARKit names"):
        retarget(m, plain, tmp_path / "o1.glb")
    wrong = build_avatar(tmp_path / "vroid.glb", {"Face": ["Fcl_MTH_A", "Fcl_EYE_Close"]})
    with pytest.raises(InputError, match="no morph targets with ARKit names"):
        retarget(m, wrong, tmp_path / "o2.glb")
    good = build_avatar(tmp_path / "good.glb", {"Face": FACE_TARGETS})
    raw = good.read_bytes()
    (tmp_path / "trunc.glb").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match="trunc.glb"):
        retarget(m, tmp_path / "trunc.glb", tmp_path / "o3.glb")
    (tmp_path / "junk.glb").write_bytes(b"glTF" + bytes(range(200)))
    with pytest.raises(InputError, match="junk.glb"):
        retarget(m, tmp_path / "junk.glb", tmp_path / "o4.glb")
    (tmp_path / "text.gltf").write_text("{not json")
    with pytest.raises(InputError, match="text.gltf"):
        retarget(m, tmp_path / "text.gltf", tmp_path / "o5.glb")
    with pytest.raises(InputError, match="not found"):
        retarget(m, tmp_path / "none.glb", tmp_path / "o6.glb")
    nan = Motion.neutral(5)
    nan.blendshapes[1, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        retarget(nan, good, tmp_path / "o7.glb")
    assert not any(p.name.startswith("o") for p in tmp_path.iterdir())


def test_exporting_onto_an_animated_avatar_replaces_anim3d(tmp_path, capsys):
    """An avatar that already has an 'anim3d' animation (e.g. an earlier export) gets it
    replaced in place; its other animations keep their places."""
    from anim3d.cli import main
    from anim3d.exporters.retarget import write_glb_raw

    av = build_avatar(tmp_path / "me.glb", {"Face": FACE_TARGETS})
    retarget(Motion.neutral(5), av, tmp_path / "idle.glb")
    doc = read_document(tmp_path / "idle.glb")[0]
    doc["animations"][0]["name"] = "idle"
    write_glb_raw(doc, g.GLTF2.load_binary(str(tmp_path / "idle.glb")).binary_blob(), tmp_path / "idle.glb")
    first = retarget(Motion.neutral(5), tmp_path / "idle.glb", tmp_path / "once.glb")
    rng = np.random.default_rng(3)
    m = Motion(rng.random((8, 52)), np.zeros((8, 3)), np.zeros((8, 3)), 30.0)
    m.save_npz(tmp_path / "m.npz")
    assert main(["export", str(tmp_path / "m.npz"), "--avatar", str(tmp_path / "once.glb"), "-o", str(tmp_path / "twice.glb")]) == 0
    assert [a["name"] for a in read_document(tmp_path / "twice.glb")[0]["animations"]] == ["idle", "anim3d"]
    assert "replaced the avatar's existing animation 'anim3d'" in capsys.readouterr().out
    assert "replaced" not in first.summary()
    gl = g.GLTF2.load_binary(str(tmp_path / "twice.glb"))
    anim = gl.animations[1]
    c = [c for c in anim.channels if c.target.path == "weights"][0]
    w = read_accessor(gl, gl.binary_blob(), anim.samplers[c.sampler].output).reshape(8, len(FACE_TARGETS))
    np.testing.assert_allclose(w[:, 1], m.channel("eyeBlinkRight"))
    assert_valid(tmp_path / "twice.glb")
