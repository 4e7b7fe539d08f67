"""The ``anim3d export`` and ``anim3d stream`` commands, the preview video, bad inputs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from anim3d.cli import main
from anim3d.motion import Motion
from anim3d.exporters.gltf import read_animation_weights
from anim3d.exporters.livelink import read_livelink_csv
from anim3d.exporters.synthetic import make_test_head
from test_gltf import assert_valid
from test_retarget import FACE_TARGETS, build_avatar

from loopback import drain, udp_receiver


@pytest.fixture()
def motion_file(tmp_path):
    rng = np.random.default_rng(0)
    m = Motion(rng.random((30, 52)), rng.normal(size=(30, 3)) * 0.2, rng.normal(size=(30, 3)) * 0.01, 30.0)
    m.save_npz(tmp_path / "m.npz")
    return tmp_path / "m.npz", m


def tone(path, seconds=1.0, sr=16000):
    from anim3d.audio import save_wav

    save_wav(path, (0.3 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * sr)) / sr)).astype(np.float32), sr)
    return path


def test_export_formats(tmp_path, motion_file, capsys):
    src, m = motion_file
    assert main(["export", str(src), "-o", str(tmp_path / "t.csv"), "-q"]) == 0
    back, info = read_livelink_csv(tmp_path / "t.csv")
    np.testing.assert_allclose(back.blendshapes, m.blendshapes, atol=1e-6)
    assert main(["export", str(tmp_path / "t.csv"), "-o", str(tmp_path / "back.npz"), "-q"]) == 0
    np.testing.assert_allclose(Motion.load_npz(tmp_path / "back.npz").blendshapes, m.blendshapes, atol=1e-6)
    assert main(["export", str(src), "-o", str(tmp_path / "r.npz"), "--fps", "60", "-q"]) == 0
    assert Motion.load_npz(tmp_path / "r.npz").fps == 60.0
    assert "wrote" in capsys.readouterr().out


def test_export_glb_open_head_with_audio(tmp_path, motion_file):
    src, m = motion_file
    wav = tone(tmp_path / "speech.wav")
    assert main(["export", str(src), "-o", str(tmp_path / "talk.glb"), "--audio", str(wav), "-q"]) == 0
    assert (tmp_path / "talk.wav").is_file()
    names, _, w = read_animation_weights(tmp_path / "talk.glb")
    np.testing.assert_allclose(w, m.blendshapes)
    assert_valid(tmp_path / "talk.glb")


def test_export_avatar_prints_found_and_missing(tmp_path, motion_file, capsys):
    src, _ = motion_file
    av = build_avatar(tmp_path / "me.glb", {"Body": [], "Face": FACE_TARGETS})
    assert main(["export", str(src), "--avatar", str(av), "-o", str(tmp_path / "talking.glb"), "-q"]) == 0
    out = capsys.readouterr().out
    assert "11 of 52 found" in out and "missing: eyeLookDownLeft" in out and "head='Head'" in out
    assert_valid(tmp_path / "talking.glb")


def test_preview_mp4_has_h264_and_aac(tmp_path, motion_file):
    import av

    from anim3d.exporters.preview_video import write_preview_mp4

    src, m = motion_file
    out = write_preview_mp4(m, tmp_path / "p.mp4", audio=tone(tmp_path / "a.wav", 2.0), head=make_test_head(), size=96, renderer="painter")
    with av.open(str(out)) as c:
        kinds = {s.type: s for s in c.streams}
        assert kinds["video"].codec_context.name == "h264" and kinds["video"].width == 96
        assert kinds["audio"].codec_context.name == "aac"
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 30
    assert np.abs(frames[0].astype(int) - frames[15].astype(int)).mean() > 0.5  # the face moves


@pytest.mark.slow
def test_preview_cli_with_project_renderer(tmp_path, motion_file):
    src, _ = motion_file
    assert main(["export", str(src), "-o", str(tmp_path / "p.mp4"), "--size", "64", "--fps", "10", "-q"]) == 0
    assert (tmp_path / "p.mp4").stat().st_size > 1000


def test_bad_inputs_one_line_error_nothing_written(tmp_path, motion_file, capsys):
    src, _ = motion_file
    bad_csv = tmp_path / "cols.csv"
    bad_csv.write_text("Timecode,BlendShapeCount,EyeBlinkLeft\n00:00:00:00.000,61,0.5\n")
    broken = tmp_path / "broken.glb"
    broken.write_bytes(b"glTF\x02\x00\x00\x00" + b"\x00" * 40)
    plain = build_avatar(tmp_path / "plain.glb", {"Body": []})
    nan = tmp_path / "nan.npz"
    d = dict(np.load(src))
    d["blendshapes"] = d["blendshapes"].copy()
    d["blendshapes"][4, 2] = np.nan
    np.savez(nan, **d)
    cases = [
        (["export", str(bad_csv), "-o", str(tmp_path / "o1.glb")], "missing"),
        (["export", str(src), "--avatar", str(broken), "-o", str(tmp_path / "o2.glb")], "broken.glb"),
        (["export", str(src), "--avatar", str(plain), "-o", str(tmp_path / "o3.glb")], "no morph targets"),
        (["export", str(nan), "-o", str(tmp_path / "o4.glb")], "NaN"),
        (["export", str(src), "-o", str(tmp_path / "o5.fbx")], "unsupported output"),
        (["stream", str(src), "--osc", "127.0.0.1:0"], "port"),
        (["stream", str(nan), "--osc", "127.0.0.1:9"], "NaN"),
    ]
    for argv, words in cases:
        assert main(argv + ["-q"]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err and "Traceback" not in err, err
    assert not any(p.name.startswith("o") for p in tmp_path.iterdir())


@pytest.mark.slow
def test_stream_cli_loopback(tmp_path, motion_file):
    src, _ = motion_file
    rx = udp_receiver(5)
    port = rx.getsockname()[1]
    proc = subprocess.run([sys.executable, "-m", "anim3d", "stream", str(src), "--protocol", "plain", "--osc", f"127.0.0.1:{port}", "--fps", "30", "-q"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "30 frames" in proc.stdout and "neutral frame sent" in proc.stdout
    got = len(drain(rx, timeout=0.5))
    assert got == 31
