"""pocketsphinx's US-English acoustic model, scored frame by frame in our own code.

The model in the pocketsphinx wheel (``en-us/en-us``) was trained on recordings of real speakers. It is a
phonetically tied mixture model (``feat.params``: ``-model ptm``): one codebook of 128 diagonal Gaussians
per context-independent (CI) phone and feature stream, and per senone a set of mixture weights. Three
streams: 13 MFCC, their deltas and their double deltas.

Why our own reader: pocketsphinx's Python bindings decode (words, phone loop, alignment) but return no
acoustic scores, and their decoders run at 0.1-2x real time here. Scoring only the 126 CI senones (3
states x 42 CI phones) is a few matrix products per frame:
- ``ci_phone_loglik`` gives T x 42 log-likelihoods at 100 frames per second;
- ``phone_loop`` turns them into phones with a Viterbi pass (one penalty per phone change, no language
  model).

The MFCC front end follows ``feat.params`` and sphinxbase's defaults:
- a fixed 1-LSB dither (``dither``), 0.97 pre-emphasis, 410-sample Hamming windows every 160 samples,
  512-point FFT;
- 25 mel filters 130-6800 Hz, natural log, orthonormal DCT-II, sinusoidal lifter 22, 13 coefficients;
- the utterance's mean removed (batch CMN, in ``features``; ``anim3d.models.phone_features`` uses a running mean);
- deltas c[t+2] - c[t-2] and double deltas d[t+1] - d[t-1].
Its noise removal (``-remove_noise yes``) is not reproduced. The filters' exact heights do not matter:
per-filter gains become a constant cepstral offset, which CMN removes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from anim3d.optional import require

SAMPLE_RATE = 16000
FRAME_RATE = 100  # frames per second (160-sample hop)
WINDOW = 410  # samples (25.625 ms, sphinxbase's default)
N_FFT = 512
N_FILTERS, LOWER_HZ, UPPER_HZ = 25, 130.0, 6800.0
N_CEP, LIFTER = 13, 22
BYTE_ORDER_MAGIC = 0x11223344
LOG_BASE = 1.0001  # sphinx's log base; mixture weights are stored as -log_b(w) >> 10 in 8 bits
SENSCR_SHIFT = 10
VAR_FLOOR = 1e-4
DITHER_RMS = 1.0  # 16-bit LSB; sphinx's -dither option. Digital silence (synthetic voices pause in it) then
# scores as silence (SIL) as a recording's quiet does, instead of as a flat, fricative-like spectrum.
DITHER_PERIOD = 1 << 16


@dataclass(frozen=True, eq=False)  # hashed by identity (for the cached scoring tensors)
class AcousticModel:
    phones: tuple[str, ...]  # the CI phones, in the model's order ("+NSN+", "+SPN+", "AA", ..., "SIL", ...)
    means: np.ndarray  # P x 3 x K x 13 (CI phone, stream, Gaussian, dimension)
    variances: np.ndarray  # P x 3 x K x 13, floored at VAR_FLOOR
    log_weights: np.ndarray  # 3 x K x (3P): natural-log mixture weights of the CI senones (phone p: 3p..3p+2)


def model_dir() -> str:
    get_model_path = require("pocketsphinx", "the speech acoustic model").get_model_path
    return os.path.join(get_model_path(), "en-us", "en-us")


def read_gaussians(path: str) -> np.ndarray:
    """A sphinx-3 Gaussian parameter file (``means`` / ``variances``) -> n_mgau x n_feat x n_density x veclen."""
    b = open(path, "rb").read()
    i = b.index(b"endhdr\n") + len(b"endhdr\n")
    magic, n_mgau, n_feat, n_den = (int(v) for v in np.frombuffer(b[i : i + 16], "<i4"))
    if magic != BYTE_ORDER_MAGIC:
        raise ValueError(f"{path}: not a little-endian sphinx-3 Gaussian file")
    veclen = np.frombuffer(b[i + 16 : i + 16 + 4 * n_feat], "<i4")
    if len(set(veclen.tolist())) != 1:
        raise ValueError(f"{path}: streams of different lengths are not supported")
    o = i + 16 + 4 * n_feat
    n = int(np.frombuffer(b[o : o + 4], "<i4")[0])
    x = np.frombuffer(b[o + 4 : o + 4 + 4 * n], "<f4")
    return x.reshape(n_mgau, n_feat, n_den, int(veclen[0]))


def read_mixture_weights(path: str) -> np.ndarray:
    """``sendump`` (8-bit quantised mixture weights, no clustering) -> natural-log weights n_feat x K x n_senones."""
    b = open(path, "rb").read()
    o, n_feat = 0, 0
    while True:  # header: length-prefixed strings, ended by a zero length
        n = int(np.frombuffer(b[o : o + 4], "<i4")[0])
        o += 4
        if n == 0:
            break
        line = b[o : o + n].rstrip(b"\0").decode("ascii", "replace")
        if line.startswith("feature_count"):
            n_feat = int(line.split()[1])
        elif line.startswith("cluster_count") and int(line.split()[1]) != 0:
            raise ValueError(f"{path}: clustered mixture weights are not supported")
        o += n
    n_den, n_sen = (int(v) for v in np.frombuffer(b[o : o + 8], "<i4"))
    q = np.frombuffer(b[o + 8 : o + 8 + n_feat * n_den * n_sen], np.uint8).reshape(n_feat, n_den, n_sen)
    return -(q.astype(np.float64) * (1 << SENSCR_SHIFT) * np.log(LOG_BASE))


def _mdef_head(b: bytes) -> tuple[list[int], tuple[str, ...], int]:
    """A binary model definition's (``mdef``, BMDF; its header describes the layout) ten int32 counts, CI phone
    names, and the offset of what follows the names."""
    i = b.index(b"END FILE FORMAT DESCRIPTION\n") + len(b"END FILE FORMAT DESCRIPTION\n")
    i = (i + 3) // 4 * 4  # the header is padded to a 4-byte boundary
    counts = [int(v) for v in np.frombuffer(b[i : i + 40], "<i4")]
    j = i + 40  # ten int32 counts, then the names, null-terminated
    names = b[j:].split(b"\0", counts[0])[: counts[0]]
    return counts, tuple(n.decode("ascii") for n in names), j + sum(len(n) + 1 for n in names)


def read_ci_phones(path: str) -> tuple[str, ...]:
    """The CI phone names of a binary model definition (``mdef``, BMDF)."""
    return _mdef_head(open(path, "rb").read())[1]


@lru_cache(maxsize=1)
def load_model() -> AcousticModel:
    d = model_dir()
    phones = read_ci_phones(os.path.join(d, "mdef"))
    means = read_gaussians(os.path.join(d, "means"))
    variances = np.maximum(read_gaussians(os.path.join(d, "variances")), VAR_FLOOR)
    weights = read_mixture_weights(os.path.join(d, "sendump"))[:, :, : 3 * len(phones)]
    if means.shape[0] != len(phones) or weights.shape[1] != means.shape[2]:
        raise ValueError(f"{d}: unexpected model shapes {means.shape} / {weights.shape} for {len(phones)} phones")
    return AcousticModel(phones, means, variances, weights)


@lru_cache(maxsize=16)
def mel_filters(sr: int = SAMPLE_RATE) -> np.ndarray:
    """N_FILTERS x (N_FFT // 2 + 1) triangular filters equally spaced on the mel scale."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    edges = 700.0 * (10 ** (np.linspace(mel(LOWER_HZ), mel(UPPER_HZ), N_FILTERS + 2) / 2595.0) - 1.0)
    f = np.arange(N_FFT // 2 + 1) * sr / N_FFT
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    w = np.clip(np.minimum((f - lo) / (mid - lo), (hi - f) / (hi - mid)), 0.0, None)
    w.flags.writeable = False  # cached: shared by every caller
    return w


@lru_cache(maxsize=1)
def _dither_table() -> np.ndarray:
    return np.random.default_rng(0).normal(scale=DITHER_RMS, size=DITHER_PERIOD)


def dither(start: int, n: int) -> np.ndarray:
    """The fixed dither of stream samples start .. start + n - 1 (the same numbers whichever way a stream is cut)."""
    return _dither_table()[(start + np.arange(n)) % DITHER_PERIOD]


def cepstra(samples: np.ndarray, start: int = 0, previous: float | None = None) -> np.ndarray:
    """16 kHz mono float samples in [-1, 1] -> T x 13 liftered MFCC before any mean removal (T frames at 100 Hz;
    frame t covers samples [160 t, 160 t + WINDOW)). ``start``: the stream index of ``samples[0]`` (for the
    dither); ``previous``: the sample before it (None: the stream starts here)."""
    from scipy.fft import dct

    x = np.asarray(samples, np.float64).reshape(-1) * 32768.0
    if x.size == 0:
        return np.zeros((0, N_CEP), np.float32)
    x = x + dither(start, x.size)
    first = x[0] if previous is None else x[0] - 0.97 * (float(previous) * 32768.0 + dither(start - 1, 1)[0])
    x = np.append(first, x[1:] - 0.97 * x[:-1])
    hop = SAMPLE_RATE // FRAME_RATE
    n = 1 + max(0, (x.size - WINDOW) // hop)
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(x, (0, WINDOW)), WINDOW)[::hop][:n]  # n x WINDOW
    power = np.abs(np.fft.rfft(frames * np.hamming(WINDOW), N_FFT)) ** 2  # n x 257
    # einsum, not @: numpy hands @ to a multithreaded BLAS, whose idle threads spin on a busy machine
    logmel = np.log(np.maximum(np.einsum("nf,mf->nm", power, mel_filters(SAMPLE_RATE)), 1e-5))  # n x 25
    c = dct(logmel, type=2, norm="ortho", axis=1)[:, :N_CEP]
    c *= 1.0 + 0.5 * LIFTER * np.sin(np.pi * np.arange(N_CEP) / LIFTER)
    return c


def with_deltas(c: np.ndarray) -> np.ndarray:
    """T x 13 mean-removed cepstra -> T x 39: with deltas c[t+2] - c[t-2] and double deltas d[t+1] - d[t-1]
    (edges repeated, so frame t needs frames up to t + 3)."""
    p = np.pad(c, ((3, 3), (0, 0)), mode="edge")
    d = p[4:] - p[:-4]  # c[t+2] - c[t-2] for t = -1 .. n
    dd = d[2:] - d[:-2]  # d[t+1] - d[t-1] for t = 0 .. n-1
    return np.concatenate([c, d[1:-1], dd], axis=1).astype(np.float32)


def features(samples: np.ndarray) -> np.ndarray:
    """16 kHz mono float samples in [-1, 1] -> T x 39 (MFCC with the utterance's mean removed, deltas,
    double deltas), T = frames at 100 Hz."""
    c = cepstra(samples)
    if len(c) == 0:
        return np.zeros((0, 3 * N_CEP), np.float32)
    return with_deltas(c - c.mean(axis=0))


@lru_cache(maxsize=2)
def _scoring_tensors(m: AcousticModel) -> list:
    """Per stream: A (2D x PK) and const (PK) so that [x*x, x] @ A + const are the Gaussians' log densities,
    and the CI senones' mixture weights W (P x K x 3)."""
    import torch

    P, S, K, D = m.means.shape
    out = []
    for s in range(S):
        mu = torch.from_numpy(m.means[:, s].reshape(P * K, D)).float()  # PK x D
        iv = 1.0 / torch.from_numpy(m.variances[:, s].reshape(P * K, D)).float()
        const = -0.5 * ((mu * mu * iv).sum(1) + torch.log(2.0 * np.pi / iv).sum(1))  # PK
        A = torch.cat([-0.5 * iv, mu * iv], dim=1).T.contiguous()  # 2D x PK
        W = torch.from_numpy(np.exp(m.log_weights[s])).float().view(K, P, 3).transpose(0, 1).contiguous()  # P x K x 3
        out.append((A, const, W))
    return out


def ci_phone_loglik(feats: np.ndarray, model: AcousticModel | None = None, chunk: int = 128) -> np.ndarray:
    """T x 39 features -> T x P log-likelihoods of the CI phones (each phone's best of its 3 states).

    Frames go in chunks of ``chunk`` so the T x P x K densities stay in cache (5x faster than all at once)."""
    import torch

    m = model or load_model()
    P, S, K, D = m.means.shape
    f = torch.from_numpy(np.ascontiguousarray(feats, np.float32))  # T x 39
    T = f.shape[0]
    total = torch.zeros(T, P, 3)
    with torch.inference_mode():
        for t0 in range(0, T, chunk):
            fc = f[t0 : t0 + chunk]
            n = fc.shape[0]
            for s, (A, const, W) in enumerate(_scoring_tensors(m)):
                x = fc[:, s * D : (s + 1) * D]  # n x D
                ll = torch.addmm(const, torch.cat([x * x, x], dim=1), A).view(n, P, K)  # n x P x K
                # log sum_k w_k N_k for the 3 senones of each phone's codebook: one exp per Gaussian, then a product
                top = ll.amax(dim=2, keepdim=True)  # n x P x 1
                dens = ll.sub_(top).exp_()
                total[t0 : t0 + n] += torch.bmm(dens.transpose(0, 1), W).transpose(0, 1).log_() + top  # n x P x 3
    return total.amax(dim=2).numpy()


def phone_loop(loglik: np.ndarray, penalty: float) -> np.ndarray:
    """Viterbi over a loop of all phones: T x P log-likelihoods -> (T,) best phone index per frame, where
    changing phone costs ``penalty`` (log units). A larger penalty gives fewer, longer phones."""
    dec = PhoneLoopDecoder(penalty)
    dec.push(loglik)
    return dec.best_path()[1]


class PhoneLoopDecoder:
    """``phone_loop`` a block of frames at a time, for streams: ``push`` the next frames' log-likelihoods,
    ``best_path`` traces back from the best phone now. With ``keep``, only the back pointers of the last
    ``keep`` frames are kept (the path then covers those frames).

    A stream asks for the path after every few frames; the path traced last time is kept, and a new trace stops
    where it meets it (from a phone at a frame on both paths, the back pointers give the same path before it),
    so a call costs the frames since the paths parted rather than all ``keep`` frames."""

    def __init__(self, penalty: float, keep: int | None = None):
        self.penalty, self.keep = float(penalty), keep
        self.score: np.ndarray | None = None  # (P,) best log score of a path ending in each phone
        self.back: list[np.ndarray] = []  # per kept frame: (P,) the phone the best path to it came from
        self.frames = 0  # frames pushed so far
        self._traced: tuple[int, int, np.ndarray] | None = None  # the last path: (frames then, first frame, path)

    def push(self, loglik: np.ndarray) -> None:
        loglik = np.asarray(loglik, np.float64)
        stay = np.arange(loglik.shape[1])  # a back pointer to the same phone
        for row in loglik:
            if self.score is None:
                self.score = row.copy()
                self.back.append(stay)
            else:
                best = int(self.score.argmax())
                jump = self.score[best] - self.penalty
                self.back.append(np.where(self.score >= jump, stay, best))
                self.score = np.maximum(self.score, jump) + row
            self.frames += 1
        if self.keep is not None and len(self.back) > self.keep:
            del self.back[: len(self.back) - self.keep]

    def best_path(self) -> tuple[int, np.ndarray]:
        """(index of the path's first frame, (L,) phone index per frame, read-only) for the kept frames."""
        if self.score is None:
            return 0, np.zeros(0, np.int64)
        L = len(self.back)
        first = self.frames - L
        old = self._traced
        if old is not None and old[0] == self.frames:
            return first, old[2]
        path = np.zeros(L, np.int64)
        path[-1] = int(self.score.argmax())
        for t in range(L - 1, 0, -1):
            path[t - 1] = self.back[t][path[t]]
            f = first + t - 1  # the frame of path[t - 1]
            if old is not None and old[1] <= f < old[0] and old[2][f - old[1]] == path[t - 1]:
                path[: t - 1] = old[2][first - old[1] : f - old[1]]  # the paths met: the rest is the last one's
                break
        path.flags.writeable = False
        self._traced = (self.frames, first, path)
        return first, path
