"""Sampling motion window by window: the conditions of one window, one window denoised from noise, and the
sliding windows over a whole utterance (each continuing the last K frames of the one before, its first
``overlap`` frames inpainted onto what the previous window made). Shared by offline animation, streaming
and training's validation."""

from __future__ import annotations

import numpy as np

from anim3d.inference.settings import Conditions, Sampling


def window_starts(T: int, W: int, O: int) -> list[int]:
    """First frames of the sliding windows over T frames (W long, overlapping by O)."""
    hop = W - O
    starts = [0]
    while starts[-1] + W < T:
        starts.append(starts[-1] + hop)
    return starts


def window_conditions(gen, feats: np.ndarray, start: int, prev: np.ndarray | None, conditions: Conditions,
                      batch: int, audio_frames: int | None = None) -> dict:
    """Condition tensors for the window of frames [start, start + W) (batched ``batch`` times).

    feats: T x F features of the whole known audio; prev: B x K x 58 normalised X_pre or None;
    audio_frames: how many frames of audio exist (frames beyond are marked absent).
    """
    import torch

    from anim3d.motion_codec import DISTANCE_SCALE
    from anim3d.models.audio_features import normalize_window

    cfg, dev = gen.cfg, gen.device
    K, W = cfg.prev, cfg.window
    T = feats.shape[0] if audio_frames is None else audio_frames
    idx = np.arange(start - K, start + W)
    present = (idx >= 0) & (idx < min(T, feats.shape[0]))
    if prev is None:
        present[:K] = False
    a = np.zeros((K + W, feats.shape[1]), np.float32)
    a[present] = feats[idx[present]]
    a_t = torch.from_numpy(a)[None]  # 1 x (K + W) x F
    m_t = torch.from_numpy(present)[None]  # 1 x (K + W)
    a_t = normalize_window(a_t, m_t)
    gaze = conditions.gaze if conditions.gaze is not None else (0.0, 0.0)
    dist = conditions.distance if conditions.distance is not None else 0.0
    style = conditions.style
    one = {
        "audio": a_t,
        "audio_mask": m_t,
        "prev": torch.zeros(1, K, cfg.motion_dim),
        "prev_mask": torch.tensor([prev is not None]),
        "emotion": torch.tensor([conditions.emotion]),
        "intensity": torch.tensor([conditions.intensity], dtype=torch.float32),
        "emotion_mask": torch.tensor([True]),
        "gaze": torch.tensor([gaze], dtype=torch.float32),
        "gaze_mask": torch.tensor([conditions.gaze is not None]),
        "distance": torch.tensor([[dist * DISTANCE_SCALE]], dtype=torch.float32),
        "distance_mask": torch.tensor([conditions.distance is not None]),
        "style": torch.zeros(1, cfg.style_dim) if style is None else torch.from_numpy(style)[None],
        "style_mask": torch.tensor([style is not None]),
    }
    cond = {k: v.repeat(batch, *([1] * (v.dim() - 1))).to(dev) for k, v in one.items()}
    if prev is not None:
        cond["prev"] = torch.as_tensor(prev, dtype=torch.float32, device=dev)
    return cond


def guidance_masks(gen) -> dict:
    """Condition -> D channel weights from the checkpoint's ``guidance_channels`` (conditions not named act on all)."""
    import torch

    from anim3d.models.config import guidance_mask

    return {name: torch.tensor(guidance_mask(groups, gen.cfg.motion_dim), device=gen.device)
            for name, groups in (gen.inference.guidance_channels or {}).items()}


def sample_window_from_noise(gen, cond: dict, noise, sampling: Sampling, generator=None, known=None, steps: int | None = None):
    """Denoise one window from unit noise (B x W x 58, torch) -> B x W x 58 normalised (torch).

    ``known``: B x O x 58 frames the window's start must continue (``anim3d.models.diffusion.KnownPrefix``); a group
    that keeps an early step's estimate (``sampling.group_steps``) starts from zero noise; ``steps``: this
    window's step count when it differs from ``sampling.steps`` (a stream's cheap first window)."""
    import torch

    from anim3d.models.config import guidance_mask
    from anim3d.models.diffusion import SAMPLERS, GuidedDenoiser, KeepEstimate, KnownPrefix, get_sigmas_karras

    cfg = gen.cfg
    guidance = sampling.guidance
    sigmas = get_sigmas_karras(steps or sampling.steps, cfg.sigma_min, cfg.sigma_max, device=gen.device)
    masks = guidance_masks(gen)
    if "audio_tokens" not in cond:  # the same for every step and guidance branch (they differ in masks): once
        cond = dict(cond, audio_tokens=gen.model.encode_audio(cond["audio"]))
    denoiser = GuidedDenoiser(gen.model, cond, guidance, masks)
    kept = {name: k for name, k in sampling.group_steps.items() if k > 0}
    if kept:
        groups = [(torch.tensor(guidance_mask([name], cfg.motion_dim), device=gen.device), k) for name, k in kept.items()]
        covered = torch.stack([m for m, _ in groups]).amax(dim=0)  # D: 1 on every kept channel
        # guidance that acts only on kept channels changes nothing once they are kept: skip its branch then
        # (the default model's audio guidance acts on the mouth only: 2 forward branches instead of 3)
        rest = {n: s for n, s in guidance.items() if not (n in masks and bool((masks[n] <= covered).all()))}
        later = GuidedDenoiser(gen.model, cond, rest, masks) if len(rest) < len(guidance) else None
        denoiser = KeepEstimate(denoiser, groups, later)
        # kept channels start at their mean (0 in normalised units), not at a random draw: their estimate is
        # meant to be the expected motion, and then a seed does not move it
        noise = noise * (1.0 - covered.to(noise))
    if known is not None and known.shape[1] > 0:
        O = known.shape[1]
        keep = torch.linspace(1.0, 0.0, O + 2, device=gen.device)[1:-1].view(1, O, 1)
        denoiser = KnownPrefix(denoiser, torch.as_tensor(known, dtype=torch.float32, device=gen.device), keep)
    kw = {"generator": generator} if sampling.sampler == "euler_ancestral" else {}
    with torch.autocast("cuda", dtype=torch.float16, enabled=getattr(gen.device, "type", str(gen.device)) == "cuda"):
        return SAMPLERS[sampling.sampler](denoiser, noise.to(gen.device) * sigmas[0], sigmas, **kw)


