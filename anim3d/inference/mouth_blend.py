"""The generated mouth blended with the rule-based one: the teacher's visemes on the phones the audio's phone loop hears.

The model learned its mouth from the teacher on synthetic voices, and on real speakers the teacher's rules on
recognised phones follow the tracked lips better in the consonants and the slow opening and closing. A share of
the rule-based mouth moves the generated lip gap toward the real one while the model keeps the rest (emotion,
eyes, brows, head, the variety between seeds). The share is the checkpoint's ``inference.teacher_blend``.

The phones come from the CI phone log-likelihoods the phone front end already scored for the model's
features (``PhoneFrontEnd.features_and_loglik``), decoded by the "frames" mode's phone loop
(``anim3d.phonetic.phones_from_loglik``), so the blend costs a Viterbi pass and the viseme rules, not a
second acoustic model pass. Models with another front end score the phones separately.

Only the articulation channels that shape the opening are blended (``BLEND_CHANNELS``: the teacher's jaw,
lips, rounding and tongue channels but mouthPress and mouthStretch); smiles, frowns, dimples, cheeks, and the
press and stretch that angry, contempt and fear put on the mouth stay the model's, so the asked-for emotion
keeps its mouth.
"""

from __future__ import annotations

import numpy as np

from anim3d.channels import INDEX
from anim3d.phones import SIL
from anim3d.teacher.visemes import ARTIC_CHANNELS

_EMOTION_TOO = ("mouthPressLeft", "mouthPressRight", "mouthStretchLeft", "mouthStretchRight")
BLEND_CHANNELS = tuple(INDEX[c] for c in ARTIC_CHANNELS if c not in _EMOTION_TOO)


def blend_mouth(blendshapes: np.ndarray, rule: np.ndarray, share: float) -> np.ndarray:
    """T x 52 generated blendshapes, T' x 52 rule-based ones (T' >= T) -> T x 52 with the articulation channels
    (1 - share) * generated + share * rule; the other channels as generated."""
    b = np.array(blendshapes, np.float32, copy=True)
    if len(rule) < len(b):
        raise ValueError(f"the rule-based mouth has {len(rule)} frames, the motion {len(b)}")
    ch = list(BLEND_CHANNELS)
    b[:, ch] = (1.0 - share) * b[:, ch] + share * np.asarray(rule, np.float32)[: len(b)][:, ch]
    return b


def rule_mouth(loglik: np.ndarray, first_frame: int, samples16k: np.ndarray, num_frames: int,
               fps: float = 30.0, phones=None) -> np.ndarray:
    """num_frames x 52 rule-based mouth of the average virtual speaker: on ``phones`` (a script's, aligned), else
    on the phones decoded from the CI phone log-likelihoods (L x 42, 100 Hz, row 0 = frame ``first_frame``) of the
    16 kHz ``samples16k``; the jaw following their loudness."""
    from anim3d.teacher.core import speech_mouth
    from anim3d.teacher.head import energy_db
    from anim3d.phonetic import SAMPLE_RATE, phones_from_loglik

    x = np.asarray(samples16k, np.float32).reshape(-1)
    if phones is None:
        phones = phones_from_loglik(loglik, x, first_frame)
    energy = energy_db(x, SAMPLE_RATE, num_frames, fps) if x.size else None
    return speech_mouth(phones, num_frames, fps=fps, energy=energy)


