"""Noise schedules and samplers as plain functions, in the style of k-diffusion's ``sampling.py``.

Convention (EDM / k-diffusion): a noisy sample is ``x = x0 + sigma * noise``; a denoiser is a callable
``model(x, sigma, **extra_args) -> x0 estimate`` with ``x``: B x T x D and ``sigma``: B.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from anim3d.models.motion_transformer import concat_conditions, drop_condition


# ------------------------------------------------------------------ schedules
def get_sigmas_karras(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0, device="cpu") -> torch.Tensor:
    """Karras et al. (2022) schedule: n decreasing sigmas followed by a final 0 (n + 1 values)."""
    ramp = torch.linspace(0, 1, n, device=device)
    min_inv, max_inv = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (max_inv + ramp * (min_inv - max_inv)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros([1])])


def get_sigmas_exponential(n: int, sigma_min: float, sigma_max: float, device="cpu") -> torch.Tensor:
    """Log-linear schedule, n sigmas then 0."""
    sigmas = torch.linspace(math.log(sigma_max), math.log(sigma_min), n, device=device).exp()
    return torch.cat([sigmas, sigmas.new_zeros([1])])


def sample_training_sigmas(batch: int, p_mean: float = -0.8, p_std: float = 1.4, generator=None, device="cpu") -> torch.Tensor:
    """EDM's log-normal training noise distribution: ln(sigma) ~ N(p_mean, p_std^2)."""
    return (torch.randn(batch, generator=generator, device=device) * p_std + p_mean).exp()


# ------------------------------------------------------------------ samplers
def _callback(callback, i, x, sigma, denoised):
    if callback is not None:
        callback({"i": i, "x": x, "sigma": sigma, "denoised": denoised})


@torch.no_grad()
def sample_ddim(model: Callable, x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict | None = None, callback=None) -> torch.Tensor:
    """Deterministic DDIM (eta = 0), which in sigma space is Euler's method on the probability-flow ODE.

    ``x`` starts as ``noise * sigmas[0]``. Same noise -> same result.
    """
    extra_args = extra_args or {}
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        _callback(callback, i, x, sigmas[i], denoised)
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            x = denoised + (x - denoised) * (sigmas[i + 1] / sigmas[i])
    return x


