"""Phone recognition on real speech with pocketsphinx's en-us acoustic model.

pocketsphinx (5.x) ships its US-English continuous acoustic model, a CMU pronouncing
dictionary and a phone bigram model (``en-us-phone.lm.bin``) inside its wheel, so phone
recognition runs offline with no downloads. Its "allphone" search decodes a phone
sequence with frame times (10 ms frames), which we map to the project's ARPAbet set
(stress-free ARPAbet, 39 phones + ``SIL``, the same labels as ``anim3d.phones``).

Three modes: "words" (default) recognises words with the en-us language model and
force-aligns their dictionary phones, as Rhubarb Lip Sync does; "allphone" decodes a
phone loop (faster, less accurate); "frames" scores the same acoustic model frame by frame
in our own code (``anim3d.models.sphinx_acoustic``) and runs a phone loop without language model
(fastest, about as accurate as "allphone").

Public API:
    recognize_phones(audio, mode="words"|"allphone"|"frames") -> list[Phone]
    recognize_words(audio) -> list[str]
    text_to_phones(text) -> list[str]               (CMU dictionary transcription)
    phone_error_rate(reference, hypothesis) -> float  (Levenshtein / len(reference))
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from anim3d.audio import Audio
from anim3d.errors import AudioError
from anim3d.optional import require
from anim3d.phones import SIL, Phone, known_label

MODES = ("words", "allphone", "frames")

SAMPLE_RATE = 16000  # the en-us acoustic model's rate
FRAME_RATE = 100  # pocketsphinx frames per second (10 ms)


@dataclass(frozen=True)
class RecognizerConfig:
    """Recognition settings: the allphone decoder's language weight and beams (the lowest mean phone error rate
    on speech clips over a grid of both), and the "frames" mode's phone change penalty (the lowest phone error
    rate over a grid, on held-out synthetic speech and a real sentence)."""

    language_weight: float = 2.0
    beam: float = 1e-20
    phone_beam: float = 1e-20
    silence_ratio: float = 0.03  # phones never louder than 3% of the loud-frame RMS (-30 dB) -> SIL
    phone_change_penalty: float = 12.0  # "frames" mode: log-likelihood cost of each phone change (lowest PER, above)


def _model_paths() -> tuple[str, str, str]:
    get_model_path = require("pocketsphinx", "phone recognition").get_model_path

    root = os.path.join(get_model_path(), "en-us")
    return (
        os.path.join(root, "en-us"),
        os.path.join(root, "en-us-phone.lm.bin"),
        os.path.join(root, "cmudict-en-us.dict"),
    )


def _decoder(config: RecognizerConfig):
    Decoder = require("pocketsphinx", "phone recognition").Decoder

    hmm, phone_lm, _ = _model_paths()
    return Decoder(
        hmm=hmm,
        allphone=phone_lm,
        lw=config.language_weight,
        beam=config.beam,
        pbeam=config.phone_beam,
        loglevel="FATAL",
    )


@lru_cache(maxsize=1)
def _word_decoders():
    """(large-vocabulary word decoder, forced aligner), built once per process (~0.5 s)."""
    Decoder = require("pocketsphinx", "phone recognition").Decoder

    hmm, _, dict_path = _model_paths()
    lm = os.path.join(os.path.dirname(dict_path), "en-us.lm.bin")
    words = Decoder(hmm=hmm, lm=lm, dict=dict_path, loglevel="FATAL")
    # bestpath off: with it the second (phone) alignment pass can fail to reach the final
    # state (cmusphinx/pocketsphinx#339, #500)
    align = Decoder(hmm=hmm, lm=None, dict=dict_path, bestpath=False, loglevel="FATAL")
    return words, align


def _decode(dec, pcm: bytes) -> None:
    dec.start_utt()
    dec.process_raw(pcm, no_search=False, full_utt=True)
    dec.end_utt()


def recognize_words(audio: Audio) -> list[str]:
    """Words pocketsphinx's US-English language model hears in ``audio`` (fillers removed)."""
    pcm, _ = pcm16k(audio)
    words_dec, _ = _word_decoders()
    _decode(words_dec, pcm)
    hyp = words_dec.hyp()
    return [w for w in (hyp.hypstr.split() if hyp is not None else []) if not w.startswith(("<", "[", "+"))]


@lru_cache(maxsize=2)
def _aligner(frame_rate: int):
    """A forced aligner analysing ``frame_rate`` frames per second (the usual one is ``_word_decoders``'s, at 100).
    Each phone's HMM needs at least 3 frames, so at 100 phones shorter than 30 ms (fast speech) cannot be aligned:
    47 of 150 espeak-ng readings of one sentence at rates 1.1-1.3 failed ("Failed to set up sub-word alignment"),
    2 of them at 200."""
    Decoder = require("pocketsphinx", "forced alignment").Decoder

    hmm, _, dict_path = _model_paths()
    return Decoder(hmm=hmm, lm=None, dict=dict_path, bestpath=False, loglevel="FATAL", frate=frame_rate)


