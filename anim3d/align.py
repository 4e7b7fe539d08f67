"""Forced alignment of a line's script to its audio, on the en-us acoustic model's CI phone log-likelihoods.

A script is a list of words, each a list of ARPAbet phones (``anim3d.script``). The aligner walks a left-to-right
chain: an optional silence, the first word's phones, an optional silence, the next word's, ..., an optional
silence. Each phone is ``STATES`` states that share its log-likelihood column (so a phone lasts at least
``STATES`` 10 ms frames, as in pocketsphinx's 3-state HMMs), and entering a phone costs the same
``phone_change_penalty`` that the free phone loop (``phonetic.phone_loop``) pays per phone change.

Why our own Viterbi rather than pocketsphinx's aligner (which ``anim3d import transcribed`` uses): a stream needs
the alignment to grow with the audio (pocketsphinx aligns whole utterances only); the CI log-likelihoods the phone
front end already scored for the model are reused (no second acoustic pass); and the aligned path's score can be
set against other paths over the same frames, which tells a script that matches the audio from one that does not
(another take, an ad-lib, another line, another language).

That test (``ScriptAligner.gain``): the free phone loop explains any speech best (score L), the script in its
order less well (A), the same phones in a scrambled order worse still (S). The gain 1 - (L - A) / (L - S) is the
share of the scrambled script's misfit that the script's own order removes: 0.55-0.90 on real speakers saying
their script (GRID, evaldata), 0.15-0.84 on espeak-ng voices (0.93 of them above ``MIN_GAIN``); -0.25 to 0.24
when the words are another line's or a French line's; 0.01-0.57 when only the first half of the script is said
(research/script_match.py). It depends far less on how well the en-us acoustic model knows the voice than the
raw score (A - L) per frame, which is -0.2 to -1 on real speakers and -1 to -3.7 on espeak-ng voices saying
their script.

Public API:
    align(loglik, words, penalty, first_frame=0) -> Alignment     (whole utterance)
    ScriptAligner(words, penalty).push(loglik) / .phones() / .gain()  (a stream)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from anim3d.phones import SIL, Phone

STATES = 3  # states per phone: a phone lasts >= 30 ms
MIN_GAIN = 0.3  # a script whose gain is below this does not match the audio (``ScriptAligner.gain``)
_NEG = -1e30
STAY, NEXT, SKIP = 0, 1, 2  # back pointers: same state, previous state, over an optional silence


@lru_cache(maxsize=1)
def _columns() -> tuple[dict[str, int], tuple[int, ...]]:
    """ARPAbet label -> column of the CI log-likelihoods, and the columns that count as silence (SIL and noise)."""
    from anim3d.models import sphinx_acoustic as sa
    from anim3d.phones import known_label

    names = sa.load_model().phones
    col = {known_label(n): i for i, n in enumerate(names) if not n.startswith("+")}
    sil = tuple(i for i, n in enumerate(names) if n.startswith("+") or n == "SIL")
    return col, sil


@dataclass(frozen=True)
class Chain:
    """The states of a script: per state its column in the extended log-likelihoods (the last column = silence),
    its token (phone or optional silence) and that token's label; per state the state it may skip from."""

    column: np.ndarray  # (S,) int
    token: np.ndarray  # (S,) int: token of each state
    labels: tuple[str, ...]  # per token: ARPAbet label (SIL for the optional silences)
    first: np.ndarray  # (S,) bool: the token's first state (entering it pays the penalty)
    skip_from: np.ndarray  # (S,) int: the state a path may jump from over an optional silence, -1 if none
    starts: np.ndarray  # states a path may start in
    ends: np.ndarray  # states a whole-utterance path may end in


def chain(words: list[list[str]]) -> Chain:
    """Words (each a list of ARPAbet labels) -> the aligner's state chain. Raises ValueError for an empty script
    or a label the acoustic model does not have."""
    col, _ = _columns()
    tokens: list[str] = [SIL]
    for w in words:
        tokens.extend(w)
        tokens.append(SIL)
    if len(tokens) == 1:
        raise ValueError("the script has no phones")
    unknown = sorted({t for t in tokens if t != SIL and t not in col})
    if unknown:
        raise ValueError(f"phones the acoustic model does not know: {', '.join(unknown)}")
    n = len(tokens)
    token = np.repeat(np.arange(n), STATES)
    S = token.size
    first = np.zeros(S, bool)
    first[::STATES] = True
    optional = np.array([t == SIL for t in tokens])
    skip_from = np.full(S, -1)
    for j in range(2, n):
        if optional[j - 1]:  # token j may be entered from token j - 2's last state
            skip_from[j * STATES] = (j - 1) * STATES - 1
    starts = [0] + ([STATES] if optional[0] else [])
    ends = [S - 1] + ([S - 1 - STATES] if optional[-1] else [])
    column = np.array([-1 if t == SIL else col[t] for t in tokens])[token]  # -1: the silence column
    return Chain(column, token, tuple(tokens), first, skip_from, np.array(starts), np.array(ends))


