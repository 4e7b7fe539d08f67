"""Question: does the aligner's gain (anim3d.align.ScriptAligner.gain) tell a script that matches its audio from one
that does not, on real and on synthetic voices, and where should the line (anim3d.align.MIN_GAIN) be?

Matching scripts: 30 English espeak-ng utterances (rates 0.85-1.3), the 11 GRID clips of ../shared/realvideo with
their manifest sentences, three evaldata recordings with their known sentences. Not matching: each audio with
another item's script, with a French line read as French (another language: anim3d.data.sentences/fr.txt), and
with its own script's second half replaced by another line's (an ad-lib: half of it does match).

    .venv/bin/python research/script_match.py
"""

from __future__ import annotations

import csv

import numpy as np

from anim3d.align import MIN_GAIN, align
from anim3d.audio import load_audio, resample
from anim3d.data import tts
from anim3d.data.text import utterance_text
from anim3d.models import sphinx_acoustic as sa
from anim3d.phonetic import RecognizerConfig
from anim3d.script import read_script

SHARED = "../shared"
EVALDATA = {
    "B01_jfk.flac": "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country.",
    "B02_cmu_arctic_a0007.wav": "And you always want to see it in the superlative degree.",
    "B08_sb_example1.wav": "The birch canoe slid on the smooth planks.",
}


def loglik(audio):
    x = resample(audio.samples, audio.sample_rate, 16000) if audio.sample_rate != 16000 else audio.samples
    return sa.ci_phone_loglik(sa.features(x))


def items():
    rng = np.random.default_rng(3)
    voices = [v for v in tts.list_voices() if v.engine == "espeak"]
    for _ in range(30):
        text = utterance_text(rng)
        audio, _ = tts.synthesize(text, voices[rng.integers(len(voices))], rate=float(rng.uniform(0.85, 1.3)))
        yield "synthetic", text, loglik(audio)
    with open(f"{SHARED}/realvideo/manifest.tsv", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["transcript"]:
                yield "GRID", row["transcript"], loglik(load_audio(f"{SHARED}/realvideo/clips/{row['file']}", 16000))
    for name, text in EVALDATA.items():
        yield "evaldata", text, loglik(load_audio(f"{SHARED}/evaldata/audio/{name}", 16000))


def gain(ll, text, language="en"):
    try:
        return align(ll, [list(w) for w in read_script(text, language).words], RecognizerConfig().phone_change_penalty).gain
    except ValueError:  # too short for the script: counts as not matching
        return float("-inf")


def main():
    from anim3d.data.text import language_sentences

    french = language_sentences("fr")
    data = list(items())
    rows: dict[tuple[str, str], list[float]] = {}
    for i, (kind, text, ll) in enumerate(data):
        other = data[(i + 7) % len(data)][1]
        words = text.split()
        adlib = " ".join(words[: len(words) // 2] + other.split()[len(other.split()) // 2 :])
        for case, g in (("own script", gain(ll, text)), ("another line", gain(ll, other)),
                        ("a French line", gain(ll, french[i % len(french)], "fr")), ("second half another line's", gain(ll, adlib))):
            rows.setdefault((kind, case), []).append(g)
    print(f"| voices | script | n | gain min | median | max | share >= MIN_GAIN ({MIN_GAIN}) |")
    print("|---|---|---|---|---|---|---|")
    for (kind, case), g in rows.items():
        g = np.array(g)
        print(f"| {kind} | {case} | {g.size} | {g.min():.2f} | {np.median(g):.2f} | {g.max():.2f} | {np.mean(g >= MIN_GAIN):.2f} |")


if __name__ == "__main__":
    main()
