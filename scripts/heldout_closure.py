"""Held-out check of a motion checkpoint on the first N utterances of a corpus's val split (voices never
trained on): bilabial closure (the evaluation's definition, on the open head mesh), blinks per minute and
lip error, for one or more inference settings.

    python scripts/heldout_closure.py CHECKPOINT CORPUS N ['[[guidance, guidance_channels, steps], ...]']
    python scripts/heldout_closure.py models/default /work/corpus/h4_synth_2h 33 '[[{"audio": 2.0}, {"audio": ["mouth"]}]]'
"""
import sys, json, numpy as np, torch
torch.set_num_threads(1)
from anim3d.pipeline import MotionGenerator, Controls, generate_windows
from anim3d.data.shards import ShardDataset
from anim3d.motion_codec import gaze_condition, distance_condition, DISTANCE_SCALE, motion_to_array, array_to_motion
from anim3d.eval.mouth import mesh_opening, CLOSED_BELOW
from anim3d.eval.metrics import bilabial_closure_rate, blink_rate_from_closure
from anim3d.training import lip_error
ck, corpus, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
settings = json.loads(sys.argv[4]) if len(sys.argv) > 4 else [[{"audio": 1.5}, {}]]
gen = MotionGenerator.load(ck, "cpu")
utts = []
for i, u in enumerate(ShardDataset(corpus, "val")):
    if i >= N: break
    utts.append(u)
for setting in settings:
    guid, chans = setting[0], setting[1]
    steps = setting[2] if len(setting) > 2 else None
    gen.cfg.guidance_channels = chans
    hits = n = 0; blinks = []; errs = []
    for i, u in enumerate(utts):
        raw = motion_to_array(u.motion)
        feats = gen.features(u.audio, u.motion.num_frames)
        from models.config import EMOTIONS
        emo = u.labels.get("emotion", "neutral")
        c = Controls(EMOTIONS.index(emo), float(u.labels.get("intensity", 0) or 0), tuple(gaze_condition(raw)), float(distance_condition(raw)[0] / DISTANCE_SCALE), None)
        out = generate_windows(gen, feats, c, [i], steps, guid, gen.cfg.default_sampler)[0]
        m = array_to_motion(out, u.motion.fps)
        r, k = bilabial_closure_rate(mesh_opening(m), u.phones, m.fps, closed_below=CLOSED_BELOW["mesh"])
        if k: hits += r * k; n += k
        blinks.append(blink_rate_from_closure(0.5 * (m.channel("eyeBlinkLeft") + m.channel("eyeBlinkRight")), m.fps))
        errs.append(lip_error(np.clip(out[:, :52], 0, 1), raw[:, :52]))
    print(f"steps {steps} guidance {guid} channels {chans}: closure {hits / max(n, 1):.3f} (n={n}) blinks/min {np.mean(blinks):.1f} lip_error {np.mean(errs):.3f}", flush=True)
