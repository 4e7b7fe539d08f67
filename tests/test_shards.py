"""The shard format round-trips; the dataset splits by voice and reports corrupt shards;
``anim3d data synth`` makes a corpus end to end and resumes."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest

from anim3d.audio import Audio
from anim3d.phones import Phone
from anim3d.data.shards import (INDEX_NAME, ShardDataset, ShardError, Utterance, choose_val_voices, describe, read_shard,
                                write_index, write_shard)
from anim3d.errors import Anim3dError, InputError
from anim3d.motion import Motion


def _utt(i: int, voice: str, seconds: float = 1.0, rng=None) -> Utterance:
    rng = rng or np.random.default_rng(i)
    n = int(seconds * 30)
    m = Motion(rng.uniform(0, 1, (n, 52)), rng.normal(0, 0.1, (n, 3)), rng.normal(0, 0.01, (n, 3)))
    audio = Audio(rng.uniform(-0.5, 0.5, int(seconds * 16000)).astype(np.float32), 16000)
    phones = [Phone("SIL", 0.0, 0.2), Phone("B", 0.2, 0.3), Phone("AA", 0.3, seconds)]
    labels = {"emotion": "happy" if i % 2 else "neutral", "intensity": 0.5, "gaze": [0.1, -0.05], "distance": 0.02,
              "augment": "noise(white,10dB)", "source": "synth"}
    return Utterance(f"u{i}", audio, m, phones, f"text {i}", voice, f"spk{i}", labels)


def test_shard_round_trip(tmp_path):
    utts = [_utt(i, f"v{i % 3}", seconds=0.5 + 0.25 * i) for i in range(5)]
    path = tmp_path / "a.npz"
    write_shard(path, utts)
    back = read_shard(path)
    assert len(back) == len(utts)
    for u, b in zip(utts, back):
        assert (b.id, b.text, b.voice, b.speaker, b.labels) == (u.id, u.text, u.voice, u.speaker, u.labels)
        np.testing.assert_array_equal(b.motion.blendshapes, u.motion.blendshapes)
        np.testing.assert_array_equal(b.motion.head_rotation, u.motion.head_rotation)
        np.testing.assert_array_equal(b.motion.head_translation, u.motion.head_translation)
        assert b.motion.fps == 30.0 and b.audio.sample_rate == 16000
        np.testing.assert_allclose(b.audio.samples, u.audio.samples, atol=1.0 / 32767)
        assert [(p.label, round(p.start, 5), round(p.end, 5)) for p in b.phones] == \
            [(p.label, round(p.start, 5), round(p.end, 5)) for p in u.phones]
    # a plain NPZ: readable without pickle
    with np.load(path, allow_pickle=False) as z:
        assert json.loads(str(z["meta"]))["utterances"][0]["id"] == "u0"


def _dataset(tmp_path, corrupt=False):
    root = tmp_path / "ds"
    root.mkdir()
    k = 0
    for s in range(4):
        write_shard(root / f"s{s}.npz", [_utt(k + j, f"voice{(k + j) % 5}") for j in range(5)])
        k += 5
    write_index(root, val_voices=["voice1"])
    if corrupt:
        data = (root / "s2.npz").read_bytes()
        (root / "s2.npz").write_bytes(data[: len(data) // 2])
    return root


def test_split_by_voice_and_describe(tmp_path):
    root = _dataset(tmp_path)
    train = list(ShardDataset(root, "train"))
    val = list(ShardDataset(root, "val"))
    assert {u.voice for u in val} == {"voice1"}
    assert "voice1" not in {u.voice for u in train}
    assert len(train) + len(val) == 20
    assert len(ShardDataset(root, "train")) == len(train)
    info = describe(root)
    assert info["utterances"] == 20 and info["voices"] == 5
    assert info["hours"] == pytest.approx(20 / 3600, rel=1e-3)
    assert info["val_hours"] == pytest.approx(len(val) / 3600, rel=1e-3)
    # shuffling changes the order, not the content; workers split the shards
    shuf = [u.id for u in ShardDataset(root, "all", shuffle=True, seed=1)]
    assert sorted(shuf) == sorted(u.id for u in ShardDataset(root, "all")) and len(shuf) == 20
    parts = [u.id for w in range(2) for u in ShardDataset(root, "all", worker=(w, 2))]
    assert sorted(parts) == sorted(shuf)


def test_corrupt_shard_is_reported_and_skipped(tmp_path):
    root = _dataset(tmp_path, corrupt=True)
    ds = ShardDataset(root, "all")
    with pytest.warns(UserWarning, match="s2.npz"):
        got = list(ds)
    assert len(got) == 15 and ds.skipped == ["s2.npz"]
    with pytest.raises(ShardError, match="s2.npz"):
        read_shard(root / "s2.npz")
    # rebuilding the index reports it too
    with pytest.warns(UserWarning, match="s2.npz"):
        index = write_index(root)
    assert index["corrupt"] == ["s2.npz"] and index["val_voices"] == ["voice1"]


def test_not_a_shard_and_not_a_dataset(tmp_path):
    bad = tmp_path / "x.npz"
    bad.write_bytes(b"hello")
    with pytest.raises(ShardError, match="x.npz"):
        read_shard(bad)
    np.savez(tmp_path / "y.npz", a=np.zeros(3))
    with pytest.raises(ShardError, match="not an anim3d shard"):
        read_shard(tmp_path / "y.npz")
    with pytest.raises(InputError, match="index.json"):
        ShardDataset(tmp_path)
    with pytest.raises(Anim3dError):
        write_shard(tmp_path / "z.npz", [])
    assert not (tmp_path / "z.npz").exists()


def test_synth_end_to_end_and_resume(tmp_path):
    from anim3d.data import tts
    if not any(v.engine == "espeak" for v in tts.list_voices()):
        pytest.skip("espeak-ng not installed")
    from anim3d.cli import main

    out = tmp_path / "corpus"
    args = ["data", "synth", "--hours", str(24 / 3600), "--out", str(out), "--shard-seconds", "8", "--workers", "2", "-q"]
    assert main(args) == 0
    index = json.loads((out / INDEX_NAME).read_text())
    assert len(index["shards"]) == 3 and index["val_voices"]
    files = sorted(out.glob("synth-*.npz"))
    mtimes = [os.path.getmtime(f) for f in files]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        utts = list(ShardDataset(out, "all"))
    assert sum(u.duration for u in utts) >= 24
    for u in utts:
        assert u.labels["source"] == "synth" and u.labels["emotion"]
        assert abs(u.motion.duration - u.audio.duration) < 0.05
        assert u.phones[-1].end == pytest.approx(u.audio.duration, abs=0.01)
    # resume: finished shards are kept, a deleted one is remade identically (with Piper installed, one
    # that Piper speaks in: its sampling noise is seeded per shard)
    j = 0
    if any(v.engine == "piper" for v in tts.list_voices()):
        j = next(i for i, f in enumerate(files) if any(u.voice.startswith("piper:") for u in read_shard(f)))
    first = read_shard(files[j])
    files[j].unlink()
    assert main(args) == 0
    assert [os.path.getmtime(f) for i, f in enumerate(files) if i != j] == [m for i, m in enumerate(mtimes) if i != j]
    again = read_shard(files[j])
    assert [u.text for u in again] == [u.text for u in first]
    remade = [(a, b) for a, b in zip(again, first) if not a.voice.startswith("espeak:")]
    assert remade  # espeak-ng's output can change by a few samples with what the process spoke before
    for a, b in remade:
        np.testing.assert_array_equal(a.audio.samples, b.audio.samples)
        np.testing.assert_array_equal(a.motion.blendshapes, b.motion.blendshapes)
    # the held-out voices follow --val-seed (only index.json changes: every shard is kept)
    mtimes = [os.path.getmtime(f) for f in files]
    espeak = [v.id for v in tts.list_voices() if v.engine == "espeak"]
    for val_seed in (9, 10):
        assert main(args + ["--val-seed", str(val_seed)]) == 0
        assert json.loads((out / INDEX_NAME).read_text())["val_voices"] == choose_val_voices(espeak, 0.1, val_seed)
    assert [os.path.getmtime(f) for f in files] == mtimes
    if len(espeak) >= 10:
        assert choose_val_voices(espeak, 0.1, 9) != choose_val_voices(espeak, 0.1, 10)
    # a different seed in the same folder is refused
    assert main(["data", "synth", "--hours", "0.001", "--out", str(out), "--seed", "5", "-q"]) == 2


def test_synth_skips_a_sentence_the_engine_cannot_say():
    from anim3d.data import tts
    from anim3d.data import synth

    esp = [v for v in tts.list_voices() if v.engine == "espeak"]
    if not esp:
        pytest.skip("espeak-ng not installed")
    plans = [synth._Plan(t, esp[0], 1.0, 1.0) for t in ("Hello there.", '""', "Good bye.")]
    with pytest.warns(UserWarning, match="skipped a sentence"):
        got = synth._speak(esp[0], plans)
    assert got[1] is None and got[0][0].duration > 0.3 and got[2][0].duration > 0.3