def script_phones(loglik: np.ndarray, first_frame: int, samples16k: np.ndarray, script, path=None):
    """A line's ``script`` (``anim3d.script.Script``) aligned to its audio (CI phone log-likelihoods as for
    ``rule_mouth``) -> contiguous phones covering the samples, or None after one warning naming ``path`` when the
    script does not match the audio (its gain is below ``anim3d.align.MIN_GAIN``) or cannot be aligned to it."""
    from anim3d.align import MIN_GAIN, align
    from anim3d.errors import warn_input
    from anim3d.phonetic import SAMPLE_RATE, RecognizerConfig, tidy_phones

    x = np.asarray(samples16k, np.float32).reshape(-1)
    try:
        a = align(loglik, [list(w) for w in script.words], RecognizerConfig().phone_change_penalty, first_frame)
    except ValueError as e:
        warn_input(path, f"the script cannot be aligned to the audio ({e}): animated from the audio alone")
        return None
    if a.gain < MIN_GAIN:
        warn_input(path, f"the script does not match the audio (alignment gain {a.gain:.2f}, below {MIN_GAIN}): "
                         "animated from the audio alone")
        return None
    return tidy_phones([(p.label, p.start, p.end) for p in a.phones], x.size / SAMPLE_RATE)


def scored_loglik(samples16k: np.ndarray) -> np.ndarray:
    """L x 42 CI phone log-likelihoods of 16 kHz samples (for models whose front end does not score them)."""
    from anim3d.models import sphinx_acoustic as sa

    return sa.ci_phone_loglik(sa.features(np.asarray(samples16k, np.float32)), sa.load_model())


