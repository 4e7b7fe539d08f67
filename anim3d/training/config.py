"""How a training run is set up (``TrainConfig``: saved in every checkpoint's metadata)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrainConfig:
    model: str = "fast"
    epochs: int = 10
    steps_per_epoch: int = 200
    batch_size: int = 32
    lr: float = 4e-4
    weight_decay: float = 0.01
    warmup: int = 100
    ema: float = 0.998
    grad_clip: float = 1.0
    seed: int = 0
    grad_accum: int = 1  # batch_size is the global batch: split over the processes, then into this many micro-batches
    mixed_precision: str = "auto"  # auto, no, bf16, fp16 (anim3d.training.distributed.mixed_precision_for)
    p_drop: float = 0.1
    p_drop_prev: float = 0.5
    p_truncate: float = 0.3
    p_start: float = 0.15  # windows that start an utterance (no X_pre)
    augment: bool = True
    velocity_weight: float = 1.0
    lip_weight: float = 2.0
    bilabial_weight: float = 0.0  # extra loss weight on the frames around each p/b/m's middle (where lips must meet)
    val_utterances: int = 24
    val_steps: int = 4
    max_minutes: float | None = None  # stop (after saving) when the time budget is used up
    init: str | None = None  # fine-tune: start from this checkpoint folder (its config and motion statistics)
    # inference settings written into the checkpoint (models.config.InferenceConfig fields), over those of the
    # init checkpoint (or the defaults)
    inference: dict = field(default_factory=dict)
    model_overrides: dict = field(default_factory=dict)
