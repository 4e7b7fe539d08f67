"""A live stream's per-window work is incremental and gives the numbers of recomputing everything every window: the
phone loop's traceback (stops where it meets the last one), the loudness (a frame's level computed once), the
visemes (only the phones near the frames), and the stream's whole rule mouth against the previous design's, window
by window, on real speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from anim3d.audio import load_audio
from anim3d.phones import Phone

REPO = Path(__file__).resolve().parents[1]


def _full_trace(dec) -> tuple[int, np.ndarray]:
    """The previous design's traceback: from the best phone now through every kept back pointer."""
    L = len(dec.back)
    path = np.zeros(L, np.int64)
    path[-1] = int(dec.score.argmax())
    for t in range(L - 1, 0, -1):
        path[t - 1] = dec.back[t][path[t]]
    return dec.frames - L, path


class _Counting(list):
    reads = 0

    def __getitem__(self, i):
        self.reads += 1
        return super().__getitem__(i)


@pytest.mark.parametrize("keep", [None, 50])
def test_the_traceback_that_stops_where_it_meets_the_last_is_the_whole_one(keep):
    from anim3d.models.sphinx_acoustic import PhoneLoopDecoder

    rng = np.random.default_rng(0)
    # sticky phones with noise: paths that part and meet again, and a best phone that changes its mind
    ll = rng.normal(0, 1.0, (400, 42)) + 3.0 * np.eye(42)[np.repeat(rng.integers(0, 42, 40), 10)]
    dec = PhoneLoopDecoder(penalty=4.0, keep=keep)
    dec.back = _Counting()  # counts the back pointers a traceback reads
    read = []
    for a in range(0, len(ll), 7):
        dec.push(ll[a : a + 7])
        dec.back.reads = 0
        first, path = dec.best_path()
        read.append(dec.back.reads)
        want_first, want = _full_trace(dec)
        assert first == want_first and np.array_equal(path, want)
        assert dec.best_path()[1] is path  # nothing new: the same path
    assert np.median(read) < 20 < len(dec.back)  # most traces stop within a few frames of the end
    with pytest.raises(ValueError):
        path[0] = 1  # shared with the next call: read-only


def test_the_loudness_of_each_frame_computed_once_is_energy_db():
    from anim3d.inference.mouth_blend import StreamLoudness
    from anim3d.teacher.head import energy_db

    x = load_audio(REPO / "examples" / "hello.wav", 16000).samples
    loud = StreamLoudness(30.0)
    keep = 64000  # a buffer of 4 s sliding over the stream, grown by 1000 samples at a time
    for end in range(3000, len(x), 1000):
        off = max(0, end - keep)
        buf = x[off:end]
        lo = max(0, int(np.ceil(off / 16000 * 30)))
        stop = int(end / 16000 * 30) + 2  # past the received audio too, as a window's last frames can be
        got = loud(buf, off, lo, stop)
        assert np.array_equal(got, energy_db(buf, 16000, stop - lo, 30.0, lo, off))
    assert min(loud.db) >= lo and len(loud.db) < 200  # frames before the buffer are dropped


