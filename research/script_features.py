"""Question: with a line's script aligned to its audio, does it help to sharpen the phone posteriors the motion model
and the learned opening read (the aligned phone's posterior pushed towards 1), beyond the rule mouth on the aligned
phones that ships (``inference.script_blend``)?

Shares are chosen on the English clips without a transcript (the words pocketsphinx recognises stand in for the
script, as in research/script_blend.py); the GRID clips, whose sentences are known, judge the choice.

    .venv/bin/python research/script_features.py
"""

from __future__ import annotations

import csv
import sys
import warnings

import numpy as np

from anim3d.eval.real import find_videos_in, load_clip, score_motion
from anim3d.inference import animate, load_model
from anim3d.phonetic import recognize_words

SHARED = "../shared"
SHARPEN = (0.0, 0.3, 0.6, 1.0)  # share of the aligned phone's one-hot in the posteriors
N_PHONES, N_FEATURES = 42, 43


def sharpened(feats: np.ndarray, phones, phone_names, fps: float, subframes: int, a: float) -> np.ndarray:
    """T x (subframes * 43) phone features -> the same with each subframe's posteriors (x POSTERIOR_SCALE)
    (1 - a) * theirs + a * the aligned phone's one-hot (x POSTERIOR_SCALE)."""
    from anim3d.models.phone_features import POSTERIOR_SCALE

    col = {p: i for i, p in enumerate(phone_names)}
    out = feats.copy()
    T = len(feats)
    starts = np.array([p.start for p in phones])
    for s in range(subframes):
        # T subframe centres (s), as the cepstral frame the front end reads there starts (half a window before)
        t = (np.arange(T) + (s + 0.5) / subframes) / fps - 0.0125
        idx = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(phones) - 1)
        onehot = np.zeros((T, N_PHONES), np.float32)
        onehot[np.arange(T), [col.get(phones[i].label, col["SIL"]) for i in idx]] = POSTERIOR_SCALE
        blk = slice(s * N_FEATURES, s * N_FEATURES + N_PHONES)
        out[:, blk] = (1 - a) * feats[:, blk] + a * onehot
    return out


def run(gen, clip, words: str, a: float, seed: int = 0):
    """animate with the script, its posteriors sharpened by ``a``."""
    orig = gen.features_and_rule_mouth

    def patched(audio, num_frames=None, script=None):
        feats, rule, phones = orig(audio, num_frames, script=script)
        if phones is not None and a > 0:
            feats = sharpened(feats, phones, gen.front_end.model.phones, gen.cfg.fps, gen.cfg.subframes, a)
        return feats, rule, phones

    gen.features_and_rule_mouth = patched
    try:
        m = animate(clip.audio, checkpoint=gen, seed=seed, text=words)
    finally:
        gen.features_and_rule_mouth = orig
    return m


def main():
    warnings.simplefilter("ignore")
    with open(f"{SHARED}/realvideo/manifest.tsv", encoding="utf-8") as f:
        rows = {r["file"]: r for r in csv.DictReader(f, delimiter="\t")}
    english = {k for k, r in rows.items() if r["language"].startswith("en")}
    videos = [v for v in find_videos_in([f"{SHARED}/realvideo/clips", f"{SHARED}/evaldata/video"])
              if v.name in english or v.parent.name == "video"]
    only = sys.argv[1] if len(sys.argv) > 1 else None
    gen = load_model()
    res = {"choose": {a: [] for a in ("audio", *SHARPEN)}, "judge": {a: [] for a in ("audio", *SHARPEN)}}
    for v in videos:
        known = rows.get(v.name, {}).get("transcript", "")
        group = "judge" if known else "choose"
        if only and group != only:
            continue
        try:
            clip = load_clip(v, progress=False)
        except Exception as e:
            print(v.name, "left out:", e)
            continue
        words = known or " ".join(recognize_words(clip.audio))
        if not words:
            continue
        score = lambda m: score_motion(clip.name, "m", m.resample(clip.track.fps), clip.track, clip.offset.lag).r_av
        res[group]["audio"].append(score(animate(clip.audio, checkpoint=gen, seed=0)))
        for a in SHARPEN:
            res[group][a].append(score(run(gen, clip, words, a)))
        print(group, v.name, " ".join(f"{res[group][k][-1]:.3f}" for k in res[group]), flush=True)
    print("| clips | n | audio only | " + " | ".join(f"script, sharpen {a}" for a in SHARPEN) + " |")
    for g, d in res.items():
        if d["audio"]:
            print(f"| {g} | {len(d['audio'])} | " + " | ".join(f"{np.mean(v):.3f}" for v in d.values()) + " |")


if __name__ == "__main__":
    main()
