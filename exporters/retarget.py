"""Add a Motion's animation to the user's own glTF/GLB/VRM avatar.

Every mesh whose morph targets carry ARKit names (any common spelling, see
``anim3d.channels.canonical_name``) gets a ``weights`` channel; the head/neck and eye bones
(from the VRM humanoid table when present, else by common node names) get rotation
channels. The user's meshes, materials, nodes and buffer bytes are left exactly as they
were: only accessors, buffer views, bytes at the end of the buffer and one animation named
``anim3d`` are appended (an ``anim3d`` animation already there is replaced in place), and
image files a .gltf names (inside its folder) are embedded, since the output lies elsewhere.
The avatar is read through ``anim3d.exporters.gltf_read``, which checks it first.
"""

from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pygltflib as g

from anim3d.channels import ARKIT_NAMES, INDEX, canonical_name
from anim3d.errors import InputError, MotionError
from anim3d.motion import Motion
from anim3d.exporters.glb_buffers import BufferBuilder
from anim3d.exporters.gltf import add_animation, rotvec_to_quat
from anim3d.exporters.gltf_read import read_document, read_gltf, read_uri

NECK_SHARE = 0.4  # of the head rotation, when both a neck and a head bone exist
ROLES = ("neck", "head", "left_eye", "right_eye")
ANIMATION = "anim3d"  # the name of the animation added; an avatar's own animation of that name is replaced
_IDENTITY = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
_VRM0_BONES = {"neck": "neck", "head": "head", "leftEye": "left_eye", "rightEye": "right_eye"}


@dataclass
class RetargetReport:
    found: list[str] = field(default_factory=list)  # ARKit names driven on at least one mesh
    missing: list[str] = field(default_factory=list)  # ARKit names no mesh has
    meshes: list[tuple[str, int, int]] = field(default_factory=list)  # (mesh name, matched, targets)
    bones: dict[str, str] = field(default_factory=dict)  # role -> node name
    nodes_animated: int = 0
    skipped_bones: dict[str, str] = field(default_factory=dict)  # role -> node name (matrix nodes)
    replaced: bool = False  # the avatar had an animation named ANIMATION, now replaced
    embedded_images: int = 0  # image files from the avatar's folder now inside the output

    def summary(self) -> str:
        lines = [f"blendshapes: {len(self.found)} of 52 found"]
        for name, matched, total in self.meshes:
            lines.append(f"  mesh {name!r}: {matched} of its {total} morph targets are ARKit shapes")
        if self.missing:
            lines.append("missing: " + ", ".join(self.missing))
        lines.append("bones: " + (", ".join(f"{r}={n!r}" for r, n in self.bones.items()) or "none found (no head/eye rotation)"))
        if self.skipped_bones:
            lines.append("not driven (node uses a matrix): " + ", ".join(f"{r}={n!r}" for r, n in self.skipped_bones.items()))
        if self.replaced:
            lines.append(f"replaced the avatar's existing animation {ANIMATION!r}")
        if self.embedded_images:
            lines.append(f"embedded {self.embedded_images} image file(s) from the avatar's folder")
        return "\n".join(lines)


def target_names(mesh: g.Mesh) -> list[str]:
    """Morph target names of a mesh: ``mesh.extras.targetNames`` or its first primitive's."""
    for extras in [mesh.extras] + [p.extras for p in mesh.primitives]:
        if isinstance(extras, dict) and isinstance(extras.get("targetNames"), list):
            return [str(n) for n in extras["targetNames"]]
    return []


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def bone_role(name: str) -> str | None:
    """'neck', 'head', 'left_eye', 'right_eye' or None for a node name (Mixamo, VRM, RPM, Blender...)."""
    tok = _tokens(name)
    if not tok:
        return None
    if any(t in ("end", "top", "nub", "tip", "headtop", "end0") for t in tok[1:]) or "headtop" in "".join(tok):
        return None
    while len(tok) > 1 and tok[-1].isdigit():
        tok = tok[:-1]  # "neck_01" -> neck
    last = tok[-1]
    joined = "".join(tok)
    if any(t.startswith("eye") and t not in ("eyebrow", "eyelid", "eyelash", "eyebrows", "eyelids") for t in tok) and "lid" not in joined and "brow" not in joined:
        left = any(t in ("l", "left") for t in tok) or joined.endswith("eyel") or "lefteye" in joined
        right = any(t in ("r", "right") for t in tok) or joined.endswith("eyer") or "righteye" in joined
        if left != right:
            return "left_eye" if left else "right_eye"
        return None
    if last == "head":
        return "head"
    if last == "neck":
        return "neck"
    return None