def test_the_visemes_of_the_phones_near_the_frames_are_those_of_all():
    from anim3d.inference.mouth_blend import StreamingRuleMouth, phones_after
    from anim3d.teacher.core import speech_mouth

    labels = ["SIL", "HH", "AH", "L", "OW", "SIL", "M", "AY", "SIL", "F", "UW", "B", "AA", "P", "SIL", "W", "IY"]
    rng = np.random.default_rng(1)
    ends = np.cumsum(rng.uniform(0.03, 0.5, len(labels)))
    phones = [Phone(lab, float(s), float(e)) for lab, s, e in zip(labels, np.r_[0.0, ends[:-1]], ends)]
    fps = 30.0
    for a in range(0, int(ends[-1] * fps) - 5):
        since = a / fps - StreamingRuleMouth.CONTEXT
        near = phones_after(phones, since)
        assert near[0].label != "SIL" or near is phones
        assert np.array_equal(speech_mouth(near, 6, fps=fps, first_frame=a), speech_mouth(phones, 6, fps=fps, first_frame=a))
    assert len(phones_after(phones, ends[-1] - 1.0)) < len(phones) / 2
    # out of order, overlapping or with a gap before the first kept: all of them (gap filling would differ)
    shuffled = phones[::-1]
    assert phones_after(shuffled, 3.0) is shuffled
    k = 9  # an F: the first phone kept for frames from its end on
    gap = phones[:k] + [Phone(p.label, p.start + 0.05, p.end + 0.05) for p in phones[k:]]
    assert phones_after(phones, phones[k].end - 0.01)[0] is phones[k]
    assert phones_after(gap, gap[k].end - 0.01) is gap

def _previous_mouth(rule, start, stop, samples16k, sample_offset):
    """StreamingRuleMouth.mouth as it was before the stream's work was made incremental (no script): the whole
    traceback, the phones of all of it, the loudness of every frame in the buffer, the visemes of every phone."""
    from anim3d.phonetic import SAMPLE_RATE, path_phones
    from anim3d.teacher.core import speech_mouth
    from anim3d.teacher.head import energy_db

    x = np.asarray(samples16k, np.float32).reshape(-1)
    first, path = _full_trace(rule.decoder)
    phones = path_phones(path, first, x, sample_offset, rule.decoder.frames / 100.0, rule.config)
    last = phones[-1]
    phones[-1] = Phone(last.label, last.start, last.end + rule.HOLD)
    a = max(0, start - 1)
    lo = min(max(0, int(np.ceil(sample_offset / SAMPLE_RATE * rule.fps))), a)
    energy = energy_db(x, SAMPLE_RATE, stop - lo, rule.fps, lo, sample_offset)[a - lo :]
    return speech_mouth(phones, stop - a, fps=rule.fps, energy=energy, first_frame=a)[start - a :]


def _stream_with_the_previous_mouth_beside(path: Path, monkeypatch) -> int:
    """Stream ``path`` (repeated to 7.5 s at least: the buffer slides) with the shipped model; every window's rule mouth is compared
    with the previous design's. Returns how many windows were compared."""
    from anim3d.inference import StreamingAnimator, load_model
    from anim3d.inference.mouth_blend import StreamingRuleMouth

    incremental = StreamingRuleMouth.mouth
    compared = []

    def both(self, start, stop, samples16k, sample_offset, phones=None):
        got = incremental(self, start, stop, samples16k, sample_offset, phones)
        want = _previous_mouth(self, start, stop, samples16k, sample_offset)
        assert np.array_equal(got, want), (path.name, start, float(np.abs(got - want).max()))
        compared.append(start)
        return got

    monkeypatch.setattr(StreamingRuleMouth, "mouth", both)
    x = load_audio(path, 16000).samples
    x = np.tile(x, 1 + int(120000 // len(x)))
    animator = StreamingAnimator(load_model(), seed=0, warmup=False)
    assert animator.rule is not None and animator.rule.aligner is None  # the shipped model blends the rule mouth
    for i in range(0, len(x), 320):
        animator.push(x[i : i + 320])
    animator.flush()
    assert animator.buf_start > 0 and animator.rule.decoder.frames > animator.rule.HISTORY  # both slid
    return len(compared)


def test_the_streams_rule_mouth_is_the_previous_designs_window_by_window(monkeypatch):
    assert _stream_with_the_previous_mouth_beside(REPO / "examples" / "hello.wav", monkeypatch) >= 55


@pytest.mark.slow
def test_the_same_on_the_evaldata_speech(evaldata, monkeypatch):
    for path in sorted((evaldata / "audio").iterdir()):
        assert _stream_with_the_previous_mouth_beside(path, monkeypatch) > 40
