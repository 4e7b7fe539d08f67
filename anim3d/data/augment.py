"""Audio augmentation so that a model trained on synthetic speech copes with real recordings:
noise at several SNRs, synthetic reverberation, EQ tilt, band limiting, gain, codec round
trips (mp3, ogg/opus, aac through PyAV) and small speed changes (phone timings and motion
adjusted).

Every function takes float32 samples (or an Audio) and returns new arrays; ``random_augment``
draws a chain and returns a human-readable description stored with the utterance.
"""

from __future__ import annotations

import io
from typing import Sequence

import numpy as np

from anim3d.audio import Audio, resample
from anim3d.phones import Phone
from anim3d.errors import AudioError
from anim3d.motion import Motion

NOISE_KINDS = ("white", "pink", "brown", "babble")
CODECS = {"mp3": ("mp3", "libmp3lame"), "ogg": ("ogg", "libopus"), "aac": ("adts", "aac")}


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-12))


def colored_noise(n: int, kind: str, rng: np.random.Generator, sample_rate: int = 16000) -> np.ndarray:
    """Unit-RMS noise: white, pink (1/f), brown (1/f^2) or babble-like (speech-band modulated)."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"noise kind must be one of {NOISE_KINDS}, got {kind!r}")
    w = rng.standard_normal(n)
    if kind != "white":
        spec = np.fft.rfft(w)
        f = np.fft.rfftfreq(n, 1.0 / sample_rate)
        f[0] = f[1] if n > 1 else 1.0
        if kind == "pink":
            spec /= np.sqrt(f)
        elif kind == "brown":
            spec /= f
        else:  # babble: speech-shaped spectrum (peak near 500 Hz) with a syllable-rate envelope
            spec *= np.exp(-0.5 * (np.log(f / 500.0) / 0.8) ** 2)
        w = np.fft.irfft(spec, n)
        if kind == "babble":
            t = np.arange(n) / sample_rate
            env = 1.0 + 0.6 * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6.3)) * np.sin(2 * np.pi * 0.7 * t)
            w *= env
    return (w / (_rms(w) + 1e-12)).astype(np.float32)


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator, kind: str = "white", sample_rate: int = 16000) -> np.ndarray:
    """Add noise so that signal RMS / noise RMS = ``snr_db``."""
    noise = colored_noise(len(x), kind, rng, sample_rate)
    return (x + noise * _rms(x) / (10.0 ** (snr_db / 20.0))).astype(np.float32)


def reverb(x: np.ndarray, sample_rate: int, rt60: float, rng: np.random.Generator, wet: float = 0.5) -> np.ndarray:
    """Convolve with a synthetic room: exponentially decaying noise (``rt60`` seconds) after the direct path."""
    from scipy.signal import fftconvolve

    n = max(1, int(rt60 * sample_rate))
    t = np.arange(n) / sample_rate
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    ir[: int(0.002 * sample_rate)] = 0.0  # first reflections arrive a little later
    ir = ir / (np.sqrt(np.sum(ir ** 2)) + 1e-12)
    y = fftconvolve(x, ir)[: len(x)]
    out = (1.0 - wet) * x + wet * y * (_rms(x) / (_rms(y) + 1e-12))
    return out.astype(np.float32)


def eq_tilt(x: np.ndarray, sample_rate: int, db_per_octave: float) -> np.ndarray:
    """Spectral tilt around 1 kHz (positive: brighter, negative: duller)."""
    spec = np.fft.rfft(x)
    f = np.maximum(np.fft.rfftfreq(len(x), 1.0 / sample_rate), 20.0)
    spec *= 10.0 ** (db_per_octave * np.log2(f / 1000.0) / 20.0)
    y = np.fft.irfft(spec, len(x))
    return (y * _rms(x) / (_rms(y) + 1e-12)).astype(np.float32)


def band_limit(x: np.ndarray, sample_rate: int, low: float = 300.0, high: float = 3400.0) -> np.ndarray:
    """Telephone-like band pass (4th-order Butterworth)."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, [low, min(high, 0.45 * sample_rate)], btype="band", fs=sample_rate, output="sos")
    return sosfiltfilt(sos, x).astype(np.float32)


def gain(x: np.ndarray, db: float) -> np.ndarray:
    """Scale by ``db`` decibels; the peak is kept below full scale (soft limit)."""
    y = x * (10.0 ** (db / 20.0))
    peak = float(np.abs(y).max()) if len(y) else 0.0
    if peak > 0.99:
        y = y * (0.99 / peak)
    return y.astype(np.float32)


