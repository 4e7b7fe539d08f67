"""Held-out check of a motion checkpoint on the first N utterances of a corpus's val split (voices never
trained on): bilabial closure (the evaluation's definition, on the open head mesh), blinks per minute and
lip error, for one or more inference settings. Corpora made with the same seed share their held-out
voices but not all their utterances, so pooling two gives more p/b/m (195 in the first 33 utterances of
one corpus: a standard error of about 1.7 points on a closure rate near 0.94); utterances found in both
are counted once.

    python scripts/heldout_closure.py CHECKPOINT CORPUS[,CORPUS...] N ['[[guidance, guidance_channels, steps, group_steps, teacher_blend], ...]'] [SEEDS]

Utterance i is sampled with seed i + s for each s in SEEDS (comma-separated, default 0): one line per setting and s.
    python scripts/heldout_closure.py models/default /work/corpus/h4_synth_2h 33 '[[{"audio": 2.0}, {"audio": ["mouth"]}]]'
"""

import json
import sys

import numpy as np
import torch

from anim3d.eval.metrics import bilabial_closure_rate, blink_rate_from_closure
from anim3d.eval.mouth import CLOSED_BELOW, mesh_opening
from anim3d.motion_codec import array_to_motion
from anim3d.mouth_blend import blend_mouth
from anim3d.pipeline import MotionGenerator, generate_windows
from anim3d.training import example_controls, lip_error
from anim3d.training_data import load_examples


def score(gen: MotionGenerator, examples, guidance: dict, steps: int | None, group_steps: dict | None = None,
          share: float = 0.0, rules: list | None = None, seed: int = 0) -> str:
    """One line: pooled closure over the examples' p/b/m, mean blinks per minute, mean lip error; ``share`` of
    each example's rule-based mouth (``rules``) blended in as ``animate`` does."""
    hits = n = 0
    blinks, errors = [], []
    for i, ex in enumerate(examples):
        out = generate_windows(gen, ex.feats, example_controls(ex), [i + seed], steps, guidance, gen.cfg.default_sampler,
                               group_steps=group_steps)[0]
        if share > 0:
            out[:, :52] = blend_mouth(np.clip(out[:, :52], 0, 1), rules[i], share)
        m = array_to_motion(out, gen.cfg.fps)
        rate, k = bilabial_closure_rate(mesh_opening(m), ex.phones, m.fps, closed_below=CLOSED_BELOW["mesh"])
        if k:
            hits, n = hits + rate * k, n + k
        blinks.append(blink_rate_from_closure(0.5 * (m.channel("eyeBlinkLeft") + m.channel("eyeBlinkRight")), m.fps))
        errors.append(lip_error(np.clip(out[:, :52], 0, 1), ex.motion[:, :52]))
    return f"closure {hits / max(n, 1):.3f} (n={n}) blinks/min {np.mean(blinks):.1f} lip_error {np.mean(errors):.3f}"


def rule_mouths(gen: MotionGenerator, corpus: str, limit: int, examples) -> list:
    """Per example (the same utterances in the same order as ``load_examples`` gave them), the rule-based mouth
    ``animate`` would blend in."""
    from anim3d.data.shards import ShardDataset

    by_key = {}
    for c in corpus.split(","):
        for i, u in enumerate(ShardDataset(c, "val")):
            if i >= limit:
                break
            key = (u.voice, tuple((p.label, round(float(p.start), 3)) for p in u.phones))
            if key not in by_key:
                n = int(round(u.motion.num_frames * gen.cfg.fps / u.motion.fps))
                by_key[key] = gen.features_and_rule_mouth(u.audio, n)[1]
    return [by_key[(ex.voice, tuple((p[0], round(p[1], 3)) for p in ex.phones))] for ex in examples]


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)
    checkpoint, corpus, limit = argv[0], argv[1], int(argv[2])
    settings = json.loads(argv[3]) if len(argv) > 3 else [[{"audio": 1.5}, {}]]
    seeds = [int(v) for v in argv[4].split(",")] if len(argv) > 4 else [0]
    gen = MotionGenerator.load(checkpoint, "cpu")
    # features once; several corpora (comma-separated) pool their val splits, N utterances from each,
    # an utterance that is in an earlier corpus too (same voice and phones) counted once
    examples, seen = [], set()
    for c in corpus.split(","):
        for ex in load_examples(c, "val", gen.front_end, gen.cfg.fps, limit=limit):
            key = (ex.voice, tuple((p[0], round(p[1], 3)) for p in ex.phones))
            if key not in seen:
                seen.add(key)
                examples.append(ex)
    print(f"{len(examples)} held-out utterances", flush=True)
    rules = None
    if any(len(s) > 4 and s[4] for s in settings) or (gen.cfg.teacher_blend and not all(len(s) > 4 for s in settings)):
        rules = rule_mouths(gen, corpus, limit, examples)
    for setting in settings:
        guidance, channels = setting[0], setting[1]
        steps = setting[2] if len(setting) > 2 else None
        group_steps = setting[3] if len(setting) > 3 else None  # None: the checkpoint's
        share = setting[4] if len(setting) > 4 else gen.cfg.teacher_blend  # the checkpoint's unless given
        gen.cfg.guidance_channels = channels
        for seed in seeds:
            print(f"steps {steps} guidance {guidance} channels {channels} group_steps {group_steps} teacher_blend {share} "
                  f"seed +{seed}: {score(gen, examples, guidance, steps, group_steps, share, rules, seed)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
