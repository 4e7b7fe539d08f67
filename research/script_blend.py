"""Question: when a line comes with its script, how much of the rule-based mouth (the teacher's visemes on the
script's phones aligned to the audio) should replace the generated one, and should the learned opening's share
change? Chosen without the clips whose words are known (GRID), which then judge it: on the other English clips of
../shared/realvideo and the evaldata videos, the words pocketsphinx recognises stand in for the script.

Prints each clip's r at its AV offset per setting, and the means.

    .venv/bin/python research/script_blend.py
"""

from __future__ import annotations

import csv
import warnings

import numpy as np

from anim3d.eval.real import find_videos_in, load_clip, score_motion
from anim3d.inference import animate, load_model
from anim3d.phonetic import recognize_words

SHARED = "../shared"
# (with the script, teacher blend share, learned opening share); None: the checkpoint's
SETTINGS = [(False, None, None), (True, 0.3, None), (True, 0.8, None), (True, 1.0, None), (True, 1.0, 0.5),
            (True, 1.0, 0.6), (True, 1.0, 0.9)]


def main():
    warnings.simplefilter("ignore")
    with open(f"{SHARED}/realvideo/manifest.tsv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    known = {r["file"] for r in rows if r["transcript"]}
    english = {r["file"] for r in rows if r["language"].startswith("en")}
    videos = [v for v in find_videos_in([f"{SHARED}/realvideo/clips", f"{SHARED}/evaldata/video"])
              if v.name not in known and (v.name in english or v.parent.name == "video")]
    gen = load_model()
    scores = {s: [] for s in SETTINGS}
    for v in videos:
        try:
            clip = load_clip(v, progress=False)
        except Exception as e:  # the tracker refuses the clip (two faces...)
            print(v.name, "left out:", e)
            continue
        words = " ".join(recognize_words(clip.audio))
        if not words:
            continue
        for s in SETTINGS:
            use, blend, opening = s
            m = animate(clip.audio, checkpoint=gen, seed=0, text=words if use else None, teacher_blend=blend,
                        opening_share=opening)
            scores[s].append(score_motion(clip.name, "m", m.resample(clip.track.fps), clip.track, clip.offset.lag).r_av)
        print(v.name, " ".join(f"{scores[s][-1]:.3f}" for s in SETTINGS), flush=True)
    print("| script | teacher blend | opening share | clips | mean r at the AV offset |")
    print("|---|---|---|---|---|")
    for s, r in scores.items():
        print(f"| {'yes' if s[0] else 'no'} | {s[1] if s[1] is not None else 'checkpoint'} | "
              f"{s[2] if s[2] is not None else 'checkpoint'} | {len(r)} | {np.mean(r):.3f} |")


if __name__ == "__main__":
    main()