def _extended(loglik: np.ndarray) -> np.ndarray:
    """L x P log-likelihoods -> L x (P + 1), the last column the best of the silence and noise phones."""
    _, sil = _columns()
    ll = np.asarray(loglik, np.float64)
    return np.concatenate([ll, ll[:, list(sil)].max(axis=1, keepdims=True)], axis=1)


class OnlineAligner:
    """Viterbi over a script's chain, a block of frames at a time: ``push`` each new frames' CI log-likelihoods;
    ``path`` traces back from the best state now (a stream: the script said so far) or, with ``whole``, from the
    script's end. With ``keep``, only the back pointers of the last ``keep`` frames are kept (0: none, for a score
    alone).

    Each frame updates only the states whose paths are within ``BEAM`` of the best one (a window of the chain
    that moves along it as the audio goes on), so a frame costs the same whatever the script's length."""

    BEAM = 3000.0  # log units: states whose best path is further behind are dropped (at 3000 the gains and phones of
    # research/script_match.py are those of the full Viterbi, in about half its time)

    def __init__(self, words: list[list[str]], penalty: float, keep: int | None = None):
        self.chain = chain(words)
        self.penalty, self.keep = float(penalty), keep
        self.score: np.ndarray | None = None  # (S,) best log score of a path ending in each state (_NEG: none)
        self.lo = self.hi = 0  # the window of live states: lo..hi
        self.back: list[tuple[int, np.ndarray]] = []  # per kept frame: (first state, int8 STAY/NEXT/SKIP per state)
        self.frames = 0
        c = self.chain
        self._enter = np.where(c.first, self.penalty, 0.0)  # (S,) cost of moving into a state
        self._skip = c.skip_from

    def push(self, loglik: np.ndarray) -> None:
        """L x P log-likelihoods of the next frames."""
        if len(loglik) == 0:
            return
        c = self.chain
        ext = _extended(loglik)  # L x (P + 1): column -1 = the silence column
        S = c.column.size
        for row in ext:
            if self.score is None:
                self.score = np.full(S, _NEG)
                self.score[c.starts] = row[c.column[c.starts]]
                self.lo, self.hi = int(c.starts.min()), int(c.starts.max())
                if self.keep != 0:
                    self.back.append((0, np.zeros(0, np.int8)))
            else:
                a, b = self.lo, min(S, self.hi + STATES + 2)  # a path moves at most one state, or skips a silence
                sc = self.score
                cur = sc[a:b]
                prev = sc[a - 1 : b - 1] if a > 0 else np.concatenate([[_NEG], sc[: b - 1]])
                src = self._skip[a:b]
                skp = np.where(src >= 0, sc[np.maximum(src, 0)], _NEG)
                moved = np.maximum(prev, skp) - self._enter[a:b]
                best = np.maximum(cur, moved)
                if self.keep != 0:
                    self.back.append((a, np.where(best == cur, STAY, np.where(prev >= skp, NEXT, SKIP)).astype(np.int8)))
                new = best + row[c.column[a:b]]
                live = np.flatnonzero(new >= new.max() - self.BEAM)
                lo, hi = a + int(live[0]), a + int(live[-1])
                sc[a:b] = _NEG
                sc[lo : hi + 1] = new[lo - a : hi - a + 1]
                self.lo, self.hi = lo, hi
            self.frames += 1
        if self.keep is not None and len(self.back) > self.keep:
            del self.back[: len(self.back) - self.keep]

    def best(self, whole: bool = True) -> float:
        """The best path's log score: ending at the script's end (``whole``; -1e30 when no path in the beam reaches
        it) or in any state."""
        end = self.chain.ends if whole else np.arange(self.score.size)
        return float(self.score[end].max())

    def path(self, whole: bool = True) -> tuple[int, np.ndarray]:
        """(first frame, (L,) state per kept frame) of the best path ending at the script's end (``whole``) or in
        any state (a stream's prefix)."""
        if self.score is None:
            return 0, np.zeros(0, np.int64)
        score = self.score
        end = self.chain.ends if whole else np.arange(score.size)
        if score[end].max() <= _NEG:  # no path reached the script's end (it left the beam): the best one now
            end = np.arange(score.size)
        L = len(self.back)
        states = np.zeros(L, np.int64)
        states[-1] = int(end[int(score[end].argmax())])
        skip_from = self.chain.skip_from
        for t in range(L - 1, 0, -1):
            a, moves = self.back[t]
            s = states[t]
            b = moves[s - a]
            states[t - 1] = s if b == STAY else (s - 1 if b == NEXT else skip_from[s])
        return self.frames - L, states

    def phones(self, first_frame: int = 0, whole: bool = True, frame_rate: float = 100.0) -> list[Phone]:
        """The aligned phones (SIL for silences), times in seconds; row 0 of the first push is frame
        ``first_frame`` of the audio."""
        start, states = self.path(whole)
        tok = self.chain.token[states]
        out: list[Phone] = []
        a = 0
        for t in range(1, tok.size + 1):
            if t == tok.size or tok[t] != tok[a]:
                f0, f1 = first_frame + start + a, first_frame + start + t
                out.append(Phone(self.chain.labels[tok[a]], f0 / frame_rate, f1 / frame_rate))
                a = t
        return out


