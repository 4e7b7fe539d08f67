"""Sentences for synthetic speech: statements, questions, exclamations and lists of many lengths.

A small template grammar over bundled word lists gives natural-looking English sentences; words
drawn from the CMU pronouncing dictionary (shipped inside the pocketsphinx wheel) add
broad phonetic coverage (rare phones, clusters, long words). The other languages of
``anim3d.languages`` draw from about 40 short everyday sentences each (``sentences/<code>.txt``,
written for anim3d, rich in p, b, m and varied vowels).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

import numpy as np

from anim3d.optional import require

NAMES = "Bob Mary Peter Fiona Victor Wendy Paul Maggie Ben Olivia Uma Owen Theo Zoe Jack Sheila George Ruth Vincent Martha".split()
NOUNS = (
    "apple boat bridge window mountain pumpkin voice movie museum forest table moon mirror basket "
    "bottle feather river valley ocean garden village engine rubber pillow thunder shoe school rule "
    "fruit judge treasure vision measure pleasure wolf wheel bubble muffin coffee puppy violin marble "
    "oven photo phone beach cheese church ship thing path bath month wreath tooth zoo hope rope road "
    "balloon noodle spoon room moment problem answer picture weather number city office letter"
).split()
ADJECTIVES = (
    "big small happy quiet bright famous purple yellow warm cool smooth rough heavy brave gentle "
    "modern awful wonderful beautiful simple proper mellow fluffy sharp thick thin blue old new wise"
).split()
VERBS_PAST = (
    "found moved bought brought painted opened watched played pushed pulled fixed visited loved "
    "measured washed believed borrowed carried followed remembered threw chose boiled moved thought"
).split()
VERBS_BASE = (
    "find move buy bring paint open watch play push pull fix visit love measure wash believe borrow "
    "carry follow remember throw choose boil think view improve approve"
).split()
ADVERBS = "quickly slowly often never always maybe really very quite almost".split()
PLACES = [
    "at home", "in the morning", "by the river", "near the bridge", "after lunch", "in the evening",
    "on Monday", "before the movie", "under the moon", "at the museum", "through the woods", "over the weekend",
]
TEMPLATES_STATEMENT = (
    "{Name} {past} the {adj} {noun} {place}.",
    "The {noun} was {adv} {adj}, so {name2} {past} it.",
    "I think {Name} {past} a {adj} {noun} {place}.",
    "We should {base} the {noun} before {name2} comes back.",
    "My {noun} is {adj}, but your {noun2} is {adj2}.",
    "{Name} and {name2} {past} {num} {adj} {noun}s.",
    "Please {base} the {noun}, then {base2} the {noun2}.",
    "It was a {adj} day, and the {noun} looked {adj2}.",
    "Every {noun} in the {noun2} was {adj}.",
    "{Name} said that the {noun} would be {adj} {place}.",
)
TEMPLATES_QUESTION = (
    "Did {name} {base} the {adj} {noun}?",
    "Why would anyone {base} a {noun} {place}?",
    "Where is the {adj} {noun} that {name} {past}?",
    "Could you {base} the {noun} for me?",
    "What do you think about the {noun}?",
    "Have you ever seen a {adj} {noun}?",
    "Who {past} my {noun}?",
)
TEMPLATES_EXCLAIM = (
    "Wow, what a {adj} {noun}!",
    "Oh no, the {noun} is {adj}!",
    "Look at that {adj} {noun}!",
    "Well, {name} {past} it again!",
)
FILLERS = ("Well,", "So,", "Okay,", "Yes,", "No,", "Honestly,", "You know,", "Hmm,")
NUMBERS = "two three four five seven nine twelve twenty".split()


@lru_cache(maxsize=1)
def cmu_words() -> tuple[str, ...]:
    """Plain alphabetic words (3-10 letters) of the CMU dictionary in the pocketsphinx wheel, or () if absent."""
    try:
        pocketsphinx = require("pocketsphinx", "the CMU pronouncing dictionary")
    except ImportError:
        return ()
    path = os.path.join(os.path.dirname(pocketsphinx.__file__), "model", "en-us", "cmudict-en-us.dict")
    if not os.path.isfile(path):
        return ()
    words = []
    pat = re.compile(r"^[a-z]{3,10}$")
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            w = line.split(" ", 1)[0]
            if pat.match(w):
                words.append(w)
    return tuple(words)


def _fill(template: str, rng: np.random.Generator, rare: float) -> str:
    lex = cmu_words()

    def pick(words):
        if lex and rng.random() < rare:
            return str(lex[rng.integers(len(lex))])
        return str(words[rng.integers(len(words))])

    name, name2 = rng.choice(NAMES, 2, replace=False)
    return template.format(
        Name=name, name=name, name2=name2, noun=pick(NOUNS), noun2=pick(NOUNS), adj=pick(ADJECTIVES),
        adj2=pick(ADJECTIVES), past=pick(VERBS_PAST), base=pick(VERBS_BASE), base2=pick(VERBS_BASE),
        adv=str(rng.choice(ADVERBS)), place=str(rng.choice(PLACES)), num=str(rng.choice(NUMBERS)),
    )


def sentence(rng: np.random.Generator, rare: float = 0.15) -> str:
    """One sentence: a statement (60 %), a question (25 %) or an exclamation (15 %).

    ``rare`` is the probability that a content word is drawn from the CMU dictionary.
    """
    u = rng.random()
    templates = TEMPLATES_STATEMENT if u < 0.6 else TEMPLATES_QUESTION if u < 0.85 else TEMPLATES_EXCLAIM
    s = _fill(str(templates[rng.integers(len(templates))]), rng, rare)
    if rng.random() < 0.15:
        s = f"{rng.choice(FILLERS)} {s[0].lower()}{s[1:]}" if not s.startswith(tuple(NAMES)) else f"{rng.choice(FILLERS)} {s}"
    return s


def utterance_text(rng: np.random.Generator, min_sentences: int = 1, max_sentences: int = 3) -> str:
    """A short passage of 1-3 sentences (about 2-12 seconds of speech)."""
    n = int(rng.integers(min_sentences, max_sentences + 1))
    return " ".join(sentence(rng) for _ in range(n))


SENTENCES_DIR = os.path.join(os.path.dirname(__file__), "sentences")


@lru_cache(maxsize=None)
def language_sentences(language: str) -> tuple[str, ...]:
    """The bundled sentences of a language other than English (one per line of ``sentences/<code>.txt``)."""
    from anim3d.languages import check_language

    code = check_language(language)
    path = os.path.join(SENTENCES_DIR, f"{code}.txt")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no sentences for language {code!r} ({path})")
    with open(path, encoding="utf-8") as f:
        return tuple(line.strip() for line in f if line.strip())


def language_sentence(language: str, rng: np.random.Generator) -> str:
    """One sentence in ``language`` (a code of ``anim3d.languages.LANGUAGES``): English's from its grammar
    (``sentence``), another language's drawn from its bundled sentences."""
    from anim3d.languages import check_language

    if check_language(language) == "en":
        return sentence(rng)
    lines = language_sentences(language)
    return lines[int(rng.integers(len(lines)))]


def language_text(language: str, rng: np.random.Generator, min_sentences: int = 1, max_sentences: int = 3) -> str:
    """A short passage of 1-3 sentences in ``language``; English's is ``utterance_text``."""
    from anim3d.languages import check_language

    if check_language(language) == "en":
        return utterance_text(rng, min_sentences, max_sentences)
    n = int(rng.integers(min_sentences, max_sentences + 1))
    return " ".join(language_sentence(language, rng) for _ in range(n))
