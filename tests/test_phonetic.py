"""Phone recognition (pocketsphinx words / allphone, our frame-by-frame phone loop) and the phone-error-rate tools."""

import numpy as np
import pytest

from anim3d.audio import audio_from_array, load_audio
from anim3d.phones import PHONE_SET, SIL, known_label, normalize_label
from anim3d.phonetic import edit_distance, phone_error_rate, recognize_phones, text_to_phones

SILENCE = SIL


def test_labels_normalise_to_the_one_phone_set():
    for raw in ("AH0", "ah1", " AH "):
        assert normalize_label(raw) == "AH"
    for pause in ("+SPN+", "sil", "<sil>", "pau", "sp", "h#", ""):
        assert normalize_label(pause) == SIL
    assert normalize_label("b") == "B"
    assert normalize_label("QQ") == "QQ" and known_label("QQ") == SIL  # unknown: kept, or silence


def test_edit_distance_and_per():
    assert edit_distance(list("abc"), list("abc")) == 0
    assert edit_distance(list("abc"), list("axc")) == 1
    assert edit_distance(list("abc"), list("ac")) == 1
    assert edit_distance([], list("ab")) == 2
    # silences are ignored; one substitution out of 4 phones
    assert phone_error_rate(["SIL", "B", "AA", "D", "IY"], ["B", "AA", "SIL", "T", "IY"]) == pytest.approx(0.25)


def test_text_to_phones():
    assert text_to_phones("The birch") == ["DH", "AH", "B", "ER", "CH"]
    with pytest.raises(ValueError, match="qzxv"):
        text_to_phones("hello qzxv")


@pytest.mark.parametrize("mode", ["words", "allphone", "frames"])
def test_silence_gives_only_silence_and_covers_clip(mode):
    audio = audio_from_array(np.zeros(16000, np.float32), 16000)
    phones = recognize_phones(audio, mode=mode)
    assert phones[0].start == 0.0 and phones[-1].end == pytest.approx(1.0)
    speech = [p for p in phones if p.label != SILENCE]
    assert sum(p.end - p.start for p in speech) < 0.3


@pytest.mark.parametrize("mode, limit", [("words", 0.3), ("allphone", 0.8), ("frames", 0.7)])
def test_real_speech_phone_error_rate(evaldata, mode, limit):
    audio = load_audio(evaldata / "audio" / "B08_sb_example1.wav")
    phones = recognize_phones(audio, mode=mode)
    # contiguous, ordered, inside the clip, labels from the set
    assert all(p.label in PHONE_SET for p in phones)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(phones, phones[1:]))
    assert phones[0].start == 0.0 and phones[-1].end == pytest.approx(audio.duration)
    ref = text_to_phones("The birch canoe slid on the smooth planks")
    per = phone_error_rate(ref, [p.label for p in phones])
    # measured: words 0.148, allphone 0.63, frames 0.556; random labels score ~1.0
    assert per < limit
    # the bilabials of "birch", "smooth", "planks" are found
    labels = [p.label for p in phones]
    assert labels.count("B") + labels.count("P") + labels.count("M") >= 2


def test_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        recognize_phones(audio_from_array(np.zeros(1600, np.float32), 16000), mode="nope")
