"""What every engine shares: ``Voice``, ``TTSError``, the output rate, and how an engine's samples and
phones become the ``(Audio, phones)`` every engine returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anim3d.audio import Audio, audio_from_array
from anim3d.errors import Anim3dError
from anim3d.espeak import clean_text  # noqa: F401  (every engine reads the text this way)
from anim3d.phones import Phone, fill_gaps, merge_silences

SAMPLE_RATE = 16000


class TTSError(Anim3dError):
    """A voice that is not installed, an engine that fails, or text that cannot be spoken."""


@dataclass(frozen=True)
class Voice:
    engine: str  # "espeak", "festival" or "piper"
    name: str  # espeak language voice ("en-us"), festival voice ("cmu_us_slt_arctic_hts") or piper voice ("en_US-joe-medium")
    variant: str = ""  # espeak variant ("m3", "f2", "klatt"...), "" for the default

    @property
    def id(self) -> str:
        return f"{self.engine}:{self.name}" + (f"+{self.variant}" if self.variant else "")

    @staticmethod
    def parse(text: str) -> "Voice":
        """``'espeak:en-us+f3'`` / ``'espeak:de'`` / ``'festival:kal_diphone'`` -> Voice (one that is installed;
        ``'espeak:zh'``, a language code of ``anim3d.languages``, is that language's espeak-ng voice)."""
        engine, _, rest = text.partition(":")
        name, _, variant = rest.partition("+")
        from anim3d.data.tts import is_installed, list_voices
        from anim3d.languages import LANGUAGES

        voice = Voice(engine, name, variant)
        if engine == "espeak" and not is_installed(voice) and name.lower() in LANGUAGES:  # a language code: its voice
            voice = Voice(engine, LANGUAGES[name.lower()], variant)
        if not is_installed(voice):
            known = ", ".join(v.id for v in list_voices()[:8])
            raise TTSError(f"unknown voice {text!r}; installed voices include {known}, ... (all: 'anim3d data voices')")
        return voice


def finish(samples: np.ndarray, rate: int, phones: list[Phone], name: str) -> tuple[Audio, list[Phone]]:
    audio = audio_from_array(samples, rate, SAMPLE_RATE, name=name)
    return audio, fill_gaps(merge_silences(phones), audio.duration)