def align_phones(pcm: bytes, words: list[str], frame_rate: int = FRAME_RATE) -> list[tuple[str, float, float]]:
    """Forced alignment of ``words`` -> (label, start s, end s) per phone (two passes), analysing ``frame_rate``
    frames per second."""
    align = _word_decoders()[1] if frame_rate == FRAME_RATE else _aligner(frame_rate)
    align.set_align_text(" ".join(words))
    _decode(align, pcm)
    align.set_alignment()
    _decode(align, pcm)
    out = []
    for word in align.get_alignment():
        for ph in word:
            out.append((known_label(ph.name), ph.start / frame_rate, (ph.start + ph.duration) / frame_rate))
    return out


def pcm16k(audio: Audio) -> tuple[bytes, np.ndarray]:
    from anim3d.audio import resample

    x = np.asarray(audio.samples, dtype=np.float32).reshape(-1)
    if x.size == 0:
        raise AudioError(audio.path, "contains no audio samples")
    if audio.sample_rate != SAMPLE_RATE:
        x = resample(x, audio.sample_rate, SAMPLE_RATE)
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2").tobytes(), x


def recognize_phones(audio: Audio, config: RecognizerConfig | None = None, *, mode: str = "words") -> list[Phone]:
    """Recognise the phones in ``audio`` (any sample rate; resampled to 16 kHz).

    mode "words" (default, like Rhubarb Lip Sync): large-vocabulary word recognition, then
    forced alignment of those words' dictionary phones; accurate (phone error rate 0.08-0.26
    on the evaldata speech) but about 0.5-2x real time on this CPU. Falls back to
    "allphone" when the alignment fails.
    mode "allphone": phone-loop decoding with a phone bigram; ~0.1-0.3x real time, phone
    error rate 0.4-0.7.
    mode "frames": the acoustic model's context-independent phones scored frame by frame
    (``anim3d.models.sphinx_acoustic``) and a Viterbi phone loop (``config.phone_change_penalty``);
    ~0.06x real time, phone error rate 0.56 on the B08 sentence, 0.70 on held-out synthetic speech.

    Returns contiguous phones covering the whole clip (silence merged), times in seconds.
    Raises AudioError for empty audio, ValueError for an unknown mode.
    """
    if mode not in MODES:
        raise ValueError(f"unknown phone recognition mode {mode!r} ({', '.join(MODES)})")
    config = config or RecognizerConfig()
    pcm, x = pcm16k(audio)
    duration = x.size / SAMPLE_RATE
    segs = None
    if mode == "frames":
        segs = _frame_phones(x, config.phone_change_penalty)
    if mode == "words":
        words = recognize_words(audio)
        if not words:
            return [Phone(SIL, 0.0, duration)]
        try:
            segs = align_phones(pcm, words)
        except RuntimeError:  # pocketsphinx could not align: use the phone loop instead
            segs = None
    if segs is None:  # allphone, or words that could not be aligned
        dec = _decoder(config)
        _decode(dec, pcm)
        segs = [(known_label(s.word), s.start_frame / FRAME_RATE, (s.end_frame + 1) / FRAME_RATE) for s in dec.seg()]
    segs = _silence_quiet(segs, x, config.silence_ratio)
    return tidy_phones(segs, duration)


def _frame_phones(x: np.ndarray, penalty: float) -> list[tuple[str, float, float]]:
    """16 kHz samples -> (label, start s, end s) from the acoustic model scored frame by frame
    (``anim3d.models.sphinx_acoustic``) and a phone loop without language model."""
    from anim3d.models import sphinx_acoustic as sa

    return _path_segments(sa.phone_loop(sa.ci_phone_loglik(sa.features(x), sa.load_model()), penalty), 0)


def _path_segments(path: np.ndarray, first_frame: int) -> list[tuple[str, float, float]]:
    """A phone loop's path ((L,) CI phone index per 100 Hz frame from ``first_frame``) -> (label, start s, end s)."""
    from anim3d.models import sphinx_acoustic as sa

    names = sa.load_model().phones
    labels = [known_label(names[i]) for i in path]
    segs, start = [], 0
    for t in range(1, len(labels) + 1):
        if t == len(labels) or labels[t] != labels[start]:
            segs.append((labels[start], (first_frame + start) / sa.FRAME_RATE, (first_frame + t) / sa.FRAME_RATE))
            start = t
    return segs


def phones_from_loglik(loglik: np.ndarray, samples16k: np.ndarray, first_frame: int = 0,
                       config: RecognizerConfig | None = None) -> list[Phone]:
    """The "frames" mode's phones from CI phone log-likelihoods already scored (L x 42 at 100 Hz, row 0 =
    frame ``first_frame``; e.g. ``PhoneFrontEnd.features_and_loglik``'s) and the 16 kHz samples they came
    from (quiet phones become silence); contiguous phones covering the samples' whole duration."""
    from anim3d.models import sphinx_acoustic as sa

    config = config or RecognizerConfig()
    x = np.asarray(samples16k, np.float32).reshape(-1)
    path = sa.phone_loop(np.asarray(loglik), config.phone_change_penalty)
    return path_phones(path, first_frame, x, 0, x.size / SAMPLE_RATE, config)


