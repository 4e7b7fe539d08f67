"""Phone-posterior audio features from pocketsphinx's real-speech acoustic model (``audio_encoder="phones"``).

Per model frame and subframe: the posterior over the 42 CI phones of ``anim3d.models.sphinx_acoustic`` (each
phone's best state, softmax over phones, x ``POSTERIOR_SCALE``) and the frame's mean-removed log energy
(the first cepstral coefficient, x ``ENERGY_SCALE``): num_frames x subframes * 43.

The idea: the log-mel front end lets a model trained on synthetic voices lean on their fine spectral detail,
which real voices do not share. Phone posteriors from a model trained on real speakers carry what the
mouth needs (which phone, how loud) and little else.

Streaming needs the same numbers from a growing buffer as from the whole file, so nothing here looks at the
whole utterance:
- the cepstral mean is a running one over the last ``CMN_FRAMES`` frames up to the current one; while fewer
  than ``CMN_PRIOR_FRAMES`` frames exist, ``CMN_PRIOR`` fills the rest (sphinx's live mode starts from a
  prior mean the same way);
- deltas need 3 frames (30 ms) after the current one: ``lookahead_samples`` says how much audio past a
  model frame's last analysis instant its features need.
"""

from __future__ import annotations

import numpy as np

from anim3d.device import cpu_threads
from anim3d.models import sphinx_acoustic as sa
from anim3d.models.audio_features import subframe_centers

POSTERIOR_SCALE = 4.0
ENERGY_SCALE = 0.1
CMN_FRAMES = 300  # 3 s window of the running cepstral mean
CMN_PRIOR_FRAMES = 100  # below 1 s of audio the prior fills the window
DELTA_REACH = 3  # frames of cepstra on each side that frame t's deltas and double deltas read
N_PHONES = 42  # CI phones of pocketsphinx's en-us model
N_FEATURES = N_PHONES + 1  # per subframe: posteriors and log energy
HOP = sa.SAMPLE_RATE // sa.FRAME_RATE
# Mean raw cepstrum (sphinx_acoustic.cepstra) of the training split of the synthetic corpus h8_piper_2h,
# speech and pauses together (300 utterances). Recordings differ by much more than the
# prior can fix (real speech files: c0 66-81); it only matters for the first second of a stream.
CMN_PRIOR = np.array([80.8, -2.8, -1.8, 9.2, -7.5, -4.2, -3.5, -9.1, -2.5, -1.6, -0.8, -2.0, -1.5], np.float32)


def running_mean(c: np.ndarray, prior: np.ndarray = CMN_PRIOR) -> np.ndarray:
    """T x D cepstra -> T x D running means: frame t's mean is over frames max(0, t - CMN_FRAMES + 1) .. t,
    topped up with ``prior`` to CMN_PRIOR_FRAMES frames. The result for frame t matches the whole stream's
    when ``c`` starts at the stream's first frame or at least CMN_FRAMES - 1 frames before t."""
    T = len(c)
    cs = np.concatenate([np.zeros((1, c.shape[1])), np.cumsum(c, axis=0, dtype=np.float64)])  # (T+1) x D
    t = np.arange(T)
    lo = np.maximum(0, t - CMN_FRAMES + 1)
    n = (t + 1 - lo).astype(np.float64)[:, None]  # T x 1 frames in the window
    fill = np.maximum(0.0, CMN_PRIOR_FRAMES - n)  # T x 1 prior frames
    return ((cs[t + 1] - cs[lo] + fill * prior[None]) / (n + fill)).astype(np.float32)


def stream_cepstra(x: np.ndarray, sample_offset: int, lo: int, hi: int) -> np.ndarray:
    """Raw cepstra (``sa.cepstra``) of the stream's frames lo .. hi, from ``x`` = the
    stream's samples from ``sample_offset`` on: (hi - lo + 1) x 13."""
    a = lo * HOP - sample_offset  # index in x of frame lo's first sample
    seg = x[a : (hi * HOP + sa.WINDOW) - sample_offset]
    if len(seg) < sa.WINDOW:
        seg = np.pad(seg, (0, sa.WINDOW - len(seg)))
    return sa.cepstra(seg, lo * HOP, x[a - 1] if a > 0 else None)[: hi - lo + 1]


class CepstraCache:
    """The last computed raw cepstra of one stream, by frame index. A cepstral frame depends only on its own
    samples (and the one before, for pre-emphasis), so a frame computed once is final: a call reuses the
    cached frames it needs and computes only the new ones. One cache per stream; frames before the oldest one
    a call asks for are dropped."""

    def __init__(self):
        self.start = 0  # stream frame index of c[0]
        self.c = np.zeros((0, sa.N_CEP))  # cached frames start .. start + len(c) - 1

    def frames(self, x: np.ndarray, sample_offset: int, lo: int, hi: int) -> np.ndarray:
        """Frames lo .. hi of the stream, as ``stream_cepstra`` gives them: (hi - lo + 1) x 13."""
        end = self.start + len(self.c)  # first frame not cached
        if not (self.start <= lo <= end):  # nothing to reuse (a gap, or earlier frames than cached)
            self.start, self.c, end = lo, self.c[:0], lo
        if hi >= end:
            self.c = np.concatenate([self.c, stream_cepstra(x, sample_offset, end, hi)])
        self.c, self.start = self.c[lo - self.start :], lo
        return self.c[: hi - lo + 1]


