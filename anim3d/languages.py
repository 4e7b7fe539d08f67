"""The languages anim3d speaks: a language code -> the espeak-ng voice that phonemizes and speaks it.

Every language's phones are mapped to the nearest ARPAbet phone (``anim3d.phones.from_ipa``), so the rule-based
teacher shapes them and the en-us acoustic model aligns them.

Public API:
    LANGUAGES: dict[str, str]         code -> espeak-ng voice name, English first
    check_language(code) -> str       the normalised code, or InputError
"""

from __future__ import annotations

from anim3d.errors import InputError

# Each voice is one that espeak-ng 1.51 (Debian/Ubuntu's espeak-ng-data) loads by this name through
# espeak_SetVoiceByName. Notes:
# - pt: Brazilian Portuguese, the variety most speakers use (espeak's "pt" is European Portuguese).
# - zh: "cmn-latn-pinyin", not "cmn": both are the same Mandarin (phonemes and dictionary), but espeak-ng 1.51's
#   "cmn" reads the pinyin it looks Chinese characters up as English ("你" -> "ni" + "three"; espeak-ng issue
#   #1236); "cmn-latn-pinyin" reads them as Mandarin.
# - ja: espeak-ng reads kana; it has no kanji readings (a kanji is spoken as "Chinese letter").
LANGUAGES: dict[str, str] = {
    "en": "en-us",
    "es": "es",
    "fr": "fr",
    "de": "de",
    "it": "it",
    "pt": "pt-br",
    "ru": "ru",
    "ja": "ja",
    "zh": "cmn-latn-pinyin",
    "ko": "ko",
}


def check_language(code: str) -> str:
    """``'DE'`` -> ``'de'``; an unknown code raises InputError naming the known ones."""
    key = str(code).strip().lower()
    if key not in LANGUAGES:
        raise InputError(None, f"unknown language {code!r} (known: {', '.join(LANGUAGES)})")
    return key
