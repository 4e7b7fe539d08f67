"""Languages other than English: the language table, foreign IPA -> ARPAbet, espeak-ng phonemization, the
bundled sentences and synthetic corpora in another language."""

from __future__ import annotations

import json
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest

from anim3d.errors import Anim3dError, InputError
from anim3d.languages import LANGUAGES, check_language
from anim3d.phones import BILABIALS, PHONE_SET, Phone, from_ipa, from_ipa_timed, unknown_ipa

from anim3d.data import tts

REPO = Path(__file__).resolve().parents[1]
FOREIGN = [code for code in LANGUAGES if code != "en"]
needs_espeak = pytest.mark.skipif(not any(v.engine == "espeak" for v in tts.list_voices()), reason="espeak-ng not installed")


# ------------------------------------------------------------------ the language table
def test_language_codes():
    assert list(LANGUAGES) == ["en", "es", "fr", "de", "it", "pt", "ru", "ja", "zh", "ko"]
    assert LANGUAGES["en"] == "en-us"
    assert check_language("DE") == "de" and check_language(" zh ") == "zh"
    with pytest.raises(InputError, match=r"unknown language 'xx' \(known: en, es, fr, de, it, pt, ru, ja, zh, ko\)"):
        check_language("xx")


@needs_espeak
def test_every_language_voice_loads():
    eng = tts.espeak.engine()
    for code, name in LANGUAGES.items():
        assert eng.lib.espeak_SetVoiceByName(name.encode()) == 0, (code, name)


# ------------------------------------------------------------------ foreign IPA
@pytest.mark.parametrize("ipa, labels", [
    ("y", ["UW"]), ("ʏ", ["UH"]), ("ø", ["UH"]), ("œ", ["ER"]),
    ("ɑ̃", ["AA"]), ("ɛ̃", ["EH"]), ("ɔ̃", ["AO"]), ("œ̃", ["ER"]),
    ("õ", ["OW"]), ("o\u0303", ["OW"]), ("ĩ", ["IY"]), ("ɐ̃ʊ̃", ["AW"]),  # precomposed (NFC) and combining tilde
    ("r", ["R"]), ("ʀ", ["R"]), ("ʁ", ["HH"]), ("ɾ", ["D"]), ("ɽ", ["D"]),
    ("ʈ", ["T"]), ("ɖ", ["D"]), ("ʂ", ["SH"]), ("ʐ", ["ZH"]), ("ɳ", ["N"]), ("ɭ", ["L"]),
    ("ɲ", ["N", "Y"]), ("ʎ", ["L", "Y"]), ("c", ["K"]), ("ɟ", ["G"]),
    ("q", ["K"]), ("χ", ["HH"]), ("x", ["HH"]), ("ɣ", ["G"]),
    ("ts", ["T", "S"]), ("dz", ["D", "Z"]), ("t͡s", ["T", "S"]), ("ʦ", ["T", "S"]), ("pf", ["P", "F"]),
    ("tɕ", ["CH"]), ("dʑ", ["JH"]), ("ɕ", ["SH"]), ("ʑ", ["ZH"]), ("ʈʂʰ", ["CH"]),
    ("β", ["B"]), ("ɸ", ["F"]), ("ɯᵝ", ["UH"]), ("ɯ", ["UH"]), ("ɨ", ["IH"]), ("ɵ", ["UH"]), ("ɤ", ["AH"]),
    ("kʰ", ["K"]), ("p͈", ["P"]), ("dʲ", ["D", "Y"]), ("ä", ["AE"]), ("o̞", ["OW"]), ("e̞", ["EH"]),
    ("ni2", ["N", "IY"]), ("ma˥˩", ["M", "AE"]), ("mǎ", ["M", "AE"]),  # tones dropped
    ("ʘ", ["P"]), ("ǀ", ["T"]), ("ǃ", ["T"]), ("ǂ", ["T"]), ("ǁ", ["L"]),
    ("(en)hˈɛloʊ(de)", ["HH", "EH", "L", "OW"]),  # espeak-ng's language switches are no phones
])
def test_foreign_ipa_maps_to_arpabet(ipa, labels):
    assert from_ipa(ipa) == labels
    assert unknown_ipa(ipa) == []


