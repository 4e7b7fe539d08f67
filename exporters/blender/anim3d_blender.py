"""anim3d for Blender: animate the active object's ARKit shape keys, and its armature's head and eye bones, from
speech. Written into a zip by ``anim3d blender-addon -o anim3d_blender.zip`` (this file becomes the add-on's
``__init__.py``); Edit > Preferences > Add-ons > Install from file.

It runs the installed ``anim3d`` command (its path is the add-on's preference; Blender's own Python needs neither
torch nor anim3d), which writes a Live Link Face CSV at the scene's frame rate; the add-on keys the shape keys whose
names spell an ARKit shape (any common spelling, ``arkit_names``: anim3d's ``arkit_spelling``), from the current frame on, replacing keys it
finds in that range, and adds the audio as a sound strip there unless the scene already plays it.

Head and eyes: a pose bone named ``head`` (any case, or ending in "head") takes the head rotation and bones named
like ``eye.L`` / ``LeftEye`` / ``eye_R`` the eyes', as Euler angles in mode ZXY in the bone's own axes: Y along the
bone (up the neck), X to the character's left, Z forward, as in Blender's metarigs. Yaw (about Y) > 0 turns the
face to the character's left, pitch (about X) > 0 tilts it down, roll (about Z) is right-handed about the forward
axis: the Live Link Face CSV's angles (anim3d's ``exporters.livelink``).

    bpy.ops.anim3d.animate_from_audio(filepath="line.wav", emotion="happy", intensity=0.7, seed=3)
"""

bl_info = {
    "name": "anim3d: face animation from speech",
    "author": "anim3d",
    "version": (0, 1, 0),
    "blender": (3, 0, 0),
    "location": "View3D > Sidebar > anim3d",
    "description": "ARKit shape keys and head/eye bones from an audio file, by the installed anim3d command",
    "category": "Animation",
}

import csv  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402

import bpy  # noqa: E402
from bpy.props import EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty  # noqa: E402

from . import arkit_names  # noqa: E402

EMOTIONS = ("neutral", "happy", "sad", "surprised", "fear", "disgusted", "angry", "contempt")
ANGLES = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
          "RightEyeYaw", "RightEyePitch", "RightEyeRoll")
BONES = {"head": ("head",), "LeftEye": ("lefteye", "eyel", "eyeleft"), "RightEye": ("righteye", "eyer", "eyeright")}


class Anim3dError(Exception):
    """A problem to report to the user in one line."""


class Anim3dPreferences(bpy.types.AddonPreferences):
    bl_idname = __name__

    executable: StringProperty(name="anim3d command", subtype="FILE_PATH", default="anim3d",
                               description="the anim3d command (a path, or a name on PATH)")

    def draw(self, context):
        self.layout.prop(self, "executable")


def read_take(path):
    """A Live Link Face CSV -> (camelCase shape names, per frame their weights, per frame the 9 angles by name)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    names = [n[0].lower() + n[1:] for n in header[2:54]]
    at = {n: i for i, n in enumerate(header)}
    weights = [[float(x) for x in r[2:54]] for r in rows[1:]]
    angles = [{a: float(r[at[a]]) for a in ANGLES} for r in rows[1:]]
    return names, weights, angles


def scene_fps(scene):
    return scene.render.fps / scene.render.fps_base


def scene_sound(scene):
    """The file of the scene's first sound strip, or None."""
    se = scene.sequence_editor
    for s in (se.sequences_all if se else ()):
        if s.type == "SOUND":
            return bpy.path.abspath(s.sound.filepath)
    return None