class StreamingRuleMouth:
    """``rule_mouth`` for a stream (``StreamingAnimator`` with a teacher blend or a script): ``push_loglik`` the CI
    phone log-likelihoods of each new 100 Hz frame as the front end scores them, then ``mouth`` gives the frames
    about to be sent.

    The phone loop runs online (``sphinx_acoustic.PhoneLoopDecoder``) and ``mouth`` traces back from the best
    phone at the end of the audio received so far, over the last ``HISTORY`` frames. With a ``script``, the
    script is aligned online instead (``anim3d.align.ScriptAligner``, tracing back from the best state now: the
    words said so far) and ``phones`` gives its phones for the lip guarantees; from ``CHECK_AFTER`` s of audio on,
    the script is given up, with one warning, as soon as its gain falls below ``anim3d.align.MIN_GAIN``, and the
    stream goes on with the phone loop. What the whole file would know but a stream cannot: the phones after the
    received audio (the last one is taken to go on for ``HOLD`` s), and the loudness of the whole utterance (the
    loud frames are those of the buffer the animator keeps, several seconds)."""

    HISTORY = 300  # 100 Hz frames of back pointers kept (3 s)
    HOLD = 0.2  # s the last phone heard is assumed to go on
    CHECK_AFTER = 2.0  # s of audio from which a script is judged (before, its gain on evaldata speech still dips to
    # 0.17 while the first word is said; from 2 s on 0.48 or more on matching scripts, 0.26 or less on others)
    CONTEXT = 1.0  # s before a frame from which phones can shape it: the visemes' dominance reaches 0.6 s
    # (teacher.visemes.blend) and the lip guarantees 0.1 s (enforce), on a timeline the speaker's lead moves

    def __init__(self, fps: float = 30.0, config=None, script=None):
        from anim3d.align import ScriptAligner
        from anim3d.models import sphinx_acoustic as sa
        from anim3d.phonetic import RecognizerConfig

        self.fps = float(fps)
        self.config = config or RecognizerConfig()
        penalty = self.config.phone_change_penalty
        self.aligner = ScriptAligner([list(w) for w in script.words], penalty, keep=self.HISTORY) if script else None
        # the phone loop: the aligner's own when there is a script (its score judges the script)
        self.decoder = self.aligner.loop if self.aligner else sa.PhoneLoopDecoder(penalty, keep=self.HISTORY)
        self.loudness = StreamLoudness(self.fps)

    @property
    def frames(self) -> int:
        """100 Hz frames decoded so far."""
        return self.decoder.frames

    def push_loglik(self, loglik: np.ndarray, first_frame: int) -> None:
        """L x 42 log-likelihoods of 100 Hz frames first_frame..; frames already pushed are skipped."""
        skip = self.decoder.frames - int(first_frame)
        if skip < 0:
            raise ValueError(f"phone frames {self.decoder.frames}..{first_frame - 1} were never scored")
        if skip < len(loglik):
            if self.aligner is not None:
                self.aligner.push(loglik[skip:])  # pushes its phone loop too
                self._judge()
            else:
                self.decoder.push(loglik[skip:])

    def _judge(self) -> None:
        """Give up the script, with one warning, when it does not fit the audio heard so far."""
        from anim3d.align import MIN_GAIN
        from anim3d.errors import warn_input

        if self.frames >= self.CHECK_AFTER * 100 and (gain := self.aligner.gain(whole=False)) < MIN_GAIN:
            warn_input(None, f"the script does not match the streamed audio (alignment gain {gain:.2f}, below "
                             f"{MIN_GAIN}): animating from the audio alone")
            self.aligner = None

    def phones(self):
        """The script's phones aligned so far (seconds from the stream's start, the last one held ``HOLD`` s
        longer), or None without a script (or after giving it up)."""
        from anim3d.phones import Phone

        if self.aligner is None:
            return None
        phones = self.aligner.phones(whole=False)
        if phones:
            last = phones[-1]
            phones[-1] = Phone(last.label, last.start, last.end + self.HOLD)
        return phones

    def mouth(self, start: int, stop: int, samples16k: np.ndarray, sample_offset: int, phones=None) -> np.ndarray:
        """(stop - start) x 52 rule-based mouth of motion frames start..stop-1; ``samples16k`` are the last
        samples received (``samples16k[0]`` is sample ``sample_offset`` of the stream); ``phones``: what ``phones()``
        gave for the same audio, when the caller already has it (else it is traced back here).

        The same numbers as ``rule_mouth``'s rules on the phones and loudness of the received audio, computed on what
        changed since the last call: the traceback stops where it meets the last one (``PhoneLoopDecoder``), the
        loudness of a frame is computed once its 40 ms are all received (``StreamLoudness``), and the visemes
        read only the phones within ``CONTEXT`` s of the frames."""
        from anim3d.teacher.core import speech_mouth

        x = np.asarray(samples16k, np.float32).reshape(-1)
        phones = phones if phones is not None else self.phones()
        a = max(0, start - 1)  # from the frame before start, as the whole file's 3-frame smoothing of the jaw gain sees it
        if phones is None:
            phones = self._heard_phones(x, sample_offset, a / self.fps - self.CONTEXT)
        # loudness relative to the loud frames of the buffer: every motion frame it holds, up to stop
        from anim3d.phonetic import SAMPLE_RATE

        lo = min(max(0, int(np.ceil(sample_offset / SAMPLE_RATE * self.fps))), a)
        energy = self.loudness(x, sample_offset, lo, stop)[a - lo :] if x.size else None
        near = phones_after(phones, a / self.fps - self.CONTEXT)
        return speech_mouth(near, stop - a, fps=self.fps, energy=energy, first_frame=a)[start - a :]

    def _heard_phones(self, x: np.ndarray, sample_offset: int, since: float):
        """The phone loop's phones traced back from now (the last one held ``HOLD`` s longer), exact from ``since``
        (s) on: the path is read from a phone boundary before ``since`` when what comes before cannot change them."""
        from anim3d.phones import Phone
        from anim3d.phonetic import path_phones

        first, path = self.decoder.best_path()
        heard = self.decoder.frames / 100.0  # s: the end of the decoded audio
        cut = _label_boundary(path, int(np.floor(since * 100)) - first)
        phones = None
        if cut > 0:
            # phones from a boundary on are the whole path's, but for a silence that the cut shortened
            phones = path_phones(path[cut:], first + cut, x, sample_offset, heard, self.config)
            if phones[0].label == SIL and phones[0].end > since:
                phones = None
        if phones is None:
            phones = path_phones(path, first, x, sample_offset, heard, self.config)
        if phones:
            last = phones[-1]
            phones[-1] = Phone(last.label, last.start, last.end + self.HOLD)
        return phones


