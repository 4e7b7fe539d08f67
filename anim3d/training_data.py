"""Training data (``anim3d train``): ``Example`` (audio features per frame, motion, emotion label, intensity,
voice, phones), the frames the loss weights (p/b/m and other consonant middles), ``load_examples`` from the
data engine's shards (with ``--vtln-copies``, warped feature copies), and ``WindowSampler``, which draws
random training windows and their conditions as torch batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from anim3d.errors import Anim3dError

if TYPE_CHECKING:
    from anim3d.training import TrainConfig


@dataclass
class Example:
    feats: np.ndarray  # T x F audio features (front end output)
    motion: np.ndarray  # T x 58 raw motion
    emotion: int = 0
    intensity: float = 0.0
    voice: str = ""
    phones: list = field(default_factory=list)  # [(label, start_s, end_s)] (ARPAbet) for closure metrics
    norm: np.ndarray | None = None  # T x 58 normalised (filled by prepare)
    style: np.ndarray | None = None  # (116,)
    frame_weight: np.ndarray | None = None  # T: 1 on the frames around p/b/m middles (filled by prepare)
    consonant_mask: np.ndarray | None = None  # T: 1 around the middles of the other consonants (filled by prepare)
    phone_ids: np.ndarray | None = None  # T: index into anim3d.phonetic.PHONE_SET at each frame (filled by prepare)
    feats_warped: list = field(default_factory=list)  # [T x F]: the same audio through warped filterbanks (--vtln-copies)


def _middle_frames(phones: list, num_frames: int, fps: float, tolerance: int, keep) -> np.ndarray:
    """(T,) bool: the frames within ``tolerance`` of the middle frame of each phone whose label ``keep`` accepts."""
    from anim3d.eval.metrics import middle_frame

    out = np.zeros(num_frames, bool)
    for label, start, end in phones:
        if keep(label):
            m = middle_frame(start, end, fps)
            out[max(0, m - tolerance) : max(0, m + tolerance + 1)] = True
    return out


def bilabial_frames(phones: list, num_frames: int, fps: float = 30.0, tolerance: int = 1) -> np.ndarray:
    """(T,) bool: the frames within ``tolerance`` of each P/B/M phone's middle frame (the evaluation's window)."""
    from anim3d.eval.metrics import BILABIALS

    return _middle_frames(phones, num_frames, fps, tolerance, lambda label: label in BILABIALS)


def consonant_frames(phones: list, num_frames: int, fps: float = 30.0, tolerance: int = 1) -> np.ndarray:
    """(T,) bool: the frames within ``tolerance`` of the middle of every consonant other than P/B/M.

    Weighting only the p/b/m frames makes a closed mouth the cheapest guess wherever the audio might be a
    p/b/m (a velar or alveolar stop's silent closure, a nasal's murmur); the same weight on these frames
    keeps that guess unbiased, so the weight buys discrimination instead of closure everywhere."""
    from anim3d.data.phones import VOWELS
    from anim3d.eval.metrics import BILABIALS

    return _middle_frames(phones, num_frames, fps, tolerance, lambda label: label not in VOWELS and label not in BILABIALS and label != "SIL")


def prepare(examples: list[Example], mean, std) -> None:
    from anim3d.motion_codec import normalize, style_vector

    for ex in examples:
        ex.norm = normalize(ex.motion, mean, std)
        ex.style = style_vector(ex.norm)
        ex.frame_weight = bilabial_frames(ex.phones, ex.norm.shape[0]).astype(np.float32)
        ex.consonant_mask = consonant_frames(ex.phones, ex.norm.shape[0]).astype(np.float32)
        ex.phone_ids = frame_phone_ids(ex.phones, ex.norm.shape[0])


def frame_phone_ids(phones: list, num_frames: int, fps: float = 30.0) -> np.ndarray:
    """[(label, start_s, end_s)] -> (num_frames,) int64 phone index (anim3d.phonetic.PHONE_SET) at each frame centre."""
    from anim3d.data.phones import Phone
    from anim3d.phonetic import phone_frames

    return phone_frames([Phone(lab, s, e) for lab, s, e in phones], num_frames, fps)


def load_examples(root: str, split: str, front_end, fps: float = 30.0, limit: int | None = None,
                  vtln_copies: int = 0, vtln_range: float = 0.1, seed: int = 0) -> list[Example]:
    """Examples from the data engine's shards (``anim3d.data.shards.ShardDataset(root, split)``; val = held-out voices).
    ``vtln_copies`` > 0 (a front end with ``warped``, the phones one) adds that many feature copies per utterance,
    each through a filterbank warped by a factor drawn uniformly in 1 +- ``vtln_range`` (seeded by ``seed``)."""
    if vtln_copies < 0 or not 0 <= vtln_range < 1:
        raise Anim3dError(f"--vtln-copies must be >= 0 and --vtln-range in [0, 1), got {vtln_copies} and {vtln_range}")
    if vtln_copies and not hasattr(front_end, "warped"):
        raise Anim3dError("--vtln-copies needs the phone front end (log-mel training warps its features itself)")
    warp_rng = np.random.default_rng(seed)
    from anim3d.audio import resample
    from anim3d.motion_codec import motion_to_array
    from anim3d.progress import progress
    from models.config import EMOTIONS

    try:
        from anim3d.data.shards import ShardDataset
    except ImportError as e:
        raise Anim3dError(f"reading a corpus needs anim3d.data.shards ({e})") from None
    ds = ShardDataset(root, split)
    n = len(ds) if limit is None else min(limit, len(ds))
    out = []
    for u in progress(ds, desc=f"features {split}", total=n, unit="utt"):
        if len(out) >= n:
            break
        motion = u.motion if abs(u.motion.fps - fps) < 1e-9 else u.motion.resample(fps)
        x = u.audio.samples
        sr = getattr(front_end, "sample_rate", 16000)
        if u.audio.sample_rate != sr:
            x = resample(x, u.audio.sample_rate, sr)
        feats = front_end(x, motion.num_frames)
        phones = [(p.label, float(p.start), float(p.end)) for p in u.phones]
        emo = str(u.labels.get("emotion", "neutral"))
        warped = [front_end.warped(w)(x, motion.num_frames) for w in warp_rng.uniform(1 - vtln_range, 1 + vtln_range, vtln_copies)]
        out.append(Example(feats, motion_to_array(motion), EMOTIONS.index(emo) if emo in EMOTIONS else 0,
                           float(u.labels.get("intensity", 0.0) or 0.0), u.voice, phones, feats_warped=warped))
    return out


class WindowSampler:
    """Random training windows (numpy, seeded) -> batches of model inputs (torch)."""

    def __init__(self, examples: list[Example], cfg, tcfg: TrainConfig, seed: int):
        self.ex, self.cfg, self.t = examples, cfg, tcfg
        self.rng = np.random.default_rng(seed)
        lengths = np.array([e.norm.shape[0] for e in examples], np.float64)
        self.p = lengths / lengths.sum()

    def batch(self, B: int, with_phones: bool = False):
        """x0 B x W x D, loss mask B x W, conditions; with ``with_phones`` also B x (K+W) phone ids of the audio
        frames (-100 where the audio is absent: cross-entropy's ignore index)."""
        import torch

        from anim3d.feature_augment import pick_features
        from anim3d.motion_codec import distance_condition, gaze_condition

        cfg, rng, t = self.cfg, self.rng, self.t
        K, W, D, F = cfg.prev, cfg.window, cfg.motion_dim, self.ex[0].feats.shape[1]
        x0 = np.zeros((B, W, D), np.float32)
        loss_mask = np.zeros((B, W), np.float32)
        prev = np.zeros((B, K, D), np.float32)
        audio = np.zeros((B, K + W, F), np.float32)
        amask = np.zeros((B, K + W), bool)
        prev_mask = np.zeros(B, bool)
        phone_ids = np.full((B, K + W), -100, np.int64)
        emo = np.zeros(B, np.int64)
        inten = np.zeros(B, np.float32)
        gaze = np.zeros((B, 2), np.float32)
        dist = np.zeros((B, 1), np.float32)
        style = np.zeros((B, cfg.style_dim), np.float32)
        for b in range(B):
            e = self.ex[rng.choice(len(self.ex), p=self.p)]
            feats = pick_features(e, rng)  # T x F: the utterance's features or a warped copy
            T = e.norm.shape[0]
            s = 0 if (rng.random() < t.p_start or T <= K + 1) else int(rng.integers(K, max(K + 1, T - W // 2)))
            n = min(W, T - s)
            x0[b, :n] = e.norm[s : s + n]
            x0[b, n:] = e.norm[T - 1]
            loss_mask[b, :n] = 1 + t.bilabial_weight * e.frame_weight[s : s + n] + t.consonant_weight * e.consonant_mask[s : s + n]
            if s >= K:
                prev[b] = e.norm[s - K : s]
                prev_mask[b] = True
                audio[b, :K] = feats[s - K : s]
                amask[b, :K] = True
                phone_ids[b, :K] = e.phone_ids[s - K : s]
            audio[b, K : K + n] = feats[s : s + n]
            amask[b, K : K + n] = True
            phone_ids[b, K : K + n] = e.phone_ids[s : s + n]
            if rng.random() < t.p_truncate:  # the audio tail is not there yet (as in streaming)
                amask[b, K + int(rng.integers(1, W)) :] = False
            emo[b], inten[b] = e.emotion, e.intensity
            raw = e.motion[s : s + n]
            gaze[b] = gaze_condition(raw)
            dist[b] = distance_condition(raw)
            style[b] = e.style
        audio_t = torch.from_numpy(audio)
        amask_t = torch.from_numpy(amask)
        if t.augment:
            from anim3d.feature_augment import augment_features

            audio_t = augment_features(audio_t, cfg, t.gain_envelope, rng)
        from models.audio_features import window_features

        cond = {
            "audio": window_features(audio_t, amask_t, cfg),
            "audio_mask": amask_t,
            "prev": torch.from_numpy(prev),
            "prev_mask": torch.from_numpy(prev_mask),
            "emotion": torch.from_numpy(emo),
            "intensity": torch.from_numpy(inten),
            "emotion_mask": torch.ones(B, dtype=torch.bool),
            "gaze": torch.from_numpy(gaze),
            "gaze_mask": torch.ones(B, dtype=torch.bool),
            "distance": torch.from_numpy(dist),
            "distance_mask": torch.ones(B, dtype=torch.bool),
            "style": torch.from_numpy(style),
            "style_mask": torch.ones(B, dtype=torch.bool),
        }
        if with_phones:
            return torch.from_numpy(x0), torch.from_numpy(loss_mask), cond, torch.from_numpy(np.where(amask, phone_ids, -100))
        return torch.from_numpy(x0), torch.from_numpy(loss_mask), cond
