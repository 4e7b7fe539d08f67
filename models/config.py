"""Dataclass configurations of the motion diffusion transformer (saved as ``config.json`` with every checkpoint)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

# The emotion labels, in the data engine's order (anim3d.data.teacher.EMOTIONS must match; a test checks).
EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "surprised", "fear", "disgusted", "angry", "contempt")

MOTION_DIM = 58  # 52 blendshapes + 3 head rotation (axis-angle) + 3 head translation
STYLE_DIM = 2 * MOTION_DIM  # per-channel mean and std of a reference clip (normalised)
CONDITIONS = ("audio", "prev", "emotion", "gaze", "distance", "style")  # names for dropout and guidance


@dataclass
class ModelConfig:
    name: str = "fast"
    # transformer
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 256
    dropout: float = 0.1
    # windows (frames at ``fps``)
    fps: float = 30.0
    window: int = 60  # frames generated per window
    prev: int = 8  # K: frames of the previous window given as X_pre / A_pre
    # audio front end
    audio_encoder: str = "logmel"  # "logmel" or a local transformers folder (Wav2Vec2 / HuBERT)
    sample_rate: int = 16000
    n_mels: int = 64
    subframes: int = 3  # audio feature vectors per motion frame (log-mel at 90 Hz for 30 fps)
    audio_dim: int = 3 * (64 + 1)  # subframes x (mels + log energy) for logmel; hidden size for an encoder
    # motion
    motion_dim: int = MOTION_DIM
    style_dim: int = STYLE_DIM
    num_emotions: int = len(EMOTIONS)
    emotions: tuple = EMOTIONS
    # diffusion (sigmas in normalised motion units, k-diffusion / EDM convention x = x0 + sigma * noise)
    sigma_min: float = 0.01
    sigma_max: float = 20.0
    sigma_data: float = 1.0
    default_steps: int = 4
    default_guidance: dict = field(default_factory=lambda: {"audio": 1.5})
    # motion normalisation (filled from the training data; identity until then)
    motion_mean: list = field(default_factory=lambda: [0.0] * MOTION_DIM)
    motion_std: list = field(default_factory=lambda: [1.0] * MOTION_DIM)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["emotions"] = list(self.emotions)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        if "emotions" in d:
            d["emotions"] = tuple(d["emotions"])
        return cls(**d)


def get_config(name: str, **overrides) -> ModelConfig:
    """A named configuration: ``fast`` (the shipped default), ``vasa`` (VASA-1's size, for GPUs), ``tiny`` (tests)."""
    presets = {
        "fast": dict(n_layer=4, n_head=4, n_embd=256),
        "vasa": dict(n_layer=8, n_head=8, n_embd=512, window=75, prev=10),
        "tiny": dict(n_layer=2, n_head=2, n_embd=64, window=24, prev=4, dropout=0.0),
    }
    if name not in presets:
        raise KeyError(f"unknown model config {name!r} (choose from {', '.join(presets)})")
    cfg = ModelConfig(name=name, **presets[name])
    return dataclasses.replace(cfg, **overrides) if overrides else cfg


CONFIG_NAMES = ("fast", "vasa", "tiny")
