"""Training: a tiny model overfits a tiny dataset in seconds; resume; augmentation; batches."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from anim3d import progress
from anim3d.errors import Anim3dError
from anim3d.feature_augment import augment_logmel, pick_features
from anim3d.toy_corpus import toy_examples
from anim3d.training import TrainConfig, closure_rate, train, validate
from anim3d.training_data import Example, WindowSampler, load_examples, prepare
from models.checkpoint import load_checkpoint
from models.config import get_config

progress.set_enabled(False)

TINY = dict(model="tiny", batch_size=16, lr=2e-3, warmup=20, val_utterances=3, val_steps=4)


@pytest.fixture(scope="module")
def toy():
    tr, _ = toy_examples(10, seed=0)
    va, _ = toy_examples(3, seed=1)
    return tr, va


def test_tiny_model_overfits_and_closes_the_lips(toy, tmp_path):
    tr, va = toy
    torch.manual_seed(0)
    logs = []
    metrics = train(tr, va, str(tmp_path / "run"), TrainConfig(epochs=2, steps_per_epoch=70, **TINY), log=logs.append)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and rows[1]["loss"] < 0.5 * rows[0]["loss"]
    # closure appears: the untrained model never closes the lips on p/b/m, the trained one does
    model, cfg, meta = load_checkpoint(tmp_path / "run")
    from models.motion_transformer import MotionTransformer

    untrained = validate(MotionTransformer(cfg).eval(), cfg, va, TrainConfig(**TINY), "cpu")
    assert untrained["closure"] < 0.3
    assert metrics["closure"] >= 0.9 and metrics["teacher_closure"] == 1.0
    assert metrics["lip_error"] < untrained["lip_error"] / 2
    assert meta["metrics"]["epoch"] == 2


def test_resume_continues_from_the_saved_state(toy, tmp_path):
    tr, va = toy
    out = str(tmp_path / "run")
    train(tr, [], out, TrainConfig(epochs=1, steps_per_epoch=10, **TINY), log=lambda s: None)
    logs = []
    train(tr, [], out, TrainConfig(epochs=2, steps_per_epoch=10, **TINY), resume=True, log=logs.append)
    assert any("resumed" in line and "epoch 1, step 10" in line for line in logs)
    state = json.loads((tmp_path / "run" / "state" / "state.json").read_text())
    assert state["step"] == 20 and state["epoch"] == 2


def test_phone_ids_follow_the_audio_frames_of_each_window(toy):
    from anim3d.phonetic import PHONE_INDEX
    from anim3d.training_data import frame_phone_ids

    ids = frame_phone_ids([("P", 0.1, 0.2), ("AA", 0.2, 0.4)], 15)
    assert ids[3] == ids[4] == PHONE_INDEX["P"] and ids[6] == ids[11] == PHONE_INDEX["AA"]
    assert ids[0] == ids[12] == PHONE_INDEX["SIL"]
    tr, _ = toy
    cfg = get_config("tiny", audio_dim=tr[0].feats.shape[1])
    prepare(tr, cfg.motion_mean, cfg.motion_std)
    sampler = WindowSampler(tr, cfg, TrainConfig(p_truncate=1.0), seed=0)
    x0, mask, cond, ph = sampler.batch(16, with_phones=True)
    assert ph.shape == cond["audio_mask"].shape
    assert ((ph == -100) == ~cond["audio_mask"]).all()  # absent (truncated or before the start) audio has no label
    assert (ph >= 0).sum() > 0 and len(set(ph[ph >= 0].tolist())) > 1
    again = WindowSampler(tr, cfg, TrainConfig(p_truncate=1.0), seed=0).batch(16)
    assert len(again) == 3 and torch.equal(again[0], x0)  # the default call is unchanged


def test_phone_head_learns_and_resumes(toy, tmp_path):
    tr, va = toy
    out = str(tmp_path / "run")
    torch.manual_seed(0)
    train(tr, [], out, TrainConfig(epochs=2, steps_per_epoch=40, phone_weight=0.05, **TINY), log=lambda s: None)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["phone_ce"] < np.log(41) and rows[1]["phone_ce"] < 0.8 * rows[0]["phone_ce"]
    from safetensors.torch import load_file

    assert any(k.startswith("head.") for k in load_file(tmp_path / "run" / "state" / "state.safetensors"))
    assert not any(k.startswith("head") for k in load_file(tmp_path / "run" / "model.safetensors"))  # training only
    train(tr, [], out, TrainConfig(epochs=3, steps_per_epoch=40, phone_weight=0.05, **TINY), resume=True, log=lambda s: None)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows[2]["phone_ce"] < 1.2 * rows[1]["phone_ce"]  # the head came back with the state (a fresh one: ~2x)
    with pytest.raises(Anim3dError, match="trained with --phone-weight"):
        train(tr, [], out, TrainConfig(epochs=4, steps_per_epoch=40, **TINY), resume=True, log=lambda s: None)


def test_fine_tuning_starts_from_the_given_checkpoint(toy, tmp_path):
    tr, va = toy
    base = str(tmp_path / "base")
    train(tr, [], base, TrainConfig(epochs=1, steps_per_epoch=30, **TINY), log=lambda s: None)
    base_model, base_cfg, _ = load_checkpoint(base)
    logs = []
    # zero steps of fine-tuning: the saved EMA equals the initial weights
    tuned = str(tmp_path / "tuned")
    train(tr, [], tuned, TrainConfig(epochs=1, steps_per_epoch=1, **{**TINY, "lr": 0.0}, init=base), log=logs.append)
    assert any("initialised from" in line for line in logs)
    model, cfg, meta = load_checkpoint(tuned)
    assert cfg.motion_mean == base_cfg.motion_mean  # the checkpoint's statistics are kept
    for (k, a), b in zip(base_model.state_dict().items(), model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), k
    assert meta["train"]["init"] == base
    # audio conv blocks added to a trained model start as the identity: same predictions as the base
    grown = str(tmp_path / "grown")
    logs = []
    train(tr, [], grown, TrainConfig(epochs=1, steps_per_epoch=1, **{**TINY, "lr": 0.0}, init=base,
                                     model_overrides={"audio_conv_layers": 2}), log=logs.append)
    assert any("new tensors" in line for line in logs)
    g_model, g_cfg, _ = load_checkpoint(grown)
    assert g_cfg.audio_conv_layers == 2 and len(g_model.audio_blocks) == 2
    from test_model import make_cond

    cond = make_cond(base_cfg, 2)
    x = torch.randn(2, base_cfg.window, base_cfg.motion_dim)
    sig = torch.full((2,), 0.5)
    with torch.no_grad():
        assert torch.allclose(g_model(x, sig, cond), base_model(x, sig, cond), atol=1e-5)
    # an untrained start differs
    fresh = str(tmp_path / "fresh")
    train(tr, [], fresh, TrainConfig(epochs=1, steps_per_epoch=1, **{**TINY, "lr": 0.0}), log=lambda s: None)
    other, _, _ = load_checkpoint(fresh)
    assert not torch.allclose(other.state_dict()["out.weight"], base_model.state_dict()["out.weight"])


def test_batches_have_the_right_shapes_and_masks(toy):
    tr, _ = toy
    cfg = get_config("tiny", audio_dim=tr[0].feats.shape[1])
    prepare(tr, cfg.motion_mean, cfg.motion_std)
    s = WindowSampler(tr, cfg, TrainConfig(p_truncate=1.0), seed=0)
    x0, mask, cond = s.batch(8)
    K, W = cfg.prev, cfg.window
    assert x0.shape == (8, W, 58) and mask.shape == (8, W)
    assert cond["audio"].shape == (8, K + W, tr[0].feats.shape[1])
    # every window has its audio tail cut (p_truncate = 1)
    assert (~cond["audio_mask"][:, -1]).all()
    # windows without X_pre have no A_pre either
    no_prev = ~cond["prev_mask"]
    assert not cond["audio_mask"][no_prev, :K].any()


def test_bilabial_frames_get_the_extra_loss_weight(toy):
    from anim3d.training_data import bilabial_frames

    f = bilabial_frames([("P", 1.0, 1.1), ("AA", 1.1, 1.3), ("M", 0.0, 0.02)], 60)
    assert list(np.nonzero(f)[0]) == [0, 1, 31, 32, 33]  # middles 0 and 32 (1.05 s), +/- 1 frame
    tr, _ = toy
    cfg = get_config("tiny", audio_dim=tr[0].feats.shape[1])
    prepare(tr, cfg.motion_mean, cfg.motion_std)
    _, plain, _ = WindowSampler(tr, cfg, TrainConfig(p_start=1.0), seed=0).batch(8)
    _, weighted, _ = WindowSampler(tr, cfg, TrainConfig(p_start=1.0, bilabial_weight=3.0), seed=0).batch(8)
    heavy = weighted > plain
    assert heavy.any() and torch.allclose(weighted[heavy], torch.full_like(weighted[heavy], 4.0))
    assert torch.equal(weighted[~heavy], plain[~heavy])


def test_consonant_weight_covers_the_other_consonants_only(toy):
    """--consonant-weight: the same kind of extra weight around every consonant middle except p/b/m's
    (the frames of vowels, pauses and p/b/m keep the weights they had)."""
    from anim3d.training_data import consonant_frames

    phones = [("SIL", 0.0, 0.2), ("B", 0.2, 0.3), ("AA", 0.3, 0.5), ("T", 0.5, 0.6), ("S", 0.6, 0.8), ("M", 0.8, 0.9)]
    f = consonant_frames(phones, 30)
    assert list(np.nonzero(f)[0]) == [16, 17, 18, 20, 21, 22]  # middles: T 17 (0.55 s rounds up), S 21 (0.7 s); +/- 1
    # the toy utterances speak only P: label each with a P, a T and an S (the weights only read the labels)
    tr = [dataclasses.replace(e, phones=[("P", 0.2, 0.3), ("T", 0.5, 0.6), ("S", 1.0, 1.2)]) for e in toy[0]]
    cfg = get_config("tiny", audio_dim=tr[0].feats.shape[1])
    prepare(tr, cfg.motion_mean, cfg.motion_std)
    _, plain, _ = WindowSampler(tr, cfg, TrainConfig(p_start=1.0, bilabial_weight=3.0), seed=0).batch(8)
    _, both, _ = WindowSampler(tr, cfg, TrainConfig(p_start=1.0, bilabial_weight=3.0, consonant_weight=2.0), seed=0).batch(8)
    extra = both - plain
    assert set(torch.unique(extra).tolist()) == {0.0, 2.0}  # consonant frames +2, everything else unchanged
    assert (plain == 4.0).any() and torch.equal(both[plain == 4.0], plain[plain == 4.0])  # p/b/m frames: unchanged


def test_p_sigma_max_trains_at_the_first_sampler_level(toy):
    """--p-sigma-max: that share of samples sees sigma_max (the level whose estimate the mouth keeps)."""
    from anim3d.training import diffusion_loss
    from models.motion_transformer import MotionTransformer

    tr, _ = toy
    cfg = get_config("tiny", audio_dim=tr[0].feats.shape[1])
    prepare(tr, cfg.motion_mean, cfg.motion_std)
    x0, mask, cond = WindowSampler(tr, cfg, TrainConfig(), seed=0).batch(64)
    model = MotionTransformer(cfg)
    seen = []

    def spy(x, sigma, c):
        seen.append(sigma.clone())
        return model(x, sigma, c)

    spy.cfg = cfg
    lip_w = torch.ones(cfg.motion_dim)
    for p in (0.0, 0.5, 1.0):
        seen.clear()
        diffusion_loss(spy, x0, mask, cond, TrainConfig(p_sigma_max=p), torch.Generator().manual_seed(0), lip_w)
        share = float(torch.isclose(seen[0], torch.tensor(cfg.sigma_max)).float().mean())
        assert abs(share - p) < 0.2 and (share == p if p in (0.0, 1.0) else 0 < share < 1)


def test_augmentation_changes_spectra_but_keeps_shape():
    feats = torch.randn(4, 10, 3 * 65) - 5
    out = augment_logmel(feats, 64, 3, torch.Generator().manual_seed(0))
    assert out.shape == feats.shape and torch.isfinite(out).all()
    assert (out - feats).abs().mean() > 0.1
    again = augment_logmel(feats, 64, 3, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_loudness_envelope_drifts_slowly_within_its_bound():
    from anim3d.feature_augment import loudness_envelope

    for length in (1, 26, 27, 294):
        env = loudness_envelope(64, length, 27, 1.5, torch.Generator().manual_seed(length))
        assert env.shape == (64, length, 1)
    stds = env.std(dim=1, correction=0).squeeze()
    assert stds.max() <= 1.5 + 1e-4 and stds.min() < 0.5 < stds.max()  # each curve its own depth up to the bound
    steps = (env[:, 1:] - env[:, :-1]).abs().max(dim=1).values.squeeze()
    assert (steps < 0.2 * stds * 27).all()  # linear between knots 27 steps apart: no jumps
    assert env.abs().mean(dim=1).max() > 0.1


def test_gain_envelope_moves_every_band_and_the_energy_together():
    feats = torch.randn(2, 98, 3 * 65) + 5  # well above the added noise floor (at most -2 nats)
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    flat = augment_logmel(feats, 64, 3, g()).view(2, 294, 65)
    drift = augment_logmel(feats, 64, 3, g(), gain_envelope=2.0).view(2, 294, 65)
    diff = drift - flat  # B x 294 x 65: the same curve in every band of a subframe (one band may be masked)
    shift = diff[..., :64].median(dim=2).values
    assert shift.std(dim=1).min() > 0.05  # it varies over time
    assert (diff[..., 64] - shift).abs().median() < 0.05  # energy moves with the bands


def test_phone_loudness_augmentation_drifts_only_the_energy():
    from anim3d.feature_augment import augment_phones, loudness_envelope
    from models.phone_features import ENERGY_PER_NAT, N_FEATURES

    feats = torch.rand(2, 98, 3 * N_FEATURES)
    out = augment_phones(feats, 3, N_FEATURES, ENERGY_PER_NAT, torch.Generator().manual_seed(3), 2.0)
    diff = (out - feats).view(2, 294, N_FEATURES)
    assert diff[..., :-1].abs().max() == 0  # the posteriors are untouched
    env = loudness_envelope(2, 294, 27, 2.0, torch.Generator().manual_seed(3))[..., 0]
    assert torch.allclose(diff[..., -1], ENERGY_PER_NAT * env, atol=1e-6)
    assert diff[..., -1].std(dim=1).min() > 0.05  # it varies over time


def test_phone_windows_get_the_loudness_augmentation_only_when_asked(toy):
    tr, _ = toy
    tr = [dataclasses.replace(e, feats=np.random.default_rng(i).random((len(e.feats), 129)).astype(np.float32))
          for i, e in enumerate(tr)]
    cfg = get_config("tiny", audio_dim=129, audio_encoder="phones")
    prepare(tr, cfg.motion_mean, cfg.motion_std)
    batch = lambda env: WindowSampler(tr, cfg, TrainConfig(gain_envelope=env), seed=0).batch(8)[2]["audio"]  # noqa: E731
    plain, again, drift = batch(0.0), batch(0.0), batch(2.0)
    assert torch.equal(plain, again)
    assert (drift - plain).abs().max() > 0.05


def test_closure_rate_uses_phone_middles():
    bs = np.zeros((30, 52), np.float32)
    from anim3d.channels import INDEX

    bs[:, INDEX["jawOpen"]] = 0.5
    bs[10:13, INDEX["jawOpen"]] = 0.0  # closed around frame 11
    phones = [("P", 10 / 30, 13 / 30), ("M", 20 / 30, 23 / 30), ("AA", 0.0, 0.3)]
    assert closure_rate(bs, phones) == 0.5


def test_fine_tuning_onto_another_front_end_starts_only_the_audio_input_layer_afresh(toy, tmp_path):
    tr, _ = toy
    base = str(tmp_path / "base")
    train(tr, [], base, TrainConfig(epochs=1, steps_per_epoch=20, **TINY), log=lambda s: None)
    base_model, _, _ = load_checkpoint(base)
    rng = np.random.default_rng(0)
    phone_tr = [dataclasses.replace(e, feats=rng.random((len(e.feats), 129), dtype=np.float32)) for e in tr]
    with pytest.raises(Anim3dError, match="takes 195 audio features"):  # without saying so, a 129-d corpus is refused
        train(phone_tr, [], str(tmp_path / "refused"), TrainConfig(epochs=1, steps_per_epoch=1, **TINY, init=base), log=lambda s: None)
    out = str(tmp_path / "switched")
    logs = []
    train(phone_tr, [], out, TrainConfig(epochs=1, steps_per_epoch=1, **{**TINY, "lr": 0.0}, init=base,
                                         model_overrides={"audio_encoder": "phones", "audio_dim": 129}), log=logs.append)
    assert any("2 new tensors" in line for line in logs)
    model, cfg, _ = load_checkpoint(out)
    assert cfg.audio_encoder == "phones" and cfg.audio_dim == 129
    old, new = base_model.state_dict(), model.state_dict()
    assert new["in_audio.0.weight"].shape[1] == 129
    for k, v in old.items():
        if not k.startswith("in_audio.0."):
            assert torch.equal(v, new[k]), k


def test_windows_come_from_the_features_and_every_warped_copy():
    e = Example(np.zeros((40, 129), np.float32), np.zeros((40, 58), np.float32),
                feats_warped=[np.full((40, 129), k + 1.0, np.float32) for k in range(2)])
    rng = np.random.default_rng(0)
    picked = [float(pick_features(e, rng)[0, 0]) for _ in range(300)]
    assert {x: picked.count(x) for x in (0.0, 1.0, 2.0)} == pytest.approx({0.0: 100, 1.0: 100, 2.0: 100}, abs=30)
    # without copies: the features themselves, and no random number drawn (training stays as before)
    plain = dataclasses.replace(e, feats_warped=[])
    state = rng.bit_generator.state
    assert pick_features(plain, rng) is plain.feats and rng.bit_generator.state == state


def test_warped_copies_need_the_phone_front_end(tmp_path):
    from models.audio_features import LogMelFrontEnd

    with pytest.raises(Anim3dError, match="--vtln-copies needs the phone front end"):
        load_examples(str(tmp_path), "train", LogMelFrontEnd(), vtln_copies=1)
    with pytest.raises(Anim3dError, match="--vtln-range in"):
        load_examples(str(tmp_path), "train", LogMelFrontEnd(), vtln_copies=1, vtln_range=1.5)
