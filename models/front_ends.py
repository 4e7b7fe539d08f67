"""Which audio front end a model config asks for, and how many features it gives: the one place that knows
every front end (log-mel, pocketsphinx phone posteriors, a local transformers encoder)."""

from __future__ import annotations

from anim3d.errors import Anim3dError, InputError
from anim3d.models.audio_features import LogMelFrontEnd, TransformersFrontEnd


def build_front_end(cfg, device="cpu"):
    """The front end a model config asks for."""
    if cfg.audio_encoder in ("", "logmel", None):
        return LogMelFrontEnd(cfg.sample_rate, cfg.n_mels, cfg.subframes, cfg.fps)
    if cfg.audio_encoder == "phones":
        from anim3d.models.phone_features import PhoneFrontEnd  # loads pocketsphinx's model: only when asked

        fe = PhoneFrontEnd(cfg.sample_rate, cfg.subframes, cfg.fps)
    else:
        fe = TransformersFrontEnd(cfg.audio_encoder, cfg.sample_rate, cfg.fps, device=device)
    if fe.dim != cfg.audio_dim:
        raise Anim3dError(f"audio encoder {cfg.audio_encoder} gives {fe.dim}-d features but the model expects {cfg.audio_dim}")
    return fe


def front_end_dim(audio_encoder: str, n_mels: int = 64, subframes: int = 3) -> int:
    """Feature size of a front end without loading weights (reads the encoder's config.json)."""
    if audio_encoder in ("", "logmel", None):
        return subframes * (n_mels + 1)
    if audio_encoder == "phones":
        from anim3d.models.phone_features import N_FEATURES

        return subframes * N_FEATURES
    from transformers import AutoConfig

    try:
        return int(AutoConfig.from_pretrained(audio_encoder, local_files_only=True).hidden_size)
    except (OSError, ValueError) as e:
        raise InputError(audio_encoder, f"not a usable transformers audio encoder ({e})") from None
