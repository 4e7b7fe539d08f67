"""Motion -> glTF 2.0 binary (.glb): a skinned head with 52 ARKit morph targets and one animation.

Layout of the written file
- nodes: ``head`` (the skinned mesh, at the scene root, no transform) and the FLAME joint
  hierarchy ``root -> neck -> {jaw, left_eye, right_eye}`` with rest offsets as translations;
- one mesh, one primitive (POSITION, NORMAL, TEXCOORD_0, JOINTS_0, WEIGHTS_0) with 52 POSITION
  morph targets named in ``mesh.extras.targetNames`` (Apple's camelCase, Apple's order);
  targets that move few vertices are stored sparse, identical targets share one accessor;
- a material ``skin``: the head's texture (JPEG, ``baseColorTexture``) when it has one, else a skin colour;
- one animation ``anim3d`` at the motion's fps: ``weights`` on the mesh node, rotation of
  ``neck`` (the head pose), rotations of ``left_eye``/``right_eye`` (from ``Motion.eye_rotations``)
  and translation of ``root`` (head translation);
- audio: glTF has no ratified audio extension, so the audio goes beside the file as ``.wav``
  and its file name is recorded in ``asset.extras.audio``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pygltflib as g

from anim3d.channels import ARKIT_NAMES
from anim3d.errors import InputError, MotionError
from anim3d.flame.head import vertex_normals
from anim3d.motion import Motion
from anim3d.exporters.glb_buffers import ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER, BufferBuilder, morph_target_accessor, read_accessor

GENERATOR = "anim3d exporters.gltf"


def rotvec_to_quat(rotvec: np.ndarray) -> np.ndarray:
    """(T, 3) axis-angle -> (T, 4) unit quaternions (x, y, z, w), sign-continuous over time."""
    from scipy.spatial.transform import Rotation

    rotvec = np.asarray(rotvec, np.float64).reshape(-1, 3)
    if len(rotvec) == 0:
        return np.zeros((0, 4), np.float32)
    q = Rotation.from_rotvec(rotvec).as_quat()  # T x 4, scalar last (glTF order)
    # pick the hemisphere closest to the previous key so that interpolation takes the short way
    flips = np.cumsum(np.r_[0, (np.sum(q[1:] * q[:-1], axis=1) < 0).astype(int)]) % 2
    q[flips == 1] *= -1
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def top4_skin(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """V x J skin weights -> (JOINTS_0 V x 4 uint8, WEIGHTS_0 V x 4 float32 summing to 1)."""
    w = np.asarray(weights, np.float64)
    if w.shape[1] < 4:
        w = np.pad(w, ((0, 0), (0, 4 - w.shape[1])))
    order = np.argsort(-w, axis=1)[:, :4]  # V x 4 strongest joints
    top = np.take_along_axis(w, order, axis=1)
    top = np.where(top > 1e-6, top, 0.0)
    top /= top.sum(1, keepdims=True)
    top = top.astype(np.float32)
    # float32 rounding: put the residual on the largest weight so each row sums to 1
    top[:, 0] += 1.0 - top.sum(1)
    joints = np.where(top > 0, order, 0).astype(np.uint8)
    return joints, top


def _check_motion(motion: Motion, path) -> None:
    motion.validate(path)
    if motion.num_frames == 0:
        raise MotionError(path, "the motion has no frames")


def resolve_audio(audio):
    """``audio`` as an ``anim3d.audio.Audio``: a file path is decoded at 48 kHz (None stays None)."""
    if audio is None:
        return None
    from anim3d.audio import Audio, load_audio

    if isinstance(audio, Audio):
        return audio
    return load_audio(audio, sample_rate=48000)


def add_animation(gltf: g.GLTF2, bb: BufferBuilder, times: np.ndarray,
                  weights: list[tuple[int, np.ndarray]] = (),
                  rotations: list[tuple[int, np.ndarray]] = (),
                  translations: list[tuple[int, np.ndarray]] = (),
                  name: str = "anim3d") -> int:
    """Append one animation (all channels LINEAR on the shared ``times``); returns its index.

    weights:      (node, T x N morph weights) for nodes whose mesh has N targets
    rotations:    (node, T x 4 quaternions x, y, z, w)
    translations: (node, T x 3)
    """
    t_acc = bb.accessor(np.asarray(times, np.float32), minmax=True)  # T
    samplers: list[g.AnimationSampler] = []
    channels: list[g.AnimationChannel] = []
    for path, items in (("weights", weights), ("rotation", rotations), ("translation", translations)):
        for node, values in items:
            values = np.ascontiguousarray(values, np.float32)
            out = bb.accessor(values.reshape(-1) if path == "weights" else values)
            samplers.append(g.AnimationSampler(input=t_acc, output=out, interpolation="LINEAR"))
            channels.append(g.AnimationChannel(sampler=len(samplers) - 1, target=g.AnimationChannelTarget(node=node, path=path)))
    gltf.animations.append(g.Animation(name=name, samplers=samplers, channels=channels))
    return len(gltf.animations) - 1


TEXTURE_QUALITY = 92  # JPEG quality of an embedded texture (a 1024 x 1024 photo texture: about 0.2 MB; PNG: 1.5 MB)


def add_texture(gltf: g.GLTF2, bb: BufferBuilder, texture: np.ndarray) -> int:
    """Embed an H x W x 3 uint8 sRGB texture (JPEG, mipmapped, clamped at the edges); returns its texture index."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(texture, np.uint8)).save(buf, format="JPEG", quality=TEXTURE_QUALITY)
    gltf.images.append(g.Image(bufferView=bb.view(buf.getvalue()), mimeType="image/jpeg", name="base_colour"))
    gltf.samplers.append(g.Sampler(magFilter=g.LINEAR, minFilter=g.LINEAR_MIPMAP_LINEAR, wrapS=g.CLAMP_TO_EDGE, wrapT=g.CLAMP_TO_EDGE))
    gltf.textures.append(g.Texture(sampler=len(gltf.samplers) - 1, source=len(gltf.images) - 1))
    return len(gltf.textures) - 1


