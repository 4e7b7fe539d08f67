"""``anim3d info``: describe any file anim3d reads."""

from __future__ import annotations

import argparse
import os

NAME = "info"
ORDER = 90
HELP = "describe a motion, avatar, audio/video, portrait or FLAME model file"
DESCRIPTION = """Print what a file holds:
  Motion .npz, Live Link Face .csv  frames, fps, duration, channels, the most active ARKit channels
  .glb / .gltf / .vrm               meshes (vertices, morph targets, how many have ARKit names),
                                    skins, animations and whether one is anim3d's
  audio or video                    codec, sample rate, channels, duration and level
  portrait image                    size
  FLAME model .pkl / .npz           vertices, faces, shape and expression components

  anim3d info motion.npz
  anim3d info avatar.vrm
  anim3d info speech.wav"""

GLTF_EXTENSIONS = (".glb", ".gltf", ".vrm")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
FLAME_KEY = "v_template"  # an .npz with this array is a FLAME model, not a Motion


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="a Motion .npz, Live Link .csv, .glb/.gltf/.vrm, audio/video, image or FLAME .pkl/.npz")


def run(args: argparse.Namespace) -> int:
    from anim3d.audio import MEDIA_EXTENSIONS
    from anim3d.errors import InputError

    path = args.file
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        lines = flame_lines(path) if _npz_has(path, FLAME_KEY) else npz_lines(path)
    elif ext == ".pkl":
        lines = flame_lines(path)
    elif ext == ".csv":
        lines = livelink_lines(path)
    elif ext in GLTF_EXTENSIONS:
        lines = gltf_lines(path)
    elif ext in IMAGE_EXTENSIONS:
        lines = image_lines(path)
    elif ext in MEDIA_EXTENSIONS:
        lines = media_lines(path)
    else:
        raise InputError(path, f"unsupported file type {ext or '(none)'}: info reads Motion .npz, Live Link .csv, "
                               f"{'/'.join(GLTF_EXTENSIONS)}, FLAME .pkl/.npz, audio/video ({' '.join(MEDIA_EXTENSIONS)}) "
                               f"and images ({' '.join(IMAGE_EXTENSIONS)})")
    print("\n".join(lines))
    return 0


def _npz_has(path: str, key: str) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            return f"{key}.npy" in z.namelist()
    except (OSError, zipfile.BadZipFile):
        return False  # the Motion reader reports the file


def motion_lines(motion) -> list[str]:
    """Frames, fps, duration, the 8 most active ARKit channels and the head's range."""
    import numpy as np

    from anim3d.channels import ARKIT_NAMES

    rng = motion.blendshapes.max(0) - motion.blendshapes.min(0)
    top = np.argsort(-rng, kind="stable")[:8]
    deg = np.degrees(np.linalg.norm(motion.head_rotation, axis=1))
    return [
        f"{motion.num_frames} frames at {motion.fps:g} fps ({motion.duration:.2f} s)",
        "most active channels: " + ", ".join(f"{ARKIT_NAMES[i]} ({rng[i]:.2f})" for i in top),
        f"head rotation: max {deg.max():.1f} deg; translation: max {np.abs(motion.head_translation).max() * 100:.1f} cm",
    ]


def npz_lines(path: str) -> list[str]:
    from anim3d.motion import Motion

    m = Motion.load_npz(path)
    first, *rest = motion_lines(m)
    return [f"{path}: Motion, {first}", "channels: 52 ARKit blendshapes, head rotation, head translation", *rest]


def livelink_lines(path: str) -> list[str]:
    from anim3d.exporters.livelink import read_livelink_csv

    m, info = read_livelink_csv(path)
    first, *rest = motion_lines(m)
    angles = ", ".join(info.angle_columns) or "none (the head reads as still)"
    timing = f"timecode starts {info.start} at {info.timecode_fps:g} fps; {info.num_rows} rows"
    if info.resampled:
        timing += f", resampled to {info.fps:g} fps (dropped or irregular frames)"
    return [f"{path}: Live Link Face take, {first}", f"channels: 52 ARKit blendshapes; angles: {angles}", timing, *rest]


