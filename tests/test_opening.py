"""The learned mouth opening: the net (anim3d.models.opening), its training (anim3d.training.opening), the jaw it
drives in animate and in a stream (anim3d.inference.opening), and `anim3d train-opening`."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from anim3d import progress
from anim3d.audio import audio_from_array
from anim3d.channels import INDEX
from anim3d.errors import InputError
from anim3d.inference import ConditionError, StreamingAnimator, animate, load_model
from anim3d.inference.opening import PRESS, PRESSED, blend_opening, closing, learned_jaw
from anim3d.models.checkpoint import CONFIG_FILE, DEFAULT_DIR, WEIGHTS_FILE
from anim3d.models.config import InferenceConfig
from anim3d.models.opening import OPENING_FILE, OpeningConfig, OpeningNet, load_opening, save_opening
from anim3d.training.opening import (OpeningExample, OpeningTraining, calibrate_jaw, negative_correlation,
                                     sped_up, tracked_target, train_opening)

progress.set_enabled(False)
JAW = INDEX["jawOpen"]


def _pearson(a, b):
    return float(np.corrcoef(a, b)[0, 1])


def _toy_examples(n_clips: int, rng, frames: int = 300, dim: int = 6) -> list[OpeningExample]:
    """Features whose channel 0, smoothed and read two frames later, is the opening; the rest is noise."""
    out = []
    for _ in range(n_clips):
        f = rng.normal(size=(frames, dim)).astype(np.float32) * 2 + 5
        y = np.convolve(f[:, 0], np.ones(5) / 5, mode="same")
        y = np.concatenate([y[2:], y[-2:]])  # the opening at t follows the feature at t + 2
        out.append(OpeningExample(f, ((y - y.mean()) / y.std()).astype(np.float32)))
    return out


def test_training_learns_a_lagged_smoothed_feature_and_answers_in_standard_units():
    rng = np.random.default_rng(0)
    train, held = _toy_examples(6, rng), _toy_examples(2, rng)
    cfg = OpeningConfig(hidden=16, layers=2, members=2, dropout=0.1)
    untrained = _toy_net(cfg, train)
    net = train_opening(train, cfg, OpeningTraining(steps=150, window=60, batch=8, lr=5e-3))
    for e in held:
        assert _pearson(net.opening(e.feats), e.target) > 0.85
        assert abs(_pearson(untrained.opening(e.feats), e.target)) < 0.5
    z = np.concatenate([net.opening(e.feats) for e in train])  # the training features: standard units
    assert abs(z.mean()) < 0.1 and 0.8 < z.std() < 1.2
    assert net.cfg.in_dim == 6 and len(net.cfg.feature_mean) == 6 and net.cfg.metadata["examples"] == 6


def _toy_net(cfg, examples):
    f = np.concatenate([e.feats for e in examples])
    import dataclasses

    c = dataclasses.replace(cfg, in_dim=f.shape[1], feature_mean=f.mean(0).tolist(), feature_std=f.std(0).tolist(),
                            out_mean=[0.0] * cfg.members, out_std=[1.0] * cfg.members)
    torch.manual_seed(1)
    return OpeningNet(c).eval()


def test_training_is_reproducible_from_its_seed():
    rng = np.random.default_rng(5)
    examples = _toy_examples(3, rng, frames=120)
    cfg, train = OpeningConfig(hidden=8, layers=2, members=2), OpeningTraining(steps=20, window=40, batch=4)
    torch.manual_seed(123)  # the global random state before training must not matter
    a = train_opening(examples, cfg, train)
    torch.manual_seed(456)
    b = train_opening(examples, cfg, train)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    c = train_opening(examples, cfg, OpeningTraining(steps=20, window=40, batch=4, seed=1))
    assert not torch.equal(a.state_dict()["members.0.out.weight"], c.state_dict()["members.0.out.weight"])


def test_training_refuses_no_examples():
    with pytest.raises(ValueError):
        train_opening([])


def test_negative_correlation_is_minus_pearson_per_row():
    p = torch.tensor([[1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 1.0, 0.0]])
    y = torch.tensor([[2.0, 4.0, 6.0, 8.0], [0.0, 1.0, 0.0, 1.0]])
    assert float(negative_correlation(p, y)) == pytest.approx(0.0, abs=1e-4)  # (-1 + 1) / 2
    assert float(negative_correlation(p[:1], y[:1])) == pytest.approx(-1.0, abs=1e-4)


def test_tracked_target_reads_the_video_at_the_offset_and_speed():
    mouth = np.arange(100, dtype=np.float64)  # video frame i has gap i (25 fps)
    y = tracked_target(mouth, 25.0, 0, 60, 30.0)
    # standardised: undo with the ramp's own mean and spread over the frames read
    raw = np.arange(60) / 30.0 * 25.0
    assert np.allclose(y, (raw - raw.mean()) / raw.std(), atol=1e-5)
    late = tracked_target(mouth, 25.0, 5, 60, 30.0)  # audio late by 5 video frames: audio t shows video t - 5
    raw = np.clip(np.arange(60) / 30.0 * 25.0 - 5, 0, None)
    assert np.allclose(late, (raw - raw.mean()) / raw.std(), atol=1e-5)
    fast = tracked_target(mouth, 25.0, 0, 30, 30.0, speed=2.0)  # motion frame t is the original time 2t
    raw = np.arange(30) * 2 / 30.0 * 25.0
    assert np.allclose(fast, (raw - raw.mean()) / raw.std(), atol=1e-5)


def test_sped_up_audio_is_shorter_by_the_speed():
    a = audio_from_array(np.sin(np.arange(16000) * 0.1).astype(np.float32), 16000)
    b = sped_up(a, 1.25)
    assert b.sample_rate == 16000 and len(b.samples) == pytest.approx(16000 / 1.25, abs=2)
    assert len(a.samples) == 16000  # the original is left alone


def test_blend_opening_sets_only_the_jaw():
    rng = np.random.default_rng(2)
    b = rng.uniform(size=(10, 52)).astype(np.float32)
    b[:, list(PRESS)] = 0.0  # lips not pressed
    jaw = np.linspace(0, 1, 12).astype(np.float32)
    out = blend_opening(b, jaw, 0.25)
    assert np.allclose(out[:, JAW], 0.75 * b[:, JAW] + 0.25 * jaw[:10])
    others = [i for i in range(52) if i != JAW]
    assert np.array_equal(out[:, others], b[:, others])
    assert np.array_equal(blend_opening(b, jaw, 0.0), b)
    with pytest.raises(ValueError):
        blend_opening(b, jaw[:5], 0.5)


def test_the_moment_the_lips_close_keeps_the_jaw_from_opening_wider():
    b = np.zeros((8, 52), np.float32)
    b[:, JAW] = [0.3, 0.2, 0.1, 0.15, 0.3, 0.1, 0.1, 0.1]
    press = [0.0, 0.02, 0.1, 0.06, 0.0, 0.04, 0.05, 0.04]  # a p/b/m about frame 2; pressed lips through 5-7
    b[:, PRESS[0]] = b[:, PRESS[1]] = press
    # pressed (>= PRESSED) where the press peaks (2, 6) or the jaw is lowest (2; 5, 6 and 7 tie)
    assert list(closing(b)) == [False, False, True, False, False, True, True, True]
    b[5:, PRESS[0]] = b[5:, PRESS[1]] = [0.04, 0.05, 0.04]
    b[5:, JAW] = [0.12, 0.1, 0.15]
    assert list(closing(b))[5:] == [False, True, False]  # a long press closes once, at its peak
    out = blend_opening(b, np.full(8, 0.5, np.float32), 1.0)
    assert out[:, JAW] == pytest.approx([0.5, 0.5, 0.1, 0.5, 0.5, 0.5, 0.1, 0.5])
    low = blend_opening(b, np.full(8, 0.05, np.float32), 1.0)
    assert low[:, JAW] == pytest.approx(np.full(8, 0.05))  # never wider than its own, but it may close further


@pytest.fixture(scope="module")
def opening_checkpoint(tmp_path_factory):
    """The shipped motion model with a small random opening net and an opening share of 1."""
    folder = tmp_path_factory.mktemp("with_opening")
    shutil.copyfile(DEFAULT_DIR / WEIGHTS_FILE, folder / WEIGHTS_FILE)
    gen = load_model()
    dim = gen.front_end.dim
    cfg = OpeningConfig(in_dim=dim, hidden=8, layers=2, members=2, feature_mean=[0.0] * dim, feature_std=[1.0] * dim,
                        out_mean=[0.0, 0.0], out_std=[0.01, 0.01], jaw_mean=0.3, jaw_std=0.15)
    torch.manual_seed(3)
    save_opening(folder, OpeningNet(cfg).eval())
    import json

    doc = json.loads((DEFAULT_DIR / CONFIG_FILE).read_text())
    doc["inference"] = InferenceConfig.from_dict({**doc["inference"], "opening_share": 1.0}).to_dict()
    (folder / CONFIG_FILE).write_text(json.dumps(doc))
    return folder


def _speech(seconds=2.0):
    t = np.arange(int(16000 * seconds)) / 16000
    x = 0.3 * np.sin(2 * np.pi * 150 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return audio_from_array(x.astype(np.float32), 16000)


def test_saved_net_loads_with_the_same_answers(opening_checkpoint):
    net = load_opening(opening_checkpoint)
    feats = np.random.default_rng(4).normal(size=(50, net.cfg.in_dim)).astype(np.float32)
    again = load_opening(opening_checkpoint)
    assert np.array_equal(net.opening(feats), again.opening(feats))
    jaw = learned_jaw(net, feats)
    assert jaw.shape == (50,) and jaw.min() >= 0 and jaw.max() <= 1 and jaw.std() > 0


def test_animate_drives_the_jaw_with_the_learned_opening(opening_checkpoint):
    gen = load_model(opening_checkpoint)
    audio = _speech()
    with_net = animate(audio, checkpoint=gen, seed=0)  # the checkpoint's share: 1
    without = animate(audio, checkpoint=gen, seed=0, opening_share=0.0)
    half = animate(audio, checkpoint=gen, seed=0, opening_share=0.5)
    learned = gen.learned_jaw(gen.features(audio))
    own = without.blendshapes[:, JAW]
    free = ~closing(without.blendshapes)
    assert np.allclose(with_net.blendshapes[free, JAW], learned[: with_net.num_frames][free], atol=1e-6)
    assert np.allclose(half.blendshapes[free, JAW], 0.5 * own[free] + 0.5 * learned[: half.num_frames][free], atol=1e-6)
    assert np.all(with_net.blendshapes[~free, JAW] <= own[~free] + 1e-6)
    others = [i for i in range(52) if i != JAW]
    assert np.array_equal(with_net.blendshapes[:, others], without.blendshapes[:, others])
    assert np.array_equal(with_net.head_rotation, without.head_rotation)
    assert free.mean() > 0.2  # the learned jaw drives a good share of the frames
    plain = animate(audio, seed=0)  # the shipped folder, same weights: its own inference settings
    assert plain.num_frames == with_net.num_frames


def test_a_stream_drives_the_jaw_with_the_learned_opening(opening_checkpoint):
    gen = load_model(opening_checkpoint)
    audio = _speech(3.0)
    chunks = np.array_split(audio.samples, 30)
    parts = {}
    for share in (0.0, 1.0):
        s = StreamingAnimator(gen, opening_share=share, sample_rate=16000, warmup=False)
        from anim3d.motion import Motion

        parts[share] = Motion.concatenate(list(s.run(chunks)))
    jaw = parts[1.0].blendshapes[:, JAW]
    offline = gen.learned_jaw(gen.features(audio))[: len(jaw)]
    assert not np.allclose(jaw, parts[0.0].blendshapes[:, JAW])
    # a stream hears each frame's neighbours only up to the audio received (the net reads +-14 frames), so its jaw
    # follows the whole file's but near each chunk's end; how well it follows real speakers: docs/model.md
    free = ~closing(parts[0.0].blendshapes)
    assert free.sum() > 20 and offline[free].std() > 0.02 and _pearson(jaw[free], offline[free]) > 0.6
    others = [i for i in range(52) if i != JAW]
    assert np.allclose(parts[1.0].blendshapes[:, others], parts[0.0].blendshapes[:, others])


def test_an_opening_share_needs_a_learned_opening():
    with pytest.raises(ConditionError, match="no learned opening"):
        animate(_speech(0.5), opening_share=0.5, checkpoint=_shipped_without_opening())
    with pytest.raises(ConditionError, match="no learned opening"):
        StreamingAnimator(_shipped_without_opening(), opening_share=1.0, warmup=False)
    with pytest.raises(ConditionError, match=r"learned opening share must be in \[0, 1\]"):
        animate(_speech(0.5), opening_share=1.5)


def _shipped_without_opening():
    gen = load_model()
    if gen.opening is None:
        return gen
    from anim3d.inference.generator import MotionGenerator

    return MotionGenerator(gen.model, gen.cfg, gen.inference, metadata=gen.metadata)


def test_a_checkpoint_asking_for_a_missing_or_broken_net_is_one_clear_error(opening_checkpoint, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(opening_checkpoint, broken)
    (broken / OPENING_FILE).write_bytes(b"not safetensors")
    with pytest.raises(InputError, match="unreadable opening net"):
        load_opening(broken)
    (broken / OPENING_FILE).unlink()
    with pytest.raises(InputError, match="opening.safetensors is missing"):
        load_model(broken)


def test_calibrate_jaw_opens_the_head_as_wide_as_the_speakers_lips_part():
    from anim3d.eval.mouth import jaw_gap_line, mesh_opening
    from anim3d.motion import Motion

    net = OpeningNet(OpeningConfig(in_dim=3, members=1))
    gaps = [np.array([4.0, 12.0]), np.array([8.0, 8.0, 8.0])]  # mm: mean 8, sd std of all five
    calibrate_jaw(net, gaps)
    m = Motion.neutral(2, 30.0)
    m.blendshapes[:, JAW] = [net.cfg.jaw_mean, net.cfg.jaw_mean + net.cfg.jaw_std]
    gap = mesh_opening(m) * 1000.0  # mm on the open head
    assert gap[0] == pytest.approx(8.0, abs=0.3)
    assert gap[1] - gap[0] == pytest.approx(np.std(np.concatenate(gaps)), abs=0.3)
    slope, _ = jaw_gap_line()
    assert 10 < slope < 40  # mm per unit of jawOpen: a head's mouth opens a few centimetres


def _anim3d(*args):
    return subprocess.run([sys.executable, "-m", "anim3d", *args], capture_output=True, text=True, timeout=600)


def test_train_opening_refuses_bad_folders_and_its_own_model(tmp_path):
    r = _anim3d("train-opening", "--videos", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "nowhere" in r.stderr and "Traceback" not in r.stderr
    r = _anim3d("train-opening", "--videos", str(tmp_path), "--model", str(DEFAULT_DIR), "--out", str(DEFAULT_DIR))
    assert r.returncode == 2 and "never over the model it reads" in r.stderr
    r = _anim3d("train-opening", "--videos", str(tmp_path), "--out", str(tmp_path / "o"), "--share", "2")
    assert r.returncode == 2 and "--share" in r.stderr


@pytest.mark.slow
def test_train_opening_on_real_videos_writes_a_model_that_animates(evaldata, tmp_path):
    out = tmp_path / "model"
    r = _anim3d("train-opening", "--videos", str(evaldata / "video"), "--out", str(out), "--steps", "20",
                "--members", "1", "--share", "0.8", "-q")
    assert r.returncode == 0, r.stderr
    gen = load_model(out)
    assert gen.inference.opening_share == 0.8 and gen.opening is not None
    clips = gen.opening.cfg.metadata["clips"]
    assert len(clips) >= 2 and all(c["seconds"] > 0 for c in clips)
    assert 0.0 < gen.opening.cfg.jaw_mean < 1.0 and gen.opening.cfg.jaw_std > 0
    m = animate(_speech(1.0), checkpoint=gen)
    assert m.num_frames == 30
    assert sorted(p.name for p in out.iterdir()) == sorted([CONFIG_FILE, WEIGHTS_FILE, OPENING_FILE])


def test_eval_names_the_clips_a_models_learned_opening_heard(opening_checkpoint, tmp_path):
    from pathlib import Path

    from anim3d.eval.baselines import Method
    from anim3d.eval.run import trained_on

    gen = load_model(opening_checkpoint)
    gen.opening.cfg.metadata["clips"] = [{"file": "a.mp4"}, {"file": "c.mp4"}]
    try:
        model = Method("model", None, model=gen)
        videos = [Path("x/a.mp4"), Path("x/b.mp4")]
        assert trained_on([Method("loudness", None), model], videos) == ["a.mp4"]
        gen.inference.opening_share = 0.0  # the net is there but not used: the scores are held out
        assert trained_on([model], videos) == []
    finally:
        gen.opening.cfg.metadata.pop("clips")
        gen.inference.opening_share = 1.0


@pytest.mark.slow
def test_folds_score_an_opening_learnt_on_the_other_speakers(tmp_path, evaldata, capsys):
    """Two speakers, 2 folds: the opening candidate trains a net on one speaker's clips and scores the other's; the
    fixed candidate goes without the checkpoint's own net."""
    import os

    from anim3d.eval import folds as F
    from anim3d.eval.opening import OpeningFamily

    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("Obama_clip1.mp4", "reagan_clip1.mp4"):
        os.symlink(evaldata / "video" / name, videos / name)
    code = F.main(["--videos", str(videos), "--folds", "2", "--seconds", "6", "--blend-grid", "", "--no-baselines",
                   "--opening-shares", "1", "-q"])
    out = capsys.readouterr().out
    assert code == 0
    assert 'model {"opening_share": 0.0}' in out and "model + opening learnt on the other folds (share 1)" in out
    scores = [float(line.split()[0]) for line in out.splitlines() if "opening learnt" in line and line.startswith("    ")]
    assert len(scores) >= 2 and all(-1 <= s <= 1 for s in scores)  # per fold, and the mean over folds
    # what the family trains on: only the training fold's clips
    from anim3d.eval.real import find_videos_in, load_clips

    clips = load_clips(find_videos_in([videos]), max_seconds=6, progress=False)
    family = OpeningFamily(load_model(), training=OpeningTraining(steps=5))
    net = family.net(clips[:1])
    assert net.cfg.metadata["examples"] == 3  # one clip at three speeds
    assert family.net(clips[:1]) is net  # kept per training set


def test_folds_refuse_bad_opening_shares(capsys):
    from anim3d.eval import folds as F

    assert F.main(["--videos", "nowhere", "--opening-shares", "1.5"]) == 2
    assert "--opening-shares needs shares in [0, 1]" in capsys.readouterr().err
