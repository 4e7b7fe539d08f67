"""``anim3d animate``, ``render`` and ``stream`` take the motion controls from one definition
(``anim3d.commands.options``), and the same audio, seed and controls give the same motion in animate and render
(stream generates live, window by window, from the same settings)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from anim3d.cli import build_parser, main
from anim3d.commands.options import motion_settings
from anim3d.inference import MotionSettings
from anim3d.motion import Motion

REPO = Path(__file__).resolve().parents[1]
SPEECH = str(REPO / "examples" / "hello.wav")
CONTROLS = ["--emotion", "happy", "--intensity", "0.7", "--gaze", "10,-5", "--distance", "0.02", "--seed", "4",
            "--steps", "3", "--guidance", "audio=1.5", "--mouth-steps", "0", "--teacher-blend", "0.5"]


def _args(command: str, *rest: str):
    return build_parser().parse_args([command, *rest])


def test_the_three_commands_read_the_same_settings():
    animate = motion_settings(_args("animate", SPEECH, "-o", "x.npz", *CONTROLS))
    render = motion_settings(_args("render", SPEECH, "--portrait", "p.png", "-o", "x.mp4", *CONTROLS))
    stream = motion_settings(_args("stream", SPEECH, *CONTROLS))
    assert animate == render == stream
    assert animate == MotionSettings(emotion="happy", intensity=0.7, gaze=(math.radians(10), math.radians(-5)), distance=0.02,
                                     seed=4, steps=3, guidance={"audio": 1.5}, mouth_steps=0, teacher_blend=0.5)
    # every motion control is an option of every command
    options = {}
    for command in ("animate", "render", "stream"):
        sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
        options[command] = {o for a in sub._actions for o in a.option_strings}
    controls = {o for o in options["animate"] if o not in ("-o", "--output", "--num-samples", "--audio-encoder", "--fps")}
    assert controls <= options["render"] and controls <= options["stream"]


def test_render_animates_the_same_motion_as_animate(tmp_path, monkeypatch):
    """The motion render draws is animate's for the same audio, seed and controls (render once forced DDIM)."""
    import anim3d.render.pipeline as rp
    import anim3d.render.portrait as pp

    seen = {}
    monkeypatch.setattr(pp, "prepare_portrait", lambda path: object())
    monkeypatch.setattr(rp, "PortraitRenderer", lambda *a, **k: object())

    def fake_render(portrait, motion, path, **kw):
        seen["motion"] = motion
        return motion.num_frames

    monkeypatch.setattr(rp, "render_video", fake_render)
    (tmp_path / "face.png").write_bytes(b"")
    assert main(["animate", SPEECH, "-o", str(tmp_path / "a.npz"), "-q", *CONTROLS]) == 0
    assert main(["render", SPEECH, "--portrait", str(tmp_path / "face.png"), "-o", str(tmp_path / "r.mp4"), "-q", *CONTROLS]) == 0
    a, r = Motion.load_npz(tmp_path / "a.npz"), seen["motion"]
    np.testing.assert_array_equal(a.blendshapes, r.blendshapes)
    np.testing.assert_array_equal(a.head_rotation, r.head_rotation)
    # with no controls at all, too (the checkpoint's sampler in both)
    assert main(["animate", SPEECH, "-o", str(tmp_path / "b.npz"), "-q"]) == 0
    assert main(["render", SPEECH, "--portrait", str(tmp_path / "face.png"), "-o", str(tmp_path / "s.mp4"), "-q"]) == 0
    np.testing.assert_array_equal(Motion.load_npz(tmp_path / "b.npz").blendshapes, seen["motion"].blendshapes)


def test_stream_generates_from_the_same_settings(monkeypatch):
    import anim3d.inference.sources as sources

    seen = {}

    def fake_live_chunks(source, settings, **kw):
        seen["settings"] = settings
        return iter([])

    monkeypatch.setattr(sources, "live_chunks", fake_live_chunks)
    assert main(["stream", SPEECH, "--no-pace", "-q", *CONTROLS]) == 0
    assert seen["settings"] == motion_settings(_args("animate", SPEECH, "-o", "x.npz", *CONTROLS))


@pytest.mark.parametrize("command", ["animate", "render", "stream"])
def test_a_bad_control_is_the_same_one_line_error_in_every_command(command, capsys):
    target = {"animate": ["-o", "x.npz"], "render": ["--portrait", "p.png", "-o", "x.mp4"], "stream": []}[command]
    assert main([command, SPEECH, *target, "--gaze", "90,0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"anim3d {command}: error: argument --gaze: each angle must be within +-45 degrees, got 90,0 (see anim3d {command} --help)"
