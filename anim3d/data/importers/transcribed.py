"""Real speech with a transcript -> training utterances whose motion is the teacher's.

A recording of a real voice and the words it says: pocketsphinx force-aligns the words'
dictionary phones to the audio (``anim3d.phonetic``), and the teacher turns those phone
timings into motion, as it does for the synthetic voices. The motion is the teacher's, not
the speaker's; what these utterances add is the audio: a real voice (its spectra, its
coarticulation, its pauses), so that the model hears in training the kind of speech it is
judged on. Each recording can be imported as several copies, each with its own virtual
speaker style, emotion label, gaze, distance and audio augmentation chain, drawn as the
synthetic corpus draws them (``anim3d.data.synth``).

Transcripts: one line per recording, ``name: text`` (Asterisk's ``core-sounds-en.txt``)
or ``name|text[|normalised text]`` (LJSpeech's ``metadata.csv``); ``;`` and ``#`` start a
comment line. ``name`` is the audio file's path relative to the transcript's folder (or
to ``audio_root``) without extension. Notes in square or angle brackets (``[beep tone]``,
``<beep>``), and a line that is only a note in parentheses (``(1 second of silence)``), are
not speech.
"""

from __future__ import annotations

import gzip
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anim3d.audio import MEDIA_EXTENSIONS
from anim3d.errors import InputError

AUDIO_EXTENSIONS = MEDIA_EXTENSIONS + (".g722", ".gsm")  # and telephony codecs (Asterisk's prompts)
@dataclass(frozen=True)
class Transcribed:
    name: str  # the transcript's key
    audio_path: str
    text: str


