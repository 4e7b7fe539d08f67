"""A model on the phone-posterior front end (audio_encoder="phones"): trains, animates, and streams with
the same features as offline."""

import numpy as np
import pytest
import torch

from anim3d import progress
from anim3d.motion import Motion
from anim3d.pipeline import MotionGenerator, animate
from anim3d.toy_corpus import toy_examples
from anim3d.training import TrainConfig, train
from models.phone_features import PhoneFrontEnd

progress.set_enabled(False)


@pytest.fixture(scope="module")
def phone_gen(tmp_path_factory):
    out = tmp_path_factory.mktemp("phones") / "run"
    tr, _ = toy_examples(6, seed=0, front_end=PhoneFrontEnd())
    torch.manual_seed(0)
    train(tr, [], str(out), TrainConfig(model="tiny", epochs=1, steps_per_epoch=40, batch_size=16, lr=2e-3, warmup=10,
                                        model_overrides={"audio_encoder": "phones", "audio_dim": 129}), log=lambda s: None)  # as `anim3d train --audio-encoder phones` asks
    return MotionGenerator.load(out)


def test_a_phones_checkpoint_loads_its_front_end_and_animates(phone_gen):
    assert phone_gen.cfg.audio_encoder == "phones" and isinstance(phone_gen.front_end, PhoneFrontEnd)
    assert phone_gen.cfg.audio_dim == phone_gen.front_end.dim == 129
    _, auds = toy_examples(1, seconds=2.0, seed=3)
    m = animate(auds[0], checkpoint=phone_gen, seed=0)
    assert m.num_frames == 60 and np.isfinite(m.blendshapes).all()


def test_streaming_sees_the_offline_features(phone_gen):
    from anim3d.streaming import StreamingAnimator

    _, auds = toy_examples(1, seconds=5.0, seed=7)
    speech = auds[0]
    st = StreamingAnimator(phone_gen, seed=0)
    seen = {}
    inner = st._features

    def spy(start, stop):
        f = inner(start, stop)
        seen.update({start + i: row for i, row in enumerate(f)})
        return f

    st._features = spy
    parts, first_at = [], None
    for i in range(0, len(speech.samples), 320):  # 20 ms chunks
        m = st.push(speech.samples[i : i + 320])
        if m.num_frames and first_at is None:
            first_at = (i + 320) / 16000
        parts.append(m)
    parts.append(st.flush())
    live = Motion.concatenate(parts)
    offline = phone_gen.features(speech)
    assert live.num_frames == len(offline) == 150
    assert "cache" in st.front_end_kw  # the stream reuses its cepstra (tests/test_phone_features.py checks how)
    assert len(seen) == len(offline)
    assert max(np.abs(seen[f] - offline[f]).max() for f in seen) < 1e-3
    assert first_at is not None and first_at <= 0.1  # the deltas' 30 ms look-ahead still leaves the first frame early


def test_phone_context_widens_a_phones_model_without_changing_what_it_does(phone_gen, tmp_path):
    """Fine-tuning a phones checkpoint with the phone context (`anim3d train --init RUN --phone-context`) starts
    from the same model: the input layer keeps its weights for the 129 features and starts at zero for the 84
    new ones, so before any step the widened model gives the checkpoint's output whatever the context says;
    training then moves the new weights, and the run's checkpoint loads with the context front end."""
    from anim3d.training import widen_input
    from models.checkpoint import save_checkpoint
    from models.motion_transformer import MotionTransformer

    import dataclasses

    init = tmp_path / "init"
    save_checkpoint(str(init), phone_gen.model, phone_gen.cfg)
    wide_cfg = dataclasses.replace(phone_gen.cfg, phone_context=True, audio_dim=129 + 84)
    wide = MotionTransformer(wide_cfg).eval()
    state = dict(phone_gen.model.state_dict())
    state["in_audio.0.weight"] = widen_input(state["in_audio.0.weight"], 213)
    wide.load_state_dict(state)
    g = torch.Generator().manual_seed(0)
    B, L = 2, wide_cfg.prev + wide_cfg.window
    audio = torch.randn(B, L, 129, generator=g)
    with torch.no_grad():  # the audio tokens: all the denoiser sees of the audio
        want = phone_gen.model.eval().encode_audio(audio)
        got = wide.encode_audio(torch.cat([audio, 5 * torch.randn(B, L, 84, generator=g)], dim=2))
    assert torch.allclose(got, want, atol=1e-5)
    with pytest.raises(Exception, match="widen"):
        widen_input(state["in_audio.0.weight"], 100)

    out = tmp_path / "ctx"
    tr, _ = toy_examples(4, seed=0, front_end=PhoneFrontEnd(context=True))
    train(tr, [], str(out), TrainConfig(model="tiny", epochs=1, steps_per_epoch=5, batch_size=4, lr=2e-3, warmup=2, init=str(init),
                                        model_overrides={"phone_context": True, "audio_dim": 213}), log=lambda s: None)
    gen = MotionGenerator.load(out)
    assert gen.cfg.phone_context and gen.front_end.context and gen.front_end.dim == gen.cfg.audio_dim == 213
    w = gen.model.in_audio[0].weight
    assert w[:, 129:].abs().max() > 0  # the new columns learnt something
    _, auds = toy_examples(1, seconds=2.0, seed=3)
    assert np.isfinite(animate(auds[0], checkpoint=gen, seed=0).blendshapes).all()


def test_fresh_audio_input_restarts_only_the_input_layer(phone_gen, tmp_path):
    """`--fresh-audio-input`: the audio input layer starts at its init although the features are the
    checkpoint's, and every other weight starts from the checkpoint."""
    from models.checkpoint import load_checkpoint, save_checkpoint

    init = tmp_path / "init"
    save_checkpoint(str(init), phone_gen.model, phone_gen.cfg)
    out = tmp_path / "fresh"
    tr, _ = toy_examples(2, seed=0, front_end=PhoneFrontEnd())
    train(tr, [], str(out), TrainConfig(model="tiny", epochs=1, steps_per_epoch=1, batch_size=2, lr=1e-6, warmup=1, init=str(init),
                                        fresh_audio_input=True), log=lambda s: None)
    before, after = phone_gen.model.state_dict(), load_checkpoint(str(out))[0].state_dict()
    assert not torch.allclose(after["in_audio.0.weight"], before["in_audio.0.weight"], atol=1e-3)
    same = [k for k in before if not k.startswith("in_audio.0.") and torch.allclose(after[k], before[k], atol=1e-3)]
    assert len(same) == len(before) - 2  # weight and bias of the input layer are the only ones restarted
