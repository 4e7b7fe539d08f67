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
        gave for the same audio, when the caller already has it (else it is traced back here)."""
        from anim3d.phones import Phone
        from anim3d.teacher.core import speech_mouth
        from anim3d.teacher.head import energy_db
        from anim3d.phonetic import SAMPLE_RATE, path_phones

        x = np.asarray(samples16k, np.float32).reshape(-1)
        phones = phones if phones is not None else self.phones()
        if phones is None:
            first, path = self.decoder.best_path()
            heard = self.decoder.frames / 100.0  # s: the end of the decoded audio
            phones = path_phones(path, first, x, sample_offset, heard, self.config)
            if phones:
                last = phones[-1]
                phones[-1] = Phone(last.label, last.start, last.end + self.HOLD)
        # from the frame before start, as the whole file's 3-frame smoothing of the jaw's loudness gain sees it
        a = max(0, start - 1)
        # loudness relative to the loud frames of the buffer: every motion frame it holds, up to stop
        lo = min(max(0, int(np.ceil(sample_offset / SAMPLE_RATE * self.fps))), a)
        energy = energy_db(x, SAMPLE_RATE, stop - lo, self.fps, lo, sample_offset)[a - lo :] if x.size else None
        return speech_mouth(phones, stop - a, fps=self.fps, energy=energy, first_frame=a)[start - a :]
