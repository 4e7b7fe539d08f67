"""animate(): determinism per seed, batched samples, seamless windows, controls, errors, CLI, streaming."""

import numpy as np
import pytest
import torch

from anim3d import progress
from anim3d.audio import audio_from_array, save_wav
from anim3d.errors import Anim3dError
from anim3d.motion import Motion
from anim3d.inference import MotionGenerator, animate
from anim3d.inference.windows import window_starts
from toy_corpus import toy_examples
from anim3d.training import TrainConfig, train

progress.set_enabled(False)


@pytest.fixture(scope="module")
def toy_ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy") / "run"
    tr, _ = toy_examples(10, seed=0)
    torch.manual_seed(0)
    train(tr, [], str(out), TrainConfig(model="tiny", epochs=1, steps_per_epoch=120, batch_size=16, lr=2e-3, warmup=20,
                                        inference={"overlap": 8}), log=lambda s: None)
    return out


@pytest.fixture(scope="module")
def gen(toy_ckpt):
    return MotionGenerator.load(toy_ckpt)


@pytest.fixture(scope="module")
def speech():
    _, auds = toy_examples(1, seconds=6.0, seed=7)
    return auds[0]


def test_same_seed_same_motion_other_seed_other_motion(gen, speech):
    a = animate(speech, checkpoint=gen, seed=3)
    b = animate(speech, checkpoint=gen, seed=3)
    c = animate(speech, checkpoint=gen, seed=4)
    assert isinstance(a, Motion) and a.num_frames == 180 and a.fps == 30
    assert np.array_equal(a.blendshapes, b.blendshapes) and np.array_equal(a.head_rotation, b.head_rotation)
    assert np.abs(a.head_rotation - c.head_rotation).mean() > 1e-6  # (exactly 0 for the same seed)
    assert np.abs(a.blendshapes - c.blendshapes).mean() > 1e-4


def test_num_samples_are_batched_seeds(gen, speech):
    many = animate(speech, checkpoint=gen, seed=10, num_samples=3)
    assert isinstance(many, list) and len(many) == 3
    for i, m in enumerate(many):
        single = animate(speech, checkpoint=gen, seed=10 + i)
        assert np.allclose(m.blendshapes, single.blendshapes, atol=1e-4)


def test_windows_join_without_jumps(gen):
    _, auds = toy_examples(6, seconds=6.0, seed=7)
    long = audio_from_array(np.concatenate([a.samples for a in auds]), 16000)  # 36 s: ~60 window joins
    m = animate(long, checkpoint=gen, seed=0)
    W, O = gen.cfg.window, gen.inference.overlap
    starts = window_starts(m.num_frames, W, O)[1:]
    assert len(starts) >= 40
    border = sorted({j for s in starts for j in range(s - 1, s + O)})  # steps into and across each cross-fade
    # Sampling noise makes every frame-to-frame change random, so "no larger" is checked within 10%
    # on the mean and the median (the toy lips also jump at phone boundaries, which dominate the mean
    # and land at joins only by chance), and on the largest change.
    for name, x in (("blendshapes", m.blendshapes), ("head", m.head_rotation)):
        step = np.abs(np.diff(x, axis=0)).sum(axis=1)  # change from frame i to i + 1
        inside = np.delete(step, border)
        assert step[border].mean() <= 1.1 * inside.mean(), name
        assert np.median(step[border]) <= 1.1 * np.median(inside), name
        assert step[border].max() <= 1.1 * inside.max(), name


