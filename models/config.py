"""Dataclass configurations of the motion diffusion transformer (saved as ``config.json`` with every checkpoint)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from anim3d.emotions import EMOTIONS

MOTION_DIM = 58  # 52 blendshapes + 3 head rotation (axis-angle) + 3 head translation
STYLE_DIM = 2 * MOTION_DIM  # per-channel mean and std of a reference clip (normalised)
CONDITIONS = ("audio", "prev", "emotion", "gaze", "distance", "style")  # names for dropout and guidance


def _blendshape_indices(*prefixes: str) -> tuple[int, ...]:
    from anim3d.channels import ARKIT_NAMES

    return tuple(i for i, n in enumerate(ARKIT_NAMES) if n.startswith(prefixes))


# Named groups of the 58 motion channels (52 blendshapes in ARKit order, then head rotation and translation),
# for restricting a condition's guidance to the channels it drives.
CHANNEL_GROUPS: dict[str, tuple[int, ...]] = {
    "mouth": _blendshape_indices("jaw", "mouth", "cheek", "tongue"),
    "eyes": _blendshape_indices("eye"),
    "brows": _blendshape_indices("brow"),
    "nose": _blendshape_indices("nose"),
    "head": tuple(range(52, MOTION_DIM)),
}


def guidance_mask(groups, dim: int = MOTION_DIM) -> list[float]:
    """0/1 per motion channel: 1 on the channels of the named groups."""
    mask = [0.0] * dim
    for g in groups:
        if g not in CHANNEL_GROUPS:
            raise KeyError(f"unknown channel group {g!r} (choose from {', '.join(CHANNEL_GROUPS)})")
        for i in CHANNEL_GROUPS[g]:
            mask[i] = 1.0
    return mask


# options of earlier front ends that no shipped model used: a checkpoint may name them at these values only
RETIRED_FIELDS = {"phone_smoothing": 0.0, "phone_context": False, "window_norm": True}


@dataclass
class ModelConfig:
    name: str = "fast"
    # transformer
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.1
    # windows (frames at ``fps``)
    fps: float = 30.0
    window: int = 90  # frames generated per window
    prev: int = 8  # K: frames of the previous window given as X_pre / A_pre
    # audio front end
    audio_encoder: str = "logmel"  # "logmel" or a local transformers folder (Wav2Vec2 / HuBERT)
    sample_rate: int = 16000
    n_mels: int = 64
    subframes: int = 3  # audio feature vectors per motion frame (log-mel at 90 Hz for 30 fps)
    audio_dim: int = 3 * (64 + 1)  # subframes x (mels + log energy) for logmel; hidden size for an encoder
    audio_conv_layers: int = 0  # residual temporal conv blocks (kernel 5) over the audio tokens before the transformer
    # motion
    motion_dim: int = MOTION_DIM
    style_dim: int = STYLE_DIM
    num_emotions: int = len(EMOTIONS)
    emotions: tuple = EMOTIONS
    # diffusion (sigmas in normalised motion units, k-diffusion / EDM convention x = x0 + sigma * noise)
    sigma_min: float = 0.01
    sigma_max: float = 20.0
    sigma_data: float = 1.0
    # motion normalisation (filled from the training data; identity until then)
    motion_mean: list = field(default_factory=lambda: [0.0] * MOTION_DIM)
    motion_std: list = field(default_factory=lambda: [1.0] * MOTION_DIM)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["emotions"] = list(self.emotions)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        for key, default in RETIRED_FIELDS.items():
            if key in d and d[key] != default:
                raise ValueError(f"made with {key}={d[key]!r}, a front-end option anim3d no longer has")
        known = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        if "emotions" in d:
            d["emotions"] = tuple(d["emotions"])
        return cls(**d)


@dataclass
class InferenceConfig:
    """How a checkpoint is sampled unless a request says otherwise: the ``inference`` block of its config.json."""

    steps: int = 4
    sampler: str = "ddim"  # a name in models.diffusion.SAMPLERS
    guidance: dict = field(default_factory=dict)  # condition -> classifier-free guidance scale (none: one branch)
    # condition -> channel groups its guidance acts on (``CHANNEL_GROUPS``); absent = every channel
    guidance_channels: dict = field(default_factory=dict)
    # channel group -> sampler step after which the group keeps that step's x0 estimate while the later steps
    # refine the other groups (``anim3d.models.diffusion.KeepEstimate``); absent = refined by every step.
    # {"mouth": 1}: the mouth is the first step's estimate, the expected mouth for the audio
    group_steps: dict = field(default_factory=dict)
    # share of the rule-based mouth (the teacher's visemes on the audio's phones) blended into the generated
    # articulation channels (``anim3d.inference.mouth_blend``); 0: the model's mouth alone
    teacher_blend: float = 0.0
    # the share when the request gives the line's script (the rule-based mouth then follows the script's phones
    # aligned to the audio, ``anim3d.align``); None: ``teacher_blend``
    script_blend: float | None = None
    # share of the learned opening (``anim3d.inference.opening``, the checkpoint's opening.safetensors) in jawOpen
    opening_share: float = 0.0
    overlap: int = 12  # frames generated by both neighbouring windows, inpainted (12 measured seamless)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "InferenceConfig":
        return from_fields(cls, d, "inference setting")


def from_fields(cls, d: dict, what: str):
    """The dataclass ``cls`` from the dict ``d`` of its fields; a ValueError naming each unknown key as a ``what``."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"unknown {what}{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(known))})")
    return cls(**d)


# the inference settings of checkpoint format 1, where they sat in the "model" block under these names
FORMAT1_INFERENCE_KEYS = {"default_steps": "steps", "default_sampler": "sampler", "default_guidance": "guidance",
                          "guidance_channels": "guidance_channels", "group_steps": "group_steps",
                          "teacher_blend": "teacher_blend", "overlap": "overlap"}


def get_config(name: str, **overrides) -> ModelConfig:
    """A named configuration: ``fast`` (the shipped default), ``vasa`` (VASA-1's size, for GPUs), ``tiny`` (tests)."""
    presets = {
        "fast": dict(n_layer=4, n_head=4, n_embd=128),  # chosen by benchmarks/bench_model.py for 2 shared CPU cores
        "vasa": dict(n_layer=8, n_head=8, n_embd=512, window=75, prev=10),
        "tiny": dict(n_layer=2, n_head=2, n_embd=64, window=24, prev=4, dropout=0.0),
    }
    if name not in presets:
        raise KeyError(f"unknown model config {name!r} (choose from {', '.join(presets)})")
    cfg = ModelConfig(name=name, **presets[name])
    return dataclasses.replace(cfg, **overrides) if overrides else cfg


CONFIG_NAMES = ("fast", "vasa", "tiny")