def test_english_ipa_unchanged_and_unknown_symbols_reported():
    assert from_ipa("bˈɑːb mˌeɪd fˈaɪv pˈaɪz") == ["B", "AA", "B", "M", "EY", "D", "F", "AY", "V", "P", "AY", "Z"]
    assert from_ipa("tʃˈɜːtʃ") == ["CH", "ER", "CH"] and from_ipa("ɹˈɛd") == ["R", "EH", "D"]
    assert unknown_ipa("a☃b") == ["☃"] and from_ipa("a☃b") == ["AE", "B"]


def test_timed_symbol_of_two_phones_is_split():
    chars = [("ɲ", 0.0, 0.2), ("a", 0.2, 0.4), ("̃", 0.4, 0.5)]
    got = [(p.label, round(p.start, 3), round(p.end, 3)) for p in from_ipa_timed(chars)]
    assert got == [("N", 0.0, 0.1), ("Y", 0.1, 0.2), ("AE", 0.2, 0.5)]


# ------------------------------------------------------------------ espeak-ng phonemization
@needs_espeak
def test_phonemize_english_words_match_cmu():
    from anim3d.espeak import phonemize

    words = phonemize("Bob made five pies.", "en")
    assert len(words) == 4
    assert [from_ipa(w) for w in words] == [["B", "AA", "B"], ["M", "EY", "D"], ["F", "AY", "V"], ["P", "AY", "Z"]]
    assert phonemize("  ", "en") == []
    with pytest.raises(InputError, match="unknown language"):
        phonemize("hola", "xx")


@needs_espeak
def test_phonemize_other_languages():
    from anim3d.espeak import phonemize

    de = phonemize("Guten Morgen", "de")
    assert len(de) == 2 and from_ipa(de[0])[0] == "G" and from_ipa(de[1])[0] == "M"
    ja = phonemize("こんにちは", "ja")
    assert ja and from_ipa(ja[0])[:2] == ["K", "OW"]
    zh = phonemize("你好", "zh")  # Mandarin: the characters read as Mandarin, tones removed
    assert [from_ipa(w) for w in zh] == [["N", "IY"], ["HH", "AW"]]
    assert phonemize("爸爸吃饭", "zh")[0] == "pˈɑ"
    ru = phonemize("мы", "ru")  # ы is ɨ, not the rounded y
    assert from_ipa(ru[0]) == ["M", "IH"]
    ko = phonemize("아침", "ko")  # an aspirated stop is one phone
    assert from_ipa(ko[0]) == ["AH", "CH", "IY", "M"]


@needs_espeak
@pytest.mark.parametrize("code", FOREIGN)
def test_every_symbol_espeak_says_is_mapped(code):
    """espeak-ng's IPA for all the bundled sentences of a language, and its phoneme events for a few of them, leave
    no symbol unmapped (stress, length, tone and diacritic marks are listed as ignored)."""
    from anim3d.data.text import language_sentences
    from anim3d.espeak import LANGUAGE_SWITCH, engine, phonemize, standard_ipa

    sentences = language_sentences(code)
    unknown, labels = set(), []
    for s in sentences:
        for w in phonemize(s, code):
            unknown.update(unknown_ipa(w))
            labels += from_ipa(w)
    eng = engine()
    for s in sentences[:3]:
        _, events = eng.speak(s, LANGUAGES[code], 1.0, 1.0)
        events = [e for e in events if not LANGUAGE_SWITCH.fullmatch(e[1])]
        for ipa in standard_ipa([e[1] for e in events], LANGUAGES[code]):
            unknown.update(unknown_ipa(ipa))
    assert not unknown, sorted(unknown)
    assert set(labels) <= set(PHONE_SET)
    assert sum(lab in BILABIALS for lab in labels) > 0.06 * len(labels)  # the sentences are rich in p, b, m