def build_gltf(motion: Motion | None, head) -> tuple[g.GLTF2, bytes]:
    """The glTF document and its binary buffer for ``motion`` on ``head`` (a flame.head.HeadModel); with no
    motion, the head alone at rest (no animation)."""
    head.validate()
    gltf = g.GLTF2(asset=g.Asset(version="2.0", generator=GENERATOR))
    bb = BufferBuilder(gltf)
    v = head.vertices.astype(np.float32)
    idx_dtype = np.uint16 if len(v) < 65536 else np.uint32
    attrs = g.Attributes(
        POSITION=bb.accessor(v, ARRAY_BUFFER, minmax=True),
        NORMAL=bb.accessor(vertex_normals(v, head.faces), ARRAY_BUFFER),
    )
    if head.uvs is not None:
        attrs.TEXCOORD_0 = bb.accessor(head.uvs.astype(np.float32), ARRAY_BUFFER)
    joints4, weights4 = top4_skin(head.skin_weights)
    attrs.JOINTS_0 = bb.accessor(joints4, ARRAY_BUFFER)
    attrs.WEIGHTS_0 = bb.accessor(weights4, ARRAY_BUFFER)
    indices = bb.accessor(head.faces.astype(idx_dtype).reshape(-1), ELEMENT_ARRAY_BUFFER, minmax=True)
    cache: dict = {}
    targets = [{"POSITION": morph_target_accessor(bb, head.morph_targets[k], cache)} for k in range(len(ARKIT_NAMES))]
    if head.texture is not None:
        pbr = g.PbrMetallicRoughness(baseColorTexture=g.TextureInfo(index=add_texture(gltf, bb, head.texture)),
                                     baseColorFactor=[1.0, 1.0, 1.0, 1.0], metallicFactor=0.0, roughnessFactor=0.7)
    else:
        pbr = g.PbrMetallicRoughness(baseColorFactor=[0.8, 0.62, 0.52, 1.0], metallicFactor=0.0, roughnessFactor=0.7)
    gltf.materials.append(g.Material(name="skin", pbrMetallicRoughness=pbr))
    gltf.meshes.append(g.Mesh(
        name=head.name,
        primitives=[g.Primitive(attributes=attrs, indices=indices, material=0, mode=g.TRIANGLES, targets=targets)],
        weights=[0.0] * len(ARKIT_NAMES),
        extras={"targetNames": list(ARKIT_NAMES)},
    ))
    # nodes: 0 = skinned mesh, 1.. = joints (FLAME order)
    gltf.nodes.append(g.Node(name=head.name, mesh=0, skin=0))
    joints = np.asarray(head.joints, np.float32)
    jnode = [1 + j for j in range(len(head.joint_names))]
    for j, name in enumerate(head.joint_names):
        p = head.parents[j]
        local = joints[j] - (joints[p] if p >= 0 else 0.0)
        gltf.nodes.append(g.Node(name=name, translation=[float(x) for x in local]))
    for j, p in enumerate(head.parents):
        if p >= 0:
            gltf.nodes[jnode[p]].children.append(jnode[j])
    root_j = [j for j, p in enumerate(head.parents) if p < 0]
    ibm = np.tile(np.eye(4, dtype=np.float32), (len(joints), 1, 1))  # J x 4 x 4
    ibm[:, :3, 3] = -joints
    inv = bb.accessor(np.ascontiguousarray(ibm.transpose(0, 2, 1)).reshape(len(joints), 16))  # column-major
    gltf.skins.append(g.Skin(name="flame", joints=jnode, inverseBindMatrices=inv, skeleton=jnode[root_j[0]]))
    gltf.scenes.append(g.Scene(name="anim3d", nodes=[0] + [jnode[j] for j in root_j]))
    gltf.scene = 0
    if motion is None:
        return gltf, bb.finish()

    names = list(head.joint_names)
    eyes = motion.eye_rotations()  # T x 2 x 3
    rotations = []
    for jname, rv in (("neck", motion.head_rotation), ("left_eye", eyes[:, 0]), ("right_eye", eyes[:, 1])):
        if jname in names:
            rotations.append((jnode[names.index(jname)], rotvec_to_quat(rv)))
    add_animation(
        gltf, bb, motion.times,
        weights=[(0, motion.blendshapes)],
        rotations=rotations,
        translations=[(jnode[root_j[0]], motion.head_translation + joints[root_j[0]])],
    )
    return gltf, bb.finish()


