"""Question: does anything aimed at the SPEAKER make the learned opening follow speakers it never heard better:
(a) training audio whose pitch and formants move while its timing stays (a vocal-tract-length warp of the
spectrum the front end reads), (b) per-clip normalisation of the net's inputs, (c) the tracked target itself
(smoothed, frames the tracker lost left out, every speaker counting alike)?

    nice -n 10 .venv/bin/python research/opening_speakers.py [--only NAME,NAME] [--check]

Protocol: the 54 clips of ../shared/realvideo/clips and ../shared/evaldata/video, 5 folds by speaker group
(``anim3d.eval.folds.make_folds``, as ``python -m anim3d.eval.folds``); each variant's opening net is trained
(``anim3d.training.opening.train_opening``) and calibrated (``calibrate_jaw``) on the other folds' clips and used
at the shipped opening share in the shipped motion (seed 0), and each held-out clip scored as the shipped number
is: r at the AV offset (``real.score_motion(...).r_av``), mean over the fold's clips, then over folds. The
motion without the opening is generated once per clip (``animate(..., opening_share=0)``) and the learned jaw
blended into it (``inference.opening.blend_opening``), which is what ``animate`` does with the net;
``--check`` confirms it gives the same scores as ``eval.opening.OpeningFamily`` on the shipped recipe.
Beside it, "net": the r of the net's opening alone with the tracked lip gap (``research/opening_net.py``).

Variants (the shipped recipe: speeds 1, 0.92, 1.08; 3 members, width 32, dropout 0.5, 300 steps):
- vtlp 0.9/1.1: + each clip at speed 1 with the spectrum the front end reads warped by 0.9 and 1.1
  (``sphinx_acoustic.mel_filters`` on a warped frequency axis: formants and harmonics move, the timing stays);
- vtlp 0.85..1.15: + warps 0.85, 0.92, 1.08, 1.15;
- vtlp x speeds: every speed example also at warps 0.9 and 1.1 (9 examples per clip);
- energy per clip: the log-energy features (one per subframe) standardised over the clip, in training and use;
- all per clip: every feature standardised over the clip (posteriors too);
- target smoothed: the tracked gap smoothed (Gaussian, sigma 1 frame) before training;
- untracked out: training windows read only frames where the tracker found the face (the rest interpolated);
- speaker-balanced: training windows drawn with every speaker group weighing alike (shipped: by frames);
- output per clip: the net's opening standardised over the clip before it becomes jawOpen (in use only);
- energy jitter: each training window's log-energy features scaled by U(0.7, 1.3) and shifted by N(0, 0.3)
  standard units (a speaker's loudness contour varies; in training only);
- noise 20 dB, noise 10/20 dB: + each clip at speed 1 with white noise 20 (and 10) dB below its speech;
- clips alike, frames^1.5: training windows drawn from each clip with weight 1 or (its frames)^1.5 instead of
  its frames (after speaker-balanced, the weighting by length).
The target is already standardised per clip and the loss (1 - r over 3 s windows) is blind to each window's
scale, so a per-clip z-scored target is what ships.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import warnings

import numpy as np

FOLDERS = ["../shared/realvideo/clips", "../shared/evaldata/video"]
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "anim3d", "research_opening_speakers")


def warped_filters(alpha: float) -> np.ndarray:
    """The front end's mel filters read on a frequency axis warped by ``alpha`` (piecewise linear, fixed at 0 and
    Nyquist; the knee at 0.8 Nyquist): a voice whose formants sit ``alpha`` times higher reads as this voice."""
    from anim3d.models import sphinx_acoustic as sa

    nyq = sa.SAMPLE_RATE / 2
    f = np.arange(sa.N_FFT // 2 + 1) * sa.SAMPLE_RATE / sa.N_FFT
    knee = 0.8 * nyq * min(1.0, 1.0 / alpha)
    g = np.where(f <= knee, f * alpha, alpha * knee + (nyq - alpha * knee) * (f - knee) / (nyq - knee))
    # power at warped frequency g(f) comes from f: resample each filter onto the original axis
    w = sa.mel_filters(sa.SAMPLE_RATE)
    return np.stack([np.interp(g, f, row) for row in w])


def features_warped(gen, audio, alpha: float) -> np.ndarray:
    from anim3d.models import sphinx_acoustic as sa

    if alpha == 1.0:
        return gen.features(audio)
    base = sa.mel_filters
    fb = warped_filters(alpha)
    sa.mel_filters = lambda sr=sa.SAMPLE_RATE: fb
    try:
        return gen.features(audio)
    finally:
        sa.mel_filters = base


def clip_cache(gen, clip) -> dict:
    """Features (speed, warp) -> T x F, targets per speed, and the motion at opening share 0 (seed 0), cached."""
    from anim3d.eval.cache import audio_hash
    from anim3d.inference import animate
    from anim3d.motion import Motion
    from anim3d.training.opening import SPEEDS, sped_up, tracked_target

    key = hashlib.sha256((audio_hash(clip.audio) + "v1").encode()).hexdigest()[:24]
    path = os.path.join(CACHE, key + ".npz")
    mpath = os.path.join(CACHE, key + ".motion.npz")
    t = clip.track
    if os.path.exists(path) and os.path.exists(mpath):
        z = dict(np.load(path))
        motion = Motion.load_npz(mpath)
    else:
        z = {}
        for s in (1.0, *SPEEDS):
            audio = clip.audio if s == 1.0 else sped_up(clip.audio, s)
            for a in (0.85, 0.9, 0.92, 1.0, 1.08, 1.1, 1.15):
                if s != 1.0 and a not in (0.9, 1.0, 1.1):
                    continue
                z[f"f_{s}_{a}"] = features_warped(gen, audio, a).astype(np.float32)
        motion = animate(clip.audio, checkpoint=gen, seed=0, opening_share=0.0)
        os.makedirs(CACHE, exist_ok=True)
        np.savez(path + ".tmp.npz", **z)
        os.replace(path + ".tmp.npz", path)
        motion.save_npz(mpath + ".tmp.npz")
        os.replace(mpath + ".tmp.npz", mpath)
    for s in (1.0, *SPEEDS):
        n = len(z[f"f_{s}_1.0"])
        z[f"y_{s}"] = tracked_target(t.mouth, t.fps, clip.offset.lag, n, gen.cfg.fps, s)
        valid = np.interp((np.arange(n) * s / gen.cfg.fps - clip.offset.lag / t.fps) * t.fps,
                          np.arange(len(t.valid)), np.asarray(t.valid, np.float64))
        z[f"v_{s}"] = valid > 0.999
    npath = os.path.join(CACHE, key + ".noise.npz")
    if os.path.exists(npath):
        z.update(dict(np.load(npath)))
    else:
        extra = {f"f_noise_{snr}": noisy_features(gen, clip.audio, snr, int(key[:8], 16)) for snr in (10.0, 20.0)}
        np.savez(npath + ".tmp.npz", **extra)
        os.replace(npath + ".tmp.npz", npath)
        z.update(extra)
    z["motion"] = motion
    return z


def noisy_features(gen, audio, snr_db: float, seed: int) -> np.ndarray:
    """Features of ``audio`` with white noise ``snr_db`` below the speech's power (the loudest half of its 25 ms
    frames), at speed 1."""
    import copy

    x = np.asarray(audio.samples, np.float64)
    frames = x[: len(x) // 400 * 400].reshape(-1, 400)
    p = np.sort((frames**2).mean(1))[len(frames) // 2 :].mean()
    out = copy.copy(audio)
    out.samples = (x + np.random.default_rng(seed).normal(scale=np.sqrt(p / 10 ** (snr_db / 10)), size=len(x))).astype(np.float32)
    return gen.features(out).astype(np.float32)


def energy_dims(gen) -> list[int]:
    from anim3d.models.phone_features import N_FEATURES

    return [k * N_FEATURES + N_FEATURES - 1 for k in range(gen.cfg.subframes)]


def per_clip(feats: np.ndarray, dims) -> np.ndarray:
    out = feats.copy()
    x = out[:, dims]
    out[:, dims] = (x - x.mean(0)) / (x.std(0) + 1e-6)
    return out


def smooth(y: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    y = gaussian_filter1d(y.astype(np.float64), sigma, mode="nearest")
    return ((y - y.mean()) / (y.std() + 1e-9)).astype(np.float32)


VARIANTS = {
    "shipped": {},
    "vtlp 0.9/1.1": {"warps": (0.9, 1.1)},
    "vtlp 0.85..1.15": {"warps": (0.85, 0.92, 1.08, 1.15)},
    "vtlp x speeds": {"warps": (0.9, 1.1), "warp_speeds": True},
    "energy per clip": {"norm": "energy"},
    "all per clip": {"norm": "all"},
    "target smoothed": {"smooth": 1.0},
    "untracked out": {"valid_only": True},
    "speaker-balanced": {"balanced": True},
    "output per clip": {"out_norm": True},
    "energy jitter": {"jitter": True},
    "noise 20 dB": {"noise": (20.0,)},
    "noise 10/20 dB": {"noise": (10.0, 20.0)},
    "clips alike": {"power": 0.0},
    "frames^1.5": {"power": 1.5},
}


def examples_for(v: dict, z: dict, gen) -> list:
    """The training examples of one clip under variant ``v``."""
    from anim3d.training.opening import SPEEDS, OpeningExample

    out = []
    for s in (1.0, *SPEEDS):
        warps = (1.0, *v.get("warps", ())) if (s == 1.0 or v.get("warp_speeds")) else (1.0,)
        for a in warps:
            f = transform(v, z[f"f_{s}_{a}"], gen)
            y = smooth(z[f"y_{s}"], v["smooth"]) if v.get("smooth") else z[f"y_{s}"]
            e = OpeningExample(f, y)
            e.valid = z[f"v_{s}"]
            out.append(e)
    for snr in v.get("noise", ()):
        e = OpeningExample(transform(v, z[f"f_noise_{snr}"], gen), z["y_1.0"])
        e.valid = z["v_1.0"]
        out.append(e)
    return out


def transform(v: dict, feats: np.ndarray, gen) -> np.ndarray:
    if v.get("norm") == "energy":
        return per_clip(feats, energy_dims(gen))
    if v.get("norm") == "all":
        return per_clip(feats, list(range(feats.shape[1])))
    return feats


def patched_windows(v: dict, weights: dict, energy: list):
    """``training.opening._windows`` with the variant's sampling: examples drawn by ``weights[id(example)]``
    (frames, or frames over the speaker's frames), and with ``valid_only`` windows placed where the tracker
    found the face on most frames and the lost frames' targets left out of the loss (set to the window mean)."""
    import torch

    def _windows(examples, train, rng, lens, mean, std):
        p = np.array([weights[id(e)] for e in examples], np.float64)
        idx = rng.choice(len(examples), train.batch, p=p / p.sum())
        length = min(train.window, int(lens[idx].min()))
        xs, ys = [], []
        for i in idx:
            e = examples[i]
            s = int(rng.integers(0, lens[i] - length + 1))
            y = e.target[s : s + length].copy()
            if v.get("valid_only"):
                ok = e.valid[s : s + length]
                for _ in range(5):  # prefer a window mostly tracked
                    if ok.mean() >= 0.9:
                        break
                    s = int(rng.integers(0, lens[i] - length + 1))
                    y, ok = e.target[s : s + length].copy(), e.valid[s : s + length]
                if ok.any() and not ok.all():
                    y[~ok] = y[ok].mean()  # no covariance from lost frames
            x = (e.feats[s : s + length] - mean) / std
            if v.get("jitter"):  # the window's loudness contour scaled and shifted (standard units)
                x = x.copy()
                x[:, energy] = x[:, energy] * rng.uniform(0.7, 1.3) + rng.normal(0.0, 0.3)
            xs.append(x)
            ys.append(y)
        return torch.tensor(np.stack(xs), dtype=torch.float32), torch.tensor(np.stack(ys), dtype=torch.float32)

    return _windows


def run_variant(name, v, clips, folds, groups, zs, gen, share):
    import anim3d.training.opening as T
    from anim3d.eval.opening import tracked_gap_mm
    from anim3d.eval.real import score_motion
    from anim3d.inference.opening import blend_opening, learned_jaw

    fold_r, fold_net, per = [], [], {}
    for held in folds:
        train = [c for c in clips if c.name not in held]
        examples, weights = [], {}
        spk_frames: dict[str, float] = {}
        for c in train:
            spk_frames[groups[c.name]] = spk_frames.get(groups[c.name], 0.0) + len(zs[c.name]["y_1.0"])
        for c in train:
            for e in examples_for(v, zs[c.name], gen):
                examples.append(e)
                weights[id(e)] = len(e.target) ** v.get("power", 1.0) / (spk_frames[groups[c.name]] if v.get("balanced") else 1.0)
        base = T._windows
        T._windows = patched_windows(v, weights, energy_dims(gen))
        try:
            net = T.train_opening(examples)
        finally:
            T._windows = base
        net = T.calibrate_jaw(net, [tracked_gap_mm(c) for c in train])
        rs, nrs = [], []
        for n in held:
            c, z = next(c for c in clips if c.name == n), zs[n]
            f = transform(v, z["f_1.0_1.0"], gen)
            o = net.opening(f)
            nrs.append(np.corrcoef(o, z["y_1.0"])[0, 1])
            m = z["motion"].copy()
            if v.get("out_norm"):  # the opening standardised over the clip
                jaw = np.clip(net.cfg.jaw_mean + net.cfg.jaw_std * (o - o.mean()) / (o.std() + 1e-6), 0.0, 1.0)
            else:
                jaw = learned_jaw(net, f)
            m.blendshapes = blend_opening(m.blendshapes, jaw.astype(np.float32), share)
            m = m if abs(m.fps - c.track.fps) < 1e-6 else m.resample(c.track.fps)
            per[n] = score_motion(n, name, m, c.track, c.offset.lag, seed=0).r_av
            rs.append(per[n])
        fold_r.append(float(np.nanmean(rs)))
        fold_net.append(float(np.nanmean(nrs)))
    return fold_r, fold_net, per


def check(clips, folds, groups, zs, gen, share, fold_r):
    """The shipped recipe through ``eval.opening.OpeningFamily`` (the eval's own path) on fold 1."""
    from anim3d.eval.folds import Scorer
    from anim3d.eval.opening import OpeningFamily

    fam = OpeningFamily(gen)
    held = folds[0]
    method = fam.method(fam.net([c for c in clips if c.name not in held]), share)
    r = Scorer(clips, (0,)).mean(method, held)
    print(f"check: fold 1 through OpeningFamily {r:+.4f}, here {fold_r[0]:+.4f}", flush=True)


def main() -> int:
    import torch

    from anim3d.eval.folds import make_folds
    from anim3d.eval.manifest import clip_infos, load_manifests
    from anim3d.eval.real import find_videos_in, load_clips
    from anim3d.inference import load_model

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="comma-separated variant names (default all)")
    ap.add_argument("--check", action="store_true", help="also score the shipped recipe through eval.opening on fold 1")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    videos = find_videos_in(FOLDERS)
    infos = clip_infos(videos, load_manifests(FOLDERS, []))
    clips = load_clips(videos, progress=False, skipped={})
    gen = load_model()
    share = gen.inference.opening_share
    groups = {c.name: infos[c.name].group for c in clips}
    folds = make_folds(groups, 5)
    zs = {c.name: clip_cache(gen, c) for c in clips}
    print(f"{len(clips)} clips, {len(set(groups.values()))} speakers, 5 folds; opening share {share:g}, seed 0", flush=True)
    only = [x for x in args.only.split(",") if x]
    rows = {}
    for name, v in VARIANTS.items():
        if only and name not in only and name != "shipped":
            continue
        fold_r, fold_net, per = run_variant(name, v, clips, folds, groups, zs, gen, share)
        rows[name] = fold_r
        d = np.array(fold_r) - np.array(rows["shipped"])
        print(f"{name:18s} held-out r {np.mean(fold_r):.3f} (folds {' '.join(f'{x:.3f}' for x in fold_r)}; "
              f"vs shipped {np.mean(d):+.3f}, folds {' '.join(f'{x:+.3f}' for x in d)}); net alone {np.mean(fold_net):.3f}",
              flush=True)
        if name == "shipped" and args.check:
            check(clips, folds, groups, zs, gen, share, fold_r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