def test_controls_are_checked(gen, speech):
    with pytest.raises(Anim3dError, match="unknown emotion 'joyful'; choose one of: neutral, happy"):
        animate(speech, checkpoint=gen, emotion="joyful")
    with pytest.raises(Anim3dError, match="intensity must be between 0 and 1"):
        animate(speech, checkpoint=gen, emotion="happy", intensity=3)
    with pytest.raises(Anim3dError, match="unknown guidance condition 'lips'"):
        animate(speech, checkpoint=gen, guidance={"lips": 2.0})
    with pytest.raises(Anim3dError, match="gaze must be"):
        animate(speech, checkpoint=gen, gaze=(3.0, 0.0))
    with pytest.raises(Anim3dError, match="steps must be"):
        animate(speech, checkpoint=gen, steps=0)
    m = animate(speech, checkpoint=gen, emotion="Happy", intensity=0.5, gaze=None, distance=None, guidance={"audio": 2.0, "emotion": 1.5}, steps=2)
    assert m.num_frames == 180


def test_mouth_keeps_the_first_step_estimate(gen):
    """mouth_steps=1: in one window, the mouth is what a 1-step sample makes from the same noise
    (zero on the mouth), while eyes, brows and head are refined by the later steps; bad values are clear errors."""
    from anim3d.models.config import CHANNEL_GROUPS

    _, auds = toy_examples(1, seconds=0.7, seed=3)  # 21 frames: one window of the tiny model (24)
    mouth = list(CHANNEL_GROUPS["mouth"])
    others = [i for i in range(52) if i not in mouth]
    kept = animate(auds[0], checkpoint=gen, seed=4, steps=4, mouth_steps=1)
    one = animate(auds[0], checkpoint=gen, seed=4, steps=1, mouth_steps=1)  # one step: nothing to keep
    full = animate(auds[0], checkpoint=gen, seed=4, steps=4, mouth_steps=0)
    np.testing.assert_allclose(kept.blendshapes[:, mouth], one.blendshapes[:, mouth], atol=1e-5)
    assert np.abs(kept.blendshapes[:, others] - one.blendshapes[:, others]).max() > 1e-4  # float error is ~1e-7
    assert np.abs(kept.blendshapes[:, mouth] - full.blendshapes[:, mouth]).max() > 1e-3
    # a request of 0 overrides a checkpoint that keeps the mouth (as the shipped one does)
    gen.inference.group_steps = {"mouth": 1}
    try:
        np.testing.assert_array_equal(animate(auds[0], checkpoint=gen, seed=4, steps=4).blendshapes, kept.blendshapes)
        np.testing.assert_array_equal(animate(auds[0], checkpoint=gen, seed=4, steps=4, mouth_steps=0).blendshapes,
                                      full.blendshapes)
    finally:
        gen.inference.group_steps = {}
    with pytest.raises(Anim3dError, match="whole number >= 0"):
        animate(auds[0], checkpoint=gen, mouth_steps=-1)
    with pytest.raises(Anim3dError, match="cannot keep the estimate of step 5: the sampler takes 4 steps"):
        animate(auds[0], checkpoint=gen, steps=4, mouth_steps=5)


def test_kept_channels_start_from_zero_noise(gen, speech, monkeypatch):
    from anim3d.inference.settings import MotionSettings, check_conditions, resolve_sampling
    from anim3d.inference.windows import sample_window_from_noise, window_conditions
    from anim3d.models.config import CHANNEL_GROUPS

    seen = []
    real = gen.model.forward

    def spy(x, sigma, cond):
        seen.append(x.clone())
        return real(x, sigma, cond)

    monkeypatch.setattr(gen.model, "forward", spy)
    cond = window_conditions(gen, gen.features(speech), 0, None, check_conditions(MotionSettings(), gen.cfg.emotions), 1)
    noise = torch.randn(1, gen.cfg.window, gen.cfg.motion_dim, generator=torch.Generator().manual_seed(0))
    mouth = list(CHANNEL_GROUPS["mouth"])
    others = [i for i in range(gen.cfg.motion_dim) if i not in mouth]
    for k, zero in ((1, True), (0, False)):
        seen.clear()
        sample_window_from_noise(gen, cond, noise, resolve_sampling(MotionSettings(steps=3, guidance={}, mouth_steps=k), gen.inference))
        first = seen[0]  # the first step's input: noise * sigma_max
        assert (first[..., mouth].abs().max() == 0) == zero
        assert first[..., others].abs().max() > 1.0  # the rest: unit noise x sigma_max (20)


