"""Where a motion model's mouth departs from the teacher's on the real speakers, and what that costs.

    python research/mouth_gap.py [CHECKPOINT] [--videos /work/shared/evaldata/video] [--seconds 30]

Uses the tracked mouths, recognised phones and audio-video offsets of ``research/calibrate_teacher.py``
(same cache). Every correlation is at each clip's audio-video offset, seed 0, on the mouth opening the
evaluation scores (``anim3d.eval.mouth.mouth_opening``). Prints, per clip and as the mean:
- the model and the teacher on recognised phones (``anim3d eval``'s "phones+teacher" method);
- the teacher with phone identity taken away: every vowel spoken as AH, or every consonant other than
  P/B/M, F/V and W as T (what knowing the vowels and the consonants is worth);
- the teacher on the phones of ``recognize_phones(mode="frames")`` (the acoustic model scored frame by
  frame, ``anim3d.models.sphinx_acoustic``: a tenth of the words mode's cost);
- the model with its mean opening per recognised phone moved to the teacher's (a diagnostic bound:
  what a model without per-phone bias against the teacher would score; it reads the phones, so it is
  not a method);
- the slow part of each curve (Gaussian, sigma 0.5 s) against the real one's, and the fast part (the
  curve minus its slow part);
- the share of frames with the lips shut (opening under 0.1 mm) in model and teacher;
- the model and the frames-mode teacher averaged (each curve standardised first; a diagnostic: whether
  the two err differently, not a method), and how the two correlate with each other;
- model and teacher with mouthFunnel held at its mean over the clip (a diagnostic: the open head's funnel
  target parts the lips, 5.4 mm at full funnel with the jaw shut);
then the per-phone mean openings (relative to each clip's 95th percentile) of real, teacher and model.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from calibrate_teacher import _measure  # noqa: E402  (a sibling script: the same cache and clips)

from anim3d.phones import VOWELS  # noqa: E402
from anim3d.eval.mouth import SHUT_BELOW  # noqa: E402
from anim3d.paths import evaldata_dir  # noqa: E402

KEEP_CONSONANTS = {"P", "B", "M", "F", "V", "W", "SIL"}
SLOW_SIGMA = 15  # frames (0.5 s at 30 fps)


def frame_labels(phones, n: int, fps: float) -> np.ndarray:
    """(n,) the recognised phone at each frame (audio time), SIL outside every phone."""
    lab = np.array(["SIL"] * n, dtype=object)
    for p in phones:
        lab[int(round(p.start * fps)) : int(round(p.end * fps))] = p.label
    return lab


def held_at_mean(motion, channel: str):
    """A copy of ``motion`` with one blendshape channel held at its mean over the clip (a diagnostic: what that
    channel's movement adds to the correlation; not a method, it takes a shape away from the face)."""
    import copy

    from anim3d.channels import INDEX

    m = copy.deepcopy(motion)
    i = INDEX[channel]
    m.blendshapes[:, i] = m.blendshapes[:, i].mean()
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", nargs="?", default=None, help="model folder (default: the shipped model)")
    ap.add_argument("--videos", default=str(evaldata_dir() / "video"))
    ap.add_argument("--seconds", type=float, default=30.0, help="at most this much of each clip")
    ap.add_argument("--cache", default="/tmp/anim3d-calibration", help="calibrate_teacher.py's cache folder")
    args = ap.parse_args()

    import glob

    from scipy.ndimage import gaussian_filter1d

    from anim3d.phones import Phone
    from anim3d.teacher import phones_to_motion
    from anim3d.eval.metrics import lagged_pearson
    from anim3d.eval.mouth import mouth_opening
    from anim3d.phonetic import recognize_phones
    from anim3d.inference import animate, load_model

    gen = load_model(args.checkpoint)  # None: the shipped model
    coarse = {
        "vowels as AH": lambda lab: "AH" if lab in VOWELS else lab,
        "consonants as T": lambda lab: lab if lab in VOWELS or lab in KEEP_CONSONANTS else "T",
    }
    rows, curves = [], []
    for path in sorted(glob.glob(os.path.join(args.videos, "*.mp4"))):
        real, fps, phones, lag, audio = _measure(path, args.seconds, args.cache)
        dur = len(real) / fps

        def teacher(ph):
            m = phones_to_motion(ph, dur, fps=fps, audio=audio, seed=0)
            return mouth_opening(m)[0][: len(real)]

        motion = animate(audio, checkpoint=gen, seed=0)
        if abs(motion.fps - fps) > 1e-6:
            motion = motion.resample(fps)
        model = mouth_opening(motion)[0][: len(real)]
        teacher_motion = phones_to_motion(phones, dur, fps=fps, audio=audio, seed=0)
        tch = mouth_opening(teacher_motion)[0][: len(real)]  # teacher(phones), keeping the motion for the funnel rows
        row = {"model": lagged_pearson(model, real, lag), "teacher": lagged_pearson(tch, real, lag)}
        for name, f in coarse.items():
            row["teacher, " + name] = lagged_pearson(teacher([Phone(f(p.label), p.start, p.end) for p in phones]), real, lag)
        frames_tch = teacher(recognize_phones(audio, mode="frames"))
        row["teacher, frames-mode phones"] = lagged_pearson(frames_tch, real, lag)
        n = min(len(model), len(tch), len(frames_tch))
        labels = frame_labels(phones, n, fps)
        curves.append((os.path.basename(path), real, lag, model[:n] / np.percentile(model, 95), tch[:n] / np.percentile(tch, 95), labels))
        slow = lambda x: gaussian_filter1d(np.asarray(x, np.float64), SLOW_SIGMA)  # noqa: E731
        row["model, slow part"] = lagged_pearson(slow(model), slow(real), lag)
        row["teacher, slow part"] = lagged_pearson(slow(tch), slow(real), lag)
        fast = lambda x: np.asarray(x, np.float64) - slow(x)  # noqa: E731
        row["model, fast part"] = lagged_pearson(fast(model), fast(real), lag)
        row["teacher, fast part"] = lagged_pearson(fast(tch), fast(real), lag)
        row["model, share of frames shut"] = float(np.mean(model[:n] < SHUT_BELOW))
        row["teacher, share of frames shut"] = float(np.mean(tch[:n] < SHUT_BELOW))
        z = lambda x: (x[:n] - x[:n].mean()) / (x[:n].std() + 1e-12)  # noqa: E731
        row["model + frames teacher (z mean)"] = lagged_pearson(z(model) + z(frames_tch), real, lag)
        row["model vs frames-mode teacher"] = lagged_pearson(model[:n], frames_tch[:n], 0)
        for name, mo in (("model", motion), ("teacher", teacher_motion)):
            row[f"{name}, mouthFunnel held at its mean"] = lagged_pearson(mouth_opening(held_at_mean(mo, "mouthFunnel"))[0][: len(real)], real, lag)
        rows.append(row)

    # per-phone means over all clips (relative openings), then the per-phone shift of the model
    mean_of = lambda which: {lab: np.mean(np.concatenate([c[which][c[5] == lab] for c in curves]))  # noqa: E731
                             for lab in set(np.concatenate([c[5] for c in curves]))}
    model_mean, teacher_mean = mean_of(3), mean_of(4)
    for row, (name, real, lag, model, tch, labels) in zip(rows, curves):
        shifted = model + np.array([teacher_mean[lab] - model_mean[lab] for lab in labels])
        row["model, per-phone shift (bound)"] = lagged_pearson(shifted, real, lag)

    keys = list(rows[0])
    print(f"{'correlation with the real mouth':34s} " + " ".join(f"{c[0][:12]:>12s}" for c in curves) + f" {'mean':>8s}")
    for k in keys:
        vals = [r[k] for r in rows]
        print(f"{k:34s} " + " ".join(f"{v:12.3f}" for v in vals) + f" {np.mean(vals):8.3f}")

    real_at = {}
    for name, real, lag, model, tch, labels in curves:
        rn = real / np.percentile(real, 95)
        for k, lab in enumerate(labels):
            if 0 <= k - lag < len(rn):
                real_at.setdefault(lab, []).append(rn[k - lag])
    common = sorted((lab for lab in real_at if len(real_at[lab]) >= 15), key=lambda lab: -np.mean(real_at[lab]))
    print("\nper-phone mean opening, all frames of the phone (real / teacher / model; 95th percentile = 1):")
    print(", ".join(f"{lab} {np.mean(real_at[lab]):.2f}/{teacher_mean[lab]:.2f}/{model_mean[lab]:.2f}" for lab in common))
    for group, sel in (("vowels", [x for x in common if x in VOWELS]), ("consonants", [x for x in common if x not in VOWELS])):
        rr = [np.mean(real_at[x]) for x in sel]
        print(f"between-phone r with real, {group:10s}: teacher {np.corrcoef(rr, [teacher_mean[x] for x in sel])[0, 1]:.3f}, "
              f"model {np.corrcoef(rr, [model_mean[x] for x in sel])[0, 1]:.3f}")


if __name__ == "__main__":
    main()
