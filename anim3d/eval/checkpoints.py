"""The two measurements that compare motion checkpoints and inference settings, as the recipe and a researcher
use them:

    python -m anim3d.eval.checkpoints real CHECKPOINT[,CHECKPOINT...] [--seeds 0,1,2] [--videos DIR]
    python -m anim3d.eval.checkpoints heldout CHECKPOINT CORPUS[,CORPUS...] [--limit N] [--settings JSON] [--seeds 0,1]

``real``: real-speaker lip sync, the Pearson r between the generated mouth opening (open-head inner-lip gap)
and the speaker's MediaPipe-tracked one at each clip's audio-video offset, per clip and as the mean over clips
and seeds, and the share of frames with the lips shut (``anim3d.eval.mouth.SHUT_BELOW``). Tracking is cached.

``heldout``: on the first N utterances of each corpus's val split (voices never trained on; an utterance found
in two corpora counts once), bilabial closure on the open head, blinks per minute and lip error against the
corpus's teacher, for one or more inference settings: ``--settings`` is a JSON list of objects of
``InferenceConfig`` fields that replace the checkpoint's (``[{}]``: the checkpoint as it is). Utterance i is
sampled with seed i + s for each s in ``--seeds``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np


@dataclasses.dataclass
class RealScore:
    checkpoint: str
    r: float  # mean over clips of the mean over seeds
    per_clip: dict  # clip name -> r
    shut: float  # share of frames with the lips shut


def real_lipsync(checkpoints: list[str], seeds: list[int], videos: str) -> list[RealScore]:
    """Real-speaker lip sync of each checkpoint ('default' = the shipped model)."""
    from anim3d.eval.mouth import SHUT_BELOW
    from anim3d.eval.real import find_videos, load_clip, score_motion
    from anim3d.inference import animate, load_model

    clips = [load_clip(v, None, False) for v in find_videos(videos)]
    out = []
    for ck in checkpoints:
        gen = load_model(None if ck == "default" else ck)
        per_clip, shut = {}, []
        for c in clips:
            rs = []
            for s in seeds:
                res = score_motion(c.name, "model", animate(c.audio, checkpoint=gen, seed=s), c.track, c.offset.lag)
                rs.append(res.r_av)
                shut.append(float(np.mean(res.curve < SHUT_BELOW)))
            per_clip[c.name] = float(np.mean(rs))
        out.append(RealScore(ck, float(np.mean(list(per_clip.values()))), per_clip, float(np.mean(shut))))
    return out


def heldout_examples(gen, corpora: list[str], limit: int) -> list:
    """The val-split examples of the corpora (features by ``gen``'s front end), each utterance once."""
    from anim3d.training.data import load_examples

    examples, seen = [], set()
    for c in corpora:
        for ex in load_examples(c, "val", gen.front_end, gen.cfg.fps, limit=limit):
            key = (ex.voice, tuple((p[0], round(p[1], 3)) for p in ex.phones))
            if key not in seen:
                seen.add(key)
                examples.append(ex)
    return examples


def rule_mouths(gen, corpora: list[str], limit: int, examples) -> list:
    """Per example (in ``heldout_examples``' order), the rule-based mouth ``animate`` would blend in."""
    from anim3d.data.shards import ShardDataset

    by_key = {}
    for c in corpora:
        for i, u in enumerate(ShardDataset(c, "val")):
            if i >= limit:
                break
            key = (u.voice, tuple((p.label, round(float(p.start), 3)) for p in u.phones))
            if key not in by_key:
                n = int(round(u.motion.num_frames * gen.cfg.fps / u.motion.fps))
                by_key[key] = gen.features_and_rule_mouth(u.audio, n)[1]
    return [by_key[(ex.voice, tuple((p[0], round(p[1], 3)) for p in ex.phones))] for ex in examples]


@dataclasses.dataclass
class HeldoutScore:
    closure: float  # pooled over the examples' p/b/m
    bilabials: int
    blinks_per_minute: float
    lip_error: float


def heldout_score(gen, examples, rules: list | None = None, seed: int = 0) -> HeldoutScore:
    """Closure, blinks and lip error of ``gen`` (with its inference settings) on the examples."""
    from anim3d.eval.metrics import bilabial_closure_rate, blink_rate_from_closure
    from anim3d.eval.mouth import CLOSED_BELOW, mesh_opening
    from anim3d.inference.offline import finish_mouth
    from anim3d.inference.settings import MotionSettings, resolve_sampling
    from anim3d.inference.windows import generate_windows
    from anim3d.motion_codec import array_to_motion
    from anim3d.training.loop import example_conditions, lip_error

    sampling = resolve_sampling(MotionSettings(), gen.inference)
    if sampling.teacher_blend > 0 and rules is None:
        raise ValueError("a teacher blend needs the examples' rule-based mouths")
    hits = n = 0
    blinks, errors = [], []
    for i, ex in enumerate(examples):
        out = generate_windows(gen, ex.feats, example_conditions(ex), [i + seed], sampling)[0]  # T x 58
        if sampling.teacher_blend > 0 or sampling.opening_share > 0:
            jaw = gen.learned_jaw(ex.feats) if sampling.opening_share > 0 else None
            out[:, :52] = finish_mouth(np.clip(out[:, :52], 0, 1), sampling, rules[i] if rules else None, jaw)
        m = array_to_motion(out, gen.cfg.fps)
        rate, k = bilabial_closure_rate(mesh_opening(m), ex.phones, m.fps, closed_below=CLOSED_BELOW["mesh"])
        if k:
            hits, n = hits + rate * k, n + k
        blinks.append(blink_rate_from_closure(0.5 * (m.channel("eyeBlinkLeft") + m.channel("eyeBlinkRight")), m.fps))
        errors.append(lip_error(np.clip(out[:, :52], 0, 1), ex.motion[:, :52]))
    return HeldoutScore(hits / max(n, 1), n, float(np.mean(blinks)), float(np.mean(errors)))


def main(argv: list[str] | None = None) -> None:
    from anim3d.paths import evaldata_dir

    ap = argparse.ArgumentParser(prog="python -m anim3d.eval.checkpoints", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    r = sub.add_parser("real", help="real-speaker lip sync of checkpoints")
    r.add_argument("checkpoints", help="comma-separated checkpoint folders, or 'default'")
    r.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    r.add_argument("--videos", default=str(evaldata_dir() / "video"))
    h = sub.add_parser("heldout", help="held-out closure, blinks and lip error for inference settings")
    h.add_argument("checkpoint")
    h.add_argument("corpora", help="comma-separated corpus folders")
    h.add_argument("--limit", type=int, default=60, help="utterances per corpus val split (default 60)")
    h.add_argument("--settings", default="[{}]", help="JSON list of InferenceConfig overrides (default: the checkpoint's)")
    h.add_argument("--seeds", default="0", help="comma-separated seed offsets (default 0)")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.what == "real":
        for s in real_lipsync(args.checkpoints.split(","), seeds, args.videos):
            clips = " / ".join(f"{name} {r:.3f}" for name, r in s.per_clip.items())
            print(f"{s.checkpoint}: real r {s.r:.4f} ({clips}); lips shut on {s.shut:.3f} of frames", flush=True)
        return
    import torch

    from anim3d.inference.generator import MotionGenerator
    from anim3d.models.config import InferenceConfig

    torch.set_num_threads(1)
    gen = MotionGenerator.load(args.checkpoint, "cpu")
    corpora = args.corpora.split(",")
    examples = heldout_examples(gen, corpora, args.limit)
    print(f"{len(examples)} held-out utterances", flush=True)
    settings = [InferenceConfig.from_dict({**gen.inference.to_dict(), **s}) for s in json.loads(args.settings)]
    rules = rule_mouths(gen, corpora, args.limit, examples) if any(s.teacher_blend > 0 for s in settings) else None
    base = gen.inference
    for inference in settings:
        gen.inference = inference
        for seed in seeds:
            s = heldout_score(gen, examples, rules, seed)
            print(f"{inference} seed +{seed}: closure {s.closure:.3f} (n={s.bilabials}) blinks/min "
                  f"{s.blinks_per_minute:.1f} lip_error {s.lip_error:.3f}", flush=True)
    gen.inference = base


if __name__ == "__main__":
    main()
