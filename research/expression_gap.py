"""How far do anim3d's faces move for an emotion at full intensity, against real actors' faces? (issue #28)

    .venv/bin/python research/expression_gap.py [--fresh] [--no-portrait] [--frames all|quiet]

Every face (renders and real clips) is tracked with MediaPipe (``anim3d.tracking``), turned to face the
camera (``frontal_frame``: roll and yaw removed, pitch kept) and measured in inter-ocular distances (outer
eye corners 33-263, 3D), y up:
- corner: mouth-corner height, mean y of 61/291 minus the mid lip line (mean y of 13/14); + = up (smile);
- width: mouth width, |61-291|;
- brow: mean y of BROW_L + BROW_R above the eye line (mean y of the eye corners 33/133/362/263);
- eye: eye opening, mean of y159-y145 and y386-y374;
- nose_lip: |2-0|, subnasale to the top of the upper lip.
Per clip the features are averaged over its frames: all of them (``--frames all``, the default) or the
"quiet" half whose inner-lip gap is at or below the clip's median (``--frames quiet``: less articulation).

Rendered: ``animate(audio, emotion=e, intensity=i, seed=0)`` on examples/hello.wav and B08_sb_example1.wav,
the open head rendered from the blendshapes alone (no head pose) at 512x512, every 3rd frame, tracked with
``track_image``; each emotion minus the neutral animation of the same audio and seed, averaged over the two
audios. Portrait: ``anim3d render AUDIO --portrait C6_anitalker_Einstein.png --emotion E --intensity 1``,
tracked with ``track_video``, minus the neutral portrait video of the same audio.
Real: the MEAD level-3 clips (surprised: level 2) against a neutral population (MEAD W015 neutral, LRS3,
GRID, VidTIMIT, LRW, news/address clips, Obama, Reagan; first 10 s of each): clip means, averaged per
speaker group (manifest ``speaker_group``), then mean and spread across groups. The real change is the
emotional clip minus the population mean (different people: speaker identity is in it), and a z-score
against the population spread. Noise floors printed: the neutral render at seed 1 minus seed 0, and the
spread between the two audios.

Answer (the working tree of 2026-12-07, after commit 4120cae, on 2 CPUs, --frames all: about 5.5 min from an empty cache, seconds cached; the
full output and the --frames quiet run are in research/expression_gap.md). Change against neutral at full
intensity, inter-ocular units, rows where the real change is at least one population sd (|z| >= 1):

    feature   emotion    real (z)       head .33 / .67 / 1.0     1.0/real  portrait@1.0
    corner    happy      +0.031 (+1.8)  +0.011 +0.022 +0.031       1.00     +0.025
    corner    sad        -0.065 (-3.8)  -0.011 -0.026 -0.041       0.63     -0.014
    corner    surprised  -0.025 (-1.5)  +0.001 +0.001 +0.001      -0.05     -0.004
    corner    disgusted  -0.040 (-2.4)  -0.005 -0.009 -0.015       0.37     -0.012
    width     happy      +0.037 (+1.2)  +0.015 +0.025 +0.036       0.96     +0.042
    width     sad        +0.074 (+2.3)  -0.004 -0.008 -0.016      -0.21     +0.001
    brow      surprised  +0.038 (+1.2)  +0.011 +0.024 +0.041       1.07     +0.038
    brow      disgusted  -0.084 (-2.6)  -0.008 -0.015 -0.021       0.25     -0.025
    eye       sad        -0.037 (-2.3)  -0.002 -0.003 -0.005       0.13     +0.001
    eye       surprised  +0.038 (+2.4)  +0.004 +0.009 +0.015       0.40     +0.022
    nose_lip  surprised  -0.032 (-1.3)  -0.002 -0.003 -0.004       0.13     +0.001
    nose_lip  disgusted  -0.083 (-3.5)  -0.002 -0.005 -0.008       0.10     -0.014
    nose_lip  angry      -0.036 (-1.5)  +0.001 +0.004 +0.004      -0.12     -0.007

Neutral baselines: the neutral open head's corners sit +0.085 above its lip line (rest mesh +0.070) against
+0.004 +- 0.017 for real speakers (z +4.8; the issue's 0.13 is not reproduced with this definition, the
direction is); its mouth is wider (0.67 vs 0.56 +- 0.03, z +3.4). The happy smile matches the actors; sad,
disgust and the eyes reach a tenth to two thirds of them. Real numbers carry speaker identity: about +-1
population sd (0.015-0.03) per clip; the rendered ones are good to about 0.002 (seed and audio).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time

import numpy as np


CACHE = "/work/exp/expr_cache"
CLIPS = "/work/shared/realvideo/clips"
EVAL = "/work/shared/evaldata"
AUDIOS = {"hello": "examples/hello.wav", "B08": f"{EVAL}/audio/B08_sb_example1.wav"}
PORTRAIT = f"{EVAL}/image/C6_anitalker_Einstein.png"
INTENSITIES = (0.33, 0.67, 1.0)
MAX_FRAMES = 250  # 10 s at 25 fps of each real clip
FEATURES = {"corner": "mouth-corner height above the mid lip line (+ = up)", "width": "mouth width 61-291",
            "brow": "brow height above the eye line", "eye": "eye opening (159-145, 386-374)",
            "nose_lip": "subnasale (2) to upper lip top (0)"}
REAL_EMOTIONAL = {
    "happy": ["spectre_W036_level_3_happy_007.mp4", "spectre_W040_level_3_happy_029.mp4"],
    "sad": ["EAMM_M030_sad_3_001.mp4"],
    "surprised": ["spectre_W023_level_2_surprised_010.mp4", "spectre_M024_level_2_surprised_010.mp4"],
    "disgusted": ["spectre_M026_level_3_disgusted_018.mp4"],
    "angry": ["spectre_M030_level_3_angry_016.mp4"],
}
NEUTRAL_CLIPS = (["spectre_W015_level_1_neutral_030.mp4", "spectre_0Fi83BHQsMA_00002.mp4", "spectre_OzA6jRYjVQs_00004.mp4",
                  "spectre_PbgB2TaYhio_00007.mp4", "spectre_QoT0S2vu9m4_00002.mp4", "spectre_00002.mp4",
                  "Text2Video_fadgo_sa1.mp4", "V_Express_RD_Radio10_0_clip_0.mp4", "MimicTalk_German_20s.mp4",
                  "DFRF_cnn2_25fps.mp4", "EDTalk_pose_source2.mp4", "EDTalk_uncrop_Obama.mp4"]
                 + [f"lip_reading_deeplearning_sample{i}.mp4" for i in range(1, 5)]
                 + sorted(f for f in os.listdir(CLIPS) if f.startswith("LipNet_"))
                 + [f"{EVAL}/video/{f}" for f in ("Obama_clip1.mp4", "Obama_clip2.mp4", "Obama_clip3.mp4", "reagan_clip1.mp4")])


def features(lm: np.ndarray, aspect: float) -> tuple[np.ndarray, np.ndarray]:
    """T x 478 x 3 MediaPipe landmarks -> (T x 5 features in FEATURES order, T inner-lip gap), inter-ocular units
    (the measure the package's expression section makes: ``anim3d.eval.expression.face_features``)."""
    from anim3d.eval.expression import face_features

    return face_features(lm, aspect)


def summarise(lm: np.ndarray, aspect: float, frames: str) -> np.ndarray:
    """One clip -> its 5 mean features over all frames or over its quiet half (lip gap <= median)."""
    f, gap = features(lm, aspect)
    keep = gap <= np.median(gap) if frames == "quiet" else np.ones(len(gap), bool)
    return f[keep].mean(0)


def tracked_video(path: str, tag: str, fresh: bool = False) -> tuple[np.ndarray, float, float]:
    """(valid landmarks T x 478 x 3, aspect W/H, share of frames tracked), cached under CACHE."""
    from anim3d.tracking import track_video

    cache = os.path.join(CACHE, f"video_{tag}.npz")
    if fresh or not os.path.exists(cache):
        tr = track_video(path, max_frames=MAX_FRAMES, progress=False)
        np.savez_compressed(cache, landmarks=tr.landmarks[tr.valid], aspect=tr.aspect, valid=tr.valid.mean())
    d = np.load(cache)
    return d["landmarks"], float(d["aspect"]), float(d["valid"])


def speaker_groups() -> dict[str, str]:
    with open("/work/shared/realvideo/manifest.tsv", newline="") as f:
        return {r["file"]: r["speaker_group"] for r in csv.DictReader(f, delimiter="\t")}


def real_side(frames: str):
    """-> (population mean 5, spread 5, number of groups, per-group means, {emotion: [(clip, features 5)]}, notes)."""
    groups, notes, by_group = speaker_groups(), [], {}
    for clip in NEUTRAL_CLIPS:
        path = clip if clip.startswith("/") else os.path.join(CLIPS, clip)
        name = os.path.basename(clip)
        try:
            lm, aspect, valid = tracked_video(path, name)
        except Exception as e:  # noqa: BLE001  (a clip the tracker refuses is reported and left out)
            notes.append(f"{name}: not tracked ({e})")
            continue
        if valid < 0.9:
            notes.append(f"{name}: face in {valid:.0%} of frames")
        group = groups.get(name, "obama" if "Obama" in name else name.split("_")[0])
        by_group.setdefault(group, []).append(summarise(lm, aspect, frames))
    group_means = {g: np.mean(v, 0) for g, v in by_group.items()}
    pop = np.array(list(group_means.values()))
    emotional = {}
    for emo, clips in REAL_EMOTIONAL.items():
        for clip in clips:
            lm, aspect, valid = tracked_video(os.path.join(CLIPS, clip), clip)
            if valid < 0.9:
                notes.append(f"{clip}: face in {valid:.0%} of frames")
            emotional.setdefault(emo, []).append((clip, summarise(lm, aspect, frames)))
    return pop.mean(0), pop.std(0, ddof=1), len(pop), group_means, emotional, notes


def rendered_side(frames: str, fresh: bool):
    """-> ({(audio, emotion, intensity, seed): features 5}, tracker failures, frames tried)."""
    from anim3d.audio import load_audio
    from anim3d.emotions import EMOTIONS
    from anim3d.flame.open_head import load_open_head
    from anim3d.flame.preview import render_previews
    from anim3d.inference import animate
    from anim3d.tracking import track_image

    head, out, failed, tried = load_open_head(), {}, 0, 0
    jobs = [(e, i, 0) for e in EMOTIONS for i in (INTENSITIES if e != "neutral" else (1.0,))] + [("neutral", 1.0, 1)]
    for akey, apath in AUDIOS.items():
        audio = load_audio(apath)
        for emo, inten, seed in jobs:
            cache = os.path.join(CACHE, f"head_{akey}_{emo}_{inten}_s{seed}.npz")
            if fresh or not os.path.exists(cache):
                motion = animate(audio, emotion=emo, intensity=inten, seed=seed)
                imgs = render_previews(head, {"blendshapes": motion.blendshapes[::3]}, size=512)
                lms = []
                for img in imgs:
                    try:
                        lms.append(track_image(img))
                    except Exception:  # noqa: BLE001  (a frame the tracker misses is counted and skipped)
                        lms.append(None)
                ok = [x for x in lms if x is not None]
                np.savez_compressed(cache, landmarks=np.stack(ok), tried=len(lms))
            d = np.load(cache)
            failed += int(d["tried"]) - len(d["landmarks"])
            tried += int(d["tried"])
            out[(akey, emo, inten, seed)] = summarise(d["landmarks"], 1.0, frames)
    cache = os.path.join(CACHE, "head_rest.npz")  # all 52 weights at zero: the mesh's own rest face
    if fresh or not os.path.exists(cache):
        np.savez_compressed(cache, landmarks=track_image(render_previews(head, np.zeros((1, 52), np.float32))[0])[None])
    out["rest"] = features(np.load(cache)["landmarks"], 1.0)[0][0]
    return out, failed, tried


def portrait_side(frames: str, fresh: bool):
    """-> {(audio, emotion): features 5} of the portrait videos at intensity 1 (and neutral)."""
    from anim3d.emotions import EMOTIONS

    out = {}
    cli = os.path.join(os.path.dirname(sys.executable), "anim3d")
    for akey, apath in AUDIOS.items():
        for emo in EMOTIONS:
            mp4 = os.path.join(CACHE, f"portrait_{akey}_{emo}.mp4")
            if fresh or not os.path.exists(mp4):
                subprocess.run([cli, "render", apath, "--portrait", PORTRAIT, "-o", mp4, "--emotion", emo,
                                "--intensity", "1", "--seed", "0", "-q"], check=True)
            lm, aspect, _ = tracked_video(mp4, f"portrait_{akey}_{emo}", fresh)
            out[(akey, emo)] = summarise(lm, aspect, frames)
    return out


def weights_and_targets() -> None:
    """Why the gap: each emotion's mean weight change (hello.wav, seed 0, intensity 1) and, on the open head's
    own vertices (its MediaPipe 468), what a weight of 1 on a pair of morph targets does to the features."""
    from anim3d.audio import load_audio
    from anim3d.channels import ARKIT_NAMES
    from anim3d.emotions import EMOTIONS
    from anim3d.flame.open_head import load_open_head, motion_to_vertices
    from anim3d.inference import animate

    head = load_open_head()
    idx = head.parts["mediapipe_468"]

    def mesh(bs):  # the mesh's MediaPipe points written as MediaPipe coordinates (y, z down/away)
        return features(motion_to_vertices(head, {"blendshapes": bs}).numpy()[:, idx] * [1, -1, -1], 1.0)[0]

    print("\nmorph targets at weight 1 (both sides), change of (corner, width, brow, eye, nose_lip) on the mesh:")
    rest = mesh(np.zeros((1, 52), np.float32))[0]
    for base in ("mouthSmile", "mouthFrown", "mouthStretch", "mouthUpperUp", "noseSneer", "browInnerUp", "browOuterUp",
                 "browDown", "eyeWide", "eyeSquint", "cheekSquint"):
        bs = np.zeros((1, 52), np.float32)
        bs[0, [i for i, n in enumerate(ARKIT_NAMES) if n.startswith(base)]] = 1.0
        print(f"  {base:13s} " + " ".join(f"{x:+.3f}" for x in mesh(bs)[0] - rest))
    audio = load_audio(AUDIOS["hello"])
    neutral = animate(audio, emotion="neutral", intensity=1.0, seed=0).blendshapes
    print("largest mean weight changes at intensity 1 (hello.wav, seed 0):")
    for emo in EMOTIONS[1:]:
        d = (animate(audio, emotion=emo, intensity=1.0, seed=0).blendshapes - neutral).mean(0)
        print(f"  {emo:10s} " + ", ".join(f"{ARKIT_NAMES[i]} {d[i]:+.2f}" for i in np.argsort(-np.abs(d))[:6]))


def fmt(x: float) -> str:
    return "     n/a" if x is None or not np.isfinite(x) else f"{x:+8.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", choices=("all", "quiet"), default="all")
    ap.add_argument("--fresh", action="store_true", help="animate, render and track again (ignore the cache)")
    ap.add_argument("--no-portrait", action="store_true")
    args = ap.parse_args()
    os.makedirs(CACHE, exist_ok=True)
    t0 = time.time()
    from anim3d.emotions import EMOTIONS

    mu, sd, n_groups, group_means, emotional, notes = real_side(args.frames)
    head, failed, tried = rendered_side(args.frames, args.fresh)
    portrait = None if args.no_portrait else portrait_side(args.frames, args.fresh)

    def head_delta(emo, inten):  # mean over the audios of (emotion - neutral, same audio and seed 0)
        return np.mean([head[(a, emo, inten, 0)] - head[(a, "neutral", 1.0, 0)] for a in AUDIOS], 0)

    print(f"frames: {args.frames}; neutral population: {n_groups} speaker groups, {len(NEUTRAL_CLIPS)} clips; "
          f"open head: {tried - failed}/{tried} rendered frames tracked")
    for k, (key, title) in enumerate(FEATURES.items()):
        print(f"\n{key}: {title}, change against neutral, inter-ocular units")
        print(f"  neutral population {mu[k]:+.3f} +- {sd[k]:.3f} (sd over groups); neutral open head "
              + ", ".join(f"{a} {head[(a, 'neutral', 1.0, 0)][k]:+.3f}" for a in AUDIOS) + f", rest mesh {head['rest'][k]:+.3f}"
              + f" (neutral head z {np.mean([head[(a, 'neutral', 1.0, 0)][k] for a in AUDIOS]) / sd[k] - mu[k] / sd[k]:+.1f})"
              + (f"; neutral portrait " + ", ".join(f"{a} {portrait[(a, 'neutral')][k]:+.3f}" for a in AUDIOS) if portrait else ""))
        print(f"  {'emotion':10s} {'real':>8s} {'z':>6s}  {'clips':17s} {'head.33':>8s} {'head.67':>8s} {'head1.0':>8s} "
              f"{'1.0/real':>8s} {'portr1.0':>8s}")
        for emo in EMOTIONS:
            if emo == "neutral":
                seed_noise = np.mean([head[(a, "neutral", 1.0, 1)] - head[(a, "neutral", 1.0, 0)] for a in AUDIOS], 0)[k]
                print(f"  {'(seed1-0)':10s} {'':8s} {'':6s}  {'':17s} {'':8s} {'':8s} {fmt(seed_noise)}")
                continue
            clips = emotional.get(emo, [])
            real = np.mean([f[k] - mu[k] for _, f in clips]) if clips else None
            per = "/".join(f"{f[k] - mu[k]:+.2f}" for _, f in clips) if len(clips) > 1 else ""
            d = [head_delta(emo, i)[k] for i in INTENSITIES]
            ratio = d[-1] / real if real is not None and abs(real) >= sd[k] else None  # only where real |z| >= 1
            por = (np.mean([portrait[(a, emo)][k] - portrait[(a, "neutral")][k] for a in AUDIOS]) if portrait else None)
            z = real / sd[k] if real is not None else None
            print(f"  {emo:10s} {fmt(real)} {(f'{z:+6.1f}' if z is not None else '   n/a')}  {per:17s} "
                  f"{fmt(d[0])} {fmt(d[1])} {fmt(d[2])} {fmt(ratio)} {fmt(por)}")
        spread = np.std([[head[(a, e, 1.0, 0)][k] - head[(a, "neutral", 1.0, 0)][k] for a in AUDIOS]
                         for e in EMOTIONS[1:]], axis=1).mean()
        print(f"  open head @1.0: mean |hello - B08| / 2 over emotions {spread:.3f}")
    print("\nneutral population per group (corner, width, brow, eye, nose_lip):")
    for g, v in sorted(group_means.items()):
        print(f"  {g:40s} " + " ".join(f"{x:+.3f}" for x in v))
    for emo, clips in emotional.items():
        for clip, v in clips:
            print(f"  {emo:10s} {clip:40s} " + " ".join(f"{x:+.3f}" for x in v))
    weights_and_targets()
    for note in notes:
        print("note:", note)
    print(f"\ntime: {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
