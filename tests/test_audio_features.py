"""Audio front ends: log-mel (no weights) and a local transformers encoder."""

import numpy as np
import pytest
import torch

from anim3d.errors import InputError
from anim3d.models.audio_features import LogMelFrontEnd, TransformersFrontEnd, mel_filterbank, normalize_window, subframe_centers


def tone(freq, seconds=1.0, sr=16000):
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_shapes_and_alignment():
    fe = LogMelFrontEnd()
    x = tone(440, 2.0)
    f = fe(x, 60)
    assert f.shape == (60, 3 * 65) and f.dtype == np.float32 and np.isfinite(f).all()
    c = subframe_centers(0, 2, 30.0, 16000, 3)
    assert list(c) == [89, 267, 444, 622, 800, 978]  # 3 instants inside each 1/30 s frame


def test_a_tone_peaks_in_its_mel_band():
    fe = LogMelFrontEnd(n_mels=64)
    fb = mel_filterbank(16000, 400, 64)
    centre_bin = lambda hz: int(np.argmax(fb[int(round(hz / 40.0))]))  # noqa: E731  (40 Hz per FFT bin)
    for hz in (300, 1000, 3000):
        mel = fe(tone(hz), 20).reshape(20, 3, 65)[..., :64]
        peak = int(np.bincount(mel.argmax(-1).ravel()).argmax())
        assert abs(peak - centre_bin(hz)) <= 1, hz


def test_streaming_slices_give_the_same_features():
    fe = LogMelFrontEnd()
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(16000 * 3)).astype(np.float32)
    full = fe(x, 90)
    # frames 40..59 from a buffer that starts at sample 16000 (the stream's earlier audio was dropped)
    part = fe(x[16000:], 20, start_frame=40, sample_offset=16000)
    assert np.allclose(part, full[40:60], atol=1e-4)
    # audio that has not arrived counts as silence: the last frames differ, earlier ones do not
    short = fe(x[:32000], 90)
    assert np.allclose(short[:59], full[:59], atol=1e-4) and not np.allclose(short[61:], full[61:])


def test_silence_is_finite_and_low():
    fe = LogMelFrontEnd()
    f = fe(np.zeros(16000, np.float32), 30)
    assert np.isfinite(f).all() and f.max() < -10


def test_normalize_window_removes_gain_and_ignores_absent_frames():
    fe = LogMelFrontEnd()
    rng = np.random.default_rng(0)  # broadband, so that no band sits at the power floor
    x = (0.5 * rng.standard_normal(16000) * np.linspace(0.3, 1, 16000)).astype(np.float32)
    a = torch.from_numpy(fe(x, 30))[None]
    b = torch.from_numpy(fe(x * 0.3, 30))[None]
    mask = torch.ones(1, 30, dtype=torch.bool)
    mask[0, 25:] = False
    na, nb = normalize_window(a, mask), normalize_window(b, mask)
    assert (a - b).abs().mean() > 2.0  # 10 dB quieter...
    assert torch.allclose(na[0, :25], nb[0, :25], atol=0.1)  # ...is (nearly) the same after normalisation
    assert (na[0, 25:] == 0).all()


@pytest.mark.slow
def test_transformers_encoder_from_a_local_folder(tmp_path):
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    cfg = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                         conv_dim=(16, 16, 16, 16, 16, 16, 16), num_feat_extract_layers=7, num_conv_pos_embeddings=16,
                         num_conv_pos_embedding_groups=2, vocab_size=10)
    torch.manual_seed(0)
    Wav2Vec2Model(cfg).save_pretrained(tmp_path / "w2v")
    fe = TransformersFrontEnd(str(tmp_path / "w2v"))
    assert fe.dim == 32
    x = tone(300, 2.0) + tone(1200, 2.0) * np.linspace(0, 1, 32000, dtype=np.float32)
    f = fe(x, 60)
    assert f.shape == (60, 32) and np.isfinite(f).all()
    assert np.abs(np.diff(f, axis=0)).max() > 0  # frames differ
    # a model built for this encoder runs on its features
    from anim3d.inference import MotionGenerator
    from anim3d.inference.settings import Conditions, MotionSettings, resolve_sampling
    from anim3d.inference.windows import generate_windows
    from anim3d.models.config import get_config
    from anim3d.models.motion_transformer import MotionTransformer

    mcfg = get_config("tiny", audio_encoder=str(tmp_path / "w2v"), audio_dim=32)
    gen = MotionGenerator(MotionTransformer(mcfg).eval(), mcfg)
    out = generate_windows(gen, gen.front_end(x, 60), Conditions(), [0], resolve_sampling(MotionSettings(steps=2), gen.inference))
    assert out.shape == (1, 60, 58) and np.isfinite(out).all()


def test_missing_encoder_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="audio encoder folder not found"):
        TransformersFrontEnd(str(tmp_path / "nope"))
    (tmp_path / "junk").mkdir()
    with pytest.raises(InputError, match="not a usable transformers audio encoder"):
        TransformersFrontEnd(str(tmp_path / "junk"))