def test_guidance_on_kept_channels_is_skipped_once_they_are_kept(gen, speech, monkeypatch):
    """With the mouth kept from step 1 and audio guidance acting on the mouth only, the later steps run without
    the audio branch (cheaper) and give the same motion as running it."""
    import anim3d.models.diffusion as D

    monkeypatch.setattr(gen.inference, "guidance_channels", {"audio": ["mouth"]})
    calls = []
    real_init = D.KeepEstimate.__init__

    def spy_init(self, denoiser, groups, later=None):
        calls.append(later is not None)
        real_init(self, denoiser, groups, later)

    monkeypatch.setattr(D.KeepEstimate, "__init__", spy_init)
    kw = dict(checkpoint=gen, seed=2, guidance={"audio": 2.0, "emotion": 1.5}, mouth_steps=1)
    cheap = animate(speech, **kw)
    assert calls and all(calls)  # every window used the cheaper later denoiser

    def no_later(self, denoiser, groups, later=None):
        real_init(self, denoiser, groups, None)

    monkeypatch.setattr(D.KeepEstimate, "__init__", no_later)
    full = animate(speech, **kw)
    np.testing.assert_allclose(cheap.blendshapes, full.blendshapes, atol=1e-4)
    np.testing.assert_allclose(cheap.head_rotation, full.head_rotation, atol=1e-4)


def test_style_clip_is_used(gen, speech, tmp_path):
    ref = animate(speech, checkpoint=gen, seed=1)
    ref.save_npz(tmp_path / "ref.npz")
    with_style = animate(speech, checkpoint=gen, seed=0, style=str(tmp_path / "ref.npz"))
    plain = animate(speech, checkpoint=gen, seed=0)
    assert not np.array_equal(with_style.blendshapes, plain.blendshapes)
    with pytest.raises(Anim3dError, match="missing.npz: file not found"):
        animate(speech, checkpoint=gen, style=str(tmp_path / "missing.npz"))