# ------------------------------------------------------------------ voices
@needs_espeak
def test_voices_of_a_language():
    from anim3d.data.tts.espeak import ESPEAK_LANGUAGES, ESPEAK_VARIANTS, voices

    en = voices()
    assert en == voices("en") and {v.name for v in en} == set(ESPEAK_LANGUAGES)
    assert len(en) == len(ESPEAK_LANGUAGES) * len({v.variant for v in en})
    de = voices("de")
    assert {v.name for v in de} == {"de"} and tts.Voice("espeak", "de", "m3") in de
    assert {v.variant for v in de} == {v.variant for v in en} and set(ESPEAK_VARIANTS) >= {v.variant for v in de}
    assert tts.list_voices("de") == de and tts.list_voices() == tts.list_voices("en")
    assert tts.Voice.parse("espeak:de+m3") == tts.Voice("espeak", "de", "m3")
    assert tts.Voice.parse("espeak:zh") == tts.Voice("espeak", "cmn-latn-pinyin")
    with pytest.raises(Anim3dError, match="unknown voice"):
        tts.Voice.parse("espeak:de+nobody")


# ------------------------------------------------------------------ sentences
def test_bundled_sentences():
    from anim3d.data.text import language_sentence, language_sentences, language_text, sentence, utterance_text

    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for code in FOREIGN:
        lines = language_sentences(code)
        assert 35 <= len(lines) <= 60 and len(set(lines)) == len(lines), code
        assert any(fnmatch(f"sentences/{code}.txt", g) for g in package_data["anim3d.data"])  # shipped in the wheel
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    assert [language_sentence("fr", a) for _ in range(5)] == [language_sentence("fr", b) for _ in range(5)]
    assert language_sentence("FR", a) in language_sentences("fr")
    assert language_sentence("en", np.random.default_rng(1)) == sentence(np.random.default_rng(1))
    assert language_text("en", np.random.default_rng(1)) == utterance_text(np.random.default_rng(1))
    with pytest.raises(InputError):
        language_sentence("xx", a)


# ------------------------------------------------------------------ CLI: say and synth in German
@needs_espeak
def test_cli_say_in_german(tmp_path, capsys):
    from anim3d.cli import main

    assert main(["data", "say", "Mein Papa backt Brot.", "--voice", "espeak:de+m3", "--out", str(tmp_path / "m.npz"),
                 "-q"]) == 0
    labels = capsys.readouterr().out.split("phones: ")[1].split()
    assert [lab for lab in labels if lab != "SIL"][:3] == ["M", "AY", "N"] and "P" in labels and "B" in labels


@needs_espeak
def test_cli_synth_in_german(tmp_path, capsys):
    from anim3d.cli import main
    from anim3d.data.shards import read_shard
    from anim3d.data.text import language_sentences

    out = tmp_path / "de"
    args = ["data", "synth", "--hours", "0.005", "--shard-seconds", "9", "--language", "de", "--out", str(out),
            "--no-augment", "--workers", "1", "-q"]
    assert main(args) == 0
    index = json.loads((out / "index.json").read_text())
    assert index["synth"]["language"] == "de"
    assert json.loads((out / "synth_config.json").read_text())["language"] == "de"
    utts = [u for f in sorted(out.glob("synth-*.npz")) for u in read_shard(f)]
    assert len(index["shards"]) == 2 and sum(u.duration for u in utts) >= 18
    german = set(language_sentences("de"))
    labels = []
    for u in utts:
        assert u.voice.startswith("espeak:de") and u.labels["language"] == "de"
        assert _sentences(u.text, german), u.text
        labels += [p.label for p in u.phones]
    assert set(labels) <= set(PHONE_SET)
    assert {"P", "B", "M"} <= set(labels) and len(set(labels)) > 20
    capsys.readouterr()
    assert main(["data", "describe", str(out)]) == 0
    assert "language: de" in capsys.readouterr().out
    # the folder holds German: another language there is refused, and an unknown language is an input error
    assert main([*args[:6], "--language", "fr", *args[8:]]) == 2
    assert main([*args[:6], "--language", "xx", "--out", str(tmp_path / "x"), "-q"]) == 2
    assert "unknown language 'xx'" in capsys.readouterr().err


def _sentences(text: str, known: set[str]) -> list[str]:
    """``text`` split back into the bundled sentences it was joined from."""
    out, rest = [], text
    while rest:
        s = next((s for s in known if rest.startswith(s)), None)
        assert s is not None, rest
        out.append(s)
        rest = rest[len(s):].lstrip()
    return out
