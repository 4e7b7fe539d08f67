"""Text generation, phone tables and TTS with exact phone timings (espeak-ng, festival)."""

from __future__ import annotations

import numpy as np
import pytest

from anim3d.phones import (PHONE_INDEX, PHONE_SET, SIL, VISEME_OF, Phone, fill_gaps, from_festival, from_ipa,
                           from_ipa_timed, known_label)
from anim3d.data.text import sentence, utterance_text
from anim3d.errors import Anim3dError

from anim3d.data import tts


def _voices(engine):
    return [v for v in tts.list_voices() if v.engine == engine]


needs_espeak = pytest.mark.skipif(not _voices("espeak"), reason="espeak-ng not installed")
needs_festival = pytest.mark.skipif(not _voices("festival"), reason="festival voices not installed")
needs_piper = pytest.mark.skipif(not _voices("piper"), reason="piper-tts or its voice package not installed (anim3d[data])")


# ------------------------------------------------------------------ phones
def test_phone_set_and_index():
    assert len(PHONE_SET) == 40 and PHONE_SET[0] == SIL
    assert PHONE_INDEX[known_label("aa1")] == PHONE_SET.index("AA")
    assert PHONE_INDEX[known_label("pau")] == 0
    assert set(VISEME_OF) == set(PHONE_SET)
    assert "QQ" not in PHONE_INDEX and known_label("QQ") == SIL


def test_gaps_become_silence():
    phones = [Phone("B", 0.1, 0.2), Phone("AA", 0.2, 0.5)]
    full = fill_gaps(phones, 0.7)
    assert [p.label for p in full] == ["SIL", "B", "AA", "SIL"]
    assert full[0].start == 0.0 and full[-1].end == pytest.approx(0.7)


def test_ipa_and_festival_mapping():
    assert from_ipa("aɪə") == ["AY", "AH"]
    assert from_ipa("tʃ") == ["CH"]
    assert from_ipa("ˈɑː") == ["AA"]
    assert from_ipa("") == []
    assert from_festival("pau") == SIL
    assert from_festival("ax") == "AH"
    assert from_festival("hh") == "HH"


def test_ipa_with_symbol_times():
    """Per-symbol durations (Piper) -> phones: multi-symbol phones span their symbols, a stress mark's
    time goes to the next phone, a length mark's and a word space's to the phone before, punctuation
    is a pause."""
    sym = ["^", "p", "l", "ˈ", "i", "ː", "z", " ", "t", "ʃ", "ˈ", "e", "ɪ", ",", "b", "$"]
    chars = [(c, 0.1 * i, 0.1 * (i + 1)) for i, c in enumerate(sym)]
    got = [(p.label, round(p.start, 3), round(p.end, 3)) for p in from_ipa_timed(chars)]
    assert got == [("SIL", 0.0, 0.1), ("P", 0.1, 0.2), ("L", 0.2, 0.3), ("IY", 0.3, 0.6), ("Z", 0.6, 0.8),
                   ("CH", 0.8, 1.0), ("EY", 1.0, 1.3), ("SIL", 1.3, 1.4), ("B", 1.4, 1.5), ("SIL", 1.5, 1.6)]


def test_text_is_varied_and_deterministic():
    a = [utterance_text(np.random.default_rng(3)) for _ in range(2)]
    assert a[0] == a[1]
    many = [sentence(np.random.default_rng(i)) for i in range(200)]
    assert len(set(many)) > 150
    assert any(s.endswith("?") for s in many) and any(s.endswith(".") for s in many)
    assert any(s.endswith("!") for s in many)


# -------------------------------------------------------------------- TTS
def _check_phones(audio, phones):
    assert audio.sample_rate == 16000
    assert phones[0].start == 0.0
    assert phones[-1].end == pytest.approx(audio.duration, abs=1e-3)
    for a, b in zip(phones[:-1], phones[1:]):
        assert a.end == pytest.approx(b.start, abs=1e-6)
        assert b.end > b.start
    assert all(p.label in PHONE_SET for p in phones)


