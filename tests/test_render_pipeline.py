"""Streaming render to MP4, checkpoints, and the `anim3d render` command's errors."""

import os

import av
import numpy as np
import pytest
import torch

from anim3d.channels import INDEX
from anim3d.errors import Anim3dError, InputError
from anim3d.motion import Motion
from anim3d.models.renderer import RefineNet, RendererConfig, load_renderer, save_renderer


@pytest.fixture(scope="module")
def portrait():
    import skimage.data

    from anim3d.render.portrait import prepare_portrait

    return prepare_portrait(skimage.data.astronaut(), size=256)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = RefineNet(RendererConfig(widths=(8, 8, 8, 8)))
    with torch.no_grad():  # non-trivial weights, so the round trip is checked on real numbers
        for p in model.parameters():
            p.normal_(0, 0.05)
    folder = tmp_path_factory.mktemp("ckpt")
    save_renderer(model, folder)
    return folder, model


def test_checkpoint_round_trip_and_errors(checkpoint, tmp_path):
    folder, model = checkpoint
    assert sorted(os.listdir(folder)) == ["config.json", "model.safetensors"]
    loaded = load_renderer(folder)
    assert loaded.config.widths == (8, 8, 8, 8)
    x = torch.rand(2, 7, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), loaded(x))
    with pytest.raises(InputError, match="missing config.json"):
        load_renderer(tmp_path)
    (tmp_path / "config.json").write_text('{"widths": [4, 4]}')
    (tmp_path / "model.safetensors").write_bytes(b"junk")
    with pytest.raises(InputError, match="not a valid renderer checkpoint"):
        load_renderer(tmp_path)


def test_untrained_network_is_the_identity_refinement():
    from anim3d.models.renderer.network import compose

    net = RefineNet(RendererConfig(widths=(8, 8, 8, 8))).eval()
    x = torch.rand(1, 7, 32, 32)
    with torch.no_grad():
        rgb = net(x)
    torch.testing.assert_close(rgb, x[:, :3].clamp(0, 1))  # zero residual at the start
    full = torch.rand(1, 3, 64, 64)
    out = compose(full, x[:, :3], rgb)
    assert (out - full).abs().max() < 1e-6


def _talking_motion(n=6):
    m = Motion.neutral(n)
    m.blendshapes[:, INDEX["jawOpen"]] = np.linspace(0, 1, n)
    return m


def test_render_video_streams_frames_with_audio(portrait, checkpoint, tmp_path):
    from test_render_drive import synthetic_head

    from anim3d.audio import audio_from_array
    from anim3d.render.pipeline import PortraitRenderer, RenderSettings, render_video

    folder, _ = checkpoint
    r = PortraitRenderer(portrait, head=synthetic_head(), checkpoint=folder)
    motion = _talking_motion(6)
    frames = list(r.frames(motion, batch=4))  # two batches: 4 + 2
    assert len(frames) == 6 and frames[0].shape == (256, 256, 3) and frames[0].dtype == np.uint8
    lm = portrait.landmarks
    mouth = (slice(int(lm[13, 1]) - 5, int(lm[14, 1]) + 25), slice(int(lm[61, 0]), int(lm[291, 0])))
    forehead = (slice(int(lm[10, 1]) + 5, int(lm[9, 1])), slice(int(lm[67, 0]), int(lm[297, 0])))
    diff = lambda a, b, s: np.abs(a[s].astype(float) - b[s].astype(float)).mean()  # noqa: E731
    assert diff(frames[0], frames[5], mouth) > 5 * diff(frames[0], frames[5], forehead) + 1

    tone = np.sin(np.linspace(0, 2 * np.pi * 220, 16000)).astype(np.float32) * 0.3
    out = tmp_path / "talk.mp4"
    n = render_video(portrait, motion, str(out), audio=audio_from_array(tone, 16000), settings=RenderSettings(batch=4), renderer=r)
    assert n == 6
    with av.open(str(out)) as c:
        kinds = sorted(s.type for s in c.streams)
        assert kinds == ["audio", "video"]
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(decoded) == 6 and decoded[0].shape == (256, 256, 3)
    assert np.abs(decoded[5].astype(float) - frames[5]).mean() < 6  # H.264 at crf 20 stays close
    assert [p for p in os.listdir(tmp_path) if p.startswith(".anim3d-")] == []


def test_failure_mid_stream_leaves_nothing(tmp_path):
    from anim3d.render.pipeline import write_mp4

    def frames():
        for i in range(3):
            yield np.zeros((64, 64, 3), np.uint8)
        raise Anim3dError("boom")

    out = tmp_path / "half.mp4"
    with pytest.raises(Anim3dError, match="boom"):
        write_mp4(str(out), frames(), 30.0)
    assert os.listdir(tmp_path) == []


def test_cli_no_face_portrait_is_one_line_and_no_file(tmp_path, capsys):
    from PIL import Image

    from anim3d.cli import main

    Image.fromarray(np.full((200, 200, 3), 90, np.uint8)).save(tmp_path / "blank.png")
    _talking_motion(3).save_npz(tmp_path / "m.npz")
    code = main(["render", str(tmp_path / "m.npz"), "--portrait", str(tmp_path / "blank.png"), "-o", str(tmp_path / "o.mp4"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "blank.png" in err[0] and "no face" in err[0]
    assert not (tmp_path / "o.mp4").exists()


def test_shipped_checkpoint_loads():
    from anim3d.render.pipeline import DEFAULT_CHECKPOINT

    if not os.path.isfile(os.path.join(DEFAULT_CHECKPOINT, "model.safetensors")):
        pytest.fail("the default renderer checkpoint models/renderer_default is missing")
    m = load_renderer(DEFAULT_CHECKPOINT)
    assert isinstance(m, RefineNet) and m.config.internal_size >= 64


def test_network_gate_keeps_the_sharp_warp_where_the_background_moves():
    from anim3d.render.frames import network_gate

    n, size = 32, 256
    face = torch.zeros(2, n, n)
    face[:, 10:22, 10:22] = 1
    ys, xs = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    ident = (torch.stack([xs, ys], -1).float() + 0.5) * (size / n)
    xy = torch.stack([ident, ident + torch.tensor([0.2 * size, 0.0])])  # frame 1: everything shifted a lot
    g = network_gate(face, xy, size)
    assert g.shape == (2, 1, n, n)
    assert torch.allclose(g[0], torch.ones(1, n, n))  # nothing moves: the network's change everywhere
    assert (g[1, 0, 14:18, 14:18] > 0.99).all()  # on the face always
    assert (g[1, 0, :3, :3] < 1e-6).all() and (g[1, 0, -3:, -3:] < 1e-6).all()  # the moving background: warp only
