"""festival, run as a batch process; ``utt.save.segs`` writes each phone's end time."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile

import numpy as np

from anim3d.audio import Audio, load_audio
from anim3d.data.tts.voice import SAMPLE_RATE, TTSError, Voice, clean_text, finish
from anim3d.phones import SIL, Phone, from_festival

FESTIVAL_VOICES = ("cmu_us_slt_arctic_hts", "kal_diphone")


def speak_many(texts, voice: Voice, rates, pitches) -> list[tuple[Audio, list[Phone]]]:
    exe = shutil.which("festival")
    if exe is None:
        raise TTSError("festival is not installed; apt-get install festival festvox-us-slt-hts festvox-kallpc16k")
    with tempfile.TemporaryDirectory(prefix="anim3d-festival-") as tmp:
        lines = [f"(voice_{voice.name})"]
        for i, (t, r, p) in enumerate(zip(texts, rates, pitches)):
            lines.append(f"(Parameter.set 'Duration_Stretch {1.0 / r:.4f})")
            if voice.name.endswith("_hts"):  # hts_engine: -r speed factor, -fm pitch shift in half-tones
                params = f"{voice.name}::hts_engine_params"
                lines.append(f"(set! hts_engine_params (append {params} (list '(\"-r\" {r:.4f}) '(\"-fm\" {12 * np.log2(p):.3f}))))")
            elif voice.name == "kal_diphone":
                f0 = 105.0 * p
                lines.append(f"(set! int_lr_params '((target_f0_mean {f0:.1f}) (target_f0_std {f0 * 0.14:.1f}) (model_f0_mean 170) (model_f0_std 34)))")
            lines.append(f'(set! u (Utterance Text "{clean_text(t)}"))')
            lines.append("(utt.synth u)")
            lines.append(f"(utt.save.wave u \"{tmp}/{i}.wav\" 'riff)")
            lines.append(f'(utt.save.segs u "{tmp}/{i}.segs")')
        script = os.path.join(tmp, "run.scm")
        with open(script, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        proc = subprocess.run([exe, "-b", script], capture_output=True, text=True, timeout=60 + 10 * len(texts))
        out = []
        for i, t in enumerate(texts):
            wav, segs = os.path.join(tmp, f"{i}.wav"), os.path.join(tmp, f"{i}.segs")
            if not (os.path.isfile(wav) and os.path.isfile(segs)):
                err = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
                raise TTSError(f"festival ({voice.name}) failed on {t[:40]!r}: {err[0]}")
            audio = load_audio(wav, SAMPLE_RATE, allow_silent=True)
            audio.path = None
            out.append(finish(audio.samples, SAMPLE_RATE, _read_segs(segs), f"festival:{voice.name}"))
        return out


def _read_segs(path: str) -> list[Phone]:
    """festival's segment file: a '#' line, then 'end_time 100 phone' per line."""
    phones: list[Phone] = []
    start = 0.0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[0] == "#":
                continue
            end = float(parts[0])
            label = from_festival(parts[2])
            phones.append(Phone(label or SIL, start, end))
            start = end
    return phones


def voices() -> list[Voice]:
    """The installed festival voices of ``FESTIVAL_VOICES``."""
    if not shutil.which("festival"):
        return []
    return [Voice("festival", name) for name in FESTIVAL_VOICES if glob.glob(f"/usr/share/festival/voices/*/{name}")]
