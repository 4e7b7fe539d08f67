"""A loaded motion model: ``MotionGenerator`` owns the network, its device, its audio front end, its motion
statistics and its inference settings; ``load_model`` loads a checkpoint once per device."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from anim3d.audio import Audio, resample
from anim3d.device import cpu_threads
from anim3d.inference.settings import ConditionError
from anim3d.motion import Motion

_CACHE: dict = {}


def default_checkpoint():
    """The shipped default model's folder."""
    from anim3d.models.checkpoint import DEFAULT_DIR

    return DEFAULT_DIR


class MotionGenerator:
    """A motion model ready to sample: ``model`` (MotionTransformer), ``cfg`` (ModelConfig), ``inference``
    (InferenceConfig: the checkpoint's sampling defaults), ``device``, ``front_end`` (audio -> features;
    None for a generator that is handed features, as training's validation is)."""

    def __init__(self, model, cfg, inference=None, device="cpu", metadata: dict | None = None,
                 audio_encoder: str | None = None, front_end: bool = True, opening=None):
        from anim3d.models.config import InferenceConfig

        self.model, self.cfg, self.device = model, cfg, device
        self.opening = opening  # the learned mouth opening (models.opening.OpeningNet) or None
        self.inference = inference or InferenceConfig()
        self.metadata = metadata or {}
        if audio_encoder and audio_encoder != cfg.audio_encoder:
            self.cfg = cfg = dataclasses.replace(cfg, audio_encoder=audio_encoder)
        self.front_end = None
        if front_end:
            from anim3d.models.front_ends import build_front_end

            self.front_end = build_front_end(cfg, device=device)
        self.mean = np.asarray(cfg.motion_mean, np.float32)
        self.std = np.asarray(cfg.motion_std, np.float32)

    @classmethod
    def load(cls, folder, device="cpu", audio_encoder: str | None = None) -> "MotionGenerator":
        from anim3d.models.checkpoint import load_checkpoint, read_inference
        from anim3d.models.opening import has_opening, load_opening

        model, cfg, meta = load_checkpoint(folder, device)
        inference = read_inference(folder)
        opening = load_opening(folder, device) if has_opening(folder) or inference.opening_share > 0 else None
        return cls(model, cfg, inference, device, meta, audio_encoder, opening=opening)

    # ----------------------------------------------------------- features
    def samples(self, audio: Audio, num_frames: int | None = None) -> tuple[np.ndarray, int]:
        """The audio at the model's sample rate and its frame count (default: the audio's duration)."""
        x = audio.samples
        if audio.sample_rate != self.cfg.sample_rate:
            x = resample(x, audio.sample_rate, self.cfg.sample_rate)
        if num_frames is None:
            num_frames = max(1, int(round(len(x) / self.cfg.sample_rate * self.cfg.fps)))
        return x, num_frames

    def features(self, audio: Audio, num_frames: int | None = None) -> np.ndarray:
        """T x F audio features at the model's frame rate (T defaults to the audio's duration)."""
        x, num_frames = self.samples(audio, num_frames)
        return self.front_end(x, num_frames)

    def features_and_rule_mouth(self, audio: Audio, num_frames: int | None = None, script=None):
        """``features``, the T x 52 rule-based mouth to blend with the generated one (``mouth_blend``) and the
        ``script``'s phones aligned to the audio (None without a script, or when it does not match the audio: then
        the rule-based mouth follows the phones the audio's phone loop hears). With the phone front end, its
        phone log-likelihoods are reused rather than scored again."""
        from anim3d.inference.mouth_blend import rule_mouth, scored_loglik, script_phones
        from anim3d.phonetic import SAMPLE_RATE

        x, num_frames = self.samples(audio, num_frames)
        if hasattr(self.front_end, "features_and_loglik"):  # the phone front end (16 kHz, as the phone loop)
            feats, loglik, first = self.front_end.features_and_loglik(x, num_frames)
            x16 = x
        else:
            feats = self.front_end(x, num_frames)
            x16 = resample(x, self.cfg.sample_rate, SAMPLE_RATE) if self.cfg.sample_rate != SAMPLE_RATE else x
            with cpu_threads(self.device):
                loglik, first = scored_loglik(x16), 0
        phones = script_phones(loglik, first, x16, script, audio.path) if script is not None else None
        return feats, rule_mouth(loglik, first, x16, num_frames, self.cfg.fps, phones), phones

    def check_opening(self, share: float) -> None:
        """A ConditionError when an opening share > 0 asks for a learned opening this model cannot give."""
        if share <= 0:
            return
        if self.opening is None:
            raise ConditionError("this model has no learned opening (opening.safetensors); use an opening share of 0")
        if self.front_end is not None and self.opening.cfg.in_dim != self.front_end.dim:
            raise ConditionError(f"the learned opening reads {self.opening.cfg.in_dim} features, this model's front end "
                                 f"gives {self.front_end.dim}")

    def learned_jaw(self, feats: np.ndarray) -> np.ndarray:
        """T x F features -> (T,) jawOpen of the learned opening (``anim3d.inference.opening``)."""
        from anim3d.inference.opening import learned_jaw

        self.check_opening(1.0)
        with cpu_threads(self.device):
            return learned_jaw(self.opening, feats)

    def style_from(self, style) -> np.ndarray | None:
        """A Motion, a Motion .npz or a Live Link Face .csv path -> (116,) style vector (None -> None)."""
        from anim3d.motion_codec import motion_to_array, normalize, style_vector

        if style is None:
            return None
        if isinstance(style, np.ndarray) and style.shape == (self.cfg.style_dim,):
            return style.astype(np.float32)
        if isinstance(style, (str, os.PathLike)):
            from anim3d.exporters.motion_io import load_motion

            style = load_motion(style)
        if not isinstance(style, Motion):
            raise ConditionError(f"style must be a Motion, a .npz or a Live Link Face .csv, got {type(style).__name__}")
        if style.fps != self.cfg.fps:
            style = style.resample(self.cfg.fps)
        return style_vector(normalize(motion_to_array(style), self.mean, self.std))

    def to_motion(self, raw: np.ndarray) -> Motion:
        """T x 58 raw motion -> Motion at the model's frame rate."""
        from anim3d.motion_codec import array_to_motion

        return array_to_motion(raw, self.cfg.fps)


def load_model(checkpoint=None, device="cpu", audio_encoder: str | None = None) -> MotionGenerator:
    """The model in ``checkpoint`` (a folder; None: the shipped default), loaded once per device and encoder."""
    from anim3d.device import resolve_device

    dev = resolve_device(str(device)) if not hasattr(device, "type") else device
    folder = os.fspath(checkpoint) if checkpoint is not None else str(default_checkpoint())
    key = (os.path.abspath(folder), str(dev), audio_encoder)
    if key not in _CACHE:
        _CACHE[key] = MotionGenerator.load(folder, dev, audio_encoder)
    return _CACHE[key]
