"""The script and languages sections of anim3d eval (anim3d.eval.script, anim3d.eval.languages)."""

import numpy as np

from anim3d.cli import main
from anim3d.eval.languages import METHODS, evaluate_language
from anim3d.eval.manifest import read_manifest
from anim3d.eval.script import bilabial_follow, closes, summary, ScriptResult
from anim3d.inference import load_model
from anim3d.phones import Phone


def test_real_closures_and_the_generated_lips_that_follow_them():
    fps = 30.0
    phones = [Phone("SIL", 0.0, 0.5), Phone("B", 0.5, 0.6), Phone("AA", 0.6, 1.0), Phone("M", 1.0, 1.1),
              Phone("P", 1.5, 1.6)]
    tracked = np.full(60, 0.2)
    tracked[18] = 0.0  # B's middle is frame 17 (0.55 s); the video is 2 frames behind the audio
    tracked[33] = 0.01  # M's middle (frame 32) + 2, within a frame: shut (2 mm over a 90 mm eye span is 0.022)
    generated = np.full(60, 0.01)  # metres: open everywhere ...
    generated[16] = 0.0  # ... but shut one frame from B's middle, and not at M
    real, followed = bilabial_follow(generated, "mesh", tracked, phones, fps, av_lag=2)
    assert (real, followed) == (2, 1)  # P: the tracked lips stay apart, so it is not a real closure
    assert closes(np.array([1.0, 0.0, 1.0]), 0, 0.5) and not closes(np.array([1.0, 1.0, 0.0]), 0, 0.5)
    rows = summary([ScriptResult("a", "model + script", 0, 0.5, 0.6, 0.7, real, followed, True)])
    assert rows[0][0] == "model + script" and rows[0][5:] == [2, 0.5]


def test_manifest_transcripts(tmp_path):
    m = tmp_path / "manifest.tsv"
    m.write_text("file\tspeaker_group\tlanguage\ttranscript\na.mp4\ts1\ten\tbin blue at f two now\nb.mp4\ts2\tde\t\n",
                 encoding="utf-8")
    infos = read_manifest(m)
    assert infos["a.mp4"].transcript == "bin blue at f two now" and infos["b.mp4"].transcript == ""


def test_languages_section_on_a_small_german_corpus(tmp_path, capsys):
    root = tmp_path / "de"
    assert main(["data", "synth", "--hours", "0.02", "--shard-seconds", "36", "--language", "de", "--out", str(root),
                 "--no-augment", "--workers", "1", "-q", "--seed", "5"]) == 0
    r = evaluate_language(str(root), load_model(), limit=3)
    assert r["language"] == "de" and r["lines"] == 3 and r["aligned"] == 1.0
    audio, script = r[METHODS[0]], r[METHODS[1]]
    assert audio["bilabials"] == script["bilabials"] >= 3
    assert script["closure"] >= 0.8 and np.isfinite(script["lve_mm"]) and script["lve_mm"] > 0
    capsys.readouterr()
    out = tmp_path / "report"
    assert main(["eval", "--model", "default", "--sections", "languages", "--language-corpora", str(root), "--quick",
                 "--out", str(out), "-q"]) == 0
    assert "de: 4 lines" in capsys.readouterr().out  # --quick: 4 lines
    assert "Lip sync per language" in (out / "report.md").read_text()