def run_anim3d(executable, audio, out, emotion, intensity, seed, fps):
    cmd = [executable, "animate", audio, "-o", out, "--emotion", emotion, "--intensity", repr(float(intensity)),
           "--seed", str(int(seed)), "--fps", repr(float(fps)), "-q"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        raise Anim3dError(f"the anim3d command {executable!r} was not found: set its path in the add-on's preferences")
    if proc.returncode != 0:
        lines = [x for x in (proc.stderr or proc.stdout).strip().splitlines() if x.strip()]
        raise Anim3dError(lines[-1] if lines else f"anim3d exited with status {proc.returncode}")


def set_keys(action, path, index, start, values, group=None):
    """Key ``values`` on frames start.. of the F-curve ``path``[``index``], replacing its keys in that range."""
    fc = action.fcurves.find(path, index=index) or action.fcurves.new(path, index=index, action_group=group or "")
    end = start + len(values) - 1
    kept = [(p.co[0], p.co[1]) for p in fc.keyframe_points if not start <= p.co[0] <= end]
    points = sorted(kept + [(start + i, v) for i, v in enumerate(values)])
    fc.keyframe_points.clear()
    fc.keyframe_points.add(len(points))
    fc.keyframe_points.foreach_set("co", [c for p in points for c in p])
    for p in fc.keyframe_points:
        p.interpolation = "LINEAR"
    fc.update()


def owner_action(id_data, name):
    ad = id_data.animation_data or id_data.animation_data_create()
    if ad.action is None:
        ad.action = bpy.data.actions.new(name)
    return ad.action


def key_shapes(obj, names, weights, start):
    """Key the object's ARKit shape keys -> the ARKit names found."""
    keys = obj.data.shape_keys if obj.type == "MESH" else None
    if keys is None:
        raise Anim3dError(f"{obj.name} has no shape keys")
    table = arkit_names.lookup_table(names)
    found = {}
    for kb in keys.key_blocks:
        if kb == keys.reference_key:
            continue
        name = arkit_names.canonical(kb.name, table)
        if name is not None and name not in found:
            found[name] = kb
    if not found:
        raise Anim3dError(f"none of the {len(keys.key_blocks) - 1} shape keys of {obj.name} is an ARKit shape "
                          "(jawOpen, eyeBlinkLeft, ... in any common spelling)")
    action = owner_action(keys, f"{obj.name}_anim3d_shapes")
    for name, kb in found.items():
        col = names.index(name)
        set_keys(action, f'key_blocks["{kb.name}"].value', 0, start, [w[col] for w in weights])
    return sorted(found)


def find_armature(obj):
    arm = obj.find_armature()
    if arm is None and obj.parent is not None and obj.parent.type == "ARMATURE":
        arm = obj.parent
    return arm


def key_bones(obj, angles, start):
    """Key the head and eye bones of the object's armature -> the bones keyed."""
    arm = find_armature(obj)
    if arm is None:
        return []
    done = []
    for part, spellings in BONES.items():
        bone = next((b for b in arm.pose.bones if re.sub(r"[^a-z]", "", b.name.lower()) in spellings
                     or (part == "head" and b.name.lower().endswith("head"))), None)
        if bone is None:
            continue
        bone.rotation_mode = "ZXY"  # R = Ry(yaw) Rx(pitch) Rz(roll)
        action = owner_action(arm, f"{arm.name}_anim3d_pose")
        path = f'pose.bones["{bone.name}"].rotation_euler'
        for axis, what in ((0, "Pitch"), (1, "Yaw"), (2, "Roll")):
            column = ("Head" if part == "head" else part) + what
            set_keys(action, path, axis, start, [a[column] for a in angles], group=bone.name)
        done.append(bone.name)
    return done


def add_sound(scene, audio, start):
    """A sound strip of ``audio`` at frame ``start``, unless the scene already plays that file."""
    se = scene.sequence_editor or scene.sequence_editor_create()
    target = os.path.realpath(audio)
    for s in se.sequences_all:
        if s.type == "SOUND" and os.path.realpath(bpy.path.abspath(s.sound.filepath)) == target:
            return s
    channel = 1 + max([s.channel for s in se.sequences_all] or [0])
    return se.sequences.new_sound(os.path.basename(audio), audio, channel, start)


class ANIM3D_OT_animate_from_audio(bpy.types.Operator):
    """Animate the active object's ARKit shape keys and head/eye bones from speech with anim3d"""

    bl_idname = "anim3d.animate_from_audio"
    bl_label = "Animate from audio"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(name="Audio", subtype="FILE_PATH", default="",
                             description="speech to animate (empty: the scene's first sound strip)")
    emotion: EnumProperty(name="Emotion", items=[(e, e, "") for e in EMOTIONS], default="neutral")
    intensity: FloatProperty(name="Intensity", min=0.0, max=1.0, default=1.0)
    seed: IntProperty(name="Seed", min=0, default=0)

    def execute(self, context):
        scene, obj = context.scene, context.active_object
        prefs = context.preferences.addons[__name__].preferences
        try:
            if obj is None:
                raise Anim3dError("select the object to animate")
            if obj.type != "MESH" or obj.data.shape_keys is None:
                raise Anim3dError(f"{obj.name} has no shape keys")
            audio = bpy.path.abspath(self.filepath) if self.filepath else scene_sound(scene)
            if not audio:
                raise Anim3dError("give an audio file (filepath) or add a sound strip to the scene")
            if not os.path.isfile(audio):
                raise Anim3dError(f"{audio}: file not found")
            start = scene.frame_current
            with tempfile.TemporaryDirectory() as tmp:
                take = os.path.join(tmp, "take.csv")
                run_anim3d(prefs.executable, audio, take, self.emotion, self.intensity, self.seed, scene_fps(scene))
                names, weights, angles = read_take(take)
            found = key_shapes(obj, names, weights, start)
            bones = key_bones(obj, angles, start)
            add_sound(scene, audio, start)
        except Anim3dError as e:
            self.report({"ERROR"}, f"anim3d: {e}")
            return {"CANCELLED"}
        missing = [n for n in names if n not in found]
        self.report({"INFO"}, f"anim3d: keyed {len(weights)} frames from frame {start} at {scene_fps(scene):g} fps; "
                              f"{len(found)} of 52 ARKit shapes found"
                              + (f" (missing: {', '.join(missing)})" if missing else "")
                              + (f"; bones: {', '.join(bones)}" if bones else ""))
        return {"FINISHED"}


class Anim3dSettings(bpy.types.PropertyGroup):
    filepath: StringProperty(name="Audio", subtype="FILE_PATH", default="")
    emotion: EnumProperty(name="Emotion", items=[(e, e, "") for e in EMOTIONS], default="neutral")
    intensity: FloatProperty(name="Intensity", min=0.0, max=1.0, default=1.0)
    seed: IntProperty(name="Seed", min=0, default=0)


class ANIM3D_PT_panel(bpy.types.Panel):
    bl_label = "anim3d"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "anim3d"

    def draw(self, context):
        s = context.scene.anim3d
        col = self.layout.column()
        for prop in ("filepath", "emotion", "intensity", "seed"):
            col.prop(s, prop)
        op = col.operator(ANIM3D_OT_animate_from_audio.bl_idname)
        op.filepath, op.emotion, op.intensity, op.seed = s.filepath, s.emotion, s.intensity, s.seed


CLASSES = (Anim3dPreferences, Anim3dSettings, ANIM3D_OT_animate_from_audio, ANIM3D_PT_panel)


def register():
    for c in CLASSES:
        bpy.utils.register_class(c)
    bpy.types.Scene.anim3d = PointerProperty(type=Anim3dSettings)


def unregister():
    del bpy.types.Scene.anim3d
    for c in reversed(CLASSES):
        bpy.utils.unregister_class(c)