def _node_index(gltf: g.GLTF2, value) -> int | None:
    return value if type(value) is int and 0 <= value < len(gltf.nodes) else None


def _vrm_bones(gltf: g.GLTF2) -> dict[str, int]:
    """role -> node from the VRM humanoid table (entries that are not valid node indices are ignored)."""
    ext = gltf.extensions if isinstance(gltf.extensions, dict) else {}
    out: dict[str, int] = {}
    vrm1, vrm0 = ext.get("VRMC_vrm"), ext.get("VRM")
    human = vrm1.get("humanoid") if isinstance(vrm1, dict) else None
    bones = human.get("humanBones") if isinstance(human, dict) else None
    if isinstance(bones, dict):  # VRM 1.0
        for k, role in _VRM0_BONES.items():
            node = _node_index(gltf, bones[k].get("node")) if isinstance(bones.get(k), dict) else None
            if node is not None:
                out[role] = node
    human0 = vrm0.get("humanoid") if isinstance(vrm0, dict) else None
    bones0 = human0.get("humanBones") if isinstance(human0, dict) else None
    if isinstance(bones0, list):  # VRM 0.x
        for b in bones0:
            role = _VRM0_BONES.get(b.get("bone")) if isinstance(b, dict) and isinstance(b.get("bone"), str) else None
            node = _node_index(gltf, b.get("node")) if role else None
            if node is not None:
                out.setdefault(role, node)
    return out


def find_bones(gltf: g.GLTF2) -> dict[str, int]:
    """role -> node index for neck, head and eyes."""
    found = _vrm_bones(gltf)
    for i, node in enumerate(gltf.nodes):
        role = bone_role(node.name or "")
        if role and role not in found and node.mesh is None:
            found[role] = i
    return found


def _unit(v: np.ndarray) -> np.ndarray | None:
    """v scaled to length 1, or None when it has none (zero, infinite or NaN)."""
    big = np.max(np.abs(v)) if v.size else 0.0
    if not np.isfinite(big) or big < 1e-30:
        return None
    v = v / big
    return v / np.linalg.norm(v)


def _local_rotation(node: g.Node) -> np.ndarray:
    """A node's rest rotation (x, y, z, w); a degenerate matrix or quaternion counts as none."""
    from scipy.spatial.transform import Rotation

    if node.matrix and len(node.matrix) == 16 and list(node.matrix) != _IDENTITY:
        m = np.asarray(node.matrix, np.float64).reshape(4, 4).T[:3, :3]  # column-major
        cols = [_unit(m[:, k]) for k in range(3)]
        if all(c is not None for c in cols) and abs(np.linalg.det(np.stack(cols, 1))) > 1e-6:
            return Rotation.from_matrix(np.stack(cols, 1)).as_quat()
        return np.array([0.0, 0, 0, 1])
    q = _unit(np.asarray(node.rotation if node.rotation else [0, 0, 0, 1], np.float64))
    return q if q is not None else np.array([0.0, 0, 0, 1])


def _parent_world_rotations(gltf: g.GLTF2, nodes) -> dict[int, np.ndarray]:
    """node -> world rotation (x, y, z, w) of its parent at rest (identity for roots), for ``nodes``."""
    from scipy.spatial.transform import Rotation

    parent = {c: i for i, n in enumerate(gltf.nodes) for c in (n.children or [])}
    out = {}
    for i in nodes:
        rot = Rotation.identity()
        j = parent.get(i)
        while j is not None:  # the nodes form a forest (checked on reading): this ends at a root
            rot = Rotation.from_quat(_local_rotation(gltf.nodes[j])) * rot
            j = parent.get(j)
        out[i] = rot.as_quat()
    return out


