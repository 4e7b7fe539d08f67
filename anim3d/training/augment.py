"""Training-time augmentation of audio features, done on whole batches in torch so that every window sees a
different channel and speaker. Log-mel features (``anim3d.models.audio_features.LogMelFrontEnd`` output): frequency
warp, spectral tilt, gain, a noise floor and a masked band. Phone features (``anim3d.models.phone_features``) are
posteriors of mean-removed cepstra and are not augmented here. Waveform augmentation (noise, reverb, codecs)
happens earlier, in the data engine (``anim3d.data.augment``).
"""

from __future__ import annotations


def augment_features(feats, cfg, rng, rows=None, total=None):
    """The training augmentation for the model config's front end (``cfg.audio_encoder``) of B x L x F
    features: ``augment_logmel`` for log-mel, none otherwise. ``rng`` (numpy) seeds the draw, and is drawn
    from only when something is augmented. ``rows``/``total``: see ``augment_logmel``."""
    import torch

    if cfg.audio_encoder == "logmel":
        g = torch.Generator().manual_seed(int(rng.integers(2**31)))
        return augment_logmel(feats, cfg.n_mels, cfg.subframes, g, rows, total)
    return feats


def augment_logmel(feats, n_mels: int, subframes: int, generator, rows=None, total=None):
    """Channel/speaker augmentation of B x L x (S * (M + 1)) log-mel features (energy is the last of each M + 1).

    Frequency warp (vocal tract length, 0.85-1.18), spectral tilt (+-3 nats across the band), gain (+-2),
    an additive noise floor, and one masked mel band. Keeps the real/synthetic gap from being a shortcut.
    ``rows`` (B indices into a batch of ``total``): the features are those rows of the larger batch, and get the
    augmentation those rows would get there (every draw is made for ``total`` rows; distributed training).
    """
    import torch

    B, L, _ = feats.shape
    g = generator
    x = feats.view(B, L * subframes, n_mels + 1)
    mel, energy = x[..., :n_mels], x[..., n_mels:]
    pick = (lambda t: t) if rows is None else (lambda t: t[torch.as_tensor(rows)])  # noqa: E731
    n = B if rows is None else total

    def u(lo, hi, *shape):
        return pick(lo + (hi - lo) * torch.rand(n, *shape, generator=g))

    alpha = u(0.85, 1.18, 1)  # B x 1
    pos = (torch.arange(n_mels, dtype=torch.float32)[None] / alpha).clamp(0, n_mels - 1)  # B x M
    i0 = pos.floor().long()
    i1 = (i0 + 1).clamp(max=n_mels - 1)
    w = (pos - i0)[:, None]  # B x 1 x M
    idx0 = i0[:, None].expand(B, L * subframes, n_mels)
    idx1 = i1[:, None].expand(B, L * subframes, n_mels)
    mel = (1 - w) * mel.gather(2, idx0) + w * mel.gather(2, idx1)
    tilt = u(-3, 3, 1, 1) * (torch.arange(n_mels, dtype=torch.float32) / (n_mels - 1) - 0.5)
    gain = u(-2, 2, 1, 1)
    mel = mel + tilt + gain
    energy = energy + gain
    floor = u(-12, -2, 1, 1)
    mel = torch.logaddexp(mel, floor + 0.3 * pick(torch.randn((n, *mel.shape[1:]), generator=g)))
    energy = torch.logaddexp(energy, floor + 1.0)
    band_lo = pick(torch.randint(0, n_mels - 8, (n,), generator=g))
    band_hi = band_lo + pick(torch.randint(0, 8, (n,), generator=g))
    band = (torch.arange(n_mels)[None] >= band_lo[:, None]) & (torch.arange(n_mels)[None] < band_hi[:, None])
    mel = torch.where(band[:, None], mel.mean(dim=2, keepdim=True), mel)
    return torch.cat([mel, energy], dim=2).reshape(B, L, subframes * (n_mels + 1))