def scrambled(words: list[list[str]], seed: int = 0) -> list[list[str]]:
    """The same phones in a shuffled order (a fixed shuffle), cut into words of the same lengths."""
    phones = [p for w in words for p in w]
    order = np.random.default_rng(seed).permutation(len(phones))
    out, i = [], 0
    for w in words:
        out.append([phones[k] for k in order[i : i + len(w)]])
        i += len(w)
    return out


class ScriptAligner:
    """A script aligned online (``script``), beside the same phones scrambled (``control``) and the free phone loop
    (``loop``) on the same frames: ``gain`` says whether the audio says the script (module docstring). With
    ``keep``, the script's and the loop's back pointers cover the last ``keep`` frames (a stream that gives up its
    script goes on with the loop's phones)."""

    def __init__(self, words: list[list[str]], penalty: float, keep: int | None = None):
        from anim3d.models import sphinx_acoustic as sa

        self.script = OnlineAligner(words, penalty, keep)
        self.control = OnlineAligner(scrambled(words), penalty, keep=0)  # its score alone
        self.loop = sa.PhoneLoopDecoder(penalty, keep=keep)

    @property
    def frames(self) -> int:
        return self.script.frames

    def push(self, loglik: np.ndarray) -> None:
        """L x P log-likelihoods of the next frames."""
        for a in (self.script, self.control, self.loop):
            a.push(loglik)

    def gain(self, whole: bool = True) -> float:
        """1 - (loop - script) / (loop - scrambled) log scores: about 1 when the script explains the audio nearly as
        well as any phones do, about 0 when it explains it no better than its phones in a random order."""
        if self.script.score is None:
            return 0.0
        loop = float(self.loop.score.max())
        lost, lost_scrambled = loop - self.script.best(whole), loop - self.control.best(whole)
        return 1.0 - lost / max(lost_scrambled, 1e-6)

    def phones(self, first_frame: int = 0, whole: bool = True) -> list[Phone]:
        return self.script.phones(first_frame, whole)


@dataclass
class Alignment:
    """A script aligned to a whole utterance."""

    phones: list[Phone]  # contiguous ARPAbet phones and silences, seconds
    gain: float  # ``ScriptAligner.gain``: below ``MIN_GAIN``, the script does not match the audio


def align(loglik: np.ndarray, words: list[list[str]], penalty: float, first_frame: int = 0) -> Alignment:
    """L x P CI phone log-likelihoods (100 Hz, row 0 = frame ``first_frame``), words of ARPAbet phones ->
    the best alignment of the whole script and its gain. Raises ValueError for an empty script, unknown phones,
    or audio too short for the script's phones (``STATES`` frames each)."""
    a = ScriptAligner(words, penalty)
    need = int((np.array(a.script.chain.labels) != SIL).sum()) * STATES
    if len(loglik) < need:
        raise ValueError(f"the audio ({len(loglik) / 100:.2f} s) is too short for the script's {need // STATES} phones")
    a.push(loglik)
    return Alignment(a.phones(first_frame), a.gain())
