"""espeak-ng, in-process through its C library (ctypes): its synthesis callback reports a phoneme event (IPA)
at the exact output sample where each phoneme starts. ctypes because no maintained Python binding ships
phoneme events."""

from __future__ import annotations

import ctypes
import glob
import os
import re
import threading

import numpy as np

from anim3d.audio import Audio
from anim3d.data.tts.voice import TTSError, Voice, clean_text, finish
from anim3d.phones import SIL, Phone, from_ipa

# Human-sounding espeak-ng variants (robot, whisper and novelty variants are left out).
ESPEAK_VARIANTS = (
    "", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "Alex", "Annie", "Andy", "adam", "anika", "aunty",
    "belinda", "benjamin", "david", "ed", "edward", "john", "linda", "max", "michel", "paul",
    "quincy", "rob", "robert", "steph", "travis", "victor", "zac",
)
ESPEAK_LANGUAGES = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc")


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


class _Espeak:
    """One initialised espeak-ng library per process (the library keeps global state)."""

    def __init__(self) -> None:
        name = find_library()
        if name is None:
            raise TTSError("espeak-ng library (libespeak-ng.so.1) not found; apt-get install espeak-ng")
        self.lib = ctypes.CDLL(name)
        self.rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA)
        if self.rate <= 0:
            raise TTSError("espeak-ng failed to initialise")
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

    def speak(self, text: str, voice: Voice, rate: float, pitch: float) -> tuple[np.ndarray, list[tuple[int, str]]]:
        with self.lock:
            return self._speak(text, voice, rate, pitch)

    def _speak(self, text: str, voice: Voice, rate: float, pitch: float) -> tuple[np.ndarray, list[tuple[int, str]]]:
        spec = voice.name + (f"+{voice.variant}" if voice.variant else "")
        if self.lib.espeak_SetVoiceByName(spec.encode()) != 0:
            raise TTSError(f"espeak-ng cannot load voice {spec!r}")
        self.lib.espeak_SetParameter(_PARAM_RATE, int(round(_ESPEAK_DEFAULT_WPM * rate)), 0)
        self.lib.espeak_SetParameter(_PARAM_PITCH, int(np.clip(round(50 * pitch), 0, 99)), 0)
        self.chunks, self.events = [], []
        data = text.encode("utf-8")
        err = self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _ENDPAUSE, None, None)
        self.lib.espeak_Synchronize()
        if err != 0:
            raise TTSError(f"espeak-ng failed on text {text[:40]!r} (error {err})")
        samples = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        return samples, self.events

    def phonemes(self, text: str, voice_name: str, separator: str = "") -> list[str]:
        """espeak-ng's IPA of ``text``, one string per clause (words separated by spaces; with ``separator``,
        each phoneme followed by it)."""
        mode = _PHONEMES_IPA | ((ord(separator) << 8) if separator else 0)
        with self.lock:
            if self.lib.espeak_SetVoiceByName(voice_name.encode()) != 0:
                raise TTSError(f"espeak-ng cannot load voice {voice_name!r}")
            buf = ctypes.create_string_buffer(text.encode("utf-8"))
            ptr = ctypes.c_void_p(ctypes.addressof(buf))
            clauses = []
            while ptr.value:  # one clause per call; the library moves the pointer on, to NULL at the end
                before = ptr.value
                out = self.lib.espeak_TextToPhonemes(ctypes.byref(ptr), _CHARS_UTF8, mode)
                if out is None or ptr.value == before:
                    raise TTSError(f"espeak-ng could not phonemize {text[:40]!r} with voice {voice_name!r}")
                clauses.append(out.decode("utf-8", "replace"))
            return clauses


_ESPEAK: dict[int, _Espeak] = {}
_ENGINE_LOCK = threading.Lock()


def engine() -> _Espeak:
    pid = os.getpid()  # a forked worker must initialise its own copy
    with _ENGINE_LOCK:
        if pid not in _ESPEAK:
            _ESPEAK[pid] = _Espeak()
        return _ESPEAK[pid]


_SEPARATOR = "|"  # after each phoneme in espeak_TextToPhonemes's output: espeak-ng never writes it in IPA
_LANGUAGE_SWITCH = re.compile(r"\([a-z]{2,3}(?:-[a-z0-9]+)*\)", re.IGNORECASE)  # "(en)...(de)": read as another language
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
    removed. An empty text gives []. Raises TTSError when espeak-ng is missing or fails."""
    from anim3d.languages import LANGUAGES, check_language

    voice_name = LANGUAGES[check_language(language)]
    text = clean_text(text)
    if not text:
        return []
    words: list[str] = []
    for clause in engine().phonemes(text, voice_name, separator=_SEPARATOR):
        for word in _LANGUAGE_SWITCH.sub("", clause).split():
            ipa = "".join(standard_ipa(word.split(_SEPARATOR), voice_name))
            if ipa:
                words.append(ipa)
    return words


def speak(text: str, voice: Voice, rate: float, pitch: float) -> tuple[Audio, list[Phone]]:
    eng = engine()
    samples, events = eng.speak(clean_text(text), voice, rate, pitch)
    if samples.size == 0:
        raise TTSError(f"espeak-ng produced no audio for {text[:40]!r}")
    sr = eng.rate
    total = samples.size / sr
    # a language switch ("(en)") and Korean's aspiration ('h' after a stop) are no phones: the phone before
    # them goes on to the next one
    events = [e for e in events if not _LANGUAGE_SWITCH.fullmatch(e[1])]
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
