"""A tiny synthetic training corpus for smoke tests and the overfit check (no TTS, no shards): seconds of
two vowel sounds, p/b/m closures before bursts and pauses, with the motion a teacher would give them."""

from __future__ import annotations

import numpy as np

from anim3d.channels import INDEX
from anim3d.training.data import Example


def toy_examples(n: int, seconds: float = 3.0, seed: int = 0, front_end=None, fps: float = 30.0, sample_rate: int = 16000):
    """A tiny synthetic corpus for smoke tests and the overfit check: two vowel sounds (different spectra ->
    different mouth shapes), silent closures before bursts (p/b/m: lips shut) and pauses. Returns
    (examples, audios) where audios[i] is the Audio of examples[i]."""
    from anim3d.audio import audio_from_array
    from anim3d.models.audio_features import LogMelFrontEnd

    fe = front_end or LogMelFrontEnd(sample_rate, fps=fps)
    rng = np.random.default_rng(seed)
    T = int(seconds * fps)
    hop = sample_rate / fps
    out, audios = [], []
    for _ in range(n):
        x = np.zeros(int(T * hop), np.float32)
        m = np.zeros((T, 58), np.float32)
        phones = []
        f0 = rng.uniform(90, 220)
        t = 0
        while t < T:
            kind = rng.choice(["a", "u", "pbm", "sil"], p=[0.35, 0.3, 0.25, 0.1])
            d = int(rng.integers(4, 9)) if kind in ("a", "u") else 3
            d = min(d, T - t)
            a, b = int(t * hop), int((t + d) * hop)
            tt = np.arange(b - a) / sample_rate
            if kind in ("a", "u"):
                formants = (800, 1200) if kind == "a" else (300, 800)
                sig = sum(np.sin(2 * np.pi * k * f0 * tt) / k * sum(np.exp(-((k * f0 - f) / 150) ** 2) for f in formants) for k in range(1, 40))
                x[a:b] = 0.3 * sig / (np.abs(sig).max() + 1e-6)
                if kind == "a":
                    m[t : t + d, INDEX["jawOpen"]] = 0.6
                else:
                    m[t : t + d, INDEX["jawOpen"]] = 0.2
                    m[t : t + d, INDEX["mouthFunnel"]] = 0.6
                    m[t : t + d, INDEX["mouthPucker"]] = 0.5
            elif kind == "pbm":
                phones.append(("P", t / fps, (t + d) / fps))
                m[t : t + d, INDEX["mouthPressLeft"]] = m[t : t + d, INDEX["mouthPressRight"]] = 0.3
                burst_a = int((t + d - 0.5) * hop)
                x[burst_a : min(len(x), burst_a + 120)] = 0.2 * rng.standard_normal(min(len(x), burst_a + 120) - burst_a)
            t += d
        x += 1e-4 * rng.standard_normal(len(x)).astype(np.float32)
        m[:, 52:55] = 0.02 * np.sin(np.arange(T)[:, None] / 15.0 + rng.uniform(0, 6, 3))  # slow head sway
        audio = audio_from_array(x.astype(np.float32), sample_rate)
        out.append(Example(fe(audio.samples, T), m, 0, 0.0, "toy", phones))
        audios.append(audio)
    return out, audios
