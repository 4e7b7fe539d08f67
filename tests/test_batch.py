"""``anim3d batch``: a manifest's lines animated as ``anim3d animate`` would, resumed and redone by key,
failed lines recorded without stopping the others, bad manifests refused before any work, a killed run resumed."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from anim3d.audio import load_audio, save_wav
from anim3d.cli import main

REPO = Path(__file__).resolve().parents[1]
HELLO = REPO / "examples" / "hello.wav"


def _cut(path: Path, start: float, end: float) -> Path:
    a = load_audio(HELLO)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_wav(path, a.samples[int(start * a.sample_rate):int(end * a.sample_rate)], a.sample_rate)
    return path


def _results(out: Path) -> dict[str, dict]:
    with open(out / "batch_results.csv", newline="") as f:
        return {r["output"]: r for r in csv.DictReader(f)}


def _manifest(path: Path, rows: list[str], header: str = "audio,output,emotion,intensity,seed,text") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


@pytest.fixture
def lines(tmp_path):
    for i, (s, e) in enumerate([(0.0, 2.0), (2.0, 4.0), (4.0, 6.0), (5.5, 7.8)]):
        _cut(tmp_path / "vo" / f"l{i}.wav", s, e)
    rows = ["vo/l0.wav,a.npz,happy,0.6,3,", "vo/l1.wav,b.csv,,,,", "vo/l2.wav,sub/c.glb,sad,0.5,1,",
            "vo/l3.wav,d.npz,surprised,,2,"]
    return tmp_path, rows


def test_lines_match_animate_rerun_skips_and_changes_redo(lines, capsys):
    tmp, rows = lines
    m = _manifest(tmp / "lines.csv", rows)
    out = tmp / "out"
    assert main(["batch", str(m), "--out", str(out), "-q"]) == 0
    for f in ("a.npz", "b.csv", "sub/c.glb", "sub/c.wav", "d.npz"):
        assert (out / f).is_file(), f
    assert {r["status"] for r in _results(out).values()} == {"ok"}

    # the same as anim3d animate with the same options
    ref = tmp / "ref"
    ref.mkdir()
    assert main(["animate", str(tmp / "vo/l0.wav"), "-o", str(ref / "a.npz"), "--emotion", "happy",
                 "--intensity", "0.6", "--seed", "3", "-q"]) == 0
    assert main(["animate", str(tmp / "vo/l1.wav"), "-o", str(ref / "b.csv"), "-q"]) == 0
    with np.load(out / "a.npz") as got, np.load(ref / "a.npz") as want:
        assert sorted(got.files) == sorted(want.files)
        for k in want.files:
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    assert (out / "b.csv").read_bytes() == (ref / "b.csv").read_bytes()

    # a rerun skips everything
    t0 = time.perf_counter()
    assert main(["batch", str(m), "--out", str(out), "-q"]) == 0
    assert time.perf_counter() - t0 < 5
    assert {r["status"] for r in _results(out).values()} == {"skipped"}

    # one row's emotion and another row's audio changed: exactly those two are redone
    rows[3] = rows[3].replace("surprised", "angry")
    _manifest(m, rows)
    _cut(tmp / "vo" / "l1.wav", 1.0, 3.0)
    before = (out / "b.csv").read_bytes()
    assert main(["batch", str(m), "--out", str(out), "-q"]) == 0
    status = {k: r["status"] for k, r in _results(out).items()}
    assert status == {"a.npz": "skipped", "b.csv": "ok", "sub/c.glb": "skipped", "d.npz": "ok"}
    assert (out / "b.csv").read_bytes() != before
    # a deleted output is made again
    (out / "a.npz").unlink()
    assert main(["batch", str(m), "--out", str(out), "-q"]) == 0
    assert _results(out)["a.npz"]["status"] == "ok" and (out / "a.npz").is_file()


def test_failed_lines_are_recorded_and_the_others_done(tmp_path, capsys):
    _cut(tmp_path / "good.wav", 0.0, 2.0)
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + os.urandom(200))
    m = _manifest(tmp_path / "m.tsv", ["good.wav\tgood.npz", "corrupt.wav\tcorrupt.npz", "missing.wav\tmissing.npz",
                                       "good.wav\tgood2.csv"], header="audio\toutput")
    out = tmp_path / "out"
    assert main(["batch", str(m), "--out", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert "2 of 4 lines failed" in err and "batch_results.csv" in err
    res = _results(out)
    assert res["good.npz"]["status"] == res["good2.csv"]["status"] == "ok"
    assert res["corrupt.npz"]["status"] == "failed" and "corrupt.wav" in res["corrupt.npz"]["error"]
    assert res["missing.npz"]["status"] == "failed" and "not found" in res["missing.npz"]["error"]
    assert not (out / "corrupt.npz").exists() and not (out / "missing.npz").exists()
    # a rerun retries the failed lines only
    assert main(["batch", str(m), "--out", str(out), "-q"]) == 1
    assert [r["status"] for r in _results(out).values()] == ["skipped", "failed", "failed", "skipped"]


def test_style_column_follows_the_take_as_animate_style_does_and_a_changed_take_redoes_the_line(tmp_path):
    _cut(tmp_path / "vo" / "l.wav", 0.0, 2.5)
    style = tmp_path / "styles" / "take.npz"
    style.parent.mkdir()
    assert main(["animate", str(HELLO), "-o", str(style), "--emotion", "surprised", "--seed", "5", "-q"]) == 0
    m = _manifest(tmp_path / "m.csv", ["vo/l.wav,styled.npz,styles/take.npz", "vo/l.wav,plain.npz,"],
                  header="audio,output,style")
    out = tmp_path / "out"
    assert main(["batch", str(m), "--out", str(out), "-q"]) == 0
    ref = tmp_path / "ref.npz"
    assert main(["animate", str(tmp_path / "vo" / "l.wav"), "-o", str(ref), "--style", str(style), "-q"]) == 0
    with np.load(out / "styled.npz") as got, np.load(ref) as want, np.load(out / "plain.npz") as plain:
        np.testing.assert_array_equal(got["blendshapes"], want["blendshapes"])
        assert not np.array_equal(got["blendshapes"], plain["blendshapes"])  # the style took effect
    # the take re-recorded: only the line that follows it is redone
    assert main(["animate", str(HELLO), "-o", str(style), "--emotion", "angry", "--seed", "6", "-q"]) == 0
    assert main(["batch", str(m), "--out", str(out), "-q"]) == 0
    assert {k: r["status"] for k, r in _results(out).items()} == {"styled.npz": "ok", "plain.npz": "skipped"}
    # a missing take fails its line only, naming the file
    style.unlink()
    assert main(["batch", str(m), "--out", str(out), "-q"]) == 1
    res = _results(out)
    assert res["styled.npz"]["status"] == "failed" and "take.npz: style take file not found" in res["styled.npz"]["error"]
    # an output over the take is refused before any work
    _manifest(m, ["vo/l.wav,take.npz,take.npz"], header="audio,output,style")
    assert main(["batch", str(m), "--out", str(tmp_path)]) == 2


@pytest.mark.parametrize("header, rows, expected", [
    ("audio,emotion", ["a.wav,happy"], "missing column 'output'"),
    ("audio,output,emotion", ["a.wav,a.npz,", "a.wav,b.npz,hapy"], "row 2 (line 3): unknown emotion 'hapy'"),
    ("audio,output", ["a.wav,x.npz", "a.wav,y.npz", "b.wav,x.npz"], "row 3 (line 4): output 'x.npz' is also written by row 1"),
    ("audio,output", ["a.wav,../x.npz"], "row 1 (line 2): output '../x.npz' is outside --out"),
    ("audio,output", ["a.wav,x.txt"], "row 1 (line 2): output 'x.txt': unknown format"),
    ("audio,output,intensity", ["a.wav,x.npz,2"], "row 1 (line 2): intensity must be between 0 and 1"),
    ("audio,output,emotoin", ["a.wav,x.npz,sad"], "unknown column 'emotoin'"),
])
def test_bad_manifest_exits_2_naming_the_row(tmp_path, capsys, header, rows, expected):
    m = _manifest(tmp_path / "m.csv", rows, header=header)
    assert main(["batch", str(m), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"anim3d batch: error: {m}: ") and expected in err, err
    assert not (tmp_path / "out").exists()  # nothing was done


def test_folder_as_manifest(tmp_path, capsys):
    for i in range(2):
        _cut(tmp_path / "in" / f"take{i}.wav", i, i + 1.5)
    (tmp_path / "in" / "notes.txt").write_text("not audio")
    out = tmp_path / "out"
    assert main(["batch", str(tmp_path / "in"), "--out", str(out), "--format", "csv", "-q"]) == 0
    assert sorted(p.name for p in out.glob("*.csv")) == ["batch_results.csv", "take0.csv", "take1.csv"]


@pytest.mark.slow
def test_killed_parallel_run_resumes(tmp_path):
    n = 8
    for i in range(n):
        _cut(tmp_path / "vo" / f"l{i}.wav", 0.3 * i, 0.3 * i + 3.0)
    m = _manifest(tmp_path / "m.csv", [f"vo/l{i}.wav,l{i}.npz,,,{i}," for i in range(n)])
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "anim3d", "batch", str(m), "--out", str(out), "--workers", "2", "-q"]
    proc = subprocess.Popen(cmd, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list(out.glob("l*.npz")):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "no output within 60 s"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the command and its workers, at once
    proc.wait()
    proc.stderr.close()
    done = {p.name[:-5] for p in (out / ".anim3d-batch").glob("l*.npz.json")}
    assert len(done) < n, "the run finished before it was killed"

    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    from anim3d.motion import Motion

    outputs = sorted(p.name for p in out.iterdir() if p.is_file())
    assert outputs == sorted([f"l{i}.npz" for i in range(n)] + ["batch_results.csv"])  # no temporaries left
    assert not [p.name for p in (out / ".anim3d-batch").iterdir() if p.name.startswith(".anim3d-")]
    for i in range(n):
        assert Motion.load_npz(out / f"l{i}.npz").num_frames > 0
    status = {k: v["status"] for k, v in _results(out).items()}
    assert {k for k, v in status.items() if v == "skipped"} == done
    assert all(v == "ok" for k, v in status.items() if k not in done)
