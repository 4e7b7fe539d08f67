"""`anim3d eval` end to end (small), its input errors, and the evaluation building blocks."""

import os
import subprocess
import sys

import numpy as np
import pytest

from anim3d.audio import audio_from_array
from anim3d.cli import main
from anim3d.eval.baselines import log_rms_envelope, loudness_motion, loudness_to_jaw
from anim3d.eval.emotion import fit_classifier
from anim3d.eval.mouth import blendshape_opening
from anim3d.eval.report import fmt, table
from anim3d.motion import Motion


def test_missing_videos_folder_is_one_clear_error(tmp_path, capsys):
    code = main(["eval", "--videos", str(tmp_path / "nope"), "--out", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert "nope" in err and "not found" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "report.md").exists()


def test_folder_without_videos(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    code = main(["eval", "--videos", str(tmp_path), "--out", str(tmp_path / "out"), "-q"])
    assert code == 2
    assert "no videos" in capsys.readouterr().err


def test_unknown_section(tmp_path, capsys, evaldata):
    code = main(["eval", "--videos", str(evaldata / "video"), "--sections", "real,bogus", "--out", str(tmp_path), "-q"])
    assert code == 2
    assert "bogus" in capsys.readouterr().err


def test_help_is_fast_and_light():
    code = "import sys, anim3d.commands.eval; assert 'torch' not in sys.modules and 'mediapipe' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_loudness_envelope_follows_a_burst():
    sr = 16000
    x = np.zeros(sr * 2, np.float32)
    x[sr // 2 : sr] = 0.5 * np.sin(np.arange(sr // 2) * 2 * np.pi * 220 / sr)  # 0.5 s .. 1.0 s
    audio = audio_from_array(x, sr)
    db = log_rms_envelope(audio, fps=30)
    assert db.shape == (60,)
    jaw = loudness_to_jaw(db)
    assert jaw[20:28].min() > 0.5 and jaw[:10].max() == 0 and jaw[40:].max() == 0
    m = loudness_motion(audio)
    assert m.num_frames == 60 and np.allclose(m.channel("jawOpen"), jaw, atol=1e-6)


def test_blendshape_opening_proxy():
    m = Motion.neutral(3)
    m.blendshapes[1, 24 - 24 + 0] = 0  # keep neutral frame 0
    from anim3d.channels import INDEX

    m.blendshapes[1, INDEX["jawOpen"]] = 0.6
    m.blendshapes[2, INDEX["jawOpen"]] = 0.6
    m.blendshapes[2, INDEX["mouthClose"]] = 0.6  # jaw open, lips sealed
    o = blendshape_opening(m)
    assert o[0] == 0 and o[1] == pytest.approx(0.6) and o[2] == pytest.approx(0.0)


def test_classifier_separates_clusters():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 6)) * 3
    x = np.concatenate([c + rng.normal(size=(30, 6)) for c in centres])
    y = [l for l in ("a", "b", "c") for _ in range(30)]
    clf = fit_classifier(x, y)
    xt = np.concatenate([c + rng.normal(size=(10, 6)) for c in centres])
    yt = [l for l in ("a", "b", "c") for _ in range(10)]
    acc = np.mean([p == t for p, t in zip(clf.predict(xt), yt)])
    assert acc > 0.9
    p = clf.probabilities(xt)
    assert np.allclose(p.sum(1), 1)


def test_report_formatting():
    assert fmt(float("nan")) == "n/a" and fmt(0.12345) == "0.123" and fmt(3) == "3"
    t = table(["a", "b"], [["x", 1.0]])
    assert t.splitlines()[2] == "| x | 1.000 |"


@pytest.mark.slow
def test_eval_end_to_end_small(tmp_path, evaldata, monkeypatch):
    """One real clip (5 s), the real-speaker section, baselines only (synthetic scoring is
    tested below on a written val split; the model row by the checkpoint test)."""
    monkeypatch.setenv("ANIM3D_CACHE", str(tmp_path / "cache"))
    videos = tmp_path / "videos"
    videos.mkdir()
    os.symlink(evaldata / "video" / "Obama_clip1.mp4", videos / "Obama_clip1.mp4")
    out = tmp_path / "report"
    code = main(["eval", "--videos", str(videos), "--model", "none", "--seconds", "5",
                 "--sections", "real", "--out", str(out), "-q"])
    assert code == 0
    text = (out / "report.md").read_text()
    assert "## Real speakers" in text and "loudness" in text
    png = out / "mouth_Obama_clip1.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "real_lipsync.png").exists()
    # the tracking cache was written and is used on a rerun
    assert len(list((tmp_path / "cache" / "tracking").glob("*.npz"))) == 1
    # the loudness baseline's correlation with the real mouth is a real, modest number
    summary = text.split("### Summary")[1].splitlines()
    header = [c.strip() for c in next(l for l in summary if l.startswith("| method |")).split("|")]
    row = [c.strip() for c in next(l for l in summary if l.startswith("| loudness |")).split("|")]
    r, interval = row[header.index("r (lag 0)")].split(" ", 1)
    assert -0.2 < float(r) < 0.6 and interval.startswith("[")  # a mean with its interval over speakers
    assert "### Audio-video offset per clip" in text and "### Opening per phone class" in text
    assert not list(out.glob(".anim3d-*"))  # nothing half-written


def test_model_row_plugs_in_from_a_checkpoint(tmp_path):
    """Any checkpoint folder becomes a method (here a tiny random one); a bad folder is a clear error."""
    from anim3d.errors import Anim3dError
    from anim3d.eval.baselines import available_methods, model_method
    from anim3d.models.checkpoint import save_checkpoint
    from anim3d.models.config import get_config
    from anim3d.models.motion_transformer import MotionTransformer

    cfg = get_config("tiny")
    save_checkpoint(tmp_path / "ck", MotionTransformer(cfg), cfg)
    methods = available_methods(str(tmp_path / "ck"), "cpu", steps=1)
    model = next(m for m in methods if m.name.startswith("model"))
    assert model.stochastic and "emotion" in model.controls
    sr = 16000
    audio = audio_from_array(0.1 * np.sin(np.arange(sr) * 2 * np.pi * 200 / sr).astype(np.float32), sr)
    a, b = model.generate(audio, seed=0), model.generate(audio, seed=1)
    assert a.num_frames == 30 and a.fps == 30
    assert not np.allclose(a.blendshapes, b.blendshapes)  # seeds differ
    assert np.allclose(a.blendshapes, model.generate(audio, seed=0).blendshapes)  # and repeat
    with pytest.raises(Anim3dError):
        model_method(str(tmp_path / "missing"))


def test_heldout_synthetic_comes_from_the_val_split(tmp_path):
    """The shards' validation voices are what the synthetic section scores, with their
    emotion labels passed to methods that have the control."""
    from anim3d.data import shards
    from anim3d.teacher import phones_to_motion
    from anim3d.eval.baselines import Method
    from anim3d.eval.synthetic import evaluate_synthetic, load_heldout, summarize_synthetic
    from anim3d.phones import Phone

    sr = 16000
    phones = [Phone("SIL", 0, 0.2), Phone("M", 0.2, 0.3), Phone("AA", 0.3, 0.5), Phone("P", 0.5, 0.6), Phone("SIL", 0.6, 1.0)]
    utts = []
    for k, voice in enumerate(["espeak:en-us", "espeak:en-us+f3", "festival:kal_diphone"]):
        audio = audio_from_array((0.1 * np.sin(np.arange(sr) * 0.05 * (k + 1))).astype(np.float32), sr)
        motion = phones_to_motion(phones, 1.0, emotion="happy", intensity=0.5, seed=k)
        utts.append(shards.Utterance(f"u{k}", audio, motion, phones, voice=voice, labels={"emotion": "happy", "intensity": 0.5}))
    shards.write_shard(tmp_path / "s0.npz", utts)
    shards.write_index(tmp_path, val_voices=["espeak:en-us+f3"])
    held, source = load_heldout(str(tmp_path), limit=10)
    assert len(held) == 1 and "en-us+f3" in held[0].name and str(tmp_path) in source
    assert held[0].controls == {"emotion": "happy", "intensity": 0.5}
    seen = []

    def echo(audio, seed=0, fps=30.0, **controls):  # returns the ground truth: scores must be perfect
        seen.append(controls)
        return held[0].motion

    res = evaluate_synthetic(held, [Method("echo", echo, controls=("emotion", "intensity"))], progress=False)
    rows = {r["method"]: r for r in summarize_synthetic(res)}
    row = rows["echo"]
    assert seen == [{"emotion": "happy", "intensity": 0.5}]
    assert row["closure"] == rows["ground truth"]["closure"] and row["closure"][1] == 2
    assert row["r_mouth"] == pytest.approx(1.0)
    if np.isfinite(row["lve_mm"]):
        assert row["lve_mm"] == pytest.approx(0.0, abs=1e-9)
