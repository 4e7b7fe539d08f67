"""The motion transformer, its configs, condition dropping and checkpoints."""

import json

import numpy as np
import pytest
import torch

from anim3d.errors import InputError
from anim3d.models.checkpoint import load_checkpoint, save_checkpoint
from anim3d.models.config import ModelConfig, get_config
from anim3d.models.motion_transformer import MotionTransformer, concat_conditions, count_parameters, drop_condition


def make_cond(cfg, B, seed=0):
    g = torch.Generator().manual_seed(seed)
    K, W = cfg.prev, cfg.window
    return {
        "audio": torch.randn(B, K + W, cfg.audio_dim, generator=g),
        "audio_mask": torch.ones(B, K + W, dtype=torch.bool),
        "prev": torch.randn(B, K, cfg.motion_dim, generator=g),
        "prev_mask": torch.ones(B, dtype=torch.bool),
        "emotion": torch.randint(0, 8, (B,), generator=g),
        "intensity": torch.rand(B, generator=g),
        "emotion_mask": torch.ones(B, dtype=torch.bool),
        "gaze": torch.randn(B, 2, generator=g) * 0.1,
        "gaze_mask": torch.ones(B, dtype=torch.bool),
        "distance": torch.randn(B, 1, generator=g),
        "distance_mask": torch.ones(B, dtype=torch.bool),
        "style": torch.randn(B, cfg.style_dim, generator=g),
        "style_mask": torch.ones(B, dtype=torch.bool),
    }


def randomized(cfg, seed=0):
    """A model whose zero-initialised modulation layers are randomised, so every input matters."""
    torch.manual_seed(seed)
    m = MotionTransformer(cfg).eval()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "ada" in name or "null" in name:
                p.normal_(0, 0.05)
    return m


def test_configs():
    vasa = get_config("vasa")
    assert (vasa.n_layer, vasa.n_embd, vasa.n_head) == (8, 512, 8)
    fast = get_config("fast")
    assert count_parameters(MotionTransformer(fast)) < count_parameters(MotionTransformer(vasa)) / 4
    assert get_config("fast", window=30).window == 30
    with pytest.raises(KeyError, match="unknown model config"):
        get_config("huge")
    d = fast.to_dict()
    assert ModelConfig.from_dict(json.loads(json.dumps(d))) == fast


def test_forward_shapes_and_condition_effects():
    cfg = get_config("tiny")
    m = randomized(cfg)
    B = 3
    cond = make_cond(cfg, B)
    x = torch.randn(B, cfg.window, cfg.motion_dim)
    sigma = torch.tensor([0.1, 1.0, 10.0])
    with torch.no_grad():
        y = m(x, sigma, cond)  # B x W x D
        assert y.shape == (B, cfg.window, cfg.motion_dim)
        assert torch.isfinite(y).all()
        # every condition changes the prediction when dropped
        for name in ("audio", "prev", "emotion", "gaze", "distance", "style"):
            y2 = m(x, sigma, drop_condition(cond, name))
            assert (y2 - y).abs().max() > 1e-4, name
        # dropping only sample 1 leaves samples 0 and 2 untouched
        mask = torch.tensor([False, True, False])
        y3 = m(x, sigma, drop_condition(cond, "emotion", mask))
        assert torch.allclose(y3[[0, 2]], y[[0, 2]], atol=1e-5)
        assert (y3[1] - y[1]).abs().max() > 1e-4
        # a dropped condition's value does not matter
        c1 = drop_condition(cond, "style")
        c2 = dict(c1, style=torch.randn_like(cond["style"]))
        assert torch.allclose(m(x, sigma, c1), m(x, sigma, c2), atol=1e-6)
        # batching does not mix samples
        both = concat_conditions([cond, cond])
        yb = m(torch.cat([x, x]), torch.cat([sigma, sigma]), both)
        assert torch.allclose(yb[:B], y, atol=1e-5) and torch.allclose(yb[B:], y, atol=1e-5)


def test_intensity_is_a_linear_blend_from_neutral():
    cfg = get_config("tiny")
    m = randomized(cfg)
    cond = make_cond(cfg, 1)
    cond["emotion"][:] = 3
    with torch.no_grad():
        sig = torch.ones(1)
        cond["intensity"][:] = 0.0
        c0 = m.global_condition(sig, cond)
        neutral = dict(cond, emotion=torch.zeros(1, dtype=torch.long))
        assert torch.allclose(c0, m.global_condition(sig, neutral), atol=1e-6)
        cond["intensity"][:] = 0.5
        ch = m.global_condition(sig, cond)
        cond["intensity"][:] = 1.0
        c1 = m.global_condition(sig, cond)
        assert torch.allclose(ch, 0.5 * (c0 + c1), atol=1e-5)


def test_checkpoint_round_trip(tmp_path):
    cfg = get_config("tiny", motion_mean=list(np.linspace(0, 1, 58)), motion_std=[0.5] * 58)
    m = randomized(cfg, seed=3)
    save_checkpoint(tmp_path / "ck", m, cfg, {"note": "test"})
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["config.json", "model.safetensors"]
    m2, cfg2, meta = load_checkpoint(tmp_path / "ck")
    assert cfg2 == cfg and meta == {"note": "test"}
    cond = make_cond(cfg, 2)
    x = torch.randn(2, cfg.window, cfg.motion_dim)
    with torch.no_grad():
        assert torch.equal(m(x, torch.ones(2), cond), m2(x, torch.ones(2), cond))


def test_bad_checkpoints_give_clear_errors(tmp_path):
    with pytest.raises(InputError, match="checkpoint folder not found"):
        load_checkpoint(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="config.json is missing"):
        load_checkpoint(tmp_path / "empty")
    cfg = get_config("tiny")
    save_checkpoint(tmp_path / "ck", MotionTransformer(cfg), cfg)
    (tmp_path / "ck" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(InputError, match="unreadable weights"):
        load_checkpoint(tmp_path / "ck")
    save_checkpoint(tmp_path / "ck2", MotionTransformer(cfg), cfg)
    data = json.loads((tmp_path / "ck2" / "config.json").read_text())
    data["model"]["n_embd"] = 32
    (tmp_path / "ck2" / "config.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match="do not match the config"):
        load_checkpoint(tmp_path / "ck2")
    (tmp_path / "ck2" / "config.json").write_text("{not json")
    with pytest.raises(InputError, match="malformed checkpoint config"):
        load_checkpoint(tmp_path / "ck2")
