"""Forced alignment of a script on the CI phone log-likelihoods (anim3d.align) and the script itself (anim3d.script)."""

import numpy as np
import pytest

from anim3d.align import MIN_GAIN, STATES, OnlineAligner, ScriptAligner, align, chain, scrambled
from anim3d.audio import resample
from anim3d.data import tts
from anim3d.errors import InputError
from anim3d.models import sphinx_acoustic as sa
from anim3d.phonetic import RecognizerConfig
from anim3d.phones import BILABIALS
from anim3d.script import read_script, read_transcript, spoken_words

PENALTY = RecognizerConfig().phone_change_penalty
LINES = ("Please bring me the purple umbrella by the pool.", "Maybe Bob will buy a map of Boston.",
         "The velvet slippers were a lovely gift from grandma.")


def _loglik(audio):
    x = resample(audio.samples, audio.sample_rate, 16000) if audio.sample_rate != 16000 else audio.samples
    return sa.ci_phone_loglik(sa.features(x))


def _words(text, language="en"):
    return [list(w) for w in read_script(text, language).words]


@pytest.fixture(scope="module")
def spoken():
    """Each line spoken by espeak-ng (US English), with its exact phones, and its CI log-likelihoods."""
    voice = tts.Voice.parse("espeak:en-us")
    out = []
    for text in LINES:
        audio, phones = tts.synthesize(text, voice)
        out.append((text, phones, _loglik(audio)))
    return out


def test_aligned_bilabials_sit_where_the_voice_said_them(spoken):
    errors = []
    for text, phones, ll in spoken:
        a = align(ll, _words(text), PENALTY)
        got = np.array([0.5 * (p.start + p.end) for p in a.phones if p.label in BILABIALS])
        for p in phones:
            if p.label in BILABIALS:
                errors.append(np.min(np.abs(got - 0.5 * (p.start + p.end))))
        assert a.gain >= MIN_GAIN, text
        # contiguous, in order
        assert all(abs(x.end - y.start) < 1e-9 for x, y in zip(a.phones, a.phones[1:]))
    errors = np.array(errors)
    assert errors.size >= 15
    assert np.mean(errors < 0.04) >= 0.8, errors  # within about a frame at 30 fps


def test_another_lines_script_does_not_match(spoken):
    for i, (_, _, ll) in enumerate(spoken):
        other = LINES[(i + 1) % len(LINES)]
        assert align(ll, _words(other), PENALTY).gain < MIN_GAIN


def test_online_alignment_ends_where_the_whole_one_does(spoken):
    text, _, ll = spoken[1]
    whole = align(ll, _words(text), PENALTY)
    online = ScriptAligner(_words(text), PENALTY)
    for i in range(0, len(ll), 7):  # blocks of 70 ms
        online.push(ll[i : i + 7])
        prefix = online.phones(whole=False)
        assert prefix[-1].end == pytest.approx(online.frames / 100)
    assert [(p.label, p.start, p.end) for p in online.phones()] == [(p.label, p.start, p.end) for p in whole.phones]
    assert online.gain() == pytest.approx(whole.gain)


def test_a_kept_history_traces_back_over_its_last_frames(spoken):
    text, _, ll = spoken[0]
    a = OnlineAligner(_words(text), PENALTY, keep=50)
    a.push(ll)
    first, states = a.path(whole=False)
    assert first == len(ll) - 50 and states.shape == (50,)


def test_audio_too_short_for_the_script():
    ll = np.zeros((10, 42))
    with pytest.raises(ValueError, match="too short"):
        align(ll, _words("Bob made five pies."), PENALTY)


def test_chain_refuses_an_empty_script_and_unknown_phones():
    with pytest.raises(ValueError, match="no phones"):
        chain([])
    with pytest.raises(ValueError, match="XX"):
        chain([["B", "XX"]])
    c = chain([["B", "AA", "B"]])
    assert c.column.size == 5 * STATES  # SIL B AA B SIL


def test_scrambled_keeps_the_phones_and_the_word_lengths():
    words = [["B", "AA", "B"], ["M", "EY", "D"]]
    s = scrambled(words)
    assert [len(w) for w in s] == [3, 3]
    assert sorted(p for w in s for p in w) == sorted(p for w in words for p in w)
    assert scrambled(words) == s  # a fixed shuffle


def test_english_script_uses_the_dictionary_and_espeak_for_other_words():
    s = read_script("Bob's 2 zorblax!")
    assert s.words[0] == ("B", "AA", "B", "Z")
    assert s.words[1] == ("T", "UW")  # "two"
    assert len(s.words) == 3 and len(s.words[2]) >= 5  # zorblax: not in the dictionary, espeak-ng reads it
    assert spoken_words("Press # [beep]") == ["press", "pound"]


def test_scripts_in_other_languages():
    de = read_script("Guten Morgen, Mama!", "DE")
    assert de.language == "de" and len(de.words) == 3 and de.words[2][0] == "M"
    assert read_script("こんにちは", "ja").phones
    with pytest.raises(InputError, match="unknown language 'xx'"):
        read_script("hello", "xx")
    with pytest.raises(InputError, match="no words"):
        read_script(" ... ")


def test_transcript_files(tmp_path):
    ok = tmp_path / "line.txt"
    ok.write_text("Bob made five pies.\n", encoding="utf-8")
    assert read_transcript(str(ok)).strip() == "Bob made five pies."
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(InputError, match="not UTF-8"):
        read_transcript(str(bad))
    with pytest.raises(InputError, match="not found"):
        read_transcript(str(tmp_path / "missing.txt"))
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (2 << 20))
    with pytest.raises(InputError, match="larger than"):
        read_transcript(str(big))


def test_the_beam_keeps_the_full_viterbi_alignment(spoken, monkeypatch):
    text, _, ll = spoken[2]
    beamed = align(ll, _words(text), PENALTY)
    monkeypatch.setattr(OnlineAligner, "BEAM", 1e12)
    full = align(ll, _words(text), PENALTY)
    assert beamed.phones == full.phones and beamed.gain == pytest.approx(full.gain)