def test_cli_animate_writes_outputs_and_reports_bad_input(toy_ckpt, speech, tmp_path, capsys):
    from anim3d.cli import main

    wav = tmp_path / "speech.wav"
    save_wav(wav, speech)
    rc = main(["animate", str(wav), "-o", str(tmp_path / "take.npz"), "-o", str(tmp_path / "take.csv"),
               "--checkpoint", str(toy_ckpt), "--num-samples", "2", "--emotion", "sad", "-q"])
    assert rc == 0
    for i in (0, 1):
        m = Motion.load_npz(tmp_path / f"take.{i}.npz")
        assert m.num_frames == 180
        assert (tmp_path / f"take.{i}.csv").stat().st_size > 1000
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"this is not audio at all" * 10)
    rc = main(["animate", str(bad), "-o", str(tmp_path / "out.npz"), "--checkpoint", str(toy_ckpt), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and "bad.wav" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    rc = main(["animate", str(wav), "-o", str(tmp_path / "out.npz"), "--checkpoint", str(toy_ckpt), "--emotion", "joyful", "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown emotion 'joyful'" in err
    rc = main(["animate", str(wav), "-o", str(tmp_path / "out.npz"), "--checkpoint", str(toy_ckpt), "--mouth-steps", "-1", "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and "--mouth-steps: must be between 0 and 200, got -1" in err and "Traceback" not in err
    assert not list(tmp_path.glob("out*")) and not list(tmp_path.glob(".anim3d-*"))
    rc = main(["animate", str(wav), "-o", str(tmp_path / "m0.npz"), "--checkpoint", str(toy_ckpt), "--mouth-steps", "0", "-q"])
    rc1 = main(["animate", str(wav), "-o", str(tmp_path / "k1.npz"), "--checkpoint", str(toy_ckpt), "--mouth-steps", "1", "-q"])
    assert rc == rc1 == 0
    assert not np.array_equal(Motion.load_npz(tmp_path / "m0.npz").blendshapes, Motion.load_npz(tmp_path / "k1.npz").blendshapes)


def test_streaming_matches_offline_length_and_starts_fast(gen, speech):
    from anim3d.inference import StreamingAnimator

    st = StreamingAnimator(gen, seed=0)
    chunk = 320  # 20 ms
    parts, first_at = [], None
    for i in range(0, len(speech.samples), chunk):
        m = st.push(speech.samples[i : i + chunk])
        if m.num_frames and first_at is None:
            first_at = (i + chunk) / 16000
        parts.append(m)
    parts.append(st.flush())
    live = Motion.concatenate(parts)
    offline = animate(speech, checkpoint=gen, seed=0)
    assert live.num_frames == offline.num_frames
    assert first_at is not None and first_at <= 0.1  # audio needed before the first frame can leave
    # the live lips follow the same audio as the offline ones
    r = np.corrcoef(live.channel("jawOpen"), offline.channel("jawOpen"))[0, 1]
    assert r > 0.6


@pytest.mark.slow
def test_stream_command_animates_audio_live(toy_ckpt, speech, tmp_path):
    from anim3d.cli import main
    from loopback import drain, udp_receiver

    wav = tmp_path / "short.wav"
    save_wav(wav, audio_from_array(speech.samples[:16000], 16000))  # 1 s
    rx = udp_receiver(0.2)
    port = rx.getsockname()[1]
    rc = main(["stream", str(wav), "--checkpoint", str(toy_ckpt), "--protocol", "plain", "--osc", f"127.0.0.1:{port}", "--fps", "30", "-q"])
    assert rc == 0
    packets = len(drain(rx))
    assert packets >= 25  # ~30 frames for 1 s of speech + the final neutral frame


def test_the_shipped_default_model_loads_and_animates(speech):
    from anim3d.inference import load_model
    from anim3d.models.checkpoint import DEFAULT_DIR

    assert (DEFAULT_DIR / "model.safetensors").stat().st_size < 50e6
    gen = load_model()
    assert gen.cfg.name == "fast"
    m = animate(audio_from_array(speech.samples[: 3 * 16000], 16000))  # no flags at all
    assert m.num_frames == 90 and m.blendshapes.min() >= 0 and m.blendshapes.max() <= 1
    assert np.isfinite(m.head_rotation).all() and np.abs(m.head_rotation).max() < 0.6


def test_audio_is_encoded_once_per_window_with_the_same_result(gen, speech, monkeypatch):
    from anim3d.inference.settings import MotionSettings, check_conditions, resolve_sampling
    from anim3d.inference.windows import sample_window_from_noise, window_conditions

    cond = window_conditions(gen, gen.features(speech), 0, None, check_conditions(MotionSettings(), gen.cfg.emotions), 2)
    noise = torch.randn(2, gen.cfg.window, gen.cfg.motion_dim, generator=torch.Generator().manual_seed(0))
    guidance = resolve_sampling(MotionSettings(steps=3, guidance={"audio": 2.0, "gaze": 2.0}), gen.inference)  # 3 branches x 3 steps
    encoded = []
    real_encode = gen.model.encode_audio
    monkeypatch.setattr(gen.model, "encode_audio", lambda a: encoded.append(a.shape) or real_encode(a))
    once = sample_window_from_noise(gen, cond, noise, guidance)
    assert encoded == [cond["audio"].shape]  # one window, one encoding (batch 2), not one per step and branch
    real_forward = gen.model.forward
    monkeypatch.setattr(gen.model, "forward", lambda x, s, c: real_forward(x, s, {k: v for k, v in c.items() if k != "audio_tokens"}))
    every_call = sample_window_from_noise(gen, cond, noise, guidance)
    assert len(encoded) > 3  # now each forward pass encodes the audio itself ...
    torch.testing.assert_close(once, every_call, rtol=0, atol=1e-6)  # ... to the same motion
