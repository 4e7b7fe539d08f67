"""Speech -> Motion with the motion diffusion transformer (the library entry point).

``animate(audio, ...)`` is what the CLI, the evaluation tools and users call. ``MotionGenerator`` is the
thin wrapper that owns a model, its device and its audio front end; ``generate_windows`` is the
sliding-window sampler shared with training validation and streaming.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anim3d.audio import Audio, resample
from anim3d.device import cpu_threads
from anim3d.errors import Anim3dError, InputError
from anim3d.motion import Motion

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "models" / "default"
SAMPLER = "ddim"
SEED_MAX = 2**32 - 1  # seeds are whole numbers in [0, 2^32 - 1]; sample i of a batch uses seed + i


class ConditionError(Anim3dError):
    """A control value (emotion, intensity, gaze, guidance...) that the model cannot use."""


@dataclass
class Controls:
    """The per-request conditions, already checked."""

    emotion: int = 0
    intensity: float = 1.0
    gaze: tuple = (0.0, 0.0)  # yaw (toward the subject's left), pitch (down), radians; None = free
    distance: float | None = 0.0  # metres of forward head offset; None = free
    style: np.ndarray | None = None  # (116,) normalised style vector


def check_controls(cfg, emotion="neutral", intensity=1.0, gaze=(0.0, 0.0), distance=0.0, style=None) -> Controls:
    names = list(cfg.emotions)
    key = str(emotion).strip().lower()
    if key not in names:
        raise ConditionError(f"unknown emotion {emotion!r}; choose one of: {', '.join(names)}")
    try:
        intensity = float(intensity)
    except (TypeError, ValueError):
        raise ConditionError(f"intensity must be a number between 0 and 1, got {intensity!r}") from None
    if not (0.0 <= intensity <= 1.0):
        raise ConditionError(f"intensity must be between 0 and 1, got {intensity}")
    if gaze is not None:
        try:
            gaze = tuple(float(g) for g in gaze)
        except (TypeError, ValueError):
            gaze = ()
        if len(gaze) != 2 or not all(np.isfinite(gaze)) or max(abs(g) for g in gaze) > 0.8:
            raise ConditionError(f"gaze must be (yaw, pitch) in radians, each within +-0.8, got {gaze!r}")
    if distance is not None:
        distance = float(distance)
        if not (np.isfinite(distance) and abs(distance) <= 0.3):
            raise ConditionError(f"distance must be a head offset in metres within +-0.3, got {distance}")
    return Controls(names.index(key), intensity, gaze, distance, style)


def check_teacher_blend(cfg, share: float | None) -> float:
    """The teacher blend share to use: ``share``, or the checkpoint's when None; a ConditionError outside [0, 1]."""
    from anim3d.mouth_blend import check_share

    try:
        return check_share(getattr(cfg, "teacher_blend", 0.0) if share is None else share)
    except (TypeError, ValueError) as e:
        raise ConditionError(str(e)) from None


def check_guidance(guidance: dict | None, cfg) -> dict:
    from models.config import CONDITIONS

    g = dict(cfg.default_guidance) if guidance is None else dict(guidance)
    for k, v in g.items():
        if k not in CONDITIONS:
            raise ConditionError(f"unknown guidance condition {k!r}; choose from {', '.join(CONDITIONS)}")
        if not (isinstance(v, (int, float)) and np.isfinite(v) and 0.0 <= v <= 10.0):
            raise ConditionError(f"guidance scale for {k} must be a number in [0, 10], got {v!r}")
    return g