def _bone_track(rest_local: np.ndarray, parent_world: np.ndarray, rotvec: np.ndarray) -> np.ndarray:
    """T x 4 local quaternions applying world-frame rotations ``rotvec`` (T x 3) at a bone.

    local(t) = P^-1 R(t) P L, with P the parent's rest world rotation and L the rest local one.
    """
    from scipy.spatial.transform import Rotation

    p = Rotation.from_quat(parent_world)
    q = (p.inv() * Rotation.from_rotvec(np.asarray(rotvec, np.float64)) * p * Rotation.from_quat(rest_local)).as_rotvec()
    return rotvec_to_quat(q)


def embed_images(avatar: str, doc: dict, bb: BufferBuilder) -> int:
    """Images given by a file uri become bufferViews of the output (which is written elsewhere);
    the files must lie in the avatar's folder. Returns how many were embedded."""
    n = 0
    for i, img in enumerate(doc.get("images", [])):
        uri = img.get("uri")
        if uri is None or uri.startswith("data:"):
            continue
        data = read_uri(avatar, uri, f"images[{i}]")
        mime = img.get("mimeType") if isinstance(img.get("mimeType"), str) else image_mime_type(data)
        if mime is None:
            raise InputError(avatar, f"images[{i}].uri {uri[:200]!r} is not a PNG, JPEG, WebP or KTX2 image")
        del img["uri"]
        img["bufferView"], img["mimeType"] = bb.view(data), mime
        n += 1
    return n


