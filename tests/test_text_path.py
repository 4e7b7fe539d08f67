"""Animating a line with its script (animate(text=...), anim3d animate --text/--transcript, the stream)."""

import warnings

import numpy as np
import pytest

from anim3d import progress
from anim3d.cli import main
from anim3d.data import tts
from anim3d.errors import InputWarning
from anim3d.eval.metrics import bilabial_closure_rate
from anim3d.eval.mouth import CLOSED_BELOW, mesh_opening
from anim3d.exporters.motion_io import load_motion
from anim3d.inference import StreamingAnimator, animate, load_model

progress.set_enabled(False)
LINE = "Maybe Bob will buy a map of Boston, please."
OTHER = "The velvet slippers were a lovely gift from grandma."


@pytest.fixture(scope="module")
def line():
    audio, phones = tts.synthesize(LINE, tts.Voice.parse("espeak:en-us+m3"))
    return audio, phones


def _closure(motion, phones):
    return bilabial_closure_rate(mesh_opening(motion), phones, motion.fps, closed_below=CLOSED_BELOW["mesh"])


def test_the_script_closes_the_lips_on_its_bilabials(line):
    audio, phones = line
    gen = load_model()
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)  # a matching script: no warning
        scripted = animate(audio, checkpoint=gen, text=LINE)
    plain = animate(audio, checkpoint=gen)
    rate, n = _closure(scripted, phones)
    assert n >= 7 and rate == 1.0
    assert rate >= _closure(plain, phones)[0]
    assert scripted.num_frames == plain.num_frames
    # the script moves only the mouth
    np.testing.assert_array_equal(scripted.head_rotation, plain.head_rotation)


def test_a_script_that_does_not_match_warns_once_and_uses_the_audio(line):
    audio, _ = line
    gen = load_model()
    with pytest.warns(InputWarning, match="does not match") as record:
        mismatched = animate(audio, checkpoint=gen, text=OTHER)
    assert len(record) == 1
    np.testing.assert_array_equal(mismatched.blendshapes, animate(audio, checkpoint=gen).blendshapes)


def test_a_script_in_another_language(line):
    audio, phones = tts.synthesize("Mama bringt morgen Brot und Butter mit.", tts.Voice.parse("espeak:de"))
    m = animate(audio, text="Mama bringt morgen Brot und Butter mit.", language="de")
    rate, n = _closure(m, phones)
    assert n >= 5 and rate >= 0.8


def test_streaming_with_the_script(line):
    audio, phones = line
    gen = load_model()
    x = audio.samples
    step = audio.sample_rate // 50  # 20 ms chunks
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        anim = StreamingAnimator(gen, text=LINE, sample_rate=audio.sample_rate)
        parts = [anim.push(x[i : i + step]) for i in range(0, len(x), step)] + [anim.flush()]
    from anim3d.motion import Motion

    streamed = Motion.concatenate([p for p in parts if p.num_frames])
    rate, n = _closure(streamed, phones)
    assert n >= 7 and rate >= 0.85
    plain = StreamingAnimator(gen, sample_rate=audio.sample_rate)
    streamed_plain = Motion.concatenate([p for p in (plain.push(x[i : i + step]) for i in range(0, len(x), step)) if p.num_frames] + [plain.flush()])
    assert rate >= _closure(streamed_plain, phones)[0]


def test_streaming_gives_up_a_script_that_does_not_match(line):
    audio, _ = line
    x = audio.samples
    step = audio.sample_rate // 50
    anim = StreamingAnimator(load_model(), text=OTHER, sample_rate=audio.sample_rate)
    with pytest.warns(InputWarning, match="does not match the streamed audio") as record:
        for i in range(0, len(x), step):
            anim.push(x[i : i + step])
        anim.flush()
    assert len(record) == 1


def test_cli_text_and_transcript(tmp_path, line, capsys):
    from anim3d.audio import save_wav

    audio, _ = line
    wav = tmp_path / "line.wav"
    save_wav(str(wav), audio.samples, audio.sample_rate)
    script = tmp_path / "line.txt"
    script.write_text(LINE, encoding="utf-8")
    assert main(["animate", str(wav), "-o", str(tmp_path / "a.npz"), "--text", LINE, "-q"]) == 0
    assert main(["animate", str(wav), "-o", str(tmp_path / "b.npz"), "--transcript", str(script), "-q"]) == 0
    a, b = load_motion(str(tmp_path / "a.npz")), load_motion(str(tmp_path / "b.npz"))
    np.testing.assert_array_equal(a.blendshapes, b.blendshapes)
    capsys.readouterr()
    assert main(["animate", str(wav), "-o", str(tmp_path / "c.npz"), "--transcript", str(tmp_path / "none.txt")]) == 2
    assert "none.txt: file not found" in capsys.readouterr().err
    assert main(["animate", str(wav), "-o", str(tmp_path / "c.npz"), "--text", LINE, "--language", "xx"]) == 2
    assert "unknown language 'xx'" in capsys.readouterr().err
    assert main(["animate", str(wav), "-o", str(script.with_suffix(".npz")), "--transcript", str(script)]) == 0
    assert script.read_text(encoding="utf-8") == LINE  # read, never written
    capsys.readouterr()
    assert main(["animate", str(wav), "-o", str(tmp_path / "d.npz"), "--text", LINE, "--transcript", str(script)]) == 2
    assert "not allowed with argument --text" in capsys.readouterr().err


def test_script_blend_is_the_checkpoints_unless_the_request_sets_a_share():
    from anim3d.inference.settings import MotionSettings, resolve_sampling
    from anim3d.models.config import InferenceConfig

    inference = InferenceConfig(teacher_blend=0.3, script_blend=1.0)
    assert resolve_sampling(MotionSettings(), inference).script_blend == 1.0
    assert resolve_sampling(MotionSettings(), inference).teacher_blend == 0.3
    assert resolve_sampling(MotionSettings(teacher_blend=0.5), inference).script_blend == 0.5
    assert resolve_sampling(MotionSettings(), InferenceConfig(teacher_blend=0.3)).script_blend == 0.3