def sample_one(gen, cond: dict, noise, sampling: Sampling, steps: int | None = None) -> np.ndarray:
    """One window denoised on this thread (``sample_window_from_noise`` with batch 1): W x 58 normalised (numpy).
    ``StreamingAnimator``'s default sampler; ``sample_batch`` does several streams' windows in one pass."""
    import torch

    from anim3d.device import cpu_threads

    with cpu_threads(gen.device), torch.inference_mode():
        return sample_window_from_noise(gen, cond, noise, sampling, steps=steps)[0].float().cpu().numpy()


def sample_batch(gen, conds: list[dict], noises: list, sampling: Sampling, steps: int | None = None) -> list[np.ndarray]:
    """Windows of several streams in one pass: ``conds`` (each batch 1, as ``window_conditions`` gives them) and
    ``noises`` (each 1 x W x 58, one W) -> one W x 58 normalised window each, the numbers ``sample_one`` gives (up to
    float rounding: the matrix products run on more rows). Every window shares ``sampling`` and ``steps``
    (``batch_key``)."""
    import torch

    from anim3d.device import cpu_threads
    from anim3d.models.motion_transformer import concat_conditions

    cond = concat_conditions(conds)  # B x ...
    noise = torch.cat(list(noises))  # B x W x 58
    with cpu_threads(gen.device), torch.inference_mode():
        x = sample_window_from_noise(gen, cond, noise, sampling, steps=steps).float().cpu().numpy()  # B x W x 58
    return list(x)


def batch_key(sampling: Sampling, steps: int | None, noise) -> tuple | None:
    """Windows with equal keys can be sampled in one ``sample_batch``: the same sampler, steps, guidance, kept groups
    and window length. None: a window that is sampled alone (the ancestral sampler draws fresh noise each step)."""
    if sampling.sampler == "euler_ancestral":
        return None
    return (sampling.sampler, steps or sampling.steps, tuple(sorted(sampling.guidance.items())),
            tuple(sorted(sampling.group_steps.items())), tuple(noise.shape[1:]))


def sample_window(gen, cond: dict, generators: list, sampling: Sampling, known=None):
    """Denoise one window for a batch (one torch.Generator per sample) -> B x W x 58 normalised (torch)."""
    import torch

    cfg = gen.cfg
    noise = torch.stack([torch.randn(cfg.window, cfg.motion_dim, generator=g) for g in generators])  # B x W x D
    return sample_window_from_noise(gen, cond, noise, sampling, generators[0], known)


def generate_windows(gen, feats: np.ndarray, conditions: Conditions, seeds: list[int], sampling: Sampling,
                     show_progress: bool = False) -> np.ndarray:
    """T x F features -> B x T x 58 raw motion, one sample per seed (batched): sliding windows of W new
    frames, each conditioned on the previous window's last K frames."""
    import torch

    from anim3d.motion_codec import denormalize
    from anim3d.progress import progress

    cfg = gen.cfg
    T, W, K = feats.shape[0], cfg.window, cfg.prev
    B = len(seeds)
    generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
    out = np.zeros((B, T, cfg.motion_dim), np.float32)
    O = max(0, min(gen.inference.overlap, W - K - 1))  # frames generated by both windows at each join (inpainted)
    starts = window_starts(T, W, O)
    it = progress(starts, desc="animating", total=len(starts), unit="window") if show_progress else starts
    was_training = gen.model.training
    gen.model.eval()
    with torch.inference_mode():
        for s in it:
            prev = out[:, s - K : s] if s >= K else None
            cond = window_conditions(gen, feats, s, prev, conditions, B)
            known = out[:, s : s + min(O, T - s)] if s > 0 else None  # the overlap the last window made
            x = sample_window(gen, cond, generators, sampling, known).float().cpu().numpy()  # B x W x D
            n = min(W, T - s)
            out[:, s : s + n] = x[:, :n]
    gen.model.train(was_training)
    return denormalize(out, gen.mean, gen.std)