def _band_energy(audio, p, lo, hi):
    x = audio.samples[int(p.start * 16000): int(p.end * 16000)]
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / 16000)
    return spec[(f >= lo) & (f < hi)].sum() / (spec.sum() + 1e-12)


def _timing_matches_sound(audio, phones):
    """Phone times line up with the sound: S/Z frication is high-frequency, vowels are not,
    pauses are quieter than vowels."""
    fric = [p for p in phones if p.label in ("S", "Z") and p.duration > 0.04]
    vow = [p for p in phones if p.label in ("AA", "AE", "AH", "AO", "EH") and p.duration > 0.04]
    assert fric and vow
    hf_fric = np.median([_band_energy(audio, p, 3500, 8000) for p in fric])
    hf_vow = np.median([_band_energy(audio, p, 3500, 8000) for p in vow])
    assert hf_fric > 3 * hf_vow, (hf_fric, hf_vow)

    def rms(p):
        x = audio.samples[int(p.start * 16000): int(p.end * 16000)]
        return float(np.sqrt(np.mean(x ** 2) + 1e-12))

    sil = [p for p in phones if p.label == SIL and p.duration > 0.1]
    assert sil
    assert max(rms(p) for p in sil) < 0.3 * np.median([rms(p) for p in vow])


TEXT = "Bob made five pies, and Sam sees six sassy snakes at a fast pace."


@needs_espeak
def test_espeak_phones_exact():
    voice = tts.Voice("espeak", "en-us", "m3")
    audio, phones = tts.synthesize(TEXT, voice)
    _check_phones(audio, phones)
    labels = [p.label for p in phones if p.label != SIL]
    assert labels[:12] == ["B", "AA", "B", "M", "EY", "D", "F", "AY", "V", "P", "AY", "Z"]
    _timing_matches_sound(audio, phones)
    fast, _ = tts.synthesize(TEXT, voice, rate=1.5)
    assert fast.duration < 0.8 * audio.duration


@needs_festival
@pytest.mark.parametrize("name", ["cmu_us_slt_arctic_hts", "kal_diphone"])
def test_festival_phones_exact(name):
    voice = tts.Voice("festival", name)
    if voice not in tts.list_voices():
        pytest.skip(f"{name} not installed")
    (audio, phones), (fast, _) = tts.synthesize_many([TEXT, TEXT], voice, [1.0, 1.5], [1.0, 1.2])
    _check_phones(audio, phones)
    labels = [p.label for p in phones if p.label != SIL]
    assert labels[:4] == ["B", "AA", "B", "M"]
    _timing_matches_sound(audio, phones)
    assert fast.duration < 0.8 * audio.duration


@pytest.mark.slow
@needs_piper
def test_piper_phones_exact_and_repeatable():
    """The neural voice's phone times come from its duration predictor: right labels, times that match
    the sound; rate and pitch change the length; after reseed_piper the same call gives the same audio."""
    voice = _voices("piper")[0]
    tts.reseed_piper(7)
    audio, phones = tts.synthesize(TEXT, voice)
    _check_phones(audio, phones)
    labels = [p.label for p in phones if p.label != SIL]
    assert labels[:4] == ["B", "AA", "B", "M"]
    _timing_matches_sound(audio, phones)
    (fast, _), (high, high_phones) = tts.synthesize_many([TEXT, TEXT], voice, [1.5, 1.0], [1.0, 1.2])
    assert fast.duration < 0.8 * audio.duration
    # pitch 1.2 plays the voice 1.2x faster with the length scale making up for it: about the same length
    assert abs(high.duration - audio.duration) < 0.15 * audio.duration
    assert [p.label for p in high_phones] != [] and high_phones[-1].end == pytest.approx(high.duration, abs=1e-3)
    tts.reseed_piper(7)
    again, again_phones = tts.synthesize(TEXT, voice)
    np.testing.assert_array_equal(again.samples, audio.samples)
    assert again_phones == phones
    tts.reseed_piper(8)
    other, _ = tts.synthesize(TEXT, voice)
    assert other.samples.shape != audio.samples.shape or not np.array_equal(other.samples, audio.samples)