def save_glb(gltf: g.GLTF2, blob: bytes, path: str | os.PathLike) -> None:
    """Write ``gltf`` + ``blob`` as one GLB, atomically."""
    from anim3d.fileio import atomic_output

    gltf.set_binary_blob(blob)
    data = b"".join(gltf.save_to_bytes())
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def sidecar_path(path: str | os.PathLike) -> Path:
    """Where the audio of a GLB at ``path`` is written: beside it, as ``.wav``."""
    return Path(path).with_suffix(".wav")


def write_glb(motion: Motion, path: str | os.PathLike, head=None, audio=None) -> Path:
    """Write ``motion`` on ``head`` (default: the embedded open head) as a GLB at ``path``.

    audio: an audio file path (its sound is written beside as ``<path>.wav`` at its own sample rate
    and channels, see ``anim3d.audio.save_sidecar_wav``) or an ``anim3d.audio.Audio``.
    Raises MotionError for a bad motion and AudioError for bad audio; nothing is written then, and
    the GLB and its ``.wav`` are written both or neither.
    """
    from anim3d.fileio import output_group

    path = Path(path)
    _check_motion(motion, path)
    resolve_audio(audio)  # fail on bad audio before writing anything
    if head is None:
        from anim3d.flame.open_head import load_open_head

        head = load_open_head()
    gltf, blob = build_gltf(motion, head)
    wav = sidecar_path(path)
    if audio is not None:
        gltf.asset.extras = {"audio": wav.name}
    with output_group():
        save_glb(gltf, blob, path)
        if audio is not None:
            from anim3d.audio import save_sidecar_wav

            save_sidecar_wav(wav, audio)
    return path


def write_head_glb(head, path: str | os.PathLike) -> Path:
    """Write ``head`` (a flame.head.HeadModel) alone, at rest, as a GLB at ``path`` (atomically): its mesh, texture,
    52 morph targets and FLAME joints, for ``--avatar`` or an engine to animate."""
    path = Path(path)
    gltf, blob = build_gltf(None, head)
    save_glb(gltf, blob, path)
    return path


def load_glb(path: str | os.PathLike) -> tuple[g.GLTF2, bytes]:
    """Read a GLB/VRM (or a .gltf with an embedded buffer or one inside its folder) -> (document,
    buffer 0 bytes), after the checks of ``anim3d.exporters.gltf_read``; raises InputError."""
    from anim3d.exporters.gltf_read import read_gltf

    _, gltf, blob = read_gltf(path)
    return gltf, blob


def read_animation_weights(path: str | os.PathLike) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(target names, times T, weights T x N) of the first morph-weights channel in a GLB."""
    gltf, blob = load_glb(path)
    for anim in gltf.animations:
        for ch in anim.channels:
            node = gltf.nodes[ch.target.node] if ch.target.node is not None else None
            if ch.target.path == "weights" and node is not None and node.mesh is not None:
                extras = gltf.meshes[node.mesh].extras
                names = list(extras.get("targetNames", [])) if isinstance(extras, dict) else []
                s = anim.samplers[ch.sampler]
                t = read_accessor(gltf, blob, s.input).reshape(-1)
                w = read_accessor(gltf, blob, s.output).reshape(-1)
                if len(t) == 0 or len(w) % len(t):
                    raise InputError(path, f"the weights channel has {len(w)} values for {len(t)} key times")
                return names, t, w.reshape(len(t), -1)
    raise InputError(path, "has no morph-weights animation")
