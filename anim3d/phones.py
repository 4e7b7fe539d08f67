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
# Multi-character entries come first in matching (longest match wins). A value of several labels ("N Y") is
# one symbol spoken as that sequence of phones.
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
# The phones of the other languages (anim3d.languages), each mapped to the ARPAbet phone nearest in place,
# manner and rounding: the shape the lips and jaw make, which is what the teacher draws and what the en-us
# acoustic model hears. Nasal vowels lose their nasality (the tilde is dropped: ɑ̃ -> ɑ -> AA).
_IPA.update({
    # vowels. Front rounded: rounded lips at the height of the tongue (y, ʏ, ø close: UW, UH; œ open-mid:
    # ER, the rounded mid vowel English has, as for ɜ). ɯ (Japanese ɯᵝ, Korean ɯ): close back, the jaw
    # nearly closed and the lips not pushed out: UH, not UW. ɨ (Russian ы) is a close unrounded vowel: IH.
    "ʏ": "UH", "œ": "ER", "ɶ": "AA", "ɵ": "UH", "ɞ": "ER", "ɘ": "AH", "ɤ": "AH", "ɯ": "UH", "ɨ": "IH",
    "ɔø": "OY", "ɔʏ": "OY", "ɐʊ": "AW",  # German eu/äu, Portuguese ão (ɐ̃ʊ̃)
    # trills and taps: r -> R (above); ʀ, the uvular trill, is a rhotic too. ʁ (French r) is a dorsal fricative
    # with the lips at rest, like x and χ: HH, not the lip-rounding English R. Taps are quick D's (as ɾ).
    "ʀ": "R", "ʁ": "HH", "ɽ": "D", "ɻ": "R", "ɺ": "L",
    # retroflexes: the same lips and jaw as the alveolars and postalveolars
    "ʈ": "T", "ɖ": "D", "ʂ": "SH", "ʐ": "ZH", "ɳ": "N", "ɭ": "L", "ʈʂ": "CH", "ɖʐ": "JH",
    # palatals: ɲ and ʎ are English's "ny" (canyon) and "ly" (million); c, ɟ are fronted K, G; ʝ a strong Y;
    # ɥ (French "huit") is a rounded Y: W, for its lips
    "ɲ": "N Y", "ʎ": "L Y", "c": "K", "ɟ": "G", "ʝ": "Y", "ɥ": "W",
    # velars and uvulars
    "ɣ": "G", "ɰ": "W", "q": "K", "ɢ": "G", "ɴ": "NG", "χ": "HH", "ħ": "HH", "ʕ": "HH", "ɦ": "HH",
    # alveolo-palatals and affricates (ts, dz, pf are their two phones: T S, D Z, P F)
    "ɕ": "SH", "ʑ": "ZH", "tɕ": "CH", "dʑ": "JH", "ʨ": "CH", "ʥ": "JH", "ʧ": "CH", "ʤ": "JH",
    "ʦ": "T S", "ʣ": "D Z",
    # bilabial fricatives: both lips nearly close, which neither F/V (lower lip to the upper teeth) nor P/B
    # (closed lips) matches. β is Spanish b/v between vowels, a weak B that speakers hear and often say as B:
    # B, so the lips come together. ɸ is Japanese f (ふ), heard as F, with friction noise and no closure: F.
    "β": "B", "ɸ": "F", "ʋ": "V", "ɱ": "M", "ɮ": "L",
    # clicks: ʘ is made with both lips (P); the others with the tongue tip or blade (T), ǁ at its side (L)
    "ʘ": "P", "ǀ": "T", "ǃ": "T", "ǂ": "T", "ǁ": "L",
})
_IPA_MAXLEN = max(len(k) for k in _IPA)
# Marks that are not phones: stress, length, syllable and word breaks, ties, the diacritics that colour a phone
# (nasal, dental, lowered, centralised, aspirated, palatalised-as-mark, tense...) and tones (digits, tone
# letters, tone accents). Combining marks are dropped from a symbol's decomposition (õ -> o, ĩ -> i); ç keeps
# its cedilla.
_TONE_MARKS = set("0123456789˥˦˧˨˩") | {"\u0300", "\u0301", "\u0302", "\u0304", "\u030b", "\u030c", "\u030f"}
_IPA_IGNORE = (set("ːˑˈˌ.-_|': ^\"") | _TONE_MARKS
               | {"\u0329", "\u0303", "\u02de", "\u0361", "\u035c", "\u032f", "\u032a", "\u031e", "\u031d",
                  "\u031f", "\u0320", "\u0308", "\u033d", "\u0318", "\u0319", "\u031c", "\u0339", "\u0325",
                  "\u030a", "\u032c", "\u0324", "\u0330", "\u0348", "\u033a", "\u033b", "\u0334", "\u0306",
                  "\u02b0", "\u02b1", "\u02b7", "\u02e0", "\u02e4", "\u1d5d", "\u02c0", "\u207f", "\u02e1"})
