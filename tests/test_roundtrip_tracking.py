"""Round trip: render the open head with known ARKit weights and a known, varying head pose
(rotation and translation), track the rendered video with MediaPipe, solve, and recover the
weights and the pose.

The head is textured with the portrait its face was built from
(``anim3d.data.importers.textured``) so that MediaPipe sees a face. Two solves of the same
tracking: the importer's default bounded least squares against the morph targets, and the
shipped decoder calibrated on other renders of the head (``anim3d.data.importers.decoder``:
3 x 900 frames of random weights and head poses, never the motion tested here; rebuilt by
``python -m anim3d.data.importers.decoder``, and checked here to match the current head,
portrait and mediapipe). A small calibration runs end to end in its own test.

    python tests/test_roundtrip_tracking.py [seed]   # prints the per-channel table
"""

from __future__ import annotations

import numpy as np
import pytest

CHANNELS = ("jawOpen", "mouthClose", "eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "mouthSmileRight", "browInnerUp")
FPS = 30.0
SIZE = 256
NEUTRAL = 20  # frames of neutral, frontal start in the known motion


def bumps(rng, t: int, count: int, width: tuple[float, float], height: tuple[float, float], start: int) -> np.ndarray:
    """A curve of ``count`` smooth bumps at random times after ``start``."""
    x = np.arange(t)
    out = np.zeros(t)
    for _ in range(count):
        c = rng.uniform(start, t - 3)
        w = rng.uniform(*width)
        out = np.maximum(out, rng.uniform(*height) * np.exp(-0.5 * ((x - c) / w) ** 2))
    return out


def known_motion(t: int = 150, seed: int = 0):
    """Motion with independent curves on the tested channels, a neutral start and head sway:
    rotation up to 7 deg pitch, 14 deg yaw, 4.6 deg roll; translation up to 1 cm per axis."""
    from anim3d.channels import INDEX
    from anim3d.motion import Motion

    rng = np.random.default_rng(seed)
    bs = np.zeros((t, 52), np.float32)
    bs[:, INDEX["jawOpen"]] = bumps(rng, t, 7, (2.5, 6), (0.3, 0.8), NEUTRAL)
    # lips pressed together while the jaw is open: only when the jaw is open
    bs[:, INDEX["mouthClose"]] = np.minimum(bumps(rng, t, 5, (3, 6), (0.3, 0.7), NEUTRAL), bs[:, INDEX["jawOpen"]])
    bs[:, INDEX["eyeBlinkLeft"]] = bumps(rng, t, 4, (1.5, 3), (0.6, 1.0), NEUTRAL)
    bs[:, INDEX["eyeBlinkRight"]] = bumps(rng, t, 4, (1.5, 3), (0.6, 1.0), NEUTRAL)
    bs[:, INDEX["mouthSmileLeft"]] = bumps(rng, t, 3, (5, 10), (0.4, 0.9), NEUTRAL)
    bs[:, INDEX["mouthSmileRight"]] = bumps(rng, t, 3, (5, 10), (0.4, 0.9), NEUTRAL)
    bs[:, INDEX["browInnerUp"]] = bumps(rng, t, 3, (5, 10), (0.5, 1.0), NEUTRAL)
    k = np.arange(t)
    bs *= np.clip((k - NEUTRAL) / 4.0, 0.0, 1.0)[:, None]  # the bumps' tails must not reach the neutral start
    rot = np.stack([0.12 * np.sin(k / 11.0), 0.25 * np.sin(k / 17.0 + 1.0), 0.08 * np.sin(k / 13.0 + 2.0)], axis=1)
    shift = np.stack([0.008 * np.sin(k / 19.0 + 0.5), 0.006 * np.sin(k / 23.0 + 1.5), 0.01 * np.sin(k / 29.0 + 2.5)], axis=1)
    ramp = np.clip((k - NEUTRAL) / 10.0, 0.0, 1.0)[:, None]  # sway eases in after the frontal start
    return Motion(bs, (rot * ramp).astype(np.float32), (shift * ramp).astype(np.float32), FPS)


def run_roundtrip(folder, seed: int = 0) -> dict:
    """Render, encode (H.264) and track the known motion; solve it with the least squares
    alone and with the shipped decoder. Returns known (Motion), plain and decoded
    (VideoFit), frames, decoder."""
    from anim3d.data.importers.decoder import default_decoder
    from anim3d.data.importers.textured import default_portrait, render_textured, texture_coords, write_video
    from anim3d.data.importers.video import fit_landmarks
    from anim3d.tracking import track_video
    from anim3d.flame.open_head import load_open_head, motion_to_vertices

    head = load_open_head()
    portrait = default_portrait()
    uv = texture_coords(head, portrait)
    motion = known_motion(seed=seed)
    verts = motion_to_vertices(head, motion).cpu().numpy()
    frames = render_textured(head, verts, portrait, uv, size=SIZE)
    path = str(folder / "roundtrip.mp4")
    write_video(path, frames, fps=FPS)
    tracking = track_video(path, progress=False)
    decoder = default_decoder(head, portrait)  # raises when calibrated for another head/portrait/mediapipe
    return {
        "known": motion,
        "plain": fit_landmarks(tracking, head=head),
        "decoded": fit_landmarks(tracking, head=head, decoder=decoder),
        "frames": frames,
        "decoder": decoder,
    }


def channel_correlations(known, fit) -> dict[str, float]:
    from anim3d.channels import INDEX

    n = min(known.num_frames, fit.motion.num_frames)
    return {c: float(np.corrcoef(known.blendshapes[:n, INDEX[c]], fit.motion.blendshapes[:n, INDEX[c]])[0, 1]) for c in CHANNELS}


def pose_errors(known, fit) -> tuple[np.ndarray, float, np.ndarray]:
    """Per-axis correlation of the rotation vectors, the max angle between the rotations
    (degrees), after removing the constant offset between the head's rest pose and what
    MediaPipe takes as frontal, and the per-axis correlation of the translations."""
    from scipy.spatial.transform import Rotation

    n = min(known.num_frames, fit.motion.num_frames)
    a = Rotation.from_rotvec(known.head_rotation[:n])
    b = Rotation.from_rotvec(fit.motion.head_rotation[:n])
    offset = (b[:NEUTRAL] * a[:NEUTRAL].inv()).mean()  # on the neutral start the known pose is zero
    b = offset.inv() * b
    r = np.array([np.corrcoef(a.as_rotvec()[:, k], b.as_rotvec()[:, k])[0, 1] for k in range(3)])
    t = np.array([np.corrcoef(known.head_translation[:n, k], fit.motion.head_translation[:n, k])[0, 1] for k in range(3)])
    return r, float(np.degrees((b * a.inv()).magnitude().max())), t


@pytest.fixture(scope="module")
def roundtrip(tmp_path_factory):
    return run_roundtrip(tmp_path_factory.mktemp("roundtrip"))


@pytest.mark.slow
def test_rendered_head_is_tracked_every_frame(roundtrip):
    assert roundtrip["decoded"].tracking.valid.all()


# The round trip's bar: r >= 0.9 on every tested channel with the calibrated decoder.
# Measured (``python tests/test_roundtrip_tracking.py``; deterministic, seed 0) on the open head with
# its neutral mouth and measured expression amplitudes (issue #28): jawOpen 0.977, mouthClose 0.907,
# eyeBlinkLeft 0.974, eyeBlinkRight 0.977, mouthSmileLeft 0.965, mouthSmileRight 0.982, browInnerUp
# 0.949 (the least-squares solve: 0.893, 0.493, 0.885, 0.964, 0.719, 0.916, 0.801). The head before
# it (a smiling rest mouth): 0.975, 0.962, 0.983, 0.984, 0.915, 0.934, 0.986 (least squares 0.941,
# 0.636, 0.954, 0.940, 0.329, 0.808, 0.793). With mouthSmile lifting the upper lip's border and noseSneer's
# deeper brow (issue #28, part 2): 0.983, 0.931, 0.980, 0.984, 0.971, 0.986, 0.967 (least squares 0.897,
# 0.423, 0.899, 0.962, 0.791, 0.919, 0.779: the smile's lip lift takes some of mouthClose's lip motion).
ISSUE_TARGET = 0.9


@pytest.mark.parametrize("channel", CHANNELS)
def test_weights_reach_issue_target(roundtrip, channel):
    r = channel_correlations(roundtrip["known"], roundtrip["decoded"])[channel]
    assert r >= ISSUE_TARGET, f"{channel}: correlation {r:.3f}"


# The importer's default solve (least squares on the morph targets, what real videos get)
# stays below the target on the small mouth shapes under head sway; a regression guard
# with a margin under what it reaches here.
PLAIN_FLOOR = {"jawOpen": 0.85, "mouthClose": 0.38, "eyeBlinkLeft": 0.85, "eyeBlinkRight": 0.9,
               "mouthSmileLeft": 0.2, "mouthSmileRight": 0.4, "browInnerUp": 0.7}


@pytest.mark.parametrize("channel", sorted(PLAIN_FLOOR))
def test_least_squares_solve_floor(roundtrip, channel):
    r = channel_correlations(roundtrip["known"], roundtrip["plain"])[channel]
    assert r >= PLAIN_FLOOR[channel], f"{channel}: correlation {r:.3f}"


@pytest.mark.parametrize("which", ["plain", "decoded"])
def test_no_channel_stays_on_at_rest(roundtrip, which):
    rest = roundtrip[which].motion.blendshapes[:15]  # the known motion is neutral for the first 20 frames
    assert rest.mean() < 0.02, rest.mean()
    assert rest.max() < 0.2, rest.max()


def test_pose_recovered(roundtrip):
    r, worst, t = pose_errors(roundtrip["known"], roundtrip["decoded"])
    assert (r >= 0.85).all(), r  # measured [0.940, 0.994, 0.976] (rotation-vector x, y, z; the smiling head: 0.891, 0.996, 0.969)
    assert worst < 10.0, worst  # degrees; measured 4.97 (the smiling head: 6.35)
    # translation of the neck pivot, measured [0.815, 0.862, 0.471] (the smiling head: [0.916, 0.852,
    # 0.409]; seed 1: [0.887, 0.888, 0.112]): x, y from the image position are recovered; depth, from
    # the face's image size (1 cm is 1.5 % of it, within MediaPipe's view-dependent scale error), is
    # not, and is not asserted
    assert t[0] >= 0.75 and t[1] >= 0.8, t


def test_decoder_chose_its_ridge_by_cross_validation(roundtrip):
    decoder = roundtrip["decoder"]
    grid = decoder.config.ridge_grid
    assert decoder.ridge.shape == (len(decoder.channels),)
    assert all(g in grid for g in decoder.ridge)


@pytest.mark.slow
def test_small_calibration_end_to_end(tmp_path):
    """The whole calibration on a short clip (render, encode, track, fit, save, load): the
    decoder it makes reads its own clip's jaw back, and its landmark cache is reused."""
    from anim3d.channels import INDEX
    from anim3d.data.importers.decoder import DecoderConfig, decoder_features, load_decoder, save_decoder
    from anim3d.data.importers.decoder_calibration import calibrate_decoder, calibration_motion
    from anim3d.data.importers.solve import ArkitSolver
    from anim3d.flame.open_head import load_open_head

    head = load_open_head()
    config = DecoderConfig(frames=90, seeds=(7,), folds=3)
    decoder = calibrate_decoder(head, config=config, cache_dir=tmp_path / "cache")
    cached = list((tmp_path / "cache").glob("decoder-landmarks-*.npz"))
    assert len(cached) == 1
    save_decoder(decoder, tmp_path / "dec")
    loaded = load_decoder(tmp_path / "dec")
    assert loaded.channels == decoder.channels and loaded.key == decoder.key
    np.testing.assert_allclose(loaded.matrix, decoder.matrix)
    import time

    start = time.time()
    again = calibrate_decoder(head, config=config, cache_dir=tmp_path / "cache")  # from the cache: no render
    assert time.time() - start < 30
    np.testing.assert_allclose(again.matrix, decoder.matrix)
    # the fit on its own (training) clip: the jaw comes back
    z = np.load(cached[0])
    motion = calibration_motion(config, 7)
    feats = decoder_features(z["landmarks"], 1.0, ArkitSolver(head), np.arange(config.rest_frames), config)
    jaw = loaded.predict(feats)[:, loaded.channels.index("jawOpen")]
    assert np.corrcoef(jaw, motion.blendshapes[:, INDEX["jawOpen"]])[0, 1] > 0.9


def test_load_decoder_errors_name_the_file(tmp_path):
    from anim3d.data.importers.decoder import load_decoder
    from anim3d.errors import InputError

    with pytest.raises(InputError, match="config.json"):
        load_decoder(tmp_path)
    (tmp_path / "config.json").write_text('{"format": "something else"}')
    with pytest.raises(InputError, match="config.json.*not a landmark decoder"):
        load_decoder(tmp_path)
    (tmp_path / "config.json").write_text('{"format": "anim3d.landmark_decoder/1"}')
    (tmp_path / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(InputError, match="model.safetensors.*unreadable"):
        load_decoder(tmp_path)


def test_tracked_smile_response_is_on_the_right_side():
    """What MediaPipe sees of each smile (``tracked_basis``) lies along that side's mesh
    shape, not the other side's: no left/right swap between the head, the render, the
    tracker and the solve."""
    from anim3d.channels import INDEX
    from anim3d.data.importers.textured import tracked_basis
    from anim3d.flame.open_head import load_open_head

    head = load_open_head()
    basis = tracked_basis(head, channels=("mouthSmileLeft", "mouthSmileRight"), size=SIZE)
    mesh = np.asarray(head.morph_targets, np.float64)[:, head.parts["mediapipe_468"]]

    def cos(a, b):
        return float((a * b).sum() / np.linalg.norm(a) / np.linalg.norm(b))

    for side, other in (("Left", "Right"), ("Right", "Left")):
        seen = basis[INDEX[f"mouthSmile{side}"]]
        same, crossed = cos(seen, mesh[INDEX[f"mouthSmile{side}"]]), cos(seen, mesh[INDEX[f"mouthSmile{other}"]])
        assert same > 0.4 and same > crossed + 0.2, (side, same, crossed)


if __name__ == "__main__":
    import pathlib
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        out = run_roundtrip(pathlib.Path(d), seed=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    import skimage.io

    skimage.io.imsave("/tmp/roundtrip_frames.png", np.concatenate([out["frames"][i] for i in (0, 30, 60, 90, 120)], axis=1))
    from anim3d.channels import ARKIT_NAMES

    known = out["known"]
    print("tracked frames:", f"{out['decoded'].tracking.valid.mean():.0%}")
    print(f"{'channel':<16} {'least squares':>13} {'decoder':>8}")
    plain, decoded = channel_correlations(known, out["plain"]), channel_correlations(known, out["decoded"])
    for c in CHANNELS:
        print(f"{c:<16} {plain[c]:>13.3f} {decoded[c]:>8.3f}")
    for which in ("plain", "decoded"):
        rest = out[which].motion.blendshapes[:15]
        top = np.argsort(rest.max(0))[-3:][::-1]
        print(f"{which}: at rest mean weight {rest.mean():.3f}, largest", ", ".join(f"{ARKIT_NAMES[i]} {rest[:, i].max():.2f}" for i in top))
    r, worst, t = pose_errors(known, out["decoded"])
    print("rotation r per axis:", np.round(r, 3), f"max error {worst:.2f} deg;", "translation r per axis:", np.round(t, 3))
    print("decoder ridge per channel:", dict(zip(out["decoder"].channels, out["decoder"].ridge.tolist())))