@needs_espeak
def test_every_listed_espeak_accent_loads():
    eng = tts.espeak.engine()
    for lang in {v.name for v in _voices("espeak")}:
        assert eng.lib.espeak_SetVoiceByName(lang.encode()) == 0, lang


@needs_espeak
def test_phone_coverage_of_generated_text():
    rng = np.random.default_rng(0)
    voice = tts.Voice("espeak", "en-us")
    seen = set()
    for _ in range(40):
        _, phones = tts.synthesize(utterance_text(rng), voice)
        seen.update(p.label for p in phones)
    assert len(seen) >= 37, sorted(set(PHONE_SET) - seen)


def test_unknown_voice_and_bad_text():
    with pytest.raises(Anim3dError, match="unknown voice"):
        tts.Voice.parse("espeak:xx-nowhere")
    with pytest.raises(Anim3dError, match="not installed"):
        tts.synthesize("hello", tts.Voice("festival", "no_such_voice"))
    if _voices("espeak"):
        with pytest.raises(Anim3dError, match="nothing to speak"):
            tts.synthesize('  "" ', _voices("espeak")[0])


@needs_espeak
def test_cli_say_and_bad_inputs(tmp_path, capsys):
    from anim3d.cli import main
    from anim3d.motion import Motion

    out = tmp_path / "m.npz"
    assert main(["data", "say", "Bob made five pies.", "--voice", "espeak:en-us+f3", "--emotion", "happy",
                 "--out", str(out), "--wav", str(tmp_path / "a.wav"), "-q"]) == 0
    m = Motion.load_npz(out)
    assert m.num_frames > 30 and m.channel("mouthSmileLeft").mean() > 0.2
    assert (tmp_path / "a.wav").stat().st_size > 10000
    capsys.readouterr()
    for bad, msg in ((["--voice", "espeak:xx-nowhere"], "unknown voice"), (["--emotion", "bored"], "unknown emotion")):
        assert main(["data", "say", "hello", "--out", str(tmp_path / "x.npz"), *bad]) == 2
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert not (tmp_path / "x.npz").exists()


@needs_espeak
def test_every_espeak_symbol_is_mapped():
    """No phone symbol that espeak-ng reports for the English accents is silently dropped."""
    import unicodedata

    from anim3d.phones import _IPA, _IPA_IGNORE

    eng = tts.espeak.engine()
    rng = np.random.default_rng(0)
    unknown = set()
    for lang in sorted({v.name for v in _voices("espeak")}):
        for _ in range(4):
            _, events = eng.speak(utterance_text(rng), lang, 1.0, 1.0)
            for _, ipa in events:
                unknown |= {c for c in unicodedata.normalize("NFC", ipa) if c not in _IPA and c not in _IPA_IGNORE}
    assert not unknown, sorted(unknown)


@needs_piper
def test_every_piper_symbol_is_mapped():
    """Every symbol the Piper voice speaks for our text is a phone, a pause or a mark with a known home."""
    import unicodedata

    from anim3d.phones import _IPA, _IPA_BEFORE, _IPA_IGNORE, _PAUSE_SYMBOLS

    eng = tts.piper.engine(_voices("piper")[0].name)
    rng = np.random.default_rng(0)
    known = set(_IPA) | _IPA_IGNORE | _IPA_BEFORE | _PAUSE_SYMBOLS
    unknown = set()
    for _ in range(40):
        for sentence_symbols in eng.phonemize(utterance_text(rng)):
            unknown |= {c for c in sentence_symbols if unicodedata.normalize("NFC", c) not in known}
    assert not unknown, sorted(unknown)
