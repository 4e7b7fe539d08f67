"""Training on several processes (``anim3d train`` under torchrun / Accelerate, 2 CPU processes with gloo): the
same global batch gives the single process's curve, gradient accumulation too, a resumed run continues the curve,
and the checkpoint is written once and animates.

Tolerance: every process draws the same global batch and computes its share, normalised by the whole batch's mask,
so a 2-process run differs from one process only by float rounding (the gradient is a sum of two halves, averaged
by the all-reduce, instead of one sum): on the toy corpus the per-epoch losses agree within 4e-8 relative and the
weights to ~1e-6 after 24 steps. ``REL`` (1e-4) leaves four orders of margin for other CPUs' kernels and is two
orders below what any real difference gives (a different seed moves the losses by > 1e-2, checked below).
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest
import torch

from anim3d import progress
from anim3d.training import TrainConfig, train
from anim3d.training.data import WindowSampler, prepare
from anim3d.training.distributed import Share
from anim3d.models.config import get_config
from toy_corpus import toy_examples

progress.set_enabled(False)

REL = 1e-4
TINY = dict(model="tiny", batch_size=16, lr=5e-3, warmup=20)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread, as ``anim3d train`` has by default (on a busy 2-core machine more threads thrash)."""
    from anim3d.device import cpu_threads

    with cpu_threads(torch.device("cpu"), 1):
        yield


@pytest.fixture(scope="module")
def toy():
    tr, _ = toy_examples(8, seed=0)
    return tr


def _losses(run) -> dict[int, float]:
    """epoch -> loss from metrics.jsonl (the last row of each epoch)."""
    return {r["epoch"]: r["loss"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())}


def _max_weight_diff(a, b) -> float:
    from safetensors.torch import load_file

    ta, tb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert ta.keys() == tb.keys()
    return max(float((ta[k] - tb[k]).abs().max()) for k in ta)


def test_a_share_of_the_batch_is_those_rows_of_the_whole_batch(toy):
    """Each process draws the whole batch's random numbers and builds its own rows: the shares of two processes,
    put together, are the single process's batch (windows, masks, augmented audio)."""
    cfg = get_config("fast", audio_dim=toy[0].feats.shape[1])  # log-mel: the augmentation runs
    prepare(toy, cfg.motion_mean, cfg.motion_std)
    tcfg = TrainConfig(p_truncate=0.5)
    whole = WindowSampler(toy, cfg, tcfg, seed=3).batch(8)
    halves = [WindowSampler(toy, cfg, tcfg, seed=3).batch(8, rows=Share(rank, 2).rows(8)) for rank in (0, 1)]
    for a, b, c in [(whole[0], halves[0][0], halves[1][0]), (whole[1], halves[0][1], halves[1][1])]:
        assert torch.equal(a, torch.cat([b, c]))
    for k, v in whole[2].items():
        assert torch.equal(v, torch.cat([halves[0][2][k], halves[1][2][k]])), k
    # and the generator is left where the whole batch leaves it: the next batches agree too
    s_whole, s_half = WindowSampler(toy, cfg, tcfg, seed=3), WindowSampler(toy, cfg, tcfg, seed=3)
    s_whole.batch(8), s_half.batch(8, rows=[5, 6])
    assert torch.equal(s_whole.batch(8)[0][2:4], s_half.batch(8, rows=[2, 3])[0])


def test_a_batch_that_does_not_split_is_refused():
    from anim3d.errors import Anim3dError

    class TwoProcesses:
        process_index, num_processes = 0, 2

    with pytest.raises(Anim3dError, match="--batch-size 6 .* 2 process\\(es\\) x 2 micro-batch"):
        Share.of(TwoProcesses(), 2, 6)
    assert Share.of(TwoProcesses(), 2, 8).micro(8) == [slice(0, 2), slice(2, 4)]


def test_accumulation_gives_the_whole_batch_and_another_seed_does_not(toy, tmp_path):
    runs = {}
    for name, extra in {"whole": {}, "accum": {"grad_accum": 4}, "seed": {"seed": 1}}.items():
        runs[name] = tmp_path / name
        train(toy, [], str(runs[name]), TrainConfig(epochs=3, steps_per_epoch=6, **TINY, **extra), log=lambda s: None)
    whole, accum, seed = (_losses(runs[k]) for k in ("whole", "accum", "seed"))
    assert whole[3] < 0.7 * whole[1]  # it learns
    for e in whole:
        assert abs(accum[e] - whole[e]) <= REL * whole[e], (e, accum[e], whole[e])
    assert _max_weight_diff(runs["whole"], runs["accum"]) < 1e-4
    assert max(abs(seed[e] - whole[e]) / whole[e] for e in whole) > 100 * REL  # the tolerance can tell runs apart