def image_mime_type(data: bytes) -> str | None:
    """The MIME type glTF images use, from the file's first bytes."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"\xabKTX 20\xbb\r\n\x1a\n"):
        return "image/ktx2"
    return None


def write_glb_raw(doc: dict, blob: bytes, path: str | os.PathLike) -> None:
    """Write a GLB from a JSON dict and its binary chunk, atomically (the GLB container is
    12 + 8 + 8 bytes of headers; written here so that the user's JSON passes through as is)."""
    from anim3d.fileio import atomic_output

    js = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    js += b" " * ((-len(js)) % 4)
    blob += b"\x00" * ((-len(blob)) % 4)
    chunks = struct.pack("<II", len(js), 0x4E4F534A) + js + struct.pack("<II", len(blob), 0x004E4942) + blob
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<III", 0x46546C67, 2, 12 + len(chunks)) + chunks)


def _put_animation(doc: dict, anim: dict) -> bool:
    """Put ``anim`` in place of the first animation of the same name (keeping the indices of
    the others), or append it. True when one was replaced."""
    anims = doc.setdefault("animations", [])
    for i, old in enumerate(anims):
        if old.get("name") == anim.get("name"):
            anims[i] = anim
            return True
    anims.append(anim)
    return False


def retarget(motion: Motion, avatar: str | os.PathLike, out: str | os.PathLike, audio=None) -> RetargetReport:
    """Write ``avatar`` + an ``anim3d`` animation of ``motion`` to ``out`` (.glb or .vrm).

    Raises InputError for a broken avatar or one without ARKit morph targets, MotionError for
    a bad motion; nothing is written then.
    """
    out = Path(out)
    motion.validate(out)
    if motion.num_frames == 0:
        raise MotionError(out, "the motion has no frames")
    if out.suffix.lower() not in (".glb", ".vrm"):
        raise InputError(out, "an avatar with animation is written as .glb or .vrm")
    from anim3d.exporters.gltf import resolve_audio, sidecar_path

    resolve_audio(audio)  # fail on bad audio before writing anything
    avatar = os.fspath(avatar)
    raw, gltf, blob = read_gltf(avatar)
    n_views, n_acc = len(gltf.bufferViews), len(gltf.accessors)
    report = RetargetReport()
    weights: list[tuple[int, np.ndarray]] = []
    found: set[str] = set()
    all_targets = 0
    for mi, mesh in enumerate(gltf.meshes):
        names = target_names(mesh)
        n_targets = max((len(p.targets or []) for p in mesh.primitives), default=0)
        all_targets += n_targets
        if not names or n_targets == 0:
            continue
        cols = np.array([INDEX[c] if (c := canonical_name(n)) else -1 for n in names[:n_targets]] + [-1] * (n_targets - len(names)))
        matched = int((cols >= 0).sum())
        if matched == 0:
            continue
        report.meshes.append((mesh.name or f"mesh {mi}", matched, n_targets))
        found.update(ARKIT_NAMES[c] for c in cols if c >= 0)
        w = np.zeros((motion.num_frames, n_targets), np.float32)  # T x N; unmatched targets stay at 0
        w[:, cols >= 0] = motion.blendshapes[:, cols[cols >= 0]]
        defaults = np.asarray(mesh.weights or [0.0] * n_targets, np.float32)[:n_targets]
        w[:, cols < 0] = defaults[cols < 0]  # keep the avatar's own value on shapes we do not drive
        for ni, node in enumerate(gltf.nodes):
            if node.mesh == mi:
                node_w = w.copy()
                node_weights = raw["nodes"][ni].get("weights")
                if node_weights:
                    nw = np.asarray(node_weights, np.float32)[:n_targets]
                    node_w[:, cols < 0] = nw[cols < 0]
                weights.append((ni, node_w))
    if not weights:
        what = f"{len(gltf.meshes)} mesh(es), {all_targets} morph target(s)"
        raise InputError(avatar, f"no morph targets with ARKit names found ({what}); the avatar needs ARKit/perfect-sync blendshapes")
    report.found = [n for n in ARKIT_NAMES if n in found]
    report.missing = [n for n in ARKIT_NAMES if n not in found]
    report.nodes_animated = len(weights)

    bones = find_bones(gltf)
    # glTF forbids animating a node given by a matrix: such bones are reported, not driven
    fixed = {r: i for r, i in bones.items() if gltf.nodes[i].matrix and list(gltf.nodes[i].matrix) != _IDENTITY}
    bones = {r: i for r, i in bones.items() if r not in fixed}
    report.skipped_bones = {r: gltf.nodes[i].name or f"node {i}" for r, i in fixed.items()}
    report.bones = {r: gltf.nodes[i].name or f"node {i}" for r, i in bones.items()}
    head_rv = motion.head_rotation.astype(np.float64)
    eyes = motion.eye_rotations().astype(np.float64)  # T x 2 x 3
    if "VRM" in (gltf.extensions or {}):  # VRM 0.x faces -Z: turn the motion's frame by 180 degrees about Y
        head_rv = head_rv * np.array([-1.0, 1.0, -1.0])
        eyes = eyes * np.array([-1.0, 1.0, -1.0])
    parts = {"neck": NECK_SHARE, "head": 1 - NECK_SHARE} if {"neck", "head"} <= bones.keys() else {"neck": 1.0, "head": 1.0}
    pw = _parent_world_rotations(gltf, bones.values())
    rotations = []
    for role, rv in (("neck", head_rv * parts["neck"]), ("head", head_rv * parts["head"]), ("left_eye", eyes[:, 0]), ("right_eye", eyes[:, 1])):
        if role in bones:
            i = bones[role]
            rotations.append((i, _bone_track(_local_rotation(gltf.nodes[i]), pw[i], rv)))

    bb = BufferBuilder(gltf, initial=blob)
    report.embedded_images = embed_images(avatar, raw, bb)
    add_animation(gltf, bb, motion.times, weights=weights, rotations=rotations, name=ANIMATION)
    new_blob = bb.finish()
    # Append the new objects to the avatar's own JSON: a pygltflib round trip would drop
    # properties it does not model (node weights, unknown fields), and nothing of the
    # user's may change.
    added = json.loads(g.GLTF2(bufferViews=gltf.bufferViews[n_views:], accessors=gltf.accessors[n_acc:],
                               animations=gltf.animations[-1:]).to_json())
    for key in ("bufferViews", "accessors"):
        raw.setdefault(key, []).extend(added.get(key, []))
    report.replaced = _put_animation(raw, added["animations"][0])
    raw["buffers"] = [{"byteLength": len(new_blob)}] + raw.get("buffers", [])[1:]
    if audio is not None:
        extras = raw.setdefault("asset", {}).setdefault("extras", {})
        if isinstance(extras, dict):  # extras may hold any JSON value; only an object can take the name
            extras["audio"] = sidecar_path(out).name
    from anim3d.fileio import output_group

    with output_group():
        write_glb_raw(raw, new_blob, out)
        if audio is not None:
            from anim3d.audio import save_sidecar_wav

            save_sidecar_wav(sidecar_path(out), audio)
    return report
