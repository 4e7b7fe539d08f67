"""``anim3d info`` describes every kind of file anim3d reads, and refuses the others in one line."""

from __future__ import annotations

import numpy as np
import pytest

from anim3d.cli import main
from anim3d.motion import Motion


def _info(capsys, path) -> str:
    assert main(["info", str(path)]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def _motion(n=60, fps=60.0):
    m = Motion.neutral(n, fps)
    m.blendshapes[:, 17] = np.linspace(0, 1, n)  # jawOpen
    m.head_rotation[:, 1] = np.linspace(0, 0.2, n)
    return m


def test_livelink_take(tmp_path, capsys):
    from anim3d.exporters.livelink import write_livelink_csv

    path = write_livelink_csv(_motion(), tmp_path / "take.csv", start_seconds=3600)
    out = _info(capsys, path)
    assert "Live Link Face take" in out and "60 frames at 60 fps (1.00 s)" in out
    assert "jawOpen (1.00)" in out and "HeadYaw" in out and "01:00:00:00" in out


def test_glb_with_the_open_head(tmp_path, capsys):
    from anim3d.exporters.gltf import write_glb

    path = write_glb(_motion(30, 30.0), tmp_path / "talk.glb")
    out = _info(capsys, path)
    assert "glTF" in out and "52 morph targets (52 with ARKit names)" in out
    assert "skin 'flame': 5 joints" in out
    assert "animation 'anim3d': 0.97 s" in out and "anim3d animation: yes" in out
    verts = [line for line in out.splitlines() if "vertices" in line]
    assert verts and all(int(line.split(" vertices")[0].split()[-1]) > 100 for line in verts)


def test_vrm_avatar_without_animation(tmp_path, capsys):
    from test_retarget import build_avatar

    path = build_avatar(tmp_path / "me.vrm", {"Body": [], "Face": ["jawOpen", "Fcl_MTH_A", "EyeBlinkLeft"]})
    out = _info(capsys, path)
    assert "mesh 'Face': 4 vertices, 3 morph targets (2 with ARKit names)" in out
    assert "mesh 'Body': 4 vertices, no morph targets" in out
    assert "animations: none" in out and "anim3d animation: no" in out


def test_audio_reports_codec_rate_and_channels(tmp_path, capsys):
    from test_audio import _encode, _signal

    path = tmp_path / "voice.flac"
    _encode(path, _signal(1.0, 44100), 44100, "flac", channels=2)
    out = _info(capsys, path)
    assert "audio" in out and "flac" in out and "44100 Hz" in out and "2 channels" in out and "1.00 s" in out


def test_image(tmp_path, capsys):
    from PIL import Image

    path = tmp_path / "face.png"
    Image.new("RGB", (40, 30), (200, 150, 120)).save(path)
    out = _info(capsys, path)
    assert "image, 40 x 30" in out


@pytest.mark.parametrize("name", ["FLAME_NEUTRAL.pkl", "flame2023.npz"])
def test_flame_model(tmp_path, capsys, name):
    from test_flame_loader import F, V, synthetic_flame, write_pkl

    path = tmp_path / name
    if name.endswith(".pkl"):
        write_pkl(path, synthetic_flame())
    else:
        np.savez(path, **synthetic_flame())
    out = _info(capsys, path)
    assert f"FLAME model, {V} vertices, {F} faces, 300 shape and 100 expression components" in out


@pytest.mark.parametrize("name, content, words", [
    ("notes.txt", b"hello", "info reads"),
    ("face.png", b"\x89PNG\r\n\x1a\nbroken", "not a readable image"),
    ("head.glb", b"glTF\x02\x00\x00\x00" + b"\x00" * 40, "GLB"),
])
def test_unreadable_or_unknown_files_are_one_line_errors(tmp_path, capsys, name, content, words):
    path = tmp_path / name
    path.write_bytes(content)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and name in err and words in err and "Traceback" not in err, err
    if name == "notes.txt":
        for kind in (".npz", ".csv", ".glb", ".vrm", ".wav", ".png", ".pkl"):
            assert kind in err, err