def test_a_run_interrupted_and_resumed_continues_the_curve_exactly(toy, tmp_path):
    tcfg = TrainConfig(epochs=4, steps_per_epoch=5, **TINY, model_overrides={"dropout": 0.1})  # dropout's stream too
    train(toy, [], str(tmp_path / "straight"), tcfg, log=lambda s: None)

    class Interrupted(Exception):
        pass

    def stop_in_epoch_3(line):
        if line.startswith("epoch=3"):  # logged before epoch 3 is saved: the state is epoch 2's
            raise Interrupted

    with pytest.raises(Interrupted):
        train(toy, [], str(tmp_path / "cut"), tcfg, log=stop_in_epoch_3)
    logs = []
    train(toy, [], str(tmp_path / "cut"), tcfg, resume=True, log=logs.append)
    assert any("resumed" in line and "epoch 2, step 10" in line for line in logs)
    assert _losses(tmp_path / "cut") == _losses(tmp_path / "straight")  # bit for bit
    assert _max_weight_diff(tmp_path / "cut", tmp_path / "straight") == 0.0


# ---------------------------------------------------------------- two processes (torchrun, gloo)
def _write_corpus(root, n=8):
    """The toy corpus as a data-engine folder (shards + index), for ``anim3d train --data``."""
    from anim3d.data.shards import Utterance, write_index, write_shard
    from anim3d.motion_codec import array_to_motion
    from anim3d.phones import Phone

    examples, audios = toy_examples(n, seed=0)
    root.mkdir()
    write_shard(root / "toy.npz", [Utterance(f"toy-{i}", a, array_to_motion(e.motion), [Phone(*p) for p in e.phones], "",
                                             "toy", "toy", {"emotion": "neutral", "intensity": 0.0})
                                   for i, (e, a) in enumerate(zip(examples, audios))])
    write_index(root, val_voices=[])


def _train_cmd(corpus, out, processes: int, epochs: int, *extra) -> list[str]:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)] if processes > 1 else [sys.executable]
    return [*launcher, "-m", "anim3d", "train", "--data", str(corpus), "--out", str(out), "--config", "tiny",
            "--batch-size", "16", "--steps-per-epoch", "4", "--epochs", str(epochs), "--lr", "5e-3",
            "--val-utterances", "0", "--device", "cpu", "-q", *extra]


def _run(cmd) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout


@pytest.mark.slow
def test_two_processes_follow_one_and_a_killed_run_resumes_on_the_curve(tmp_path):
    """One process for 6 epochs; 2 processes on the same global batch, SIGKILLed (as a pre-empted job) once epoch 2
    is saved, then resumed: every epoch's loss, before the kill and after the resume, is the single process's
    within ``REL``, and so are the final weights."""
    corpus = tmp_path / "corpus"
    _write_corpus(corpus)
    one, two = tmp_path / "one", tmp_path / "two"
    _run(_train_cmd(corpus, one, 1, 6))
    a = _losses(one)
    assert sorted(a) == list(range(1, 7)) and a[6] < 0.7 * a[1]

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(_train_cmd(corpus, two, 2, 6), cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    saved, deadline = 0, time.time() + 180
    while saved < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
        try:
            saved = json.loads((two / "state" / "state.json").read_text())["epoch"]
        except (OSError, ValueError, KeyError):
            pass
    job = [*psutil.Process(proc.pid).children(recursive=True), psutil.Process(proc.pid)]  # the workers and torchrun
    for p in job:
        p.send_signal(signal.SIGKILL)
    proc.wait()
    psutil.wait_procs(job, timeout=30)
    saved = json.loads((two / "state" / "state.json").read_text())["epoch"]
    assert 2 <= saved < 6, saved  # killed mid-run
    out = _run(_train_cmd(corpus, two, 2, 6, "--resume"))
    assert f"resumed from {two / 'state'} at epoch {saved}," in out, out
    assert "2 processes" in out and out.count("checkpoint: ") == 1  # one process reports

    epochs = [json.loads(line)["epoch"] for line in (two / "metrics.jsonl").read_text().splitlines()]
    assert len(epochs) == len(set(epochs)) and set(range(saved + 1, 7)) <= set(epochs)  # each epoch written once
    b = _losses(two)
    for e in b:  # the 2-process curve, before the kill and after the resume, is the single process's
        assert abs(a[e] - b[e]) <= REL * a[e], (e, a[e], b[e])
    assert _max_weight_diff(one, two) < 1e-4
    state = json.loads((two / "state" / "state.json").read_text())
    assert state["step"] == 24 and state["rng"]["world"] == 2
    assert not [p for p in two.rglob("*") if ".tmp" in p.name]

    # the checkpoint animates
    wav = os.path.join(REPO, "examples", "hello.wav")
    _run([sys.executable, "-m", "anim3d", "animate", wav, "-o", str(tmp_path / "hello.npz"), "--checkpoint", str(two), "-q"])
    bs = np.load(tmp_path / "hello.npz")["blendshapes"]
    assert bs.shape[1] == 52 and len(bs) > 30 and np.isfinite(bs).all()
