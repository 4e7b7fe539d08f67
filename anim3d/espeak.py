"""espeak-ng in-process through its C library (ctypes): text -> IPA phonemes in 100+ languages (``phonemize``), and
speech whose synthesis callback reports a phoneme event (IPA) at the exact output sample where each phoneme
starts (``Espeak.speak``, which the data engine's espeak voices use). ctypes because no maintained Python binding
ships phoneme events or espeak_TextToPhonemes with a phoneme separator.

Public API:
    phonemize(text, language) -> list[str]     the IPA of each word
    standard_ipa(phonemes, voice_name) -> list[str]
    engine() -> Espeak                          the process's initialised library
    data_dir(), find_library()
"""

from __future__ import annotations

import ctypes
import glob
import os
import re
import threading

import numpy as np

from anim3d.errors import Anim3dError


class EspeakError(Anim3dError):
    """espeak-ng is missing, cannot load a voice, or fails on a text."""


def clean_text(text: str) -> str:
    """The text as espeak-ng (or another engine) may read it: no quotes or backslashes, single spaces."""
    return " ".join(text.replace('"', " ").replace("\\", " ").split())


def data_dir() -> str | None:
    for d in glob.glob("/usr/lib/*/espeak-ng-data") + ["/usr/share/espeak-ng-data"]:
        if os.path.isdir(d):
            return d
    return None


class _EspeakEvent(ctypes.Structure):
    # espeak_EVENT from speak_lib.h; the id union is read as its char[8] member
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_EspeakEvent))
_EV_LIST_TERMINATED, _EV_PHONEME = 0, 7
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS, _INIT_PHONEME_IPA = 0x1, 0x2
_PARAM_RATE, _PARAM_PITCH = 1, 3
_POS_CHARACTER, _ENDPAUSE = 1, 0x1000
_ESPEAK_DEFAULT_WPM = 175
_CHARS_UTF8, _PHONEMES_IPA = 1, 0x02  # espeak_TextToPhonemes: textmode espeakCHARS_UTF8, phonememode bit 1 (IPA)


def find_library() -> str | None:
    for name in ("libespeak-ng.so.1", "libespeak-ng.so"):
        try:
            ctypes.CDLL(name)
            return name
        except OSError:
            continue
    return None


class Espeak:
    """One initialised espeak-ng library per process (the library keeps global state)."""

    def __init__(self) -> None:
        name = find_library()
        if name is None:
            raise EspeakError("espeak-ng library (libespeak-ng.so.1) not found; apt-get install espeak-ng")
        self.lib = ctypes.CDLL(name)
        self.rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA)
        if self.rate <= 0:
            raise EspeakError("espeak-ng failed to initialise")
        self.chunks: list[np.ndarray] = []
        self.events: list[tuple[int, str]] = []
        self._cb = _CALLBACK(self._on_audio)  # keep a reference: the library calls it
        self.lib.espeak_SetSynthCallback(self._cb)
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
            ctypes.c_void_p, ctypes.c_void_p,
        ]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        self.lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self.lock = threading.RLock()  # the library keeps one voice and one output: one call at a time

    def _on_audio(self, wav, n, events) -> int:
        if n > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EV_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EV_PHONEME:
                self.events.append((int(ev.sample), ev.id.decode("utf-8", "replace")))
            i += 1
        return 0

    def speak(self, text: str, spec: str, rate: float, pitch: float) -> tuple[np.ndarray, list[tuple[int, str]]]:
        """``text`` spoken by voice ``spec`` (``name`` or ``name+variant``) at ``rate`` x the default speed and
        ``pitch`` x the default pitch -> (int16 samples at ``self.rate``, (sample, IPA) per phoneme event)."""
        with self.lock:
            return self._speak(text, spec, rate, pitch)

    def _speak(self, text: str, spec: str, rate: float, pitch: float) -> tuple[np.ndarray, list[tuple[int, str]]]:
        if self.lib.espeak_SetVoiceByName(spec.encode()) != 0:
            raise EspeakError(f"espeak-ng cannot load voice {spec!r}")
        self.lib.espeak_SetParameter(_PARAM_RATE, int(round(_ESPEAK_DEFAULT_WPM * rate)), 0)
        self.lib.espeak_SetParameter(_PARAM_PITCH, int(np.clip(round(50 * pitch), 0, 99)), 0)
        self.chunks, self.events = [], []
        data = text.encode("utf-8")
        err = self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _ENDPAUSE, None, None)
        self.lib.espeak_Synchronize()
        if err != 0:
            raise EspeakError(f"espeak-ng failed on text {text[:40]!r} (error {err})")
        samples = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        return samples, self.events

    def phonemes(self, text: str, voice_name: str, separator: str = "") -> list[str]:
        """espeak-ng's IPA of ``text``, one string per clause (words separated by spaces; with ``separator``,
        each phoneme followed by it)."""
        mode = _PHONEMES_IPA | ((ord(separator) << 8) if separator else 0)
        with self.lock:
            if self.lib.espeak_SetVoiceByName(voice_name.encode()) != 0:
                raise EspeakError(f"espeak-ng cannot load voice {voice_name!r}")
            buf = ctypes.create_string_buffer(text.encode("utf-8"))
            ptr = ctypes.c_void_p(ctypes.addressof(buf))
            clauses = []
            while ptr.value:  # one clause per call; the library moves the pointer on, to NULL at the end
                before = ptr.value
                out = self.lib.espeak_TextToPhonemes(ctypes.byref(ptr), _CHARS_UTF8, mode)
                if out is None or ptr.value == before:
                    raise EspeakError(f"espeak-ng could not phonemize {text[:40]!r} with voice {voice_name!r}")
                clauses.append(out.decode("utf-8", "replace"))
            return clauses


