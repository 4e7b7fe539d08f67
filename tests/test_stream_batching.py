"""Several live streams' windows denoised in one pass (anim3d.serve.batcher) give each stream the frames it makes
alone: sample_batch against sample_one on different streams' conditions, and whole streams run side by side on
threads through one WindowBatcher against the same streams run one after the other."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from anim3d.audio import load_audio

REPO = Path(__file__).resolve().parents[1]
# different controls per stream: they share a pass (the same sampler, steps and guidance), not their conditions
CONTROLS = [dict(seed=0), dict(seed=1, emotion="happy", intensity=0.7), dict(seed=2, gaze=None, distance=None),
            dict(seed=3, emotion="sad", gaze=(0.1, -0.05), teacher_blend=0.0, opening_share=0.0)]


@pytest.fixture(scope="module")
def gen():
    from anim3d.inference import load_model

    return load_model()


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return load_audio(REPO / "examples" / "hello.wav", 16000).samples[: 3 * 16000]


def _conditions(gen, settings, start: int, with_prev: bool):
    import torch

    from anim3d.inference.settings import check_conditions
    from anim3d.inference.windows import window_conditions

    rng = np.random.default_rng(start)
    feats = rng.normal(size=(start + 5, gen.front_end.dim)).astype(np.float32)
    prev = rng.normal(size=(1, gen.cfg.prev, gen.cfg.motion_dim)).astype(np.float32) if with_prev else None
    cond = window_conditions(gen, feats, start, prev, check_conditions(settings, gen.cfg.emotions), 1,
                             audio_frames=start + 5)
    noise = torch.from_numpy(rng.normal(size=(1, gen.cfg.window, gen.cfg.motion_dim)).astype(np.float32))
    return cond, noise


def test_a_batch_of_windows_is_each_window_alone(gen):
    from anim3d.inference import MotionSettings
    from anim3d.inference.settings import resolve_sampling
    from anim3d.inference.windows import batch_key, sample_batch, sample_one

    sampling = resolve_sampling(MotionSettings(), gen.inference)
    windows = [_conditions(gen, MotionSettings(**c), start, with_prev=i > 0)
               for i, (c, start) in enumerate(zip(CONTROLS, (0, 40, 90, 300)))]
    alone = [sample_one(gen, cond, noise, sampling) for cond, noise in windows]
    together = sample_batch(gen, [c for c, _ in windows], [n for _, n in windows], sampling)
    assert len(together) == 4
    for a, b in zip(alone, together):
        assert a.shape == b.shape == (gen.cfg.window, gen.cfg.motion_dim)
        # float32 rounding only: the matrix products of 4 windows run on 4x the rows (normalised units, values ~1)
        assert np.abs(a - b).max() <= 1e-4
    assert len({batch_key(sampling, None, n) for _, n in windows}) == 1
    # what cannot share a pass: other steps, another window length, the ancestral sampler's fresh noise
    noise = windows[0][1]
    assert batch_key(sampling, 2, noise) != batch_key(sampling, None, noise) != batch_key(sampling, None, noise[:, :30])
    assert batch_key(resolve_sampling(MotionSettings(sampler="euler_ancestral"), gen.inference), None, noise) is None


def _stream(gen, settings: dict, x: np.ndarray, sampler=None) -> np.ndarray:
    from anim3d.inference import StreamingAnimator

    animator = StreamingAnimator(gen, sample_rate=16000, warmup=False, sampler=sampler, **settings)
    parts = [m for m in animator.run(x[i : i + 320] for i in range(0, len(x), 320))]
    return np.concatenate([np.concatenate([m.blendshapes, m.head_rotation, m.head_translation], 1) for m in parts])


@pytest.mark.slow
def test_streams_side_by_side_through_one_batcher_make_their_own_frames(gen, speech):
    from anim3d.serve.batcher import WindowBatcher

    alone = [_stream(gen, c, speech) for c in CONTROLS]
    batcher = WindowBatcher(gen, workers=1)  # one pass at a time: the windows that come meanwhile wait and go together
    got: dict[int, np.ndarray] = {}
    start = threading.Barrier(len(CONTROLS))

    def run(i):
        start.wait(30)
        got[i] = _stream(gen, CONTROLS[i], speech, batcher.sample)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(CONTROLS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    batcher.close()
    state = batcher.state()
    for i, want in enumerate(alone):
        assert got[i].shape == want.shape
        assert np.abs(got[i] - want).max() <= 1e-5, i
    # every window went through it, and windows of several streams shared passes
    assert state["windows"] == sum(state["sizes"][k] * k for k in state["sizes"]) >= 4 * len(alone[0]) // 4
    assert max(state["sizes"]) > 1 and state["passes"] < state["windows"]


def test_a_failing_pass_fails_its_windows_and_the_batcher_goes_on(gen):
    from anim3d.inference import MotionSettings
    from anim3d.inference.settings import resolve_sampling
    from anim3d.inference.windows import sample_one
    from anim3d.serve.batcher import WindowBatcher

    sampling = resolve_sampling(MotionSettings(), gen.inference)
    cond, noise = _conditions(gen, MotionSettings(), 40, True)
    bad = dict(cond, audio=cond["audio"][:, :, :5])  # features the model cannot read
    batcher = WindowBatcher(gen, workers=1)
    with pytest.raises(RuntimeError):
        batcher.sample(gen, bad, noise, sampling)
    assert np.array_equal(batcher.sample(gen, cond, noise, sampling), sample_one(gen, cond, noise, sampling))
    assert batcher.state()["passes"] == 2
    batcher.close()
    # closed: a window is sampled on its caller's thread
    assert np.array_equal(batcher.sample(gen, cond, noise, sampling), sample_one(gen, cond, noise, sampling))
    assert batcher.state()["passes"] == 2
    with pytest.raises(ValueError):
        WindowBatcher(gen, workers=0)


def test_the_workers_come_from_the_cpus_or_the_environment(monkeypatch):
    from anim3d.serve.batcher import default_workers

    monkeypatch.delenv("ANIM3D_STREAM_WORKERS", raising=False)
    assert default_workers() == min(2, len(os.sched_getaffinity(0)))
    monkeypatch.setenv("ANIM3D_STREAM_WORKERS", "1")
    assert default_workers() == 1
    monkeypatch.setenv("ANIM3D_STREAM_WORKERS", "two")
    with pytest.raises(ValueError, match="ANIM3D_STREAM_WORKERS must be a whole number >= 1, got 'two'"):
        default_workers()