@torch.no_grad()
def sample_dpmpp_2m(model: Callable, x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict | None = None, callback=None) -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022), a second-order multistep sampler good at 3-8 steps."""
    extra_args = extra_args or {}
    s_in = x.new_ones([x.shape[0]])
    old_denoised = None
    t_fn = lambda s: -s.log()  # noqa: E731
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        _callback(callback, i, x, sigmas[i], denoised)
        if sigmas[i + 1] == 0:
            x = denoised
            break
        t, t_next = t_fn(sigmas[i]), t_fn(sigmas[i + 1])
        h = t_next - t
        if old_denoised is None:
            d = denoised
        else:
            r = (t - t_fn(sigmas[i - 1])) / h
            d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old_denoised
        x = (sigmas[i + 1] / sigmas[i]) * x - torch.expm1(-h) * d
        old_denoised = denoised
    return x


@torch.no_grad()
def sample_euler_ancestral(
    model: Callable, x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict | None = None, callback=None, eta: float = 1.0, generator=None
) -> torch.Tensor:
    """Stochastic ancestral sampler (adds fresh noise every step, drawn from ``generator``)."""
    extra_args = extra_args or {}
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        _callback(callback, i, x, sigmas[i], denoised)
        s, s_next = sigmas[i], sigmas[i + 1]
        if s_next == 0:
            x = denoised
            continue
        sigma_up = torch.minimum(s_next, eta * (s_next**2 * (s**2 - s_next**2) / s**2) ** 0.5)
        sigma_down = (s_next**2 - sigma_up**2) ** 0.5
        x = denoised + (x - denoised) * (sigma_down / s)
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x = x + noise * sigma_up
    return x


SAMPLERS = {"ddim": sample_ddim, "dpmpp_2m": sample_dpmpp_2m, "euler_ancestral": sample_euler_ancestral}


# ------------------------------------------------------------------ guidance
class KeepEstimate:
    """Wraps a denoiser so that some channels stop changing after an early sampler step.

    ``groups``: (D weights m, step k) pairs. From the denoiser's (k+1)-th call on, the channels where m = 1 return
    the estimate of its k-th call, so the sampler's later steps refine only the other channels. Every sampler here
    calls the denoiser once per step and ends on the last estimate, so those channels come out as the k-th
    step's estimate. k = 1 keeps the estimate made from pure noise: the expected value of those channels given
    the conditions (for the mouth: the mean mouth for the audio, which tracks real voices better than a sample
    that adds detail the audio does not determine).
    """

    def __init__(self, denoiser: Callable, groups: list[tuple[torch.Tensor, int]], later: Callable | None = None):
        """``later`` (optional): the denoiser to call once every group is kept; it needs to agree with ``denoiser``
        only on the channels not kept (e.g. without guidance branches that act only on kept channels)."""
        self.denoiser, self.later = denoiser, later
        self.groups = [(m, int(k)) for m, k in groups if int(k) >= 1]
        self.last = max((k for _, k in self.groups), default=0)
        self.calls = 0
        self.kept: dict[int, torch.Tensor] = {}  # k -> that call's estimate

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        cheaper = self.later is not None and bool(self.groups) and self.calls >= self.last
        d = (self.later if cheaper else self.denoiser)(x, sigma)  # B x W x D
        self.calls += 1
        for m, k in self.groups:
            if self.calls == k:
                self.kept[k] = d.clone()
            elif self.calls > k:
                d = d + m.to(d) * (self.kept[k] - d)
        return d


class GuidedDenoiser:
    """Classifier-free guidance with one scale per condition, all branches in one batched forward pass.

    out = D(all) + sum_c (s_c - 1) * m_c * (D(all) - D(all without c)); a scale of 1 needs no extra branch.
    ``masks`` (optional): condition -> D weights m_c (1 where its guidance acts, 0 elsewhere; default all 1).
    """

    def __init__(self, model: Callable, cond: dict, guidance: dict[str, float] | None = None,
                 masks: dict[str, torch.Tensor] | None = None):
        self.model = model
        self.masks = masks or {}
        self.scales = [(name, float(s)) for name, s in (guidance or {}).items() if abs(float(s) - 1.0) > 1e-6]
        branches = [cond] + [drop_condition(cond, name) for name, _ in self.scales]
        self.n = len(branches)
        self.cond = concat_conditions(branches) if self.n > 1 else cond

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        B = x.shape[0]
        if self.n == 1:
            return self.model(x, sigma, self.cond)
        out = self.model(x.repeat(self.n, 1, 1), sigma.repeat(self.n), self.cond)  # (n*B) x W x D
        full = out[:B]
        res = full.clone()
        for j, (name, s) in enumerate(self.scales, start=1):
            delta = (s - 1.0) * (full - out[j * B : (j + 1) * B])  # B x W x D
            if name in self.masks:
                delta = delta * self.masks[name].to(delta)  # D: only the channels this condition drives
            res = res + delta
        return res


class KnownPrefix:
    """Wraps a denoiser so that the first frames of every x0 estimate are pulled to frames already generated
    (B x O x D ``known`` with per-frame weights ``keep`` from ~1 down to ~0): the overlap of two windows is
    inpainted, so the model continues the previous window instead of only being cross-faded into it."""

    def __init__(self, denoiser: Callable, known: torch.Tensor, keep: torch.Tensor):
        self.denoiser, self.known, self.keep = denoiser, known, keep  # keep: 1 x O x 1

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        d = self.denoiser(x, sigma)
        O = self.known.shape[1]
        d[:, :O] = self.keep * self.known + (1 - self.keep) * d[:, :O]
        return d
