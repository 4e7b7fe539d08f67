"""Training data (``anim3d train``): ``Example`` (audio features per frame, motion, emotion label, intensity,
voice, phones), the frames the loss weights (p/b/m middles), ``load_examples`` from the data engine's shards,
and ``WindowSampler``, which draws random training windows and their conditions as torch batches."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from anim3d.training.config import TrainConfig


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


def bilabial_frames(phones: list, num_frames: int, fps: float = 30.0, tolerance: int = 1) -> np.ndarray:
    """(T,) bool: the frames within ``tolerance`` of each P/B/M phone's middle frame (the evaluation's window)."""
    from anim3d.eval.metrics import middle_frame
    from anim3d.phones import BILABIALS

    out = np.zeros(num_frames, bool)
    for label, start, end in phones:
        if label in BILABIALS:
            m = middle_frame(start, end, fps)
            out[max(0, m - tolerance) : max(0, m + tolerance + 1)] = True
    return out


def prepare(examples: list[Example], mean, std) -> None:
    from anim3d.motion_codec import normalize, style_vector

    for ex in examples:
        ex.norm = normalize(ex.motion, mean, std)
        ex.style = style_vector(ex.norm)
        ex.frame_weight = bilabial_frames(ex.phones, ex.norm.shape[0]).astype(np.float32)


def load_examples(root: str, split: str, front_end, fps: float = 30.0, limit: int | None = None) -> list[Example]:
    """Examples from the data engine's shards (``anim3d.data.shards.ShardDataset(root, split)``; val = held-out voices)."""
    from anim3d.audio import resample
    from anim3d.data.shards import ShardDataset
    from anim3d.emotions import EMOTIONS
    from anim3d.motion_codec import motion_to_array
    from anim3d.progress import progress

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
        out.append(Example(feats, motion_to_array(motion), EMOTIONS.index(emo) if emo in EMOTIONS else 0,
                           float(u.labels.get("intensity", 0.0) or 0.0), u.voice, phones))
    return out


class WindowSampler:
    """Random training windows (numpy, seeded) -> batches of model inputs (torch)."""

    def __init__(self, examples: list[Example], cfg, tcfg: TrainConfig, seed: int):
        self.ex, self.cfg, self.t = examples, cfg, tcfg
        self.rng = np.random.default_rng(seed)
        lengths = np.array([e.norm.shape[0] for e in examples], np.float64)
        self.p = lengths / lengths.sum()

    def batch(self, B: int, rows=None):
        """x0 b x W x D, loss mask b x W, conditions; b = B, or len(rows). ``rows`` (indices into the B windows):
        build only those windows, in that order, while every random draw is still made for all B, so that each
        process of a distributed run, drawing the same global batch with the same seed, builds its own share."""
        import torch

        from anim3d.motion_codec import distance_condition, gaze_condition

        cfg, rng, t = self.cfg, self.rng, self.t
        K, W, D, F = cfg.prev, cfg.window, cfg.motion_dim, self.ex[0].feats.shape[1]
        slot = {b: i for i, b in enumerate(range(B) if rows is None else (int(r) for r in rows))}
        n_out = len(slot)
        x0 = np.zeros((n_out, W, D), np.float32)
        loss_mask = np.zeros((n_out, W), np.float32)
        prev = np.zeros((n_out, K, D), np.float32)
        audio = np.zeros((n_out, K + W, F), np.float32)
        amask = np.zeros((n_out, K + W), bool)
        prev_mask = np.zeros(n_out, bool)
        emo = np.zeros(n_out, np.int64)
        inten = np.zeros(n_out, np.float32)
        gaze = np.zeros((n_out, 2), np.float32)
        dist = np.zeros((n_out, 1), np.float32)
        style = np.zeros((n_out, cfg.style_dim), np.float32)
        for b in range(B):  # the draws of window b, in a fixed order; then its arrays, if it is one of ``rows``
            e = self.ex[rng.choice(len(self.ex), p=self.p)]
            T = e.norm.shape[0]
            s = 0 if (rng.random() < t.p_start or T <= K + 1) else int(rng.integers(K, max(K + 1, T - W // 2)))
            cut = K + int(rng.integers(1, W)) if rng.random() < t.p_truncate else None  # the audio tail is not there yet (as in streaming)
            i = slot.get(b)
            if i is None:
                continue
            feats = e.feats  # T x F
            n = min(W, T - s)
            x0[i, :n] = e.norm[s : s + n]
            x0[i, n:] = e.norm[T - 1]
            loss_mask[i, :n] = 1 + t.bilabial_weight * e.frame_weight[s : s + n]
            if s >= K:
                prev[i] = e.norm[s - K : s]
                prev_mask[i] = True
                audio[i, :K] = feats[s - K : s]
                amask[i, :K] = True
            audio[i, K : K + n] = feats[s : s + n]
            amask[i, K : K + n] = True
            if cut is not None:
                amask[i, cut:] = False
            emo[i], inten[i] = e.emotion, e.intensity
            raw = e.motion[s : s + n]
            gaze[i] = gaze_condition(raw)
            dist[i] = distance_condition(raw)
            style[i] = e.style
        audio_t = torch.from_numpy(audio)
        amask_t = torch.from_numpy(amask)
        if t.augment:
            from anim3d.training.augment import augment_features

            audio_t = augment_features(audio_t, cfg, rng, rows=None if rows is None else list(slot), total=B)
        from anim3d.models.audio_features import normalize_window

        cond = {
            "audio": normalize_window(audio_t, amask_t),
            "audio_mask": amask_t,
            "prev": torch.from_numpy(prev),
            "prev_mask": torch.from_numpy(prev_mask),
            "emotion": torch.from_numpy(emo),
            "intensity": torch.from_numpy(inten),
            "emotion_mask": torch.ones(n_out, dtype=torch.bool),
            "gaze": torch.from_numpy(gaze),
            "gaze_mask": torch.ones(n_out, dtype=torch.bool),
            "distance": torch.from_numpy(dist),
            "distance_mask": torch.ones(n_out, dtype=torch.bool),
            "style": torch.from_numpy(style),
            "style_mask": torch.ones(n_out, dtype=torch.bool),
        }
        return torch.from_numpy(x0), torch.from_numpy(loss_mask), cond
