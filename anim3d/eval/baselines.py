"""The methods an evaluation compares, each an ``(audio, seed) -> Motion`` callable:

- ``loudness``: loudness -> jaw, the log-RMS envelope of the audio drives jawOpen;
- ``phones+teacher``: a Rhubarb-Lip-Sync-style baseline, phones recognised in the audio by
  pocketsphinx drive the project's teacher (``anim3d.teacher.phones_to_motion``);
- ``model``: ``anim3d.inference.animate`` with a checkpoint (or the default model).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from anim3d.audio import Audio
from anim3d.channels import INDEX, NUM_BLENDSHAPES
from anim3d.motion import Motion


@dataclass
class Method:
    name: str
    generate: Callable[..., Motion]  # (audio, seed=0, **controls) -> Motion
    description: str = ""
    stochastic: bool = False  # different seeds give different motions
    controls: tuple[str, ...] = field(default_factory=tuple)  # e.g. ("emotion", "intensity")
    model: object = None  # the MotionGenerator behind it, for the model itself (``model_method``)


# ------------------------------------------------------------------ loudness -> jaw


def log_rms_envelope(audio: Audio, fps: float = 30.0, num_frames: int | None = None) -> np.ndarray:
    """(T,) log RMS (dB) in a window of 2 frame periods centred on each frame's instant."""
    x = np.asarray(audio.samples, dtype=np.float64)
    sr = audio.sample_rate
    n = num_frames if num_frames is not None else max(1, int(round(len(x) / sr * fps)))
    half = int(round(sr / fps))
    centres = np.round(np.arange(n) / fps * sr).astype(np.int64)
    c = np.concatenate([[0.0], np.cumsum(x * x)])  # prefix sums of energy
    lo = np.clip(centres - half, 0, len(x))
    hi = np.clip(centres + half, 0, len(x))
    energy = (c[hi] - c[lo]) / np.maximum(hi - lo, 1)
    return 10.0 * np.log10(energy + 1e-10)


def loudness_to_jaw(db: np.ndarray, max_open: float = 0.6, range_db: float = 40.0) -> np.ndarray:
    """dB envelope -> jawOpen in [0, max_open]: the loudest 1 % maps to max_open, anything
    ``range_db`` below it (or quieter) to 0, linear in dB."""
    top = np.percentile(db, 99)
    return np.clip((db - (top - range_db)) / range_db, 0.0, 1.0) * max_open


def loudness_motion(audio: Audio, seed: int = 0, fps: float = 30.0, **_) -> Motion:
    jaw = loudness_to_jaw(log_rms_envelope(audio, fps))
    bs = np.zeros((jaw.size, NUM_BLENDSHAPES), np.float32)
    bs[:, INDEX["jawOpen"]] = jaw
    z = np.zeros((jaw.size, 3), np.float32)
    return Motion(bs, z, z.copy(), fps)


# ------------------------------------------------------------------ phones -> teacher


def phone_teacher_motion(audio: Audio, seed: int = 0, fps: float = 30.0, **controls) -> Motion:
    from anim3d.teacher import phones_to_motion

    phones = _recognized(audio)
    return phones_to_motion(phones, audio.duration, fps=fps, audio=audio, seed=seed, **controls)


_PHONE_CACHE: dict[str, list] = {}


def _recognized(audio: Audio) -> list:
    """pocketsphinx phones of ``audio`` ("words" mode), memoised by content in memory (emotion and
    seed sweeps animate the same audio many times) and on disk (``anim3d.eval.cache``)."""
    from anim3d.eval.cache import audio_hash, cached_phones

    key = audio_hash(audio)
    if key not in _PHONE_CACHE:
        if len(_PHONE_CACHE) > 64:
            _PHONE_CACHE.clear()
        _PHONE_CACHE[key] = cached_phones(audio)
    return _PHONE_CACHE[key]


# ------------------------------------------------------------------ the model


def model_method(model: str | None = "default", device: str = "cpu", steps: int | None = None) -> Method:
    """The motion model as a Method: the shipped default, or a checkpoint folder (errors name the folder)."""
    from anim3d.inference import animate, load_model

    gen = load_model(None if model in (None, "default") else model, device)
    label = "model" if model in (None, "default") else f"model ({os.path.basename(os.path.normpath(model))})"

    def generate(audio: Audio, seed: int = 0, fps: float = 30.0, **controls) -> Motion:
        m = animate(audio, checkpoint=gen, seed=seed, steps=steps, **controls)
        return m if abs(m.fps - fps) < 1e-6 else m.resample(fps)

    kept = ", ".join(f"{g} kept from step {k}" for g, k in gen.inference.group_steps.items())
    what = f"anim3d.inference.animate ({gen.cfg.name} config, {steps or gen.inference.steps} steps{', ' + kept if kept else ''})"
    return Method(label, generate, what, stochastic=True, controls=("emotion", "intensity", "gaze", "distance"), model=gen)


def available_methods(model: str | None = "default", device: str = "cpu", steps: int | None = None) -> list[Method]:
    """The methods an evaluation compares: loudness -> jaw, phones -> teacher, and the model (unless ``model`` is None)."""
    methods = [
        Method("loudness", loudness_motion, "log-RMS loudness -> jawOpen"),
        Method("phones+teacher", phone_teacher_motion, "pocketsphinx words + forced-aligned phones -> teacher (Rhubarb-style)",
               stochastic=True, controls=("emotion", "intensity", "gaze", "distance")),
    ]
    if model is not None:
        methods.append(model_method(model, device, steps))
    return methods
