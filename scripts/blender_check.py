"""Import a GLB written by anim3d into Blender (headless) and print its shape keys and animated values.

    blender -b --factory-startup --python scripts/blender_check.py -- talking.glb [--frames 0,15,30]

Prints the shape-key names Blender created, then for a few frames the values Blender
evaluates for some keys next to the values stored in the GLB's animation (read here
directly from the file), and the largest difference. Exit code 1 when names or values
disagree. Runs inside Blender's own Python (no anim3d import).
"""

import json
import struct
import sys

import numpy

numpy.bool = bool  # Blender 3.4's glTF importer still uses np.bool (removed in numpy 1.24)

import bpy  # noqa: E402

SHOW = ("jawOpen", "eyeBlinkLeft", "mouthSmileLeft", "browInnerUp", "tongueOut")


def read_glb(path):
    data = open(path, "rb").read()
    jlen = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(data[20:20 + jlen])
    blen = struct.unpack_from("<I", data, 20 + jlen)[0]
    blob = data[28 + jlen:28 + jlen + blen]
    return doc, blob


def accessor(doc, blob, i):
    a = doc["accessors"][i]
    n = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}[a["type"]]
    bv = doc["bufferViews"][a["bufferView"]]
    off = bv.get("byteOffset", 0) + a.get("byteOffset", 0)
    return numpy.frombuffer(blob, numpy.float32, a["count"] * n, off).reshape(a["count"], n)


def expected_weights(doc, blob):
    for anim in doc.get("animations", []):
        for ch in anim["channels"]:
            if ch["target"]["path"] == "weights":
                node = doc["nodes"][ch["target"]["node"]]
                names = doc["meshes"][node["mesh"]]["extras"]["targetNames"]
                s = anim["samplers"][ch["sampler"]]
                t = accessor(doc, blob, s["input"]).reshape(-1)
                return names, t, accessor(doc, blob, s["output"]).reshape(len(t), -1)
    raise SystemExit("no weights animation in the file")


def main():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    if not argv:
        raise SystemExit(__doc__)
    path = argv[0]
    frames = [0, 15, 30]
    if "--frames" in argv:
        frames = [int(x) for x in argv[argv.index("--frames") + 1].split(",")]
    doc, blob = read_glb(path)
    names, times, weights = expected_weights(doc, blob)
    fps = round(1.0 / float(times[1] - times[0])) if len(times) > 1 else 30
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.scene.render.fps = fps  # the importer converts key times with the scene's fps
    bpy.ops.import_scene.gltf(filepath=path)
    meshes = [o for o in bpy.context.scene.objects if o.type == "MESH" and o.data.shape_keys]
    if not meshes:
        print("FAIL: no mesh with shape keys was imported")
        return 1
    obj = meshes[0]
    keys = obj.data.shape_keys.key_blocks
    key_names = [k.name for k in keys if k.name != keys[0].name]  # skip the basis
    print(f"blender {bpy.app.version_string}; imported {path}: mesh {obj.name!r}, {len(key_names)} shape keys, "
          f"armatures: {[o.name for o in bpy.context.scene.objects if o.type == 'ARMATURE']}")
    print("shape keys:", ", ".join(key_names))
    ok = key_names == names
    print(f"names match the GLB's targetNames: {ok}")
    action = obj.data.shape_keys.animation_data.action if obj.data.shape_keys.animation_data else None
    print(f"shape-key action: {action.name if action else None}, frame range {tuple(action.frame_range) if action else None}, scene fps {fps}")
    start = int(action.frame_range[0]) if action else 0
    worst = 0.0
    for f in frames:
        if f >= len(times):
            continue
        bpy.context.scene.frame_set(start + f)
        got = {n: keys[n].value for n in SHOW if n in keys}
        exp = {n: float(weights[f, names.index(n)]) for n in SHOW if n in names}
        diff = max(abs(got[n] - exp[n]) for n in got)
        worst = max(worst, max(abs(keys[n].value - float(weights[f, i])) for i, n in enumerate(names) if n in keys))
        print(f"frame {start + f} (t={times[f]:.3f} s): " + ", ".join(f"{n}={got[n]:.3f} (glb {exp[n]:.3f})" for n in got) + f"  max diff {diff:.2e}")
    print(f"largest difference over all 52 keys at the checked frames: {worst:.2e}")
    ok = ok and worst < 1e-3
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


sys.exit(main())
