"""The shipped path keeps its motion: the default model on examples/hello.wav, offline and live, gives the
motion saved in tests/golden/shipped_motion.npz for the same settings and seeds.

A change that is meant to change the motion regenerates the file (``python tests/test_shipped_motion.py``)
and says so in its commit. The comparison allows float32 rounding (1e-5): another CPU's kernels may
round differently; on one machine the motion is the same bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden" / "shipped_motion.npz"
SPEECH = REPO / "examples" / "hello.wav"

# name -> animate() keyword arguments (gaze in radians)
OFFLINE = {
    "default_seed0": dict(seed=0),
    "no_opening_seed0": dict(seed=0, opening_share=0.0),  # the motion model's own jaw (the default before 2026-12-07)
    "controls_seed5": dict(seed=5, emotion="happy", intensity=0.6, gaze=(0.1, -0.05), distance=0.02, teacher_blend=0.0,
                           mouth_steps=0, sampler="ddim", steps=6, guidance={"audio": 1.5}),
    "free_gaze_seed7": dict(seed=7, emotion="sad", gaze=None, distance=None, teacher_blend=0.5),
}
LIVE = {"live_seed2": dict(seed=2, emotion="angry", intensity=0.8)}


def _motion_array(m) -> np.ndarray:
    return np.concatenate([m.blendshapes, m.head_rotation, m.head_translation], 1).astype(np.float32)  # T x 58


def shipped_motions() -> dict[str, np.ndarray]:
    """Every case's T x 58 motion from the shipped default model."""
    from anim3d.audio import load_audio
    from anim3d.inference import StreamingAnimator, animate, load_model

    audio = load_audio(SPEECH)
    out = {name: _motion_array(animate(audio, **kw)) for name, kw in OFFLINE.items()}
    for i, m in enumerate(animate(audio, seed=3, num_samples=2)):
        out[f"batch_seed3_{i}"] = _motion_array(m)
    out["style_seed1"] = _motion_array(animate(audio, seed=1, style=animate(audio, seed=9)))
    for name, kw in LIVE.items():
        animator = StreamingAnimator(load_model(), **kw)
        step = audio.sample_rate // 50  # 20 ms chunks
        parts = animator.run(audio.samples[i:i + step] for i in range(0, len(audio.samples), step))
        out[name] = np.concatenate([_motion_array(p) for p in parts], 0)
    return out


@pytest.fixture(scope="module")
def motions():
    return shipped_motions()


@pytest.mark.slow
def test_the_shipped_model_gives_the_saved_motion(motions):
    with np.load(GOLDEN) as z:
        saved = {k: z[k] for k in z.files}
    assert sorted(motions) == sorted(saved)
    for name, want in saved.items():
        got = motions[name]
        assert got.shape == want.shape, name
        assert np.abs(got - want).max() <= 1e-5, (name, float(np.abs(got - want).max()))
        print(name, "max |difference|:", float(np.abs(got - want).max()))


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    np.savez_compressed(GOLDEN, **shipped_motions())
    print(f"wrote {GOLDEN}")