class MotionGenerator:
    """A loaded motion model with its device and audio front end."""

    def __init__(self, model, cfg, device="cpu", metadata: dict | None = None, audio_encoder: str | None = None):
        from models.audio_features import build_front_end

        self.model, self.cfg, self.device = model, cfg, device
        self.metadata = metadata or {}
        if audio_encoder and audio_encoder != cfg.audio_encoder:
            import dataclasses

            self.cfg = cfg = dataclasses.replace(cfg, audio_encoder=audio_encoder)
        self.front_end = build_front_end(cfg, device=device)
        self.mean = np.asarray(cfg.motion_mean, np.float32)
        self.std = np.asarray(cfg.motion_std, np.float32)

    @classmethod
    def load(cls, folder, device="cpu", audio_encoder: str | None = None) -> "MotionGenerator":
        from models.checkpoint import load_checkpoint

        model, cfg, meta = load_checkpoint(folder, device)
        return cls(model, cfg, device, meta, audio_encoder)

    # ----------------------------------------------------------- features
    def _samples(self, audio: Audio, num_frames: int | None) -> tuple[np.ndarray, int]:
        x = audio.samples
        if audio.sample_rate != self.cfg.sample_rate:
            x = resample(x, audio.sample_rate, self.cfg.sample_rate)
        if num_frames is None:
            num_frames = max(1, int(round(len(x) / self.cfg.sample_rate * self.cfg.fps)))
        return x, num_frames

    def features(self, audio: Audio, num_frames: int | None = None) -> np.ndarray:
        """T x F audio features at the model's frame rate (T defaults to the audio's duration)."""
        x, num_frames = self._samples(audio, num_frames)
        return self.front_end(x, num_frames)

    def features_and_rule_mouth(self, audio: Audio, num_frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``features`` and the T x 52 rule-based mouth to blend with the generated one (``anim3d.mouth_blend``);
        with the phone front end, its phone log-likelihoods are reused rather than scored again."""
        from anim3d.mouth_blend import rule_mouth, scored_loglik
        from anim3d.phonetic import SAMPLE_RATE

        x, num_frames = self._samples(audio, num_frames)
        if hasattr(self.front_end, "features_and_loglik"):  # the phone front end (16 kHz, as the phone loop)
            feats, loglik, first = self.front_end.features_and_loglik(x, num_frames)
            x16 = x
        else:
            feats = self.front_end(x, num_frames)
            x16 = resample(x, self.cfg.sample_rate, SAMPLE_RATE) if self.cfg.sample_rate != SAMPLE_RATE else x
            with cpu_threads(self.device):
                loglik, first = scored_loglik(x16), 0
        return feats, rule_mouth(loglik, first, x16, num_frames, self.cfg.fps)

    def style_from(self, style) -> np.ndarray | None:
        """A Motion, a Motion NPZ or a Live Link Face CSV -> (116,) style vector."""
        from anim3d.motion_codec import motion_to_array, normalize, style_vector

        if style is None:
            return None
        if isinstance(style, np.ndarray) and style.shape == (self.cfg.style_dim,):
            return style.astype(np.float32)
        if isinstance(style, (str, os.PathLike)):
            style = load_style_clip(style)
        if not isinstance(style, Motion):
            raise ConditionError(f"style must be a Motion, a .npz or a Live Link Face .csv, got {type(style).__name__}")
        if style.fps != self.cfg.fps:
            style = style.resample(self.cfg.fps)
        return style_vector(normalize(motion_to_array(style), self.mean, self.std))

    # ----------------------------------------------------------- sampling
    def generate(self, feats: np.ndarray, controls: Controls, seeds: list[int], steps: int | None = None,
                 guidance: dict | None = None, sampler: str | None = None, show_progress: bool = False,
                 group_steps: dict | None = None) -> np.ndarray:
        """T x F features -> N x T x 58 raw motion, one sample per seed, all samples batched."""
        sampler = sampler or getattr(self.cfg, "default_sampler", SAMPLER)
        group_steps = check_group_steps(group_steps, self.cfg, steps or self.cfg.default_steps)  # a clear error before any work
        return generate_windows(self, feats, controls, seeds, steps, check_guidance(guidance, self.cfg), sampler, show_progress,
                                group_steps)

    def to_motion(self, raw: np.ndarray) -> Motion:
        from anim3d.motion_codec import array_to_motion

        return array_to_motion(raw, self.cfg.fps)


def load_style_clip(path) -> Motion:
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if not os.path.isfile(path):
        raise InputError(path, "style clip not found")
    if ext == ".npz":
        return Motion.load_npz(path)
    if ext == ".csv":
        try:
            from exporters.livelink import read_livelink_csv
        except ImportError:
            raise InputError(path, "reading Live Link Face CSV needs exporters.livelink.read_livelink_csv") from None
        out = read_livelink_csv(path)
        return out[0] if isinstance(out, tuple) else out
    raise InputError(path, "style clip must be a Motion .npz or a Live Link Face .csv")


def window_conditions(gen: MotionGenerator, feats: np.ndarray, start: int, prev: np.ndarray | None, controls: Controls,
                      batch: int, audio_frames: int | None = None) -> dict:
    """Condition tensors for the window of frames [start, start + W) (batched ``batch`` times).

    feats: T x F features of the whole known audio; prev: B x K x 58 normalised X_pre or None;
    audio_frames: how many frames of audio exist (frames beyond are marked absent).
    """
    import torch

    from models.audio_features import normalize_window

    cfg, dev = gen.cfg, gen.device
    K, W = cfg.prev, cfg.window
    T = feats.shape[0] if audio_frames is None else audio_frames
    idx = np.arange(start - K, start + W)
    present = (idx >= 0) & (idx < min(T, feats.shape[0]))
    if prev is None:
        present[:K] = False
    a = np.zeros((K + W, feats.shape[1]), np.float32)
    a[present] = feats[idx[present]]
    a_t = torch.from_numpy(a)[None]
    m_t = torch.from_numpy(present)[None]
    a_t = normalize_window(a_t, m_t)
    gaze = controls.gaze if controls.gaze is not None else (0.0, 0.0)
    dist = controls.distance if controls.distance is not None else 0.0
    from anim3d.motion_codec import DISTANCE_SCALE

    one = {
        "audio": a_t,
        "audio_mask": m_t,
        "prev": torch.zeros(1, K, cfg.motion_dim),
        "prev_mask": torch.tensor([prev is not None]),
        "emotion": torch.tensor([controls.emotion]),
        "intensity": torch.tensor([controls.intensity], dtype=torch.float32),
        "emotion_mask": torch.tensor([True]),
        "gaze": torch.tensor([gaze], dtype=torch.float32),
        "gaze_mask": torch.tensor([controls.gaze is not None]),
        "distance": torch.tensor([[dist * DISTANCE_SCALE]], dtype=torch.float32),
        "distance_mask": torch.tensor([controls.distance is not None]),
        "style": torch.zeros(1, cfg.style_dim) if controls.style is None else torch.from_numpy(controls.style)[None],
        "style_mask": torch.tensor([controls.style is not None]),
    }
    cond = {k: v.repeat(batch, *([1] * (v.dim() - 1))).to(dev) for k, v in one.items()}
    if prev is not None:
        cond["prev"] = torch.as_tensor(prev, dtype=torch.float32, device=dev)
    return cond


class KnownPrefix:
    """Wraps a denoiser so that the first frames of every x0 estimate are pulled to frames already generated
    (B x O x D ``known`` with per-frame weights ``keep`` from ~1 down to ~0): the overlap of two windows is
    inpainted, so the model continues the previous window instead of only being cross-faded into it."""

    def __init__(self, denoiser, known, keep):
        self.denoiser, self.known, self.keep = denoiser, known, keep  # keep: 1 x O x 1

    def __call__(self, x, sigma):
        d = self.denoiser(x, sigma)
        O = self.known.shape[1]
        d[:, :O] = self.keep * self.known + (1 - self.keep) * d[:, :O]
        return d


def guidance_masks(cfg, device="cpu") -> dict:
    """Condition -> D channel weights from the config's ``guidance_channels`` (conditions not named act on all)."""
    import torch

    from models.config import guidance_mask

    return {name: torch.tensor(guidance_mask(groups, cfg.motion_dim), device=device)
            for name, groups in (cfg.guidance_channels or {}).items()}


def check_group_steps(group_steps: dict | None, cfg, steps: int | None = None) -> dict:
    """The checkpoint's ``group_steps`` updated by ``group_steps`` (group -> step, 0 = refined by every step).
    Entries of 0 stay in the result, so that checking it again keeps them overriding the checkpoint's.
    With ``steps`` (the sampler's step count), a group kept after a step the sampler never takes is refused."""
    from models.config import CHANNEL_GROUPS

    out = dict(getattr(cfg, "group_steps", None) or {})
    for name, k in (group_steps or {}).items():
        if name not in CHANNEL_GROUPS:
            raise ConditionError(f"unknown channel group {name!r}; choose from {', '.join(CHANNEL_GROUPS)}")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ConditionError(f"the step after which {name} is kept must be a whole number >= 0, got {k!r}")
        if steps is not None and k > steps:
            raise ConditionError(f"the {name} cannot keep the estimate of step {k}: the sampler takes {steps} steps")
        out[name] = int(k)
    return out


def keep_estimate_groups(group_steps: dict, cfg, device="cpu") -> list:
    """[(D channel weights, step)] for ``models.diffusion.KeepEstimate``."""
    import torch

    from models.config import guidance_mask

    return [(torch.tensor(guidance_mask([name], cfg.motion_dim), device=device), k) for name, k in group_steps.items()]


def sample_window_from_noise(gen: MotionGenerator, cond: dict, noise, steps: int, guidance: dict, sampler: str = SAMPLER,
                             generator=None, known=None, group_steps: dict | None = None):
    """Denoise one window from unit noise (B x W x 58, torch) -> B x W x 58 normalised (torch).
    ``known``: B x O x 58 frames the window's start must continue (see KnownPrefix); ``group_steps``: channel
    group -> the step whose estimate it keeps (None: the checkpoint's; see ``check_group_steps``); a kept
    group's channels start from zero noise."""
    import torch

    from models.diffusion import SAMPLERS, GuidedDenoiser, KeepEstimate, get_sigmas_karras

    cfg = gen.cfg
    if sampler not in SAMPLERS:
        raise ConditionError(f"unknown sampler {sampler!r}; choose from {', '.join(SAMPLERS)}")
    sigmas = get_sigmas_karras(steps, cfg.sigma_min, cfg.sigma_max, device=gen.device)
    masks = guidance_masks(cfg, gen.device)
    if "audio_tokens" not in cond:  # the same for every step and guidance branch (they differ in masks): once
        cond = dict(cond, audio_tokens=gen.model.encode_audio(cond["audio"]))
    denoiser = GuidedDenoiser(gen.model, cond, guidance, masks)
    kept = {name: k for name, k in check_group_steps(group_steps, cfg).items() if k > 0}
    if kept:
        groups = keep_estimate_groups(kept, cfg, gen.device)
        covered = torch.stack([m for m, _ in groups]).amax(dim=0)  # D: 1 on every kept channel
        # guidance that acts only on kept channels changes nothing once they are kept: skip its branch then
        # (the default model's audio guidance acts on the mouth only: 2 forward branches instead of 3)
        rest = {n: s for n, s in guidance.items() if not (n in masks and bool((masks[n] <= covered).all()))}
        later = GuidedDenoiser(gen.model, cond, rest, masks) if len(rest) < len(guidance) else None
        denoiser = KeepEstimate(denoiser, groups, later)
        # kept channels start at their mean (0 in normalised units), not at a random draw: their estimate is
        # meant to be the expected motion, and then a seed does not move it (real r per seed within 0.2 points)
        noise = noise * (1.0 - covered.to(noise))
    if known is not None and known.shape[1] > 0:
        O = known.shape[1]
        keep = torch.linspace(1.0, 0.0, O + 2, device=gen.device)[1:-1].view(1, O, 1)
        denoiser = KnownPrefix(denoiser, torch.as_tensor(known, dtype=torch.float32, device=gen.device), keep)
    kw = {"generator": generator} if sampler == "euler_ancestral" else {}
    return SAMPLERS[sampler](denoiser, noise.to(gen.device) * sigmas[0], sigmas, **kw)


def sample_window(gen: MotionGenerator, cond: dict, generators: list, steps: int, guidance: dict, sampler: str = SAMPLER, known=None,
                  group_steps: dict | None = None):
    """Denoise one window for a batch (one torch.Generator per sample) -> B x W x 58 normalised (torch)."""
    import torch

    cfg = gen.cfg
    noise = torch.stack([torch.randn(cfg.window, cfg.motion_dim, generator=g) for g in generators])  # B x W x D
    return sample_window_from_noise(gen, cond, noise, steps, guidance, sampler, generators[0], known, group_steps)


def generate_windows(gen: MotionGenerator, feats: np.ndarray, controls: Controls, seeds: list[int], steps: int | None,
                     guidance: dict, sampler: str = SAMPLER, show_progress: bool = False, group_steps: dict | None = None) -> np.ndarray:
    """Sliding windows of W new frames, each conditioned on the previous window's last K frames."""
    import torch

    from anim3d.motion_codec import denormalize
    from anim3d.progress import progress

    cfg = gen.cfg
    steps = steps or cfg.default_steps
    T, W, K = feats.shape[0], cfg.window, cfg.prev
    B = len(seeds)
    generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
    out = np.zeros((B, T, cfg.motion_dim), np.float32)
    O = max(0, min(cfg.overlap, W - K - 1))  # frames generated by both windows at each join (inpainted)
    starts = window_starts(T, W, O)
    it = progress(starts, desc="animating", total=len(starts), unit="window") if show_progress else starts
    was_training = gen.model.training
    gen.model.eval()
    with torch.inference_mode():
        for s in it:
            prev = out[:, s - K : s] if s >= K else None
            cond = window_conditions(gen, feats, s, prev, controls, B)
            known = out[:, s : s + min(O, T - s)] if s > 0 else None  # the overlap the last window made
            x = sample_window(gen, cond, generators, steps, guidance, sampler, known, group_steps).float().cpu().numpy()  # B x W x D
            n = min(W, T - s)
            out[:, s : s + n] = x[:, :n]
    gen.model.train(was_training)
    return denormalize(out, gen.mean, gen.std)


def window_starts(T: int, W: int, O: int) -> list[int]:
    """First frames of the sliding windows over T frames (W long, overlapping by O)."""
    hop = W - O
    starts = [0]
    while starts[-1] + W < T:
        starts.append(starts[-1] + hop)
    return starts


# ---------------------------------------------------------------- public API
_CACHE: dict = {}


def load_default_model(device="cpu") -> MotionGenerator:
    """The shipped default model (``models/default``), loaded once per device."""
    return _load(str(DEFAULT_CHECKPOINT), device)


def _load(folder: str, device="cpu", audio_encoder: str | None = None) -> MotionGenerator:
    from anim3d.device import resolve_device

    dev = resolve_device(str(device)) if not hasattr(device, "type") else device
    key = (os.path.abspath(folder), str(dev), audio_encoder)
    if key not in _CACHE:
        _CACHE[key] = MotionGenerator.load(folder, dev, audio_encoder)
    return _CACHE[key]


def animate(audio: Audio, *, emotion: str = "neutral", intensity: float = 1.0, gaze=(0.0, 0.0), distance: float = 0.0,
            style=None, seed: int = 0, steps: int | None = None, guidance: dict | None = None, num_samples: int = 1,
            checkpoint=None, device="cpu", sampler: str | None = None, audio_encoder: str | None = None,
            show_progress: bool = False, group_steps: dict | None = None,
            teacher_blend: float | None = None) -> Motion | list[Motion]:
    """Speech -> Motion (30 fps, one frame per 1/30 s of audio).

    emotion: one of models.config.EMOTIONS; intensity in [0, 1]; gaze (yaw toward the subject's left, pitch down)
    in radians or None for free gaze; distance: forward head offset in metres or None; style: a Motion, a Motion
    .npz or a Live Link Face .csv whose speaking style to follow; seed: sample i uses seed + i; steps: sampler
    steps (default from the checkpoint); guidance: classifier-free guidance scale per condition, e.g.
    {"audio": 2.0, "emotion": 1.5} (default: the checkpoint's); sampler: ddim, dpmpp_2m or euler_ancestral
    (default: the checkpoint's); group_steps: channel group -> the sampler step whose estimate it keeps, e.g.
    {"mouth": 0} to sample the mouth with every step like the rest (default: the checkpoint's, {"mouth": 1} for
    the shipped model); teacher_blend: share in [0, 1] of the rule-based mouth (the teacher's visemes on the
    audio's recognised phones) blended into the generated articulation channels (``anim3d.mouth_blend``; default:
    the checkpoint's, 0 = the model's mouth alone); num_samples > 1 returns a list (all samples are generated in
    one batch); checkpoint: None (the shipped default), a checkpoint folder, or a MotionGenerator.
    """
    if not isinstance(audio, Audio):
        raise InputError(None, f"animate() needs an anim3d.audio.Audio, got {type(audio).__name__}")
    if int(num_samples) < 1:
        raise ConditionError(f"num_samples must be >= 1, got {num_samples}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= SEED_MAX - (int(num_samples) - 1):
        top = SEED_MAX - (int(num_samples) - 1)
        raise ConditionError(f"seed must be a whole number from 0 to {top}"
                             f"{f' (sample i uses seed + i, up to {SEED_MAX})' if top < SEED_MAX else ''}, got {seed!r}")
    if steps is not None and not (1 <= int(steps) <= 200):
        raise ConditionError(f"steps must be between 1 and 200, got {steps}")
    if isinstance(checkpoint, MotionGenerator):
        gen = checkpoint
    else:
        gen = _load(str(checkpoint or DEFAULT_CHECKPOINT), device, audio_encoder)
    controls = check_controls(gen.cfg, emotion, intensity, gaze, distance)
    controls.style = gen.style_from(style)
    share = check_teacher_blend(gen.cfg, teacher_blend)
    feats, rule = gen.features_and_rule_mouth(audio) if share > 0 else (gen.features(audio), None)
    seeds = [int(seed) + i for i in range(int(num_samples))]
    with cpu_threads(gen.device):
        raw = gen.generate(feats, controls, seeds, steps, guidance, sampler, show_progress, group_steps)
    motions = [gen.to_motion(r) for r in raw]
    if rule is not None:
        from anim3d.mouth_blend import blend_mouth

        for m in motions:
            m.blendshapes = blend_mouth(m.blendshapes, rule, share)
    return motions if num_samples > 1 else motions[0]
