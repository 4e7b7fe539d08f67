"""The speaker-held-out protocol (anim3d.eval.folds): folds by speaker, candidates fitted on the other
folds only, the teacher blend share chosen on training clips; its command's errors."""

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from anim3d.errors import Anim3dError
from anim3d.eval import folds as F
from anim3d.eval.baselines import Method


def test_folds_never_split_a_speaker_and_balance_clips():
    groups = {f"grid{i}": "grid" for i in range(6)}
    groups.update({f"solo{i}": f"s{i}" for i in range(9)})
    groups.update({"m1": "mead", "m2": "mead"})
    folds = F.make_folds(groups, 4)
    assert sorted(c for f in folds for c in f) == sorted(groups)
    for g in set(groups.values()):
        assert sum(any(groups[c] == g for c in f) for f in folds) == 1  # each speaker in one fold
    sizes = sorted(len(f) for f in folds)
    assert sizes[-1] == 6 and sizes[0] >= 3  # the big group alone, the rest spread evenly
    assert F.make_folds(dict(reversed(list(groups.items()))), 4) == folds  # depends on the groups, not the order


def test_more_folds_than_speakers_is_a_clear_error():
    with pytest.raises(Anim3dError, match="3 folds need at least 3 speakers"):
        F.make_folds({"a": "x", "b": "x", "c": "y"}, 3)
    with pytest.raises(Anim3dError):
        F.make_folds({"a": "x", "b": "y"}, 1)


class TableScorer(F.Scorer):
    """A scorer that reads each (method, clip) score from a table instead of animating."""

    def __init__(self, table):
        self.table = table
        self.asked = []

    def clip_score(self, method, clip):
        self.asked.append((method.name, clip))
        return self.table[method.name][clip]


class FakeFamily:
    label = "model"

    def method(self, share):
        return Method(f"blend {share:g}", lambda *a, **k: None, stochastic=True)


def clips_of(names):
    return [SimpleNamespace(name=n) for n in names]


def test_the_blend_share_is_chosen_on_the_training_folds_only():
    # speaker a's clips like share 0.6, speaker b's like 0: each fold must take the other speaker's choice
    table = {"blend 0": {"a1": 0.1, "a2": 0.1, "b1": 0.5}, "blend 0.6": {"a1": 0.4, "a2": 0.4, "b1": 0.2}}
    scorer = TableScorer(table)
    cand = F.blend_share_candidate(FakeFamily(), scorer, grid=(0.0, 0.6))
    seen = []
    spy = F.Candidate("spy", lambda train: seen.append({c.name for c in train}) or FakeFamily().method(0.0))
    clips = clips_of(["a1", "a2", "b1"])
    results = F.run_folds(clips, {"a1": "a", "a2": "a", "b1": "b"}, [cand, spy], 2, scorer, progress=False)
    by_held = {tuple(sorted(r.groups)): r for r in results}
    held_a, held_b = by_held[("a",)], by_held[("b",)]
    assert held_a.chosen[cand.name] == "blend 0" and held_a.scores[cand.name] == pytest.approx(0.1)
    assert held_b.chosen[cand.name] == "blend 0.6" and held_b.scores[cand.name] == pytest.approx(0.2)
    assert "0 -> 0.500" in held_a.notes[cand.name]  # the training scores behind the choice
    assert seen == [{"b1"}, {"a1", "a2"}] or seen == [{"a1", "a2"}, {"b1"}]  # never the held-out speaker
    summary = F.fold_summary(results)
    assert summary[cand.name]["mean"] == pytest.approx(0.15)  # held out, the per-clip favourite never wins
    assert summary["spy"]["mean"] == pytest.approx((0.1 + 0.5) / 2)
    assert summary["spy"]["clips"] == pytest.approx((0.1 + 0.1 + 0.5) / 3)  # each clip once, while held out
    assert held_a.clip_scores[cand.name] == {"a1": 0.1, "a2": 0.1}


def test_ties_choose_the_smaller_share():
    table = {"blend 0": {"a": 0.3, "b": 0.3}, "blend 0.3": {"a": 0.3, "b": 0.3}}
    cand = F.blend_share_candidate(FakeFamily(), TableScorer(table), grid=(0.3, 0.0))
    assert cand.fit(clips_of(["a"])).name == "blend 0"