_LANGUAGE_SWITCH = re.compile(r"\([a-z]{2,3}(?:-[a-z0-9]+)*\)", re.IGNORECASE)  # espeak-ng's "(en)": words read in another language


def _clean(segment: str) -> str:
    """The phone symbols of ``segment`` (NFC), without marks, diacritics and language switches."""
    s = unicodedata.normalize("NFD", _LANGUAGE_SWITCH.sub("", segment))
    return unicodedata.normalize("NFC", "".join(c for c in s if c not in _IPA_IGNORE))


def _parse_ipa(segment: str) -> tuple[list[str], list[str]]:
    s = _clean(segment)
    out: list[str] = []
    skipped: list[str] = []
    i = 0
    while i < len(s):
        match = _longest_ipa(s, i)
        if match is None:
            skipped.append(s[i])  # an unknown symbol: skipped
            i += 1
            continue
        out += match[0].split()
        i += match[1]
    return out, skipped


def from_ipa(segment: str) -> list[str]:
    """An espeak-ng IPA phoneme string -> ARPAbet labels (``'aɪə'`` -> ``['AY', 'AH']``).

    Characters that are not phones (length and stress marks, diacritics, tones) are dropped;
    an empty result means a pause.
    """
    return _parse_ipa(segment)[0]


def unknown_ipa(segment: str) -> list[str]:
    """The symbols of ``segment`` that ``from_ipa`` skips because it knows no phone for them (none, for
    everything espeak-ng says in anim3d's languages)."""
    return _parse_ipa(segment)[1]


def _longest_ipa(symbols: Sequence[str], i: int) -> tuple[str, int] | None:
    """(ARPAbet label(s), number of symbols) of the longest IPA phone starting at ``symbols[i]``, or None.
    ``symbols`` is a string or a list of cleaned symbols (an empty one, a mark, ends a phone)."""
    for n in range(min(_IPA_MAXLEN, len(symbols) - i), 0, -1):
        if n > 1 and not all(symbols[i:i + n]):
            continue
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
    raw = [unicodedata.normalize("NFC", c) for c, _, _ in chars]
    symbols = [_clean(c) for c in raw]
    pending: float | None = None  # start carried over from stress marks
    i = 0
    while i < len(chars):
        c, (_, start, end) = raw[i], chars[i]
        if c in _PAUSE_SYMBOLS:
            out.append(Phone(SIL, start, end))
            pending = None
            i += 1
            continue
        if c in _IPA_BEFORE:
            pending = start if pending is None else pending
            i += 1
            continue
        if not symbols[i]:  # a mark or diacritic
            if out and out[-1].label != SIL:
                out[-1] = Phone(out[-1].label, out[-1].start, end)
            i += 1
            continue
        label, n = _longest_ipa(symbols, i) or (SIL, 1)  # an unknown symbol is a pause
        t0, t1 = start if pending is None else pending, chars[i + n - 1][2]
        labels = label.split()
        step = (t1 - t0) / len(labels)  # a symbol of several phones is split evenly
        out += [Phone(lab, t0 + j * step, t0 + (j + 1) * step) for j, lab in enumerate(labels)]
        pending = None
        i += n
    return out
