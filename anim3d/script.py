"""The script of a line: the words it says and their phones, in the line's language.

English words take the CMU pronouncing dictionary's first pronunciation (the dictionary the en-us acoustic model
was trained with); an English word the dictionary lacks, and every word of another language, takes espeak-ng's
IPA mapped to the nearest ARPAbet phones (``anim3d.phones.from_ipa``), so the same acoustic model aligns them and
the same visemes shape them.

Public API:
    spoken_words(text) -> list[str]               English words as spoken (numbers and symbols spelled out)
    read_script(text, language="en") -> Script
    read_transcript(path) -> str                  a text file's words (UTF-8)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from anim3d.errors import InputError

SYMBOL_WORDS = {"#": "pound", "*": "star", "&": "and", "%": "percent", "+": "plus", "@": "at"}
MAX_TRANSCRIPT_BYTES = 1 << 20  # a line's script; a larger file is not a script


@dataclass(frozen=True)
class Script:
    """A line's words and their phones."""

    text: str
    language: str  # a code of ``anim3d.languages.LANGUAGES``
    words: tuple[tuple[str, ...], ...]  # ARPAbet phones of each word, in order

    @property
    def phones(self) -> list[str]:
        return [p for w in self.words for p in w]


def _number_words(token: str) -> list[str]:
    import inflect  # a well-kept number speller; writing our own would be one more thing to test

    words = inflect.engine().number_to_words(token, andword="")
    return re.findall(r"[a-z']+", str(words).lower())


def spoken_words(text: str) -> list[str]:
    """English words of a line as spoken: notes in brackets dropped, numbers and the keypad symbols spelled out,
    lower case."""
    text = re.sub(r"\[[^\]]*\]|<[^>]*>", " ", text).strip()  # notes: [beep tone], <beep ascending>
    if re.fullmatch(r"\([^)]*\)\W*", text):  # a line that is one note in parentheses: (1 second of silence)
        return []
    words: list[str] = []
    for tok in re.findall(r"\d+|[A-Za-z']+|[#*&%+@]", text):
        if tok.isdigit():
            words += _number_words(tok)
        elif tok in SYMBOL_WORDS:
            words.append(SYMBOL_WORDS[tok])
        else:
            words.append(tok.lower().strip("'"))
    return [w for w in words if w]


def _ipa_words(text: str, language: str) -> list[tuple[str, ...]]:
    from anim3d.espeak import phonemize
    from anim3d.phones import from_ipa

    return [tuple(p) for p in (from_ipa(w) for w in phonemize(text, language)) if p]


def read_script(text: str, language: str = "en") -> Script:
    """A line's text in ``language`` -> its Script. Raises InputError when the text has no words to say."""
    from anim3d.languages import check_language

    language = check_language(language)
    if language == "en":
        from anim3d.phonetic import cmudict

        d = cmudict()
        words = []
        for w in spoken_words(text):
            words.extend([tuple(d[w])] if w in d else _ipa_words(w, "en"))
    else:
        words = _ipa_words(text, language)
    if not words:
        raise InputError(None, f"the script {text[:40]!r} has no words to say")
    return Script(text, language, tuple(words))


def read_transcript(path: str) -> str:
    """The text of a transcript file (UTF-8). Raises InputError naming the file when it cannot be read."""
    import os

    try:
        if os.path.getsize(path) > MAX_TRANSCRIPT_BYTES:
            raise InputError(path, f"is larger than {MAX_TRANSCRIPT_BYTES >> 10} KiB: not one line's script")
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except UnicodeDecodeError:
        raise InputError(path, "is not UTF-8 text") from None
    except OSError as e:
        raise InputError(path, f"cannot be read ({e.strerror})") from None
