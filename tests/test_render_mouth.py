"""The painted mouth interior: its (u, v) parametrization, when it paints, and what."""

import numpy as np
import pytest
import torch

from anim3d.landmarks import MOUTH_LOWER, MOUTH_UPPER
from anim3d.render.flow import backward_flow, build_warp_mesh, driven_vertices, mouth_vertex_uv
from anim3d.render.mouth import MouthPainter


@pytest.fixture(scope="module")
def closed_face():
    """The astronaut's landmarks with the inner lips closed (she smiles with her teeth showing)."""
    import skimage.data

    from anim3d.render.portrait import prepare_portrait

    p = prepare_portrait(skimage.data.astronaut(), size=256)
    lm = p.landmarks.copy()
    for a, b in zip(MOUTH_UPPER[1:-1], MOUTH_LOWER[1:-1]):
        mid = (lm[a, 1] + lm[b, 1]) / 2
        lm[a, 1] = lm[b, 1] = mid
    return p, lm


def _opened(lm, px):
    """Drop the lower lip and everything below the mouth line by ``px`` (a jaw opening)."""
    out = lm.copy()
    line = lm[list(MOUTH_UPPER), 1].max()
    below = np.flatnonzero(lm[:, 1] > line + 0.5)
    out[np.union1d(below, list(MOUTH_LOWER[1:-1])), 1] += px
    return out


def test_mouth_uv_runs_across_and_down_the_mouth():
    uv = mouth_vertex_uv()
    assert uv[MOUTH_UPPER[0]].tolist() == [0.0, 0.5] and uv[MOUTH_UPPER[-1]].tolist() == [1.0, 0.5]
    assert all(uv[i, 1] == 0 for i in MOUTH_UPPER[1:-1]) and all(uv[i, 1] == 1 for i in MOUTH_LOWER[1:-1])
    assert np.all(np.diff(uv[list(MOUTH_UPPER), 0]) > 0)


def test_flow_mouth_uv_inside_an_open_mouth(closed_face):
    p, lm = closed_face
    mesh = build_warp_mesh(lm, p.size)
    fm = backward_flow(mesh, driven_vertices(mesh, _opened(lm, 16.0)), 128)
    inside = fm.mouth.bool()
    assert inside.sum() > 30
    v = fm.mouth_uv[..., 1]
    rows = torch.nonzero(inside.any(1)).flatten()
    col = int(torch.nonzero(inside[rows[len(rows) // 2]]).flatten().float().mean())  # a column through the middle
    vs = v[:, col][inside[:, col]]
    assert vs[0] < 0.3 and vs[-1] > 0.7 and torch.all(torch.diff(vs) >= -1e-4)  # upper lip 0 -> lower lip 1
    assert torch.all(fm.mouth_uv[~inside] == 0)


def _paint(painter, p, lm, driven_lm):
    mesh = build_warp_mesh(lm, p.size)
    fm = backward_flow(mesh, driven_vertices(mesh, driven_lm)[None], 64)
    img = torch.full((1, 3, p.size, p.size), 0.6)
    out = painter.paint(img, fm.mouth, fm.mouth_uv, torch.as_tensor(driven_lm[None, :, :2]), p.size)
    return img, out


def test_painting_darkens_only_an_opened_mouth(closed_face):
    p, lm = closed_face
    img = np.full((p.size, p.size, 3), 150, np.uint8)
    painter = MouthPainter.from_portrait(img, lm)
    assert painter.strength == 1.0
    same, out = _paint(painter, p, lm, lm)  # not opened: nothing painted
    assert torch.equal(same, out)
    before, out = _paint(painter, p, lm, _opened(lm, 14.0))
    changed = (out - before).abs().sum(1)[0] > 1e-3
    ys, xs = np.nonzero(changed.numpy())
    mouth = lm[list(MOUTH_UPPER + MOUTH_LOWER), :2]
    assert len(ys) > 50
    assert xs.min() >= mouth[:, 0].min() - 6 and xs.max() <= mouth[:, 0].max() + 6  # only around the mouth
    assert ys.min() >= mouth[:, 1].min() - 6 and ys.max() <= mouth[:, 1].max() + 20
    core = (before - out).sum(1)[0] > 0.6  # clearly painted (the rest is the soft lip edge)
    assert core.sum() > 30 and out[0][:, core].mean() < 0.25  # mostly the dark cavity


def test_no_painting_over_a_portrait_whose_mouth_is_open(closed_face):
    p, lm = closed_face
    img = np.full((p.size, p.size, 3), 150, np.uint8)
    open_source = _opened(lm, 0.08 * np.linalg.norm(lm[33, :2] - lm[263, :2]))
    painter = MouthPainter.from_portrait(img, open_source)
    assert painter.strength == 0.0
    before, out = _paint(painter, p, open_source, _opened(open_source, 14.0))
    assert torch.equal(before, out)


def test_palette_follows_the_portrait_brightness(closed_face):
    p, lm = closed_face
    dark = MouthPainter.from_portrait(np.full((p.size, p.size, 3), 60, np.uint8), lm)
    bright = MouthPainter.from_portrait(np.full((p.size, p.size, 3), 200, np.uint8), lm)
    assert (dark.teeth < bright.teeth).all() and (dark.cavity < bright.cavity).all()


def test_training_batches_carry_the_painted_mouth(closed_face):
    """The training pairs paint the opened mouth into the network input exactly as inference does."""
    from anim3d.render.train import Clip, PairSampler, make_batch

    p, lm = closed_face
    frames = np.repeat(p.image[None], 2, 0)
    clip = Clip(frames, np.stack([lm, _opened(lm, 14.0)]).astype(np.float32), "synthetic")
    batches = {}
    for paint in (True, False):
        rng = np.random.default_rng(3)
        sampler = PairSampler([clip], rng, source_stride=2, paint=paint)
        sampler.sample = lambda s=sampler: (clip, *s.mesh(0, 0), 0, 1)  # source 0 (closed) -> target 1 (open)
        x, low, target, mouth = make_batch(sampler, 1, 64, rng, patch=None)
        assert x.shape == (1, 7, 64, 64) and low.shape == target.shape == (1, 3, 64, 64)
        batches[paint] = (low, mouth)
    low_p, mouth = batches[True]
    low_plain, _ = batches[False]
    inside = mouth[0, 0] > 0
    assert inside.sum() > 5
    assert low_p[0][:, inside].mean() < low_plain[0][:, inside].mean() - 0.1  # the dark cavity
    away = _dilate(mouth)[0, 0] == 0  # beyond the soft lip edge nothing is painted
    assert torch.equal(low_p[0][:, away], low_plain[0][:, away])


def _dilate(m):
    return torch.nn.functional.max_pool2d(m, 5, 1, 2)
