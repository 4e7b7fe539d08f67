"""Real speech with a transcript -> teacher-labelled training shards (``anim3d import transcribed``),
and training on several corpora at once (``anim3d train --data A --data B``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from anim3d.errors import InputError

from anim3d.data import tts
from anim3d.data.importers import transcribed as tr

needs_espeak = pytest.mark.skipif(not [v for v in tts.list_voices() if v.engine == "espeak"], reason="espeak-ng not installed")
SENTENCE = "Please press 1 to hear the main menu again."


def test_text_to_words_spells_numbers_and_keypad_symbols_and_drops_notes():
    assert tr.text_to_words("Press 1, or # for 162 options [beep tone].") == [
        "press", "one", "or", "pound", "for", "one", "hundred", "sixty", "two", "options"]
    assert tr.text_to_words("(1 second of silence)") == tr.text_to_words("<beep ascending>") == []
    assert tr.text_to_words("The list (two items) ends.") == ["the", "list", "two", "items", "ends"]
    with pytest.raises(ValueError, match="zorblax"):
        tr.text_to_words("The zorblax is here.")


def test_read_transcript_both_formats(tmp_path):
    (tmp_path / "a.txt").write_text("; a comment\nhello: Hello there.\ndigits/1: one\n\nno separator line\n")
    assert tr.read_transcript(tmp_path / "a.txt") == {"hello": "Hello there.", "digits/1": "one"}
    (tmp_path / "metadata.csv").write_text("LJ001|Mr. Smith, 2 dogs|Mister Smith, two dogs\nLJ002|Yes\n")
    assert tr.read_transcript(tmp_path / "metadata.csv") == {"LJ001": "Mister Smith, two dogs", "LJ002": "Yes"}
    with pytest.raises(InputError, match="empty.txt"):
        (tmp_path / "empty.txt").write_text("; nothing\n")
        tr.read_transcript(tmp_path / "empty.txt")
    with pytest.raises(InputError, match="missing.txt"):
        tr.read_transcript(tmp_path / "missing.txt")


def test_find_recordings_takes_the_widest_band_file(tmp_path):
    from anim3d.audio import save_wav

    x = (0.1 * np.sin(np.arange(8000) / 5.0)).astype(np.float32)
    save_wav(tmp_path / "a.wav", x, 8000)
    save_wav(tmp_path / "a.flac", np.repeat(x, 2), 16000)  # (a WAV and a FLAC of the same name)
    recs = tr.find_recordings({"a": "hi", "b": "absent"}, tmp_path)
    assert [(r.name, r.audio_path.endswith(".flac")) for r in recs] == [("a", True)]


@pytest.fixture(scope="module")
def spoken(tmp_path_factory):
    """A sentence spoken by espeak-ng, with espeak's own phone timings, and its transcript."""
    from anim3d.audio import save_wav

    voice = tts.Voice("espeak", "en-us", "m3")
    audio, phones = tts.synthesize(SENTENCE.replace("1", "one"), voice)
    root = tmp_path_factory.mktemp("prompts")
    (root / "sub").mkdir()
    save_wav(root / "sub" / "menu.wav", audio.samples, audio.sample_rate)
    (root / "prompts.txt").write_text(f"sub/menu: {SENTENCE}\nsub/gone: Not recorded.\n")
    return root, audio, phones


@needs_espeak
def test_alignment_finds_the_spoken_phones_where_they_are(spoken):
    root, audio, truth = spoken
    (rec,) = tr.find_recordings(tr.read_transcript(root / "prompts.txt"), root)
    utts = tr.import_transcribed(rec, copies=2, seed=3)
    assert len(utts) == 2
    speech = [p for p in utts[0].phones if p.label != "SIL"]
    assert [p.label for p in speech][:4] == ["P", "L", "IY", "Z"]
    # each aligned phone's middle lies within the same phone of espeak's own timing (its label matches), mostly
    assert _hits(utts[0].phones, truth) > 0.7
    # the teacher closes the lips at the aligned p/b/m and the copies are different virtual speakers
    from anim3d.eval.metrics import bilabial_closure_rate
    from anim3d.eval.mouth import CLOSED_BELOW, mesh_opening

    rate, n = bilabial_closure_rate(mesh_opening(utts[0].motion), utts[0].phones, 30.0, closed_below=CLOSED_BELOW["mesh"])
    assert n >= 3 and rate == 1.0
    assert utts[0].labels["style"] != utts[1].labels["style"]
    assert {u.labels["source"] for u in utts} == {"transcribed"}
    assert utts[0].motion.num_frames == pytest.approx(audio.duration * 30.0, abs=2)