def codec_roundtrip(x: np.ndarray, sample_rate: int, codec: str = "mp3", bitrate: int = 32000) -> np.ndarray:
    """Encode with a lossy codec in memory and decode again (same length, same rate)."""
    import av

    if codec not in CODECS:
        raise ValueError(f"codec must be one of {tuple(CODECS)}, got {codec!r}")
    fmt, enc = CODECS[codec]
    rate = 48000 if codec == "ogg" else sample_rate  # opus runs at 48 kHz inside ogg
    src = resample(x, sample_rate, rate) if rate != sample_rate else x
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(enc, rate=rate)
        stream.bit_rate = bitrate
        stream.layout = "mono"
        fmt_name = stream.codec_context.codec.audio_formats[0].name
        frame = av.AudioFrame.from_ndarray(src[None].astype(np.float32), format="flt", layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=fmt_name, layout="mono", rate=rate)
        for fr in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(fr):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    buf.seek(0)
    chunks = []
    with av.open(buf, "r") as inp:
        res = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        for fr in inp.decode(audio=0):
            for o in res.resample(fr):
                chunks.append(o.to_ndarray().reshape(-1))
        for o in res.resample(None):
            chunks.append(o.to_ndarray().reshape(-1))
    y = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    y = _align(y, x)
    return y.astype(np.float32)


def _align(y: np.ndarray, x: np.ndarray, max_shift: int = 4096) -> np.ndarray:
    """Remove the codec's delay (found by cross-correlation) and cut/pad to len(x)."""
    from scipy.signal import correlate

    n = min(len(x), len(y), 32000)
    if n > 256:
        c = correlate(y[: n + max_shift], x[:n], mode="valid", method="fft")
        shift = int(np.argmax(c[: max_shift + 1]))
        y = y[shift:]
    if len(y) < len(x):
        y = np.pad(y, (0, len(x) - len(y)))
    return y[: len(x)]


def change_speed(audio: Audio, phones: Sequence[Phone], factor: float) -> tuple[Audio, list[Phone], float]:
    """Play ``factor`` times faster (tape-style: pitch moves with it); phone times are scaled.

    Returns the audio, the phones and the factor actually applied (a ratio of small integers).
    """
    if not 0.5 <= factor <= 2.0:
        raise ValueError(f"speed factor {factor} out of range [0.5, 2]")
    from fractions import Fraction

    from scipy.signal import resample_poly

    # resampling by 1 / factor and playing at the same rate speeds up by factor; the ratio is
    # kept to small integers (resample_poly's filter length grows with them), so the factor
    # actually applied is the nearest p / q with q <= 40
    ratio = Fraction(1.0 / factor).limit_denominator(40)
    factor = 1.0 / float(ratio)
    y = resample_poly(audio.samples, ratio.numerator, ratio.denominator)
    sr = audio.sample_rate
    phones2 = [Phone(p.label, p.start / factor, p.end / factor) for p in phones]
    return Audio(y.astype(np.float32), sr, audio.path), phones2, factor


def change_speed_motion(motion: Motion, factor: float) -> Motion:
    """The motion of a ``factor`` times faster performance (same fps)."""
    n = max(1, int(round(motion.duration / factor * motion.fps)))
    out = motion.sample(np.arange(n) / motion.fps * factor)
    out.fps = motion.fps
    return out


def random_augment(audio: Audio, rng: np.random.Generator) -> tuple[Audio, str]:
    """A random chain of the audio-only augmentations; returns the new audio and its description."""
    x = audio.samples.astype(np.float32)
    sr = audio.sample_rate
    steps: list[str] = []
    if rng.random() < 0.35:
        rt = float(rng.uniform(0.15, 0.8))
        x = reverb(x, sr, rt, rng, wet=float(rng.uniform(0.2, 0.7)))
        steps.append(f"reverb(rt60={rt:.2f})")
    if rng.random() < 0.4:
        tilt = float(rng.uniform(-4.0, 3.0))
        x = eq_tilt(x, sr, tilt)
        steps.append(f"eq_tilt({tilt:+.1f}dB/oct)")
    if rng.random() < 0.1:
        x = band_limit(x, sr)
        steps.append("band_limit(300-3400)")
    if rng.random() < 0.6:
        snr = float(rng.choice([5.0, 10.0, 15.0, 20.0, 30.0]))
        kind = str(rng.choice(NOISE_KINDS))
        x = add_noise(x, snr, rng, kind, sr)
        steps.append(f"noise({kind},{snr:.0f}dB)")
    if rng.random() < 0.3:
        codec = str(rng.choice(list(CODECS)))
        br = int(rng.choice([16000, 24000, 32000, 48000]))
        try:
            x = codec_roundtrip(x, sr, codec, br)
            steps.append(f"{codec}({br // 1000}k)")
        except Exception as e:  # a codec missing from this FFmpeg build: skip that step, say so
            steps.append(f"{codec}-unavailable({type(e).__name__})")
    g = float(rng.uniform(-12.0, 6.0))
    x = gain(x, g)
    steps.append(f"gain({g:+.1f}dB)")
    if not np.isfinite(x).all():
        raise AudioError(audio.path, "augmentation produced non-finite samples")
    return Audio(x, sr, audio.path), " ".join(steps)