_ESPEAK: dict[int, Espeak] = {}
_ENGINE_LOCK = threading.Lock()


def engine() -> Espeak:
    pid = os.getpid()  # a forked worker must initialise its own copy
    with _ENGINE_LOCK:
        if pid not in _ESPEAK:
            _ESPEAK[pid] = Espeak()
        return _ESPEAK[pid]


_SEPARATOR = "|"  # after each phoneme in espeak_TextToPhonemes's output: espeak-ng never writes it in IPA
LANGUAGE_SWITCH = re.compile(r"\([a-z]{2,3}(?:-[a-z0-9]+)*\)", re.IGNORECASE)  # "(en)...(de)": read as another language
_STRESS = "ˈˌ"
_TONE = re.compile(r"(?<=.)[0-9ɜ]+$")  # a Mandarin tone ends its vowel: digits, the first a '3' written as 'ɜ'
_ASPIRATED = re.compile(r"^(p|t|k|c|q|ts|tʃ|tɕ|tʂ|ʈʂ)h$")  # Mandarin and Korean write aspiration as a plain 'h'
# espeak-ng phonemes whose IPA names are not IPA (Mandarin's are partly in its ASCII notation), per voice
_PHONEME_FIXES: dict[str, tuple[tuple[str, str], ...]] = {
    "cmn": (("ts.h", "ʈʂʰ"), ("ts.", "ʈʂ"), ("s.", "ʂ"), ("z.", "ʐ"), ("i.", "ɨ"), ("i̪", "ɨ"), ("onɡ", "ʊŋ"),
            ("ər", "ɚ"), ("ɑu", "aʊ"), ("ou", "oʊ"), ("ai", "aɪ")),
    "ru": (("y", "ɨ"),),  # ы
}


def _voice_language(voice_name: str) -> str:
    return voice_name.split("-")[0].lower()


def standard_ipa(phonemes: list[str], voice_name: str) -> list[str]:
    """espeak-ng phonemes of voice ``voice_name`` (phoneme events' names, or the phonemes of one word of
    ``espeak_TextToPhonemes``) in standard IPA, one for one: Mandarin's tones removed, its ASCII retroflexes and
    Russian's ы written in IPA, aspiration as ʰ (Korean's aspirated stops are a stop and a separate 'h': that
    'h' becomes 'ʰ' on its own). English phonemes are kept as they are."""
    lang = _voice_language(voice_name)
    if lang == "en":
        return list(phonemes)
    out = []
    for k, phoneme in enumerate(phonemes):
        body = phoneme.lstrip(_STRESS)
        lead = phoneme[: len(phoneme) - len(body)]
        if lang in ("cmn", "yue"):
            body = _TONE.sub("", body)
        for old, new in _PHONEME_FIXES.get(lang, ()):
            body = body.replace(old, new)
        body = _ASPIRATED.sub(lambda m: m.group(1) + "ʰ", body)
        if lang == "ko" and body == "h" and not lead and k > 0 and _ASPIRATED.match(phonemes[k - 1].lstrip(_STRESS) + "h"):
            body = "ʰ"
        out.append(lead + body)
    return out


def phonemize(text: str, language: str) -> list[str]:
    """The IPA of each word of ``text`` spoken in ``language`` (a code of ``anim3d.languages.LANGUAGES``), in
    order, as espeak-ng divides the text into words (``'Bob made five pies.'`` -> ``['bˈɑːb', 'mˌeɪd', 'fˈaɪv',
    'pˈaɪz']``). Stress and length marks stay (``anim3d.phones.from_ipa`` drops them); Mandarin's tones are
    removed. An empty text gives []. Raises EspeakError when espeak-ng is missing or fails."""
    from anim3d.languages import LANGUAGES, check_language

    voice_name = LANGUAGES[check_language(language)]
    text = clean_text(text)
    if not text:
        return []
    words: list[str] = []
    for clause in engine().phonemes(text, voice_name, separator=_SEPARATOR):
        for word in LANGUAGE_SWITCH.sub("", clause).split():
            ipa = "".join(standard_ipa(word.split(_SEPARATOR), voice_name))
            if ipa:
                words.append(ipa)
    return words
