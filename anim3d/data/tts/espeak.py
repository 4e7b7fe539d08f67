"""espeak-ng voices for the synthetic corpus: speech with exact phone timings from the phoneme events that
``anim3d.espeak`` (the library, in-process) reports."""

from __future__ import annotations

import os

import numpy as np

from anim3d.audio import Audio
from anim3d.data.tts.voice import TTSError, Voice, clean_text, finish
from anim3d.espeak import LANGUAGE_SWITCH, EspeakError, data_dir, engine, find_library, standard_ipa
from anim3d.phones import SIL, Phone, from_ipa

# Human-sounding espeak-ng variants (robot, whisper and novelty variants are left out).
ESPEAK_VARIANTS = (
    "", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "Alex", "Annie", "Andy", "adam", "anika", "aunty",
    "belinda", "benjamin", "david", "ed", "edward", "john", "linda", "max", "michel", "paul",
    "quincy", "rob", "robert", "steph", "travis", "victor", "zac",
)
ESPEAK_LANGUAGES = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc")


def speak(text: str, voice: Voice, rate: float, pitch: float) -> tuple[Audio, list[Phone]]:
    try:
        eng = engine()
        samples, events = eng.speak(clean_text(text), voice.name + (f"+{voice.variant}" if voice.variant else ""), rate, pitch)
    except EspeakError as e:
        raise TTSError(str(e)) from None
    if samples.size == 0:
        raise TTSError(f"espeak-ng produced no audio for {text[:40]!r}")
    sr = eng.rate
    total = samples.size / sr
    # a language switch ("(en)") and Korean's aspiration ('h' after a stop) are no phones: the phone before
    # them goes on to the next one
    events = [e for e in events if not LANGUAGE_SWITCH.fullmatch(e[1])]
    events = [(pos, ipa) for (pos, _), ipa in zip(events, standard_ipa([e[1] for e in events], voice.name)) if ipa != "ʰ"]
    phones: list[Phone] = []
    for k, (pos, ipa) in enumerate(events):
        start = pos / sr
        end = events[k + 1][0] / sr if k + 1 < len(events) else total
        if end <= start:
            continue
        labels = from_ipa(ipa) or [SIL]
        step = (end - start) / len(labels)  # a multi-phone IPA event is split evenly
        for j, lab in enumerate(labels):
            phones.append(Phone(lab, start + j * step, start + (j + 1) * step))
    return finish(samples.astype(np.float32) / 32768.0, sr, phones, f"espeak:{voice.id}")


def voices(language: str = "en") -> list[Voice]:
    """The installed espeak-ng voices of ``language`` (a code of ``anim3d.languages.LANGUAGES``) x the
    human-sounding variants: for English its accents (``ESPEAK_LANGUAGES``), for another language its one voice
    (``LANGUAGES[language]``)."""
    from anim3d.languages import LANGUAGES, check_language

    code = check_language(language)
    data = data_dir()
    if not (data and find_library()):
        return []
    variants_dir = os.path.join(data, "voices", "!v")
    names = ESPEAK_LANGUAGES if code == "en" else (LANGUAGES[code],)
    return [Voice("espeak", lang, var) for lang in names for var in ESPEAK_VARIANTS
            if not var or os.path.isfile(os.path.join(variants_dir, var))]
