"""How a motion model and the phone front end do on speech whose phones are known: a corpus's held-out split
(synthetic voices) or a real voice imported with ``anim3d import transcribed`` (force-aligned phones).

    python research/known_phones_check.py CHECKPOINT CORPUS [--split val] [--n 100] [--all-split]

Per corpus, on the first N utterances with distinct sentences (augmented audio included, as in training):
- the Pearson r between the model's mouth opening (open-head inner-lip gap; seed 0, the checkpoint's sampler
  and guidance) and its teacher's on the same utterance, and the share of frames with the lips shut
  (under 0.1 mm) in each;
- per phone, the share of phone middles at which model / teacher have the lips shut;
- the phone front end: the share of speech frames whose most likely CI phone of pocketsphinx's acoustic model
  is the known phone (frame posteriors), and how well the posterior mass of P, B and M (its maximum over the
  phone) tells p/b/m from the other stops and nasals (ROC AUC).

The forward-filter rows of the recorded answer (``--phone-smoothing`` at stay 0.8 and 0.9, an experiment
removed since) need ``git checkout experiments-2026-12``; this version prints the rest with the current API.

A transcribed corpus holds one voice and no held-out split: ``--all-split`` reads every utterance (split
"all"); they are held out from a model that was not trained on that corpus.
"""

from __future__ import annotations

import argparse

import numpy as np

from anim3d.eval.mouth import SHUT_BELOW

BILABIALS = {"P", "B", "M"}
OTHER_CLOSURES = {"T", "D", "K", "G", "N", "NG", "DH", "TH"}  # the other stops and nasals


def auc(pos, neg) -> float:
    """ROC AUC: the chance that a random positive scores above a random negative (ties count half)."""
    pos, neg = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(np.mean(pos > neg) + 0.5 * np.mean(pos == neg))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="checkpoint folder, or 'default'")
    ap.add_argument("corpus")
    ap.add_argument("--split", default="val")
    ap.add_argument("--all-split", action="store_true", help="read every utterance (a transcribed corpus has no val split)")
    ap.add_argument("--n", type=int, default=100)
    args = ap.parse_args()

    from anim3d.data.shards import ShardDataset
    from anim3d.emotions import EMOTIONS
    from anim3d.eval.mouth import mesh_opening
    from anim3d.inference import MotionSettings, load_model
    from anim3d.inference.settings import resolve_sampling
    from anim3d.inference.windows import generate_windows
    from anim3d.models import sphinx_acoustic as sa
    from anim3d.motion_codec import array_to_motion, motion_to_array
    from anim3d.phones import normalize_label
    from anim3d.training.data import Example
    from anim3d.training.loop import example_conditions

    gen = load_model(None if args.checkpoint == "default" else args.checkpoint)
    sampling = resolve_sampling(MotionSettings(), gen.inference)  # the checkpoint's steps, sampler and guidance
    labels = [normalize_label(p) for p in sa.load_model().phones]
    bilabial = [i for i, lab in enumerate(labels) if lab in BILABIALS]
    seen, rs, shut, per_phone = set(), [], [], {}
    hits = {"frame posteriors": []}
    pbm_scores: tuple[list, list] = ([], [])
    for u in ShardDataset(args.corpus, "all" if args.all_split else args.split):
        if len(seen) >= args.n:
            break
        if u.text in seen:  # one copy of each sentence (a transcribed corpus holds several)
            continue
        seen.add(u.text)
        phones = [(p.label, float(p.start), float(p.end)) for p in u.phones]
        motion = u.motion if abs(u.motion.fps - gen.cfg.fps) < 1e-9 else u.motion.resample(gen.cfg.fps)
        emo = str(u.labels.get("emotion", "neutral"))
        ex = Example(gen.front_end(u.audio.samples, motion.num_frames), motion_to_array(motion),
                     EMOTIONS.index(emo) if emo in EMOTIONS else 0, float(u.labels.get("intensity", 0.0) or 0.0), u.voice, phones)
        out = generate_windows(gen, ex.feats, example_conditions(ex), [0], sampling)[0]
        mm, mt = mesh_opening(array_to_motion(out, gen.cfg.fps)), mesh_opening(motion)
        k = min(len(mm), len(mt))
        rs.append(float(np.corrcoef(mm[:k], mt[:k])[0, 1]))
        shut.append((np.mean(mm[:k] < SHUT_BELOW), np.mean(mt[:k] < SHUT_BELOW)))
        for lab, s, e in phones:
            f = int((s + e) / 2 * gen.cfg.fps)
            if f < k:
                per_phone.setdefault(lab, []).append((mm[f] < SHUT_BELOW, mt[f] < SHUT_BELOW))
        # the front end against the known phones, at 100 Hz
        ll = sa.ci_phone_loglik(sa.features(u.audio.samples), sa.load_model())
        post = np.exp(ll - ll.max(axis=1, keepdims=True))
        post /= post.sum(axis=1, keepdims=True)
        truth = np.array(["SIL"] * len(post), dtype=object)
        centres = (np.arange(len(post)) + 0.5) / sa.FRAME_RATE
        for lab, s, e in phones:
            truth[(centres >= s) & (centres < e)] = lab
        speech = truth != "SIL"
        for name, p in (("frame posteriors", post),):
            pred = np.array([labels[i] for i in p.argmax(axis=1)], dtype=object)
            hits[name] += list(pred[speech] == truth[speech])
        mass = post[:, bilabial].sum(axis=1)
        for lab, s, e in phones:
            a, b = int(s * sa.FRAME_RATE), int(e * sa.FRAME_RATE)
            if b > a and b <= len(mass) and (lab in BILABIALS or lab in OTHER_CLOSURES):
                pbm_scores[0 if lab in BILABIALS else 1].append(float(mass[a:b].max()))

    shut_a = np.array(shut)
    print(f"{args.checkpoint} on {args.corpus} ({len(rs)} utterances): mouth r with the teacher {np.mean(rs):.3f}; "
          f"lips shut on {shut_a[:, 0].mean():.3f} of frames (teacher {shut_a[:, 1].mean():.3f})")
    common = sorted((lab for lab in per_phone if len(per_phone[lab]) >= 10), key=lambda lab: -len(per_phone[lab]))
    print("lips shut at phone middles, model/teacher: " + ", ".join(
        f"{lab} {np.mean([m for m, _ in per_phone[lab]]):.2f}/{np.mean([t for _, t in per_phone[lab]]):.2f}" for lab in common))
    print("front end, speech frames named right: " + ", ".join(f"{k} {np.mean(v):.3f}" for k, v in hits.items()))
    print(f"p/b/m posterior mass, p/b/m ({len(pbm_scores[0])}) against other stops and nasals ({len(pbm_scores[1])}): "
          f"AUC {auc(*pbm_scores):.3f}")


if __name__ == "__main__":
    main()
