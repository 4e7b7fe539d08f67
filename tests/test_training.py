"""Training: a tiny model overfits a tiny dataset in seconds; resume; augmentation; batches."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from anim3d import progress
from anim3d.errors import Anim3dError
from anim3d.training.augment import augment_logmel
from toy_corpus import toy_examples
from anim3d.training import TrainConfig, train
from anim3d.training.loop import closure_rate, validate
from anim3d.training.data import WindowSampler, prepare
from anim3d.models.checkpoint import load_checkpoint
from anim3d.models.config import get_config

progress.set_enabled(False)

TINY = dict(model="tiny", batch_size=16, lr=2e-3, warmup=20, val_utterances=3, val_steps=4)


@pytest.fixture(scope="module")
def toy():
    tr, _ = toy_examples(10, seed=0)
    va, _ = toy_examples(3, seed=1)
    return tr, va


@pytest.mark.slow
def test_tiny_model_overfits_and_closes_the_lips(toy, tmp_path):
    tr, va = toy
    torch.manual_seed(0)
    logs = []
    metrics = train(tr, va, str(tmp_path / "run"), TrainConfig(epochs=2, steps_per_epoch=70, **TINY), log=logs.append)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and rows[1]["loss"] < 0.5 * rows[0]["loss"]
    # closure appears: the untrained model never closes the lips on p/b/m, the trained one does
    model, cfg, meta = load_checkpoint(tmp_path / "run")
    from anim3d.models.motion_transformer import MotionTransformer

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
    from anim3d.training.data import bilabial_frames

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


def test_augmentation_changes_spectra_but_keeps_shape():
    feats = torch.randn(4, 10, 3 * 65) - 5
    out = augment_logmel(feats, 64, 3, torch.Generator().manual_seed(0))
    assert out.shape == feats.shape and torch.isfinite(out).all()
    assert (out - feats).abs().mean() > 0.1
    again = augment_logmel(feats, 64, 3, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


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


def test_fine_tuning_keeps_the_learned_opening_while_the_features_stay_the_same(toy, tmp_path):
    from anim3d.inference import load_model
    from anim3d.models.checkpoint import CONFIG_FILE, read_inference
    from anim3d.models.opening import OPENING_FILE, OpeningConfig, OpeningNet, save_opening

    tr, _ = toy
    base = tmp_path / "base"
    train(tr, [], str(base), TrainConfig(epochs=1, steps_per_epoch=5, **TINY), log=lambda s: None)
    dim = tr[0].feats.shape[1]
    save_opening(base, OpeningNet(OpeningConfig(in_dim=dim, members=1, feature_mean=[0.0] * dim, feature_std=[1.0] * dim,
                                                out_mean=[0.0], out_std=[1.0])))
    doc = json.loads((base / CONFIG_FILE).read_text())
    doc["inference"]["opening_share"] = 0.5
    (base / CONFIG_FILE).write_text(json.dumps(doc))
    tuned = tmp_path / "tuned"
    train(tr, [], str(tuned), TrainConfig(epochs=1, steps_per_epoch=1, **TINY, init=str(base)), log=lambda s: None)
    assert (tuned / OPENING_FILE).read_bytes() == (base / OPENING_FILE).read_bytes()
    assert read_inference(tuned).opening_share == 0.5
    assert load_model(str(tuned)).opening is not None  # loads and animates with it
    # another front end: the net cannot read its features, and the fine-tuned model goes without it
    rng = np.random.default_rng(0)
    phone_tr = [dataclasses.replace(e, feats=rng.random((len(e.feats), 129), dtype=np.float32)) for e in tr]
    switched = tmp_path / "switched"
    train(phone_tr, [], str(switched), TrainConfig(epochs=1, steps_per_epoch=1, **TINY, init=str(base),
                                                   model_overrides={"audio_encoder": "phones", "audio_dim": 129}),
          log=lambda s: None)
    assert not (switched / OPENING_FILE).exists() and read_inference(switched).opening_share == 0.0
