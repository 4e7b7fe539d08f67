"""Train the learned mouth opening (``anim3d.models.opening``) on tracked videos of real speakers.

An example is one clip: the motion model's audio features (T x F at the model's frame rate) and the speaker's
tracked inner-lip gap at the same instants (the video read at the clip's audio-video offset), standardised per
clip so that every speaker counts alike whatever their face size. Each clip is also heard sped up and slowed
down (``SPEEDS``: the voice's pitch and formants move with the tempo, a cheap stand-in for more speakers).

Each member learns from random windows of the examples with the loss 1 - Pearson r between its output and the
target over each window: the measure the real-speaker evaluation reports, blind to the scale of the opening
(which ``calibrate_jaw`` sets from the training clips' lip gaps).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from anim3d.models.opening import OpeningConfig, OpeningNet

SPEEDS = (0.92, 1.08)  # speed perturbations of each clip, besides its own speed


@dataclass
class OpeningExample:
    feats: np.ndarray  # T x F features (not standardised)
    target: np.ndarray  # T   tracked lip gap, standardised over the clip


@dataclass
class OpeningTraining:
    """How the members are trained (saved in the net's metadata)."""

    steps: int = 300
    window: int = 90  # frames per training window (3 s at 30 fps)
    batch: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-3
    seed: int = 0  # member i starts from seed + i

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def tracked_target(mouth: np.ndarray, video_fps: float, lag: int, frames: int, fps: float, speed: float = 1.0) -> np.ndarray:
    """The tracked lip gap (``mouth``: one value per video frame) at ``frames`` motion frames of the audio at ``fps``,
    standardised; ``lag``: the clip's audio-video offset in video frames (> 0: the audio is late, so audio time t
    shows video time t - lag); ``speed``: the audio was played ``speed`` times faster (motion frame t is then the
    original audio's time t * speed)."""
    t_video = np.arange(frames) * speed / fps - lag / video_fps  # s
    y = np.interp(t_video * video_fps, np.arange(len(mouth)), np.asarray(mouth, np.float64))
    return ((y - y.mean()) / (y.std() + 1e-9)).astype(np.float32)


def sped_up(audio, speed: float):
    """The Audio played ``speed`` times faster (tempo and pitch together), at the same sample rate."""
    from anim3d.audio import resample

    out = copy.copy(audio)
    out.samples = resample(np.asarray(audio.samples, np.float32), audio.sample_rate,
                           int(round(audio.sample_rate / speed))).astype(np.float32)
    return out


def clip_examples(gen, audio, mouth: np.ndarray, video_fps: float, lag: int, speeds=SPEEDS) -> list[OpeningExample]:
    """One example per speed (1 and ``speeds``) of a tracked clip; ``gen``: the MotionGenerator whose features the net
    reads."""
    out = []
    for speed in (1.0, *speeds):
        feats = gen.features(audio if speed == 1.0 else sped_up(audio, speed))
        out.append(OpeningExample(feats.astype(np.float32),
                                  tracked_target(mouth, video_fps, lag, len(feats), gen.cfg.fps, speed)))
    return out


def negative_correlation(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """B x T, B x T -> minus the mean over rows of their Pearson r."""
    p = pred - pred.mean(1, keepdim=True)
    y = target - target.mean(1, keepdim=True)
    return -((p * y).sum(1) / (p.norm(dim=1) * y.norm(dim=1) + 1e-6)).mean()


def _windows(examples, train: OpeningTraining, rng: np.random.Generator, lens: np.ndarray, mean, std):
    """A batch of random windows (examples drawn by length): B x L x F standardised features, B x L targets."""
    idx = rng.choice(len(examples), train.batch, p=lens / lens.sum())
    length = min(train.window, int(lens[idx].min()))
    xs, ys = [], []
    for i in idx:
        s = int(rng.integers(0, lens[i] - length + 1))
        xs.append((examples[i].feats[s : s + length] - mean) / std)
        ys.append(examples[i].target[s : s + length])
    return torch.tensor(np.stack(xs), dtype=torch.float32), torch.tensor(np.stack(ys), dtype=torch.float32)


def train_opening(examples: list[OpeningExample], cfg: OpeningConfig | None = None,
                  train: OpeningTraining | None = None, progress=None) -> OpeningNet:
    """Train ``cfg.members`` nets on ``examples`` and set the config's standardisation and calibration;
    ``progress(done, total)`` is called after each step (total = members x steps)."""
    train = train or OpeningTraining()
    feats = np.concatenate([e.feats for e in examples])
    if len(examples) == 0 or feats.shape[0] < 2:
        raise ValueError("the learned opening needs at least one example of two frames or more")
    cfg = dataclasses.replace(cfg or OpeningConfig(), in_dim=feats.shape[1])
    mean, std = feats.mean(0), feats.std(0) + 1e-6
    cfg.feature_mean, cfg.feature_std = mean.tolist(), std.tolist()
    torch.manual_seed(train.seed)  # the members' initial weights
    net = OpeningNet(cfg)
    lens = np.array([len(e.target) for e in examples], np.float64)
    x_all = torch.tensor((feats - mean) / std, dtype=torch.float32)[None]  # 1 x N x F: every frame, for the calibration
    out_mean, out_std = [], []
    for i, member in enumerate(net.members):
        torch.manual_seed(train.seed + i)
        rng = np.random.default_rng(train.seed + i)
        opt = torch.optim.AdamW(member.parameters(), train.lr, weight_decay=train.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, train.lr, total_steps=train.steps)
        member.train()
        for step in range(train.steps):
            xb, yb = _windows(examples, train, rng, lens, mean, std)
            loss = negative_correlation(member(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if progress:
                progress(i * train.steps + step + 1, cfg.members * train.steps)
        member.eval()
        with torch.no_grad():
            o = member(x_all)[0]
        out_mean.append(float(o.mean()))
        out_std.append(float(o.std()) + 1e-6)
    cfg.out_mean, cfg.out_std = out_mean, out_std
    cfg.metadata = {**cfg.metadata, "training": train.to_dict(), "examples": len(examples), "frames": int(len(feats))}
    return net.eval()


def calibrate_jaw(net: OpeningNet, gaps_mm: list[np.ndarray]) -> OpeningNet:
    """Set what jawOpen one standard unit of opening is: the jaw that parts the open head's lips (every other channel
    at rest) as wide as the training speakers' lips part, on average (``jaw_mean``) and in spread (``jaw_std``).
    ``gaps_mm``: the tracked inner-lip gaps of the training clips, in millimetres."""
    from anim3d.eval.mouth import jaw_gap_line

    g = np.concatenate([np.asarray(x, np.float64).reshape(-1) for x in gaps_mm])
    slope, at_rest = jaw_gap_line()
    net.cfg.jaw_mean, net.cfg.jaw_std = float((g.mean() - at_rest) / slope), float(g.std() / slope)
    return net


def carry_opening(init_dir: str, out_dir: str, inference, same_features: bool):
    """A fine-tuned model's learned opening: the ``init_dir`` checkpoint's net is copied into ``out_dir`` when the
    fine-tuned model reads the same audio features (the net reads only those); otherwise, or when ``init_dir`` has
    none, the fine-tuned model goes without it. -> the fine-tuned model's InferenceConfig."""
    import os
    import shutil

    from anim3d.fileio import atomic_output
    from anim3d.models.opening import OPENING_FILE, has_opening

    if has_opening(init_dir) and same_features:
        os.makedirs(out_dir, exist_ok=True)
        with atomic_output(os.path.join(out_dir, OPENING_FILE)) as tmp:
            shutil.copyfile(os.path.join(init_dir, OPENING_FILE), tmp)
        return inference
    return dataclasses.replace(inference, opening_share=0.0)