def path_phones(path: np.ndarray, first_frame: int, samples16k: np.ndarray, sample_offset: int, duration: float,
                config: RecognizerConfig | None = None) -> list[Phone]:
    """A phone loop's path ((L,) CI phone index per 100 Hz frame from ``first_frame``) -> contiguous phones over
    [0, duration]; phones quieter than the samples' loud frames by ``config.silence_ratio`` become silence
    (``samples16k[0]`` is sample ``sample_offset`` of the audio)."""
    config = config or RecognizerConfig()
    segs = _path_segments(path, first_frame)
    return tidy_phones(_silence_quiet(segs, np.asarray(samples16k, np.float32).reshape(-1), config.silence_ratio, sample_offset),
                 duration)


def _silence_quiet(segs, x: np.ndarray, ratio: float, sample_offset: int = 0):
    """Relabel phones whose RMS is below ``ratio`` x the loud (95th percentile) frame RMS
    as SIL: the allphone search always emits phones, even on digital silence. ``x[0]`` is
    sample ``sample_offset`` of the audio the phone times count from."""
    hop = SAMPLE_RATE // FRAME_RATE
    skip = -sample_offset % hop  # x's first whole 10 ms frame
    n = (x.size - skip) // hop
    if n <= 0:
        return segs
    rms = np.sqrt(np.mean(x[skip : skip + n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)  # frames
    first = (sample_offset + skip) // hop  # audio frame index of rms[0]
    floor = max(1e-4, ratio * float(np.percentile(rms, 95)))
    out = []
    for lab, s, e in segs:
        a, b = int(s * FRAME_RATE) - first, max(int(s * FRAME_RATE) + 1, int(e * FRAME_RATE)) - first
        if b <= 0:  # before the samples: nothing to judge it by
            out.append((lab, s, e))
            continue
        a = max(a, 0)
        quiet = rms[a:b].size == 0 or float(rms[a:b].max()) < floor
        out.append((SIL if quiet else lab, s, e))
    return out


def tidy_phones(segs: list[tuple[str, float, float]], duration: float) -> list[Phone]:
    """Merge repeats, close gaps, and cover [0, duration] exactly."""
    out: list[list] = []
    for lab, s, e in segs:
        s, e = max(0.0, s), min(duration, e)
        if e <= s:
            continue
        if out and out[-1][0] == lab and lab == SIL:
            out[-1][2] = e
            continue
        if out and s > out[-1][2]:  # a gap: silence
            out.append([SIL, out[-1][2], s])
        out.append([lab, s, e])
    if not out:
        return [Phone(SIL, 0.0, duration)]
    if out[0][1] > 0:
        if out[0][0] == SIL:
            out[0][1] = 0.0
        else:
            out.insert(0, [SIL, 0.0, out[0][1]])
    if out[-1][2] < duration:
        if out[-1][0] == SIL:
            out[-1][2] = duration
        else:
            out.append([SIL, out[-1][2], duration])
    return [Phone(lab, float(s), float(e)) for lab, s, e in out]


@lru_cache(maxsize=1)
def cmudict() -> dict[str, list[str]]:
    _, _, dict_path = _model_paths()
    with open(dict_path, encoding="utf-8", errors="replace") as f:
        # stress digits off in one pass over the text (4x faster than labelling each phone): AH0 -> AH
        text = re.sub(r"(?<=[A-Z])[012]\b", "", f.read())
    d: dict[str, list[str]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2 or "(" in parts[0]:  # keep the first pronunciation only
            continue
        d[parts[0].lower()] = parts[1:]
    return d


def text_to_phones(text: str) -> list[str]:
    """CMU-dictionary transcription of English text (first pronunciation of each word).

    Raises ValueError naming the words that are not in the dictionary.
    """
    words = re.findall(r"[a-z']+", text.lower())
    d = cmudict()
    missing = [w for w in words if w not in d]
    if missing:
        raise ValueError(f"words not in the CMU dictionary: {', '.join(missing)}")
    return [p for w in words for p in d[w]]


def edit_distance(a: list[str], b: list[str]) -> int:
    """Levenshtein distance between two label sequences."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
        prev = cur
    return prev[-1]


def phone_error_rate(reference: list[str], hypothesis: list[str]) -> float:
    """(substitutions + deletions + insertions) / len(reference), silences ignored."""
    ref = [known_label(p) for p in reference]
    hyp = [known_label(p) for p in hypothesis]
    ref = [p for p in ref if p != SIL]
    hyp = [p for p in hyp if p != SIL]
    if not ref:
        raise ValueError("empty reference transcription")
    return edit_distance(ref, hyp) / len(ref)
