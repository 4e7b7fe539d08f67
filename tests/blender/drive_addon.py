"""Runs inside Blender (``blender -b --factory-startup --python tests/blender/drive_addon.py -- ARGS``): install the
anim3d add-on from its zip, build a mesh with shape keys, run the operator, and write what was keyed as JSON.

ARGS: ZIP ANIM3D_EXECUTABLE AUDIO FPS START SEED OUT.json [--no-arkit] [--armature] [--from-strip]
(--armature: the mesh's parent armature has bones Head, eye.L and eye.R; --from-strip: the audio is a sound strip of
the scene and the operator is given no file)
"""

import json
import sys

import bpy

argv = sys.argv[sys.argv.index("--") + 1:]
zip_path, exe, audio, fps, start, seed, out = argv[:7]
no_arkit, armature, from_strip = "--no-arkit" in argv, "--armature" in argv, "--from-strip" in argv
SPELLINGS = ["JawOpen", "eyeBlink_L", "EyeBlinkRight", "mouth_smile_left", "ARKit_browInnerUp",
             "blendShape1.mouthClose", "tongueOut", "MouthPucker", "cheek-puff", "jawLeft", "not_a_shape"]
if no_arkit:
    SPELLINGS = ["Smile", "Frown", "Open"]

bpy.ops.preferences.addon_install(filepath=zip_path, overwrite=True)
bpy.ops.preferences.addon_enable(module="anim3d_blender")
bpy.context.preferences.addons["anim3d_blender"].preferences.executable = exe

scene = bpy.context.scene
fps = float(fps)
scene.render.fps, scene.render.fps_base = (round(fps), 1.0) if fps == round(fps) else (round(fps), round(fps) / fps)
scene.frame_current = int(start)
bpy.ops.mesh.primitive_cube_add()
obj = bpy.context.active_object
obj.shape_key_add(name="Basis")
for name in SPELLINGS:
    obj.shape_key_add(name=name)
if armature:
    bpy.ops.object.armature_add()
    arm = bpy.context.active_object
    bpy.ops.object.mode_set(mode="EDIT")
    arm.data.edit_bones[0].name = "Head"
    for side, x in (("L", 0.03), ("R", -0.03)):
        eye = arm.data.edit_bones.new(f"eye.{side}")
        eye.head, eye.tail = (x, 0.0, 1.0), (x, -0.05, 1.0)
    bpy.ops.object.mode_set(mode="OBJECT")
    obj.parent = arm
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)

if from_strip:
    scene.sequence_editor_create().sequences.new_sound("speech", audio, 1, int(start))
try:
    result, error = bpy.ops.anim3d.animate_from_audio(filepath="" if from_strip else audio, seed=int(seed), emotion="happy", intensity=0.5), ""
except RuntimeError as e:  # an operator that reports an error raises it when called from Python
    result, error = {"CANCELLED"}, str(e)
keys = obj.data.shape_keys
action = keys.animation_data.action if keys.animation_data else None
values = {}
if action:
    for fc in action.fcurves:
        name = fc.data_path.split('"')[1]
        values[name] = [[p.co[0], p.co[1]] for p in fc.keyframe_points]
bones = {}
if armature and obj.parent.animation_data:
    for fc in obj.parent.animation_data.action.fcurves:
        bones[f"{fc.data_path}[{fc.array_index}]"] = [[p.co[0], p.co[1]] for p in fc.keyframe_points]
se = scene.sequence_editor
strips = [[s.sound.filepath, s.frame_start] for s in (se.sequences_all if se else []) if s.type == "SOUND"]
with open(out, "w") as f:
    json.dump({"result": sorted(result), "error": error, "values": values, "bones": bones, "strips": strips,
               "fps": scene.render.fps / scene.render.fps_base}, f)