def _label_boundary(path: np.ndarray, before: int) -> int:
    """The last index i in 1..``before`` where the phone loop's ``path`` changes label (0: none)."""
    from anim3d.models import sphinx_acoustic as sa
    from anim3d.phones import known_label

    if before < 1 or len(path) < 2:
        return 0
    labels = _loop_labels(tuple(sa.load_model().phones), known_label)[path[: min(before, len(path) - 1) + 1]]
    change = np.nonzero(labels[1:] != labels[:-1])[0]
    return int(change[-1]) + 1 if change.size else 0


_LABELS: dict = {}


def _loop_labels(names: tuple, known_label) -> np.ndarray:
    """The phone loop's label per phone index (as ``phonetic._path_segments`` reads them), once per phone set."""
    if names not in _LABELS:
        _LABELS[names] = np.array([known_label(n) for n in names])
    return _LABELS[names]


def phones_after(phones: list, since: float) -> list:
    """What ``teacher.core.speech_mouth`` needs of ``phones`` for the frames from ``since + CONTEXT`` on: the phones from
    the first that ends after ``since``, back to one that is not silence (its gap filling merges a silence with the one
    before). All of them unless they are in order and the ones left out end where the first one kept starts."""
    from anim3d.phones import known_label

    i = next((k for k, p in enumerate(phones) if p.end > since), 0)
    while i > 0 and known_label(phones[i].label) == SIL:
        i -= 1
    if i == 0:
        return phones
    start = phones[i].start
    ordered = all(phones[k].start >= phones[k - 1].start for k in range(1, len(phones)))
    if not ordered or abs(phones[i - 1].end - start) > 1e-6 or any(p.end > start + 1e-6 for p in phones[:i]):
        return phones
    return phones[i:]


class StreamLoudness:
    """``teacher.head.energy_db`` of a stream's motion frames, each frame's level computed once: a frame whose 40 ms
    were all received has that level for good; only frames at the edges of the samples and the reference (the 95th
    percentile of the frames asked for) are computed anew."""

    def __init__(self, fps: float, sample_rate: int = 16000):
        self.fps, self.rate = float(fps), int(sample_rate)
        self.win = int(0.04 * sample_rate)
        self.db: dict[int, float] = {}  # motion frame -> dB of its 40 ms (before the reference is taken off)

    def __call__(self, samples: np.ndarray, sample_offset: int, first: int, stop: int) -> np.ndarray:
        """(stop - first,) float32 dB of motion frames first..stop-1 relative to their loud frames; ``samples[0]`` is
        sample ``sample_offset`` of the stream."""
        x = np.asarray(samples, np.float32).reshape(-1)
        frames = np.arange(first, stop)
        centers = (frames / self.fps * self.rate).astype(np.int64) - sample_offset  # as head._analysis_frames
        lo, hi = -(self.win // 2), self.win - self.win // 2
        final = (centers + lo >= 0) & (centers + hi <= len(x))
        db = np.array([self.db.get(int(f), np.nan) for f in frames])
        todo = np.isnan(db) | ~final
        if todo.any():
            db[todo] = _frame_db(x, centers[todo], lo, hi)
            self.db.update((int(f), float(v)) for f, v in zip(frames[todo & final], db[todo & final]))
        for f in [f for f in self.db if f < first]:
            del self.db[f]
        return (db - np.percentile(db, 95)).astype(np.float32) if len(db) else db.astype(np.float32)


def _frame_db(x: np.ndarray, centers: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """(N,) dB of the mean-removed windows x[c + lo : c + hi] (silence outside x), as ``teacher.head`` computes them."""
    idx = centers[:, None] + np.arange(lo, hi)[None]  # N x W
    frames = np.where((idx >= 0) & (idx < len(x)), x[np.clip(idx, 0, max(len(x) - 1, 0))].astype(np.float64), 0.0)
    frames = frames - frames.mean(axis=1, keepdims=True)
    rms = np.sqrt((frames ** 2).mean(axis=1) + 1e-10)
    return 20 * np.log10(rms + 1e-8)