def test_scorer_memoises_and_takes_scores_already_computed():
    calls = []

    class Counting(F.Scorer):
        def clip_score(self, method, clip):
            key = (method.name, clip, 0)
            if key not in self._memo:
                calls.append(key)
                self._memo[key] = 0.5
            return self._memo[key]

    s = Counting(clips_of(["x", "y"]))
    s.remember([SimpleNamespace(clip="x", method="m", seed=0, r_av=0.9)])
    m = Method("m", None)
    assert s.mean(m, ["x", "y"]) == pytest.approx(0.7) and calls == [("m", "y", 0)]
    assert s.mean(m, ["x", "y"]) == pytest.approx(0.7) and len(calls) == 1


def test_settings_and_grid_are_checked():
    assert F.parse_settings('[{}, {"teacher_blend": 0}]') == [{}, {"teacher_blend": 0}]
    for bad in ("[{", '{"teacher_blend": 0}', "[1]"):
        with pytest.raises(Anim3dError, match="--settings"):
            F.parse_settings(bad)
    assert F.parse_grid("0, 0.3") == (0.0, 0.3)
    for bad in ("x", "0,1.5", ""):
        with pytest.raises(Anim3dError, match="--blend-grid"):
            F.parse_grid(bad)
    gen = SimpleNamespace(inference=SimpleNamespace(to_dict=lambda: {"steps": 4}))
    with pytest.raises(Anim3dError, match="bogus"):
        F.settings_method(gen, {"bogus": 1})


def test_folds_command_bad_input_is_one_line_exit_2(tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"")
    run = [sys.executable, "-m", "anim3d.eval.folds", "--videos", str(tmp_path), "-q"]
    p = subprocess.run(run + ["--settings", "[{"], capture_output=True, text=True)
    assert p.returncode == 2 and "--settings is not JSON" in p.stderr and "Traceback" not in p.stderr
    p = subprocess.run(run + ["--seeds", "0,x"], capture_output=True, text=True)
    assert p.returncode == 2 and "--seeds" in p.stderr and "Traceback" not in p.stderr
    p = subprocess.run(run + ["--manifest", str(tmp_path / "none.tsv")], capture_output=True, text=True)
    assert p.returncode == 2 and "none.tsv: manifest not found" in p.stderr and "Traceback" not in p.stderr


def test_eval_command_refuses_a_missing_manifest_before_any_work(tmp_path, capsys, evaldata):
    from anim3d.cli import main

    out = tmp_path / "out"
    code = main(["eval", "--videos", str(evaldata / "video"), "--manifest", str(tmp_path / "m.tsv"), "--sections", "real",
                 "--out", str(out), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "m.tsv: manifest not found" in err and "Traceback" not in err
    assert not (out / "report.md").exists()
    assert main(["eval", "--folds", "1", "--out", str(out), "-q"]) == 2
    assert "--folds" in capsys.readouterr().err


def test_blend_family_equals_animate_with_that_share(evaldata):
    """Blending the share-0 motion with the rule mouth afterwards is what animate does with the share (without the
    learned opening, which the family leaves out: it may have heard the clips)."""
    from anim3d.audio import load_audio
    from anim3d.inference import animate, load_model

    audio = load_audio(evaldata / "video" / "reagan_clip1.mp4")
    audio.samples = audio.samples[: 4 * audio.sample_rate]
    gen = load_model(None)
    family = F.BlendFamily(gen)
    for share in (0.0, 0.45):
        want = animate(audio, checkpoint=gen, seed=2, teacher_blend=share, opening_share=0.0)
        got = family.method(share).generate(audio, seed=2)
        assert np.array_equal(want.blendshapes, got.blendshapes)


@pytest.mark.slow
def test_eval_with_folds_end_to_end(tmp_path, evaldata, monkeypatch, capsys):
    """Two speakers (5 s each), baselines only: the report holds the folds and every fold holds one speaker."""
    import os

    from anim3d.cli import main

    monkeypatch.setenv("ANIM3D_CACHE", str(tmp_path / "cache"))
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("Obama_clip1.mp4", "reagan_clip1.mp4"):
        os.symlink(evaldata / "video" / name, videos / name)
    out = tmp_path / "report"
    code = main(["eval", "--videos", str(videos), "--model", "none", "--seconds", "5", "--sections", "real",
                 "--folds", "2", "--out", str(out), "-q"])
    assert code == 0
    text = (out / "report.md").read_text()
    folds = text.split("## Speaker-held-out folds")[1]
    rows = [l for l in folds.splitlines() if l.startswith("| 1 |") or l.startswith("| 2 |")]
    assert len(rows) == 2 and all(r.split("|")[3].strip() == "1" for r in rows)  # one speaker per fold
    assert "held out (mean over folds" in capsys.readouterr().out
    assert len(list((tmp_path / "cache" / "phones").glob("*.json"))) == 2  # phones cached beside the tracks
