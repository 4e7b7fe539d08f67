"""A model on the phone-posterior front end (audio_encoder="phones"): trains, animates, and streams with
the same features as offline."""

import numpy as np
import pytest
import torch

from anim3d import progress
from anim3d.motion import Motion
from anim3d.inference import MotionGenerator, animate
from toy_corpus import toy_examples
from anim3d.training import TrainConfig, train
from anim3d.models.phone_features import PhoneFrontEnd

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
    from anim3d.inference import StreamingAnimator

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
