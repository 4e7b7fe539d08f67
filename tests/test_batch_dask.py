"""``anim3d batch --dask``: the lines run on a Dask LocalCluster of 2 worker processes, one of them killed mid-run;
every output is written once and equals the local run's, a rerun skips all; an unreachable scheduler exits 2."""

from __future__ import annotations

import csv
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from anim3d.audio import load_audio, save_wav
from anim3d.cli import main
from anim3d.fileio import TEMP_PREFIX

distributed = pytest.importorskip("distributed")

REPO = Path(__file__).resolve().parents[1]
HELLO = REPO / "examples" / "hello.wav"
SPANS = [(0.0, 1.5), (1.0, 2.5), (2.0, 3.5), (3.0, 4.5), (4.0, 5.5), (5.0, 6.5)]


def _results(out: Path) -> dict[str, dict]:
    with open(out / "batch_results.csv", newline="") as f:
        return {r["output"]: r for r in csv.DictReader(f)}


@pytest.fixture
def manifest(tmp_path):
    a = load_audio(HELLO)
    (tmp_path / "vo").mkdir()
    rows = []
    for i, (s, e) in enumerate(SPANS):
        save_wav(tmp_path / "vo" / f"l{i}.wav", a.samples[int(s * a.sample_rate):int(e * a.sample_rate)], a.sample_rate)
        rows.append(f"vo/l{i}.wav,o{i}.npz,{'happy' if i % 2 else ''},,{i},")
    m = tmp_path / "lines.csv"
    m.write_text("\n".join(["audio,output,emotion,intensity,seed,text", *rows]) + "\n")
    return m


def _kill_one_worker_when_first_output(cluster, out: Path, stop: threading.Event, killed: list) -> None:
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as c:
        pids = c.run(os.getpid)  # {worker address: pid of its process}
    while not stop.is_set():
        if any(p.suffix == ".npz" for p in out.glob("*.npz")):
            pid = next(iter(pids.values()))
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return
        time.sleep(0.02)


def test_dask_cluster_with_a_worker_killed_mid_run(manifest, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        stop, killed = threading.Event(), []
        t = threading.Thread(target=_kill_one_worker_when_first_output, args=(cluster, out, stop, killed), daemon=True)
        t.start()
        try:
            assert main(["batch", str(manifest), "--out", str(out), "-q", "--dask", cluster.scheduler_address]) == 0
        finally:
            stop.set()
            t.join(10)
        assert killed, "no worker was killed"
        # the killed worker had a line in hand: the scheduler took it back (processing -> released) and redid it
        assert any(e[1] == "processing" and e[2] == "released" for e in cluster.scheduler.transition_log)
        names = sorted(os.listdir(out))
        assert names == sorted([".anim3d-batch", "batch_results.csv"] + [f"o{i}.npz" for i in range(len(SPANS))])
        assert not [p for p in out.rglob("*") if p.name.startswith(TEMP_PREFIX) and p.name != ".anim3d-batch"]
        assert sorted(os.listdir(out / ".anim3d-batch")) == [f"o{i}.npz.json" for i in range(len(SPANS))]
        res = _results(out)
        assert len(res) == len(SPANS) and {r["status"] for r in res.values()} == {"ok"}, res
        for i in range(len(SPANS)):
            with np.load(out / f"o{i}.npz") as z:
                assert z.files
        # one row equals the local run's
        local = tmp_path / "local"
        one = tmp_path / "one.csv"
        one.write_text(manifest.read_text().splitlines()[0] + "\n" + manifest.read_text().splitlines()[2] + "\n")
        assert main(["batch", str(one), "--out", str(local), "-q"]) == 0
        with np.load(out / "o1.npz") as got, np.load(local / "o1.npz") as want:
            assert sorted(got.files) == sorted(want.files)
            for k in want.files:
                np.testing.assert_array_equal(got[k], want[k], err_msg=k)
        # a rerun skips all
        assert main(["batch", str(manifest), "--out", str(out), "-q", "--dask", cluster.scheduler_address]) == 0
        assert {r["status"] for r in _results(out).values()} == {"skipped"}


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:1", "tcp://host-without-port", "udp://127.0.0.1:8786"])
def test_unreachable_or_bad_address_exits_2_fast(manifest, tmp_path, capsys, address):
    t0 = time.perf_counter()
    assert main(["batch", str(manifest), "--out", str(tmp_path / "out"), "-q", "--dask", address]) == 2
    assert time.perf_counter() - t0 < 9
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("Dask scheduler" in err or "scheduler address" in err), err
    assert not (tmp_path / "out" / "o0.npz").exists()