def gltf_lines(path: str) -> list[str]:
    """Meshes, skins and animations of a glTF/GLB/VRM, read with the exporters' loader."""
    from anim3d.errors import InputError
    from anim3d.exporters.gltf import load_glb

    gltf, blob = load_glb(path)
    try:
        return [f"{path}: glTF 2.0 ({gltf.asset.generator or 'unknown generator'})",
                *_mesh_lines(gltf), *_skin_lines(gltf), *_animation_lines(gltf, blob)]
    except (IndexError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise InputError(path, f"malformed glTF ({type(e).__name__}: {e})") from None


def _mesh_lines(gltf) -> list[str]:
    from anim3d.channels import canonical_name
    from anim3d.exporters.retarget import target_names

    lines = []
    for i, mesh in enumerate(gltf.meshes):
        verts = sum(gltf.accessors[p.attributes.POSITION].count for p in mesh.primitives if p.attributes.POSITION is not None)
        n_targets = max((len(p.targets or []) for p in mesh.primitives), default=0)
        arkit = len({c for n in target_names(mesh)[:n_targets] if (c := canonical_name(n))})
        shapes = f"{n_targets} morph targets ({arkit} with ARKit names)" if n_targets else "no morph targets"
        lines.append(f"mesh {mesh.name or i!r}: {verts} vertices, {shapes}")
    return lines or ["meshes: none"]


def _skin_lines(gltf) -> list[str]:
    return [f"skin {s.name or i!r}: {len(s.joints)} joints" for i, s in enumerate(gltf.skins)] or ["skins: none"]


def _animation_lines(gltf, blob: bytes) -> list[str]:
    from anim3d.exporters.glb_buffers import read_accessor

    lines = []
    for i, anim in enumerate(gltf.animations):
        ends = []
        for s in anim.samplers:
            acc = gltf.accessors[s.input]
            ends.append(float(acc.max[0]) if acc.max else float(read_accessor(gltf, blob, s.input).max(initial=0.0)))
        lines.append(f"animation {anim.name or i!r}: {max(ends, default=0.0):.2f} s, {len(anim.channels)} channels")
    has_ours = any(a.name == "anim3d" for a in gltf.animations)
    return (lines or ["animations: none"]) + [f"anim3d animation: {'yes' if has_ours else 'no'}"]


def media_lines(path: str) -> list[str]:
    """Codec, rate and channels of the first audio track, then its decoded duration and level."""
    import numpy as np

    from anim3d.audio import audio_track, load_audio
    from anim3d.errors import AudioError
    from anim3d.fileio import open_media

    with open_media(path, error=AudioError, noun="an audio file", readable="audio or video file") as c:
        a = audio_track(path, c).codec_context
        head = f"{a.name}, {a.sample_rate} Hz, {_count(a.channels, 'channel')}"
        tracks = [f"{s.type} {s.codec_context.name if s.codec_context else 'unknown'}" for s in c.streams]
    audio = load_audio(path, allow_silent=True, min_seconds=0.0)
    rms = float(np.sqrt(np.mean(audio.samples**2)))
    return [f"{path}: audio, {head}, {audio.duration:.2f} s", f"tracks: {', '.join(tracks)}",
            f"level: RMS {20 * np.log10(max(rms, 1e-10)):.1f} dBFS (decoded to {audio.sample_rate} Hz mono)"]


def image_lines(path: str) -> list[str]:
    from anim3d.render.portrait import load_image

    rgb = load_image(path)
    return [f"{path}: image, {rgb.shape[1]} x {rgb.shape[0]} pixels"]


def flame_lines(path: str) -> list[str]:
    from anim3d.flame.flame_loader import load_flame

    m = load_flame(path)
    return [(f"{path}: FLAME model, {m.num_vertices} vertices, {len(m.faces)} faces, "
             f"{m.num_shape} shape and {m.num_expression} expression components")]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
