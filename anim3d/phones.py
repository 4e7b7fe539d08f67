"""Phones, the one vocabulary every part uses: the ARPAbet phone set, phone classes (vowels, bilabials,
open vowels), viseme classes, label normalisation, and conversions from TTS engines' phones.

A ``Phone`` is a label (ARPAbet without stress digits, upper case, or ``"SIL"`` for
silence and pauses) with start and end times in seconds.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Sequence


SIL = "SIL"

# SIL + the 39 ARPAbet phones of the CMU dictionary (stress digits removed).
PHONE_SET: tuple[str, ...] = (
    SIL,
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F",
    "G", "HH", "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S",
    "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH",
)
assert len(PHONE_SET) == 40
PHONE_INDEX = {p: i for i, p in enumerate(PHONE_SET)}

VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"})
BILABIALS = frozenset({"P", "B", "M"})  # the lips must meet
OPEN_VOWELS = frozenset({"AA", "AE", "AO", "AW", "AY"})  # the jaw must open
MID_VOWELS = frozenset({"EH", "AH", "ER", "OW", "EY"})
HIGH_VOWELS = frozenset({"IY", "IH", "UW", "UH"})
# the spellings of silence and pauses in the engines and dictionaries anim3d reads
_PAUSES = frozenset({"", "PAU", "SIL", "SP", "H#", "BRTH", "#", "_", "<SIL>", "SILENCE"})

# Viseme classes (what the lips/jaw do), used by the teacher and by evaluation.
VISEME_OF: dict[str, str] = {
    SIL: "SIL",
    "P": "PBM", "B": "PBM", "M": "PBM",
    "F": "FV", "V": "FV",
    "TH": "TH", "DH": "TH",
    "T": "TDNL", "D": "TDNL", "N": "TDNL", "L": "TDNL",
    "S": "SZ", "Z": "SZ",
    "SH": "SHCH", "ZH": "SHCH", "CH": "SHCH", "JH": "SHCH",
    "K": "KG", "G": "KG", "NG": "KG", "HH": "KG",
    "R": "R", "Y": "IY", "W": "WUW",
    "IY": "IY", "IH": "IH", "EY": "EH", "EH": "EH", "AE": "AA",
    "AA": "AA", "AO": "AO", "AH": "AH", "AW": "AA", "AY": "AA",
    "ER": "R", "UH": "WUW", "UW": "WUW", "OW": "AO", "OY": "AO",
}
VISEMES: tuple[str, ...] = tuple(sorted(set(VISEME_OF.values())))


@dataclass
class Phone:
    label: str  # ARPAbet, no stress digit, upper case; "SIL" for silence
    start: float  # seconds
    end: float  # seconds

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def center(self) -> float:
        return 0.5 * (self.start + self.end)


def normalize_label(label: str) -> str:
    """``'aa1'`` -> ``'AA'``: upper case without stress digits; pause spellings and fillers (``+SPN+``) -> ``'SIL'``.
    Other labels are kept as they are (``known_label`` maps them to SIL)."""
    key = re.sub(r"\d", "", label.strip().upper())
    if key in _PAUSES or key.startswith("+"):
        return SIL
    return key


def known_label(label: str) -> str:
    """``normalize_label``, and SIL for anything that is not in PHONE_SET."""
    key = normalize_label(label)
    return key if key in PHONE_INDEX else SIL


def merge_silences(phones: Iterable[Phone]) -> list[Phone]:
    """Join adjacent SIL phones and drop zero-length phones."""
    out: list[Phone] = []
    for p in phones:
        if p.end <= p.start + 1e-9:
            continue
        if out and p.label == SIL and out[-1].label == SIL:
            out[-1] = Phone(SIL, out[-1].start, p.end)
        else:
            out.append(Phone(p.label, p.start, p.end))
    return out


def fill_gaps(phones: Sequence[Phone], duration: float) -> list[Phone]:
    """Cover [0, duration) completely: gaps become SIL; the list is sorted and clipped."""
    out: list[Phone] = []
    t = 0.0
    for p in sorted(phones, key=lambda q: q.start):
        s, e = max(p.start, t), min(p.end, duration)
        if s > t + 1e-6:
            out.append(Phone(SIL, t, s))
        if e > s:
            out.append(Phone(p.label, s, e))
            t = e
    if duration > t + 1e-6:
        out.append(Phone(SIL, t, duration))
    return merge_silences(out)


# ------------------------------------------------------------ engine phone sets

# Festival's "radio" phone set (cmu_us_slt_arctic_hts, kal_diphone) is ARPAbet in lower case.
_FESTIVAL_EXTRA = {"ax": "AH", "axr": "ER", "el": "L", "em": "M", "en": "N", "dx": "D", "nx": "N", "hv": "HH"}


def from_festival(label: str) -> str | None:
    """A festival phone name -> ARPAbet label, or None when it is not a phone."""
    low = label.strip().lower()
    if low in _FESTIVAL_EXTRA:
        return _FESTIVAL_EXTRA[low]
    key = normalize_label(low)
    return key if key in PHONE_INDEX else None


# IPA segments that espeak-ng reports (phoneme events in IPA mode) -> ARPAbet.
# Multi-character entries come first in matching (longest match wins).
_IPA = {
    "tʃ": "CH", "dʒ": "JH", "eɪ": "EY", "aɪ": "AY", "aʊ": "AW", "ɔɪ": "OY", "oʊ": "OW", "əʊ": "OW",
    "ɛə": "EH", "eə": "EH", "ɜɹ": "ER", "əɹ": "ER", "ei": "EY", "əɪ": "EY", "əu": "OW", "ʌʊ": "OW", "ʌʉ": "OW",
    "æʊ": "AW", "aa": "AA", "ɑə": "AA", "ɔə": "AO", "oə": "AO",
    "i": "IY", "ɪ": "IH", "ᵻ": "IH", "e": "EH", "ɛ": "EH", "æ": "AE", "a": "AE", "ɑ": "AA", "ɒ": "AA",
    "ɔ": "AO", "o": "OW", "ʊ": "UH", "u": "UW", "ʌ": "AH", "ə": "AH", "ɐ": "AH", "ɚ": "ER", "ɜ": "ER",
    "ɝ": "ER", "y": "UW", "ø": "UH", "ʉ": "UW",
    "p": "P", "b": "B", "t": "T", "d": "D", "k": "K", "ɡ": "G", "g": "G", "f": "F", "v": "V",
    "θ": "TH", "ð": "DH", "s": "S", "z": "Z", "ʃ": "SH", "ʒ": "ZH", "h": "HH", "x": "HH", "ç": "HH",
    "m": "M", "n": "N", "ŋ": "NG", "l": "L", "ɫ": "L", "ɬ": "L", "ɹ": "R", "r": "R", "ɾ": "D", "ʔ": "T",
    "w": "W", "ʍ": "W", "j": "Y", "ʲ": "Y",
}
_IPA_MAXLEN = max(len(k) for k in _IPA)
_IPA_IGNORE = set("ːˑˈˌ.-_|': ") | {"\u0329", "\u0303", "\u02de", "\u0361", "\u032f", "\u032a"}


def from_ipa(segment: str) -> list[str]:
    """An espeak-ng IPA phoneme string -> ARPAbet labels (``'aɪə'`` -> ``['AY', 'AH']``).

    Characters that are not phones (length and stress marks, diacritics) are dropped;
    an empty result means a pause.
    """
    s = "".join(c for c in unicodedata.normalize("NFC", segment) if c not in _IPA_IGNORE)
    out: list[str] = []
    i = 0
    while i < len(s):
        match = _longest_ipa(s, i)
        if match is None:
            i += 1  # an unknown symbol (diacritic or foreign phone): skipped
            continue
        out.append(match[0])
        i += match[1]
    return out


def _longest_ipa(symbols: Sequence[str], i: int) -> tuple[str, int] | None:
    """(ARPAbet label, number of symbols) of the longest IPA phone starting at ``symbols[i]``, or None.
    ``symbols`` is a string or a list of NFC-normalised symbols."""
    for n in range(min(_IPA_MAXLEN, len(symbols) - i), 0, -1):
        label = _IPA.get("".join(symbols[i:i + n]))
        if label is not None:
            return label, n
    return None


_IPA_BEFORE = set("ˈˌ")  # stress marks: their time belongs to the phone they precede
_PAUSE_SYMBOLS = set(",.;:!?…—–\"()^$")  # punctuation and utterance start/end symbols: pauses


def from_ipa_timed(chars: Sequence[tuple[str, float, float]]) -> list[Phone]:
    """IPA symbols with their own times (a neural TTS's per-symbol durations) -> timed ARPAbet phones.

    ``chars`` is (symbol, start, end) per symbol of one word or utterance. Multi-symbol phones
    (``'eɪ'``, ``'tʃ'``) take the span of their symbols; a stress mark's time goes to the phone after
    it, a length mark's, diacritic's or word space's to the phone before it; punctuation and anything
    else unknown is a pause.
    """
    out: list[Phone] = []
    symbols = [unicodedata.normalize("NFC", c) for c, _, _ in chars]
    pending: float | None = None  # start carried over from stress marks
    i = 0
    while i < len(chars):
        c, (_, start, end) = symbols[i], chars[i]
        if c in _PAUSE_SYMBOLS:
            out.append(Phone(SIL, start, end))
            pending = None
            i += 1
            continue
        if c in _IPA_BEFORE:
            pending = start if pending is None else pending
            i += 1
            continue
        if c in _IPA_IGNORE:
            if out and out[-1].label != SIL:
                out[-1] = Phone(out[-1].label, out[-1].start, end)
            i += 1
            continue
        label, n = _longest_ipa(symbols, i) or (SIL, 1)  # an unknown symbol is a pause
        out.append(Phone(label, start if pending is None else pending, chars[i + n - 1][2]))
        pending = None
        i += n
    return out
