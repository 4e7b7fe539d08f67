"""Training-time augmentation of audio features, done on whole batches in torch so that every window sees a
different channel and speaker. Log-mel features (``models.audio_features.LogMelFrontEnd`` output): frequency
warp, spectral tilt, gain (optionally drifting within the window), a noise floor and a masked band. Phone
features (``models.phone_features.PhoneFrontEnd``): a slowly drifting loudness on their log energy, and
(``pick_features``) windows drawn from copies made through warped filterbanks (``--vtln-copies``).
Waveform augmentation (noise, reverb, codecs) happens earlier, in the data engine (``anim3d.data.augment``).
"""

from __future__ import annotations


def augment_features(feats, cfg, gain_envelope: float, rng):
    """The training augmentation for the model config's front end (``cfg.audio_encoder``) of B x L x F
    features: ``augment_logmel`` for log-mel, ``augment_phones`` for phones when ``gain_envelope`` > 0, none
    otherwise. ``rng`` (numpy) seeds the draw, and is drawn from only when something is augmented."""
    import torch

    if cfg.audio_encoder == "logmel":
        g = torch.Generator().manual_seed(int(rng.integers(2**31)))
        return augment_logmel(feats, cfg.n_mels, cfg.subframes, g, gain_envelope=gain_envelope)
    if cfg.audio_encoder == "phones" and gain_envelope > 0:
        from models.phone_features import ENERGY_PER_NAT, N_FEATURES

        g = torch.Generator().manual_seed(int(rng.integers(2**31)))
        n = cfg.subframes * N_FEATURES  # the phone context, when there, follows: loudness does not touch it
        drifted = augment_phones(feats[..., :n], cfg.subframes, N_FEATURES, ENERGY_PER_NAT, g, gain_envelope)
        return torch.cat([drifted, feats[..., n:]], dim=-1)
    return feats


def loudness_envelope(batch: int, length: int, knot_every: int, max_std: float, generator):
    """B x length x 1 slow random loudness curves (nats): Gaussian knots every ``knot_every`` steps, linearly
    interpolated, each curve's std drawn in [0, max_std]. Vocal effort that the mouth does not follow."""
    import torch

    knots = length // knot_every + 3  # (knots - 1) * knot_every >= length + knot_every: room for any start
    k = torch.randn(batch, 1, knots, generator=generator)  # B x 1 x knots
    curve = torch.nn.functional.interpolate(k, size=(knots - 1) * knot_every, mode="linear", align_corners=True)
    start = int(torch.randint(0, knot_every, (1,), generator=generator))
    curve = curve[..., start : start + length]  # B x 1 x length
    curve = (curve - curve.mean(dim=2, keepdim=True)) / (curve.std(dim=2, keepdim=True, correction=0) + 1e-6)
    return (curve * max_std * torch.rand(batch, 1, 1, generator=generator)).transpose(1, 2)


def augment_logmel(feats, n_mels: int, subframes: int, generator, gain_envelope: float = 0.0):
    """Channel/speaker augmentation of B x L x (S * (M + 1)) log-mel features (energy is the last of each M + 1).

    Frequency warp (vocal tract length, 0.85-1.18), spectral tilt (+-3 nats across the band), gain (+-2),
    an additive noise floor, and one masked mel band. Keeps the real/synthetic gap from being a shortcut.
    With ``gain_envelope`` > 0 the gain also drifts slowly within the window (``loudness_envelope``, knots
    every 0.3 s), so that loudness alone is a weaker cue for how far the mouth opens.
    """
    import torch

    B, L, _ = feats.shape
    g = generator
    x = feats.view(B, L * subframes, n_mels + 1)
    mel, energy = x[..., :n_mels], x[..., n_mels:]
    u = lambda lo, hi, *shape: lo + (hi - lo) * torch.rand(*shape, generator=g)  # noqa: E731
    alpha = u(0.85, 1.18, B, 1)  # B x 1
    pos = (torch.arange(n_mels, dtype=torch.float32)[None] / alpha).clamp(0, n_mels - 1)  # B x M
    i0 = pos.floor().long()
    i1 = (i0 + 1).clamp(max=n_mels - 1)
    w = (pos - i0)[:, None]  # B x 1 x M
    idx0 = i0[:, None].expand(B, L * subframes, n_mels)
    idx1 = i1[:, None].expand(B, L * subframes, n_mels)
    mel = (1 - w) * mel.gather(2, idx0) + w * mel.gather(2, idx1)
    tilt = u(-3, 3, B, 1, 1) * (torch.arange(n_mels, dtype=torch.float32) / (n_mels - 1) - 0.5)
    gain = u(-2, 2, B, 1, 1)
    if gain_envelope > 0:
        gain = gain + loudness_envelope(B, L * subframes, 9 * subframes, gain_envelope, g)  # B x L*S x 1
    mel = mel + tilt + gain
    energy = energy + gain
    floor = u(-12, -2, B, 1, 1)
    mel = torch.logaddexp(mel, floor + 0.3 * torch.randn(mel.shape, generator=g))
    energy = torch.logaddexp(energy, floor + 1.0)
    band_lo = torch.randint(0, n_mels - 8, (B,), generator=g)
    band = (torch.arange(n_mels)[None] >= band_lo[:, None]) & (torch.arange(n_mels)[None] < band_lo[:, None] + torch.randint(0, 8, (B,), generator=g)[:, None])
    mel = torch.where(band[:, None], mel.mean(dim=2, keepdim=True), mel)
    return torch.cat([mel, energy], dim=2).reshape(B, L, subframes * (n_mels + 1))


def augment_phones(feats, subframes: int, n_features: int, energy_per_nat: float, generator, gain_envelope: float):
    """Loudness augmentation of B x L x (S * n_features) phone features (log energy is the last of each
    n_features): a slow random loudness curve (``loudness_envelope``, std up to ``gain_envelope`` nats, knots
    every 0.3 s) is added to the energy, ``energy_per_nat`` feature units per nat. The posteriors are left
    alone (they come from mean-removed cepstra).

    Why: on the real clips, the slow part of stage 7's mouth follows the energy feature's more closely than
    its teacher's does (r 0.85 against 0.74). Training with this drift did not raise real r there
    (docs/model.md, "Ninth session")."""
    import torch

    B, L, _ = feats.shape
    x = feats.reshape(B, L * subframes, n_features)
    env = loudness_envelope(B, L * subframes, 9 * subframes, gain_envelope, generator)  # B x L*S x 1
    x = torch.cat([x[..., :-1], x[..., -1:] + energy_per_nat * env], dim=2)
    return x.reshape(B, L, subframes * n_features)


def pick_features(example, rng):
    """A training example's features (T x F) or, with ``--vtln-copies``, one of its warped copies
    (``Example.feats_warped``), all equally likely; draws nothing from ``rng`` when there are no copies
    (training without them stays as it was)."""
    if not example.feats_warped:
        return example.feats
    return ([example.feats] + example.feats_warped)[int(rng.integers(1 + len(example.feats_warped)))]
