"""StreamingAnimator's first window: it leaves on frame 0's own audio, shorter and as configured."""

import numpy as np
import pytest
import torch

from anim3d.motion import Motion


@pytest.fixture(scope="module")
def gen():
    from anim3d.inference import MotionGenerator
    from anim3d.models.config import get_config
    from anim3d.models.motion_transformer import MotionTransformer

    cfg = get_config("tiny", window=60)
    torch.manual_seed(0)
    return MotionGenerator(MotionTransformer(cfg).eval(), cfg)  # random weights: timing and shapes only


def speech(seconds=2.0, sr=16000):
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * 150 * t) * (np.sin(2 * np.pi * 3 * t) > 0)).astype(np.float32)


def run(gen, **opts):
    from anim3d.inference import StreamingAnimator

    st = StreamingAnimator(gen, seed=0, **opts)
    x, chunk = speech(), 320  # 20 ms chunks
    parts, first_at = [], None
    for i in range(0, len(x), chunk):
        m = st.push(x[i : i + chunk])
        if m.num_frames and first_at is None:
            first_at = (i + chunk) / 16000
        parts.append(m)
    parts.append(st.flush())
    return st, Motion.concatenate(parts), first_at


def test_first_frame_leaves_on_its_own_audio_in_a_short_window(gen):
    st, live, first_at = run(gen)
    # frame 0's analysis windows end 40.3 ms in: the third 20 ms chunk (60 ms) has them
    assert first_at == pytest.approx(0.06)
    assert st.timings[0]["window"] == 30 and st.timings[0]["frame"] == 0
    assert all(t["window"] == 30 for t in st.timings[1:]) and gen.cfg.window > 30  # every window 30, not the model's
    assert live.num_frames == 60  # 2 s at 30 fps, nothing lost or doubled
    for t in st.timings:
        assert t["sampling_s"] > 0 and t["features_cpu_s"] >= 0 and t["sampling_cpu_s"] >= 0


def test_previous_design_waits_one_more_frame(gen):
    st, live, first_at = run(gen, window=None, first_window=None, first_lookahead=1)
    assert first_at == pytest.approx(0.08)  # frame 1's audio too (lookahead), one chunk later
    assert all(t["window"] == gen.cfg.window for t in st.timings) and live.num_frames == 60


def test_first_window_steps_are_configurable(gen):
    st, _, _ = run(gen)
    assert st.timings[0]["steps"] == min(2, gen.inference.steps) and st.timings[1]["steps"] == gen.inference.steps
    st, _, _ = run(gen, first_steps=None)  # as every window
    assert st.timings[0]["steps"] == gen.inference.steps
