"""Noise schedules, samplers and batched classifier-free guidance."""

import pytest
import torch

from anim3d.models.diffusion import (
    GuidedDenoiser,
    get_sigmas_exponential,
    get_sigmas_karras,
    sample_ddim,
    sample_dpmpp_2m,
    sample_euler_ancestral,
    sample_training_sigmas,
)


def gaussian_denoiser(mu, s):
    """Exact x0 = E[x0 | x] for data x0 ~ N(mu, s^2) per dimension."""

    def d(x, sigma):
        sig = sigma[:, None, None]
        return mu + (x - mu) * s**2 / (s**2 + sig**2)

    return d


def test_schedules():
    for sig in (get_sigmas_karras(5, 0.01, 20.0), get_sigmas_exponential(5, 0.01, 20.0)):
        assert len(sig) == 6 and sig[-1] == 0
        assert torch.isclose(sig[0], torch.tensor(20.0)) and torch.isclose(sig[-2], torch.tensor(0.01))
        assert (sig[1:] < sig[:-1]).all()
    s = sample_training_sigmas(10000, generator=torch.Generator().manual_seed(0))
    assert abs(s.log().mean().item() + 0.8) < 0.05 and abs(s.log().std().item() - 1.4) < 0.05


@pytest.mark.parametrize("sampler,steps", [(sample_ddim, 100), (sample_dpmpp_2m, 20)])
def test_deterministic_samplers_reach_the_data_distribution(sampler, steps):
    mu, s = 2.0, 0.5
    g = torch.Generator().manual_seed(0)
    sigmas = get_sigmas_karras(steps, 0.01, 20.0)
    x = torch.randn(4000, 1, 1, generator=g) * sigmas[0]
    out = sampler(gaussian_denoiser(mu, s), x, sigmas)
    assert abs(out.mean().item() - mu) < 0.07  # the N(0, 20^2) start is a slightly wrong prior for mean 2
    assert abs(out.std().item() - s) < 0.03
    # deterministic: same noise, same result
    assert torch.equal(out, sampler(gaussian_denoiser(mu, s), x, sigmas))


def test_second_order_sampler_keeps_more_variance_in_few_steps():
    sigmas = get_sigmas_karras(6, 0.01, 20.0)
    x = torch.randn(4000, 1, 1, generator=torch.Generator().manual_seed(0)) * sigmas[0]
    den = gaussian_denoiser(0.0, 0.5)
    err_ddim = abs(sample_ddim(den, x, sigmas).std().item() - 0.5)
    err_dpm = abs(sample_dpmpp_2m(den, x, sigmas).std().item() - 0.5)
    assert err_dpm < err_ddim / 2