def read_transcript(path: str | os.PathLike) -> dict[str, str]:
    """``name -> text`` from a transcript file (formats in the module docstring).

    Raises InputError naming the file when it is missing or holds no usable line."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(path, "transcript not found")
    opener = gzip.open if path.endswith(".gz") else open
    out: dict[str, str] = {}
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line or line[0] in ";#":
                    continue
                if "|" in line:
                    parts = line.split("|")
                    name, text = parts[0], parts[-1]
                elif ":" in line:
                    name, text = line.split(":", 1)
                else:
                    continue
                out[name.strip()] = text.strip()
    except (OSError, UnicodeError) as e:
        raise InputError(path, f"unreadable transcript ({e})") from None
    if not out:
        raise InputError(path, "no 'name: text' or 'name|text' line in the transcript")
    return out


def find_recordings(transcript: dict[str, str], audio_root: str | os.PathLike) -> list[Transcribed]:
    """The transcript's entries whose audio file exists under ``audio_root``, in the transcript's
    order. Where a name has several files (Asterisk ships 8 kHz ``.wav`` beside 16 kHz ``.g722``),
    the one with the highest sample rate."""
    root = Path(audio_root)
    found = []
    for name, text in transcript.items():
        cands = [root / (name + ext) for ext in AUDIO_EXTENSIONS if (root / (name + ext)).is_file()]
        if cands:
            best = max(cands, key=_sample_rate) if len(cands) > 1 else cands[0]
            found.append(Transcribed(name, str(best), text))
    return found


def _sample_rate(path: Path) -> int:
    import av

    try:
        with av.open(str(path)) as c:
            return int(c.streams.audio[0].rate or 0) if c.streams.audio else 0
    except (av.error.FFmpegError, IndexError):
        return 0


def text_to_words(text: str) -> list[str]:
    """Spoken words of a transcript line (``anim3d.script.spoken_words``). Raises ValueError naming the words the
    pronouncing dictionary lacks."""
    from anim3d.phonetic import cmudict
    from anim3d.script import spoken_words

    words = spoken_words(text)
    d = cmudict()
    missing = sorted({w for w in words if w not in d})
    if missing:
        raise ValueError(f"words not in the pronouncing dictionary: {', '.join(missing)}")
    return words


FAST_FRAME_RATE = 200  # frames per second of the fallback aligner, for fast speech (anim3d.phonetic._aligner)


def align(audio, words: list[str]):
    """Forced alignment of ``words`` to ``audio`` -> contiguous ``Phone`` list covering the clip: pocketsphinx's
    aligner at 100 frames per second, else at 200 (fast speech). Raises ValueError when neither aligns them."""
    from anim3d.phonetic import FRAME_RATE, align_phones, tidy_phones

    pcm, duration = dithered_pcm(audio)
    error = None
    for frame_rate in (FRAME_RATE, FAST_FRAME_RATE):
        try:
            segs = align_phones(pcm, words, frame_rate)
        except RuntimeError as e:
            error = e
            continue
        phones = tidy_phones(segs, duration)
        if any(p.label != "SIL" for p in phones):
            return phones
        error = "no phone found"
    raise ValueError(f"forced alignment failed ({error})")


def dithered_pcm(audio) -> tuple[bytes, float]:
    """16 kHz 16-bit PCM of ``audio`` with a fixed dither of 2 LSB (as sphinx's -dither: stretches of digital
    silence, as in TTS output or gated recordings, otherwise make the aligner's second pass fail), and its
    duration in seconds."""
    from anim3d.audio import Audio
    from anim3d.phonetic import SAMPLE_RATE, pcm16k

    _, x = pcm16k(audio)  # (resampled to 16 kHz; an empty file is a clear error)
    x = x + (2.0 / 32768.0) * np.random.default_rng(0).standard_normal(x.size).astype(np.float32)
    return pcm16k(Audio(x, SAMPLE_RATE, audio.path))[0], x.size / SAMPLE_RATE


def import_transcribed(rec: Transcribed, *, copies: int = 1, seed: int = 0, speaker: str | None = None,
                       augment_prob: float = 0.6, fps: float = 30.0) -> list:
    """One transcribed recording -> ``copies`` Utterances (source "transcribed"), each with its own
    virtual speaker style, labels and augmentation (seeded by ``seed`` and the copy index).

    Raises InputError naming the audio file when it cannot be read, its words are not in the
    dictionary, or the alignment fails."""
    from anim3d.audio import load_audio
    from anim3d.data import augment
    from anim3d.data.shards import Utterance
    from anim3d.data.synth import draw_labels
    from anim3d.teacher import SpeakerStyle, phones_to_motion

    audio = load_audio(rec.audio_path, 16000, min_seconds=0.2)
    try:
        words = text_to_words(rec.text)
        if not words:
            raise ValueError("the transcript line has no spoken word")
        phones = align(audio, words)
    except ValueError as e:
        raise InputError(rec.audio_path, str(e)) from None
    voice = speaker or f"transcribed:{Path(rec.audio_path).parent.name}"
    key = _stable_hash(rec.name)
    out = []
    for c in range(copies):
        rng = np.random.default_rng([seed, c, key])
        labels = draw_labels(rng)
        style = SpeakerStyle.random(rng)
        motion = phones_to_motion(
            phones, audio.duration, fps=fps, emotion=labels["emotion"], intensity=labels["intensity"],
            gaze=tuple(labels["gaze"]), distance=labels["distance"], speaker=style, audio=audio,
            seed=int(rng.integers(2**31)),
        )
        a, desc = audio, ""
        if rng.random() < augment_prob:
            a, desc = augment.random_augment(audio, rng)
        labels.update({"augment": desc, "source": "transcribed", "style": style.to_dict(), "copy": c})
        uid = f"tr-{key:08x}-{c}"
        out.append(Utterance(uid, a, motion, phones, rec.text, voice, f"{voice}#{c}", labels))
    return out


def _stable_hash(s: str) -> int:
    import zlib

    return zlib.crc32(s.encode("utf-8"))


def import_folder(transcript_path: str | os.PathLike, audio_root: str | os.PathLike | None = None, *,
                  copies: int = 1, seed: int = 0, speaker: str | None = None, limit: int | None = None,
                  show_progress: bool = True) -> tuple[list, list[tuple[str, str]]]:
    """Every recording of a transcript -> (utterances, skipped [(audio path, why)]).
    Recordings that cannot be used are skipped with their reason, not fatal; no recording at all is."""
    from anim3d.progress import progress

    transcript = read_transcript(transcript_path)
    root = audio_root if audio_root is not None else os.path.dirname(os.path.abspath(transcript_path))
    recs = find_recordings(transcript, root)
    if not recs:
        raise InputError(transcript_path, f"none of its {len(transcript)} names has an audio file under {root} "
                         f"({', '.join(AUDIO_EXTENSIONS)})")
    recs = recs[:limit] if limit else recs
    utts, skipped = [], []
    for rec in progress(recs, desc="align", unit="rec") if show_progress else recs:
        try:
            utts += import_transcribed(rec, copies=copies, seed=seed, speaker=speaker)
        except InputError as e:
            skipped.append((rec.audio_path, str(e)))
    if skipped:
        warnings.warn(f"{len(skipped)} of {len(recs)} recordings skipped (first: {skipped[0][1]})", stacklevel=2)
    return utts, skipped