def _hits(phones, truth) -> float:
    """Share of aligned speech phones whose middle lies in a phone of the same label in ``truth`` (+-30 ms)."""
    speech = [p for p in phones if p.label != "SIL"]
    true_speech = [p for p in truth if p.label != "SIL"]
    return sum(any(t.label == p.label and t.start - 0.03 <= p.center <= t.end + 0.03 for t in true_speech)
               for p in speech) / len(speech)


@needs_espeak
@pytest.mark.parametrize("rate", [1.2, 1.35])
def test_fast_speech_aligns(rate):
    """At 100 frames per second a phone needs 30 ms; fast speech is aligned at 200 if need be."""
    voice = tts.Voice("espeak", "en-us", "m3")
    audio, truth = tts.synthesize(SENTENCE.replace("1", "one"), voice, rate)
    phones = tr.align(audio, tr.text_to_words(SENTENCE))
    assert _hits(phones, truth) > 0.7


@needs_espeak
def test_the_fast_aligner_agrees_with_the_usual_one():
    from anim3d.phonetic import align_phones

    # slow speech, which the usual aligner (100 frames per second, 30 ms per phone at least) can align
    audio, _ = tts.synthesize(SENTENCE.replace("1", "one"), tts.Voice("espeak", "en-us", "m3"), 0.8)
    pcm, _ = tr.dithered_pcm(audio)
    words = tr.text_to_words(SENTENCE)
    speech = lambda segs: [s for s in segs if s[0] != "SIL"]  # noqa: E731  (either may put a pause between words)
    slow, fast = speech(align_phones(pcm, words)), speech(align_phones(pcm, words, tr.FAST_FRAME_RATE))
    assert [s[0] for s in slow] == [f[0] for f in fast]
    middles = np.abs([(s[1] + s[2] - f[1] - f[2]) / 2 for s, f in zip(slow, fast)])
    assert np.median(middles) < 0.02


@needs_espeak
def test_import_command_writes_shards_and_skips_what_it_cannot_use(spoken, tmp_path):
    from anim3d.cli import main
    from anim3d.data.shards import ShardDataset

    root, _, _ = spoken
    (root / "more.txt").write_text(f"sub/menu: {SENTENCE}\nsub/menu2: The zorblax said hello.\n")
    (root / "sub" / "menu2.wav").write_bytes((root / "sub" / "menu.wav").read_bytes())
    out = tmp_path / "prompts"
    with pytest.warns(UserWarning, match="1 of 2 recordings skipped.*zorblax"):
        assert main(["import", "transcribed", str(root / "more.txt"), "--copies", "3", "--out", str(out), "-q"]) == 0
    utts = list(ShardDataset(out, "train"))
    assert len(utts) == 3 and len({u.id for u in utts}) == 3
    assert json.loads((out / "index.json").read_text())["val_voices"] == []
    # nothing usable: one clear error, exit code 2, no folder left behind
    (root / "none.txt").write_text("sub/absent: Hello.\n")
    assert main(["import", "transcribed", str(root / "none.txt"), "--out", str(tmp_path / "none"), "-q"]) == 2
    assert not (tmp_path / "none").exists()


def _tiny_corpus(root, voice: str, n: int, seed: int):
    from anim3d.audio import audio_from_array
    from anim3d.phones import Phone
    from anim3d.data.shards import Utterance, write_index, write_shard
    from anim3d.motion import Motion

    rng = np.random.default_rng(seed)
    utts = []
    for i in range(n):
        x = (0.2 * np.sin(np.arange(24000) * rng.uniform(0.02, 0.2)) * (rng.random(24000) > 0.3)).astype(np.float32)
        bs = np.clip(0.3 + 0.2 * np.sin(np.arange(45)[:, None] / 5.0 + rng.uniform(0, 6, 52)), 0, 1).astype(np.float32)
        m = Motion(bs, np.zeros((45, 3), np.float32), np.zeros((45, 3), np.float32), 30.0)
        utts.append(Utterance(f"{voice}-{i}", audio_from_array(x, 16000), m, [Phone("AA", 0.0, 1.5)], "", voice, voice,
                              {"emotion": "neutral", "intensity": 0.0}))
    root.mkdir()
    write_shard(root / "s.npz", utts)
    write_index(root, val_voices=[])


def test_train_reads_every_data_folder(tmp_path, capsys):
    from anim3d.cli import main

    _tiny_corpus(tmp_path / "a", "va", 3, 0)
    _tiny_corpus(tmp_path / "b", "vb", 2, 1)
    args = ["train", "--config", "tiny", "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2", "-q"]
    assert main(args + ["--data", str(tmp_path / "a"), "--data", str(tmp_path / "b"), "--out", str(tmp_path / "run")]) == 0
    assert "5 training utterances" in capsys.readouterr().out
    assert (tmp_path / "run" / "model.safetensors").is_file()
    assert main(args + ["--data", str(tmp_path / "a"), "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r2")]) == 2
    assert "nope: corpus folder not found" in capsys.readouterr().err
