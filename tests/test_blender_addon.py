"""The Blender add-on (``anim3d blender-addon``): its ARKit name rules agree with anim3d's, and, in Debian's
Blender run headless, it installs from the zip and keys a mesh's shape keys (and an armature's head bone) to the
values ``anim3d animate`` writes, at the scene's frame rate, with the sound strip in place."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from anim3d.channels import ARKIT_NAMES, canonical_name, to_apple_raw, to_pascal
from anim3d.cli import main
from anim3d.exporters.livelink import rotvec_to_ypr
from anim3d.motion import Motion

REPO = Path(__file__).resolve().parents[1]
AUDIO = REPO / "examples" / "hello.wav"
DRIVER = REPO / "tests" / "blender" / "drive_addon.py"
ANIM3D = str(Path(sys.executable).with_name("anim3d"))


def _names_module(tmp_path):
    """The add-on's arkit_names module, as the zip ships it."""
    zip_path = tmp_path / "addon.zip"
    assert main(["blender-addon", "-o", str(zip_path), "-q"]) == 0
    with zipfile.ZipFile(zip_path) as z:
        z.extract("anim3d_blender/arkit_names.py", tmp_path)
    spec = importlib.util.spec_from_file_location("arkit_names", tmp_path / "anim3d_blender" / "arkit_names.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_addons_name_rules_agree_with_anim3ds(tmp_path):
    names = _names_module(tmp_path)
    table = names.lookup_table(ARKIT_NAMES)
    spellings = ["not_a_shape", "Smile", "jaw", "blendShape1.L", "eyeBlink_X", "mouthSmile"]
    for n in ARKIT_NAMES:
        snake = "".join("_" + c.lower() if c.isupper() else c for c in n)
        spellings += [n, to_pascal(n), to_apple_raw(n), snake, n.upper(), n.lower(), f"ARKit_{n}", f"blendShape1.{n}",
                      f"bs_{to_pascal(n)}", snake.replace("_left", ".L").replace("_right", ".R"), snake.replace("_", "-")]
    for s in spellings:
        assert names.canonical(s, table) == canonical_name(s), s


def test_the_command_writes_an_addon_zip(tmp_path, capsys):
    out = tmp_path / "anim3d_blender.zip"
    assert main(["blender-addon", "-o", str(out)]) == 0
    with zipfile.ZipFile(out) as z:
        assert sorted(z.namelist()) == ["anim3d_blender/__init__.py", "anim3d_blender/arkit_names.py"]
        assert "bl_info" in z.read("anim3d_blender/__init__.py").decode()
    assert "set the anim3d command to" in capsys.readouterr().out
    assert main(["blender-addon", "-o", str(tmp_path / "addon.py")]) == 2
    assert "the add-on is a .zip file" in capsys.readouterr().err


def _blender(tmp_path, fps, start, seed, *extra):
    zip_path = tmp_path / "addon.zip"
    if not zip_path.exists():
        assert main(["blender-addon", "-o", str(zip_path), "-q"]) == 0
    out = tmp_path / f"keyed_{fps}_{len(extra)}.json"
    env = dict(os.environ, BLENDER_USER_CONFIG=str(tmp_path / "config"), BLENDER_USER_SCRIPTS=str(tmp_path / "scripts"))
    proc = subprocess.run(["blender", "-b", "--factory-startup", "--python", str(DRIVER), "--", str(zip_path), ANIM3D,
                           str(AUDIO), str(fps), str(start), str(seed), str(out), *extra],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(out.read_text()), proc.stdout


def _reference(tmp_path, fps, seed) -> Motion:
    ref = tmp_path / f"ref_{fps}.npz"
    assert main(["animate", str(AUDIO), "-o", str(ref), "--fps", str(fps), "--seed", str(seed), "--emotion", "happy",
                 "--intensity", "0.5", "-q"]) == 0
    return Motion.load_npz(str(ref))


@pytest.mark.slow
@pytest.mark.parametrize("fps", [24, 25, 30, 60])
def test_blender_keys_the_shape_keys_as_animate_writes_them(tmp_path, fps):
    assert shutil.which("blender"), "Debian's blender is a test dependency (scripts/install_system_deps.sh)"
    start, seed = 7, 3
    got, stdout = _blender(tmp_path, fps, start, seed)
    ref = _reference(tmp_path, fps, seed)
    assert got["result"] == ["FINISHED"] and got["fps"] == pytest.approx(fps)
    assert "10 of 52 ARKit shapes found" in stdout
    assert set(got["values"]) == {"JawOpen", "eyeBlink_L", "EyeBlinkRight", "mouth_smile_left", "ARKit_browInnerUp",
                                  "blendShape1.mouthClose", "tongueOut", "MouthPucker", "cheek-puff", "jawLeft"}
    for key, points in got["values"].items():
        frames, values = np.array(points).T
        np.testing.assert_array_equal(frames, start + np.arange(ref.num_frames))
        np.testing.assert_allclose(values, ref.channel(canonical_name(key)), atol=1e-3, err_msg=key)
    assert got["strips"] == [[str(AUDIO), float(start)]]


@pytest.mark.slow
def test_blender_keys_the_head_and_eye_bones_from_the_scenes_sound_strip(tmp_path):
    got, _ = _blender(tmp_path, 30, 1, 0, "--armature", "--from-strip")
    ref = _reference(tmp_path, 30, 0)
    eyes = ref.eye_rotations()  # T x 2 x 3 (left, right)
    expected = {"Head": rotvec_to_ypr(ref.head_rotation), "eye.L": rotvec_to_ypr(eyes[:, 0]),
                "eye.R": rotvec_to_ypr(eyes[:, 1])}  # T x 3: yaw, pitch, roll
    for bone, ypr in expected.items():
        for axis, col in ((0, 1), (1, 0), (2, 2)):  # rotation_euler x = pitch, y = yaw, z = roll
            frames, values = np.array(got["bones"][f'pose.bones["{bone}"].rotation_euler[{axis}]']).T
            np.testing.assert_allclose(values, ypr[:, col], atol=1e-5, err_msg=f"{bone} {axis}")
        assert np.ptp(ypr[:, :2]) > 0.005, bone  # it moves: the comparison has something to compare
    assert got["result"] == ["FINISHED"] and len(got["strips"]) == 1  # the scene's strip, not a second one
    assert len(got["values"]["JawOpen"]) == ref.num_frames


@pytest.mark.slow
def test_a_mesh_without_arkit_shapes_gets_one_clear_report(tmp_path):
    got, _ = _blender(tmp_path, 30, 1, 0, "--no-arkit")
    assert got["result"] == ["CANCELLED"] and got["values"] == {} and got["strips"] == []
    assert "anim3d: none of the 3 shape keys of Cube.001 is an ARKit shape" in got["error"]  # the scene also has Cube