class PhoneFrontEnd:
    """num_frames x subframes * 43 phone posteriors and log energy (see the module docstring)."""

    def __init__(self, sample_rate: int = 16000, subframes: int = 3, fps: float = 30.0):
        if sample_rate != sa.SAMPLE_RATE:
            raise ValueError(f"the phone front end works at {sa.SAMPLE_RATE} Hz, not {sample_rate}")
        self.sample_rate, self.subframes, self.fps = sample_rate, subframes, fps
        self.model = sa.load_model()
        if len(self.model.phones) != N_PHONES:
            raise ValueError(f"the acoustic model has {len(self.model.phones)} CI phones, expected {N_PHONES}")
        self.dim = subframes * N_FEATURES
        # a model frame's last subframe at sample s reads cepstral frames up to ceil((s - WINDOW/2) / HOP) + 3
        self.lookahead_samples = (DELTA_REACH + 1) * HOP + sa.WINDOW // 2
        self.history_samples = (CMN_FRAMES + DELTA_REACH + 1) * HOP + sa.WINDOW

    def stream_cache(self) -> "CepstraCache":
        """A cache of one stream's cepstra, to pass to every call on that stream (``StreamingAnimator`` does)."""
        return CepstraCache()

    def __call__(self, samples: np.ndarray, num_frames: int, start_frame: int = 0, sample_offset: int = 0,
                 cache: "CepstraCache | None" = None) -> np.ndarray:
        """Features of frames [start_frame, start_frame + num_frames); ``samples[0]`` is sample ``sample_offset``
        of the stream, which ends with ``samples[-1]``. ``cache``: this stream's ``stream_cache()``, so that
        successive calls compute each cepstral frame once instead of the running mean's 3 s every time."""
        return self.features_and_loglik(samples, num_frames, start_frame, sample_offset, cache)[0]

    def features_and_loglik(self, samples: np.ndarray, num_frames: int, start_frame: int = 0, sample_offset: int = 0,
                            cache: "CepstraCache | None" = None) -> tuple[np.ndarray, np.ndarray, int]:
        """``__call__``'s features, the CI phones' log-likelihoods of the cepstral frames they were read from
        (L x 42, 100 Hz) and the stream index of that first cepstral frame (``anim3d.phonetic.phones_from_loglik``
        decodes phones from them without scoring the acoustic model again)."""
        x = np.asarray(samples, np.float32).reshape(-1)
        centers = subframe_centers(start_frame, num_frames, self.fps, self.sample_rate, self.subframes)  # N
        total = sample_offset + len(x)
        n_frames = 1 + max(0, (total - sa.WINDOW) // HOP)  # cepstral frames of the stream (sa.cepstra's count)
        pos = np.clip((centers - sa.WINDOW / 2) / HOP, 0, n_frames - 1)  # N fractional cepstral frames
        t_lo, t_hi = int(np.floor(pos.min())), int(np.ceil(pos.max()))
        need_lo, need_hi = max(0, t_lo - DELTA_REACH), min(n_frames - 1, t_hi + DELTA_REACH)
        first = max(0, need_lo - CMN_FRAMES + 1, -(-sample_offset // HOP))  # first frame whose samples are all here
        if need_lo < first:
            raise ValueError(f"the samples start at {sample_offset}, after the audio of frame {start_frame}")
        if cache is not None and total >= sa.WINDOW:  # (a shorter stream's one frame is zero-padded: not final)
            c = cache.frames(x, sample_offset, first, need_hi)
        else:
            c = stream_cepstra(x, sample_offset, first, need_hi)
        c = (c - running_mean(c))[need_lo - first :]  # frames need_lo .. need_hi
        feats = sa.with_deltas(c)
        with cpu_threads("cpu"):  # as the model's: a second OpenMP thread spin-waits whenever the other core is busy
            ll = sa.ci_phone_loglik(feats[t_lo - need_lo : t_hi - need_lo + 1], self.model)  # (t_hi - t_lo + 1) x P
        post = np.exp(ll - ll.max(axis=1, keepdims=True))
        post /= post.sum(axis=1, keepdims=True)
        per_frame = np.concatenate([POSTERIOR_SCALE * post, ENERGY_SCALE * c[t_lo - need_lo : t_hi - need_lo + 1, :1]], axis=1)
        i0 = np.floor(pos).astype(np.int64) - t_lo
        i1 = np.minimum(i0 + 1, len(per_frame) - 1)
        w = (pos - np.floor(pos))[:, None]
        out = ((1 - w) * per_frame[i0] + w * per_frame[i1]).reshape(num_frames, -1)  # num_frames x subframes * (P + 1)
        return out.astype(np.float32), ll, t_lo