def test_ancestral_sampler_uses_its_generator():
    mu, s = -1.0, 0.3
    sigmas = get_sigmas_karras(30, 0.01, 20.0)
    x = torch.randn(3000, 1, 1, generator=torch.Generator().manual_seed(1)) * sigmas[0]
    a = sample_euler_ancestral(gaussian_denoiser(mu, s), x, sigmas, generator=torch.Generator().manual_seed(5))
    b = sample_euler_ancestral(gaussian_denoiser(mu, s), x, sigmas, generator=torch.Generator().manual_seed(5))
    c = sample_euler_ancestral(gaussian_denoiser(mu, s), x, sigmas, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert abs(a.mean().item() - mu) < 0.07 and abs(a.std().item() - s) < 0.05


def test_callback_sees_every_step():
    seen = []
    sigmas = get_sigmas_karras(4, 0.01, 20.0)
    sample_ddim(gaussian_denoiser(0.0, 1.0), torch.zeros(1, 2, 3), sigmas, callback=lambda d: seen.append(d["i"]))
    assert seen == [0, 1, 2, 3]


class CountingModel:
    """A fake conditional denoiser: output = x * 0 + (emotion_mask * 1 + audio present frames * 10) per sample."""

    def __init__(self):
        self.calls = 0
        self.batches = []

    def __call__(self, x, sigma, cond):
        self.calls += 1
        self.batches.append(x.shape[0])
        K = cond["prev"].shape[1]
        a = cond["audio_mask"][:, K:].float().mean(1) * 10 + cond["emotion_mask"].float()
        return torch.zeros_like(x) + a[:, None, None]


def test_guidance_formula_and_single_forward():
    from anim3d.models.config import get_config

    from test_model import make_cond
    cfg = get_config("tiny")
    cond = make_cond(cfg, 2)
    model = CountingModel()
    den = GuidedDenoiser(model, cond, {"audio": 3.0, "emotion": 2.0, "gaze": 1.0})
    x = torch.zeros(2, cfg.window, cfg.motion_dim)
    out = den(x, torch.ones(2))
    assert model.calls == 1 and model.batches == [6]  # full + no-audio + no-emotion branches, one pass
    # full = 11, without audio = 1, without emotion = 10: 11 + 2 * (11 - 1) + 1 * (11 - 10) = 32
    assert torch.allclose(out, torch.full_like(out, 32.0))
    plain = GuidedDenoiser(CountingModel(), cond, {"audio": 1.0})
    assert plain.n == 1 and torch.allclose(plain(x, torch.ones(2)), torch.full_like(out, 11.0))


def test_guidance_can_be_restricted_to_channel_groups():
    """A condition's guidance acts only on the channels its mask names (e.g. audio guidance on the mouth,
    not on blinks); unmasked channels keep the plain conditional output."""
    from anim3d.models.config import CHANNEL_GROUPS, get_config, guidance_mask

    from test_model import make_cond
    cfg = get_config("tiny")
    cond = make_cond(cfg, 2)
    mask = torch.tensor(guidance_mask(["mouth"], cfg.motion_dim))
    den = GuidedDenoiser(CountingModel(), cond, {"audio": 3.0}, masks={"audio": mask})
    out = den(torch.zeros(2, cfg.window, cfg.motion_dim), torch.ones(2))
    mouth = list(CHANNEL_GROUPS["mouth"])
    others = [i for i in range(cfg.motion_dim) if i not in mouth]
    assert torch.allclose(out[..., mouth], torch.full_like(out[..., mouth], 11.0 + 2 * 10.0))
    assert torch.allclose(out[..., others], torch.full_like(out[..., others], 11.0))
    from anim3d.channels import INDEX
    assert INDEX["jawOpen"] in mouth and INDEX["eyeBlinkLeft"] not in mouth
    with pytest.raises(KeyError, match="unknown channel group"):
        guidance_mask(["lips"])


@pytest.mark.parametrize("sampler", [sample_ddim, sample_dpmpp_2m])
def test_kept_channels_end_as_the_estimate_of_their_step(sampler):
    """KeepEstimate: the masked channels come out as the k-th step's estimate; the others are refined to the end."""
    from anim3d.models.diffusion import KeepEstimate

    calls = []

    def denoiser(x, sigma):  # a different estimate at every call: call number + the channel index
        calls.append(float(sigma[0]))
        return torch.full_like(x, float(len(calls))) + torch.arange(x.shape[-1], dtype=x.dtype)

    mask = torch.tensor([1.0, 1.0, 0.0, 0.0])
    sigmas = get_sigmas_karras(4, 0.01, 20.0)
    x = torch.randn(2, 5, 4) * sigmas[0]
    for k in (1, 2):
        calls.clear()
        out = sampler(KeepEstimate(denoiser, [(mask, k)]), x.clone(), sigmas)
        assert len(calls) == 4
        assert torch.allclose(out[..., :2], k + torch.arange(2.0).expand(2, 5, 2))  # step k's estimate
        assert torch.allclose(out[..., 2:], 4 + torch.arange(2.0, 4.0).expand(2, 5, 2))  # the last step's
    calls.clear()
    out = sampler(KeepEstimate(denoiser, [(mask, 0)]), x.clone(), sigmas)  # 0: kept by no step
    assert torch.allclose(out, 4 + torch.arange(4.0).expand(2, 5, 4))
    later_calls = []

    def later(x, sigma):  # used once every group is kept
        later_calls.append(float(sigma[0]))
        return denoiser(x, sigma)

    calls.clear()
    out = sampler(KeepEstimate(denoiser, [(mask, 2)], later), x.clone(), sigmas)
    assert len(calls) == 4 and later_calls == calls[2:]  # steps 3 and 4 went through ``later``
    assert torch.allclose(out[..., :2], 2 + torch.arange(2.0).expand(2, 5, 2))
