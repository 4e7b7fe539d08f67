"""MediaPipe face tracking (anim3d.tracking): landmarks, measurements, head pose, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from anim3d import landmarks as lmk
from anim3d import tracking as tr
from anim3d.errors import InputError


def write_video(path, frames, fps=30):
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height = frames[0].shape[1], frames[0].shape[0]
        s.pix_fmt = "yuv420p"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


@pytest.fixture(scope="module")
def astronaut():
    import skimage.data

    return skimage.data.astronaut()  # 512 x 512 x 3 uint8, one frontal face


def two_faces(astronaut):
    """A 512 x 512 frame with the astronaut's face twice, side by side."""
    import skimage.transform

    face = (skimage.transform.resize(astronaut[0:300, 100:400], (256, 256)) * 255).astype(np.uint8)
    canvas = np.full((512, 512, 3), 128, np.uint8)
    canvas[128:384, :256] = face
    canvas[128:384, 256:] = face
    return canvas


def to_mediapipe(points, aspect=1.0):
    """Inverse of to_metric_image."""
    p = np.asarray(points, dtype=np.float64)
    return np.stack([p[..., 0] / aspect, -p[..., 1], -p[..., 2] / aspect], axis=-1).astype(np.float32)


def test_track_image_gives_478_normalised_landmarks(astronaut):
    lm = tr.track_image(astronaut)
    assert lm.shape == (478, 3) and lm.dtype == np.float32
    assert (lm[:, :2] > 0).all() and (lm[:, :2] < 1).all()
    # the subject's right eye (33) appears on the image's left
    assert lm[lmk.RIGHT_EYE_OUTER, 0] < lm[lmk.LEFT_EYE_OUTER, 0]
    assert lm[lmk.UPPER_LIP_INNER, 1] < lm[lmk.LOWER_LIP_INNER, 1] + 1e-3


def test_track_image_errors(astronaut):
    with pytest.raises(InputError, match="no face"):
        tr.track_image(np.full((256, 256, 3), 128, np.uint8), path="grey.png")
    with pytest.raises(InputError, match="several faces"):
        tr.track_image(two_faces(astronaut), path="two.png")
    with pytest.raises(InputError, match="uint8"):
        tr.track_image(np.zeros((8, 8), np.float32))


def test_mouth_opening_and_aspect():
    lm = np.zeros((2, 478, 3), np.float32)
    lm[:, lmk.RIGHT_EYE_OUTER] = (0.3, 0.4, 0)
    lm[:, lmk.LEFT_EYE_OUTER] = (0.7, 0.4, 0)
    lm[:, lmk.UPPER_LIP_INNER] = (0.5, 0.7, 0)
    lm[0, lmk.LOWER_LIP_INNER] = (0.5, 0.7, 0)  # closed
    lm[1, lmk.LOWER_LIP_INNER] = (0.5, 0.8, 0)  # open by 0.1 image heights
    np.testing.assert_allclose(tr.mouth_opening(lm), [0.0, 0.1 / 0.4], atol=1e-6)
    # a 2:1 wide video: normalised x spans twice as many pixels, so the eyes are twice as far
    np.testing.assert_allclose(tr.mouth_opening(lm, aspect=2.0), [0.0, 0.1 / 0.8], atol=1e-6)


def test_eye_openness_tracks_lids():
    lm = np.zeros((2, 478, 3), np.float32)
    for outer, inner, up, lo, x0 in [(lmk.LEFT_EYE_OUTER, lmk.LEFT_EYE_INNER, lmk.LEFT_EYE_UPPER, lmk.LEFT_EYE_LOWER, 0.6),
                                     (lmk.RIGHT_EYE_OUTER, lmk.RIGHT_EYE_INNER, lmk.RIGHT_EYE_UPPER, lmk.RIGHT_EYE_LOWER, 0.2)]:
        lm[:, inner] = (x0, 0.4, 0)
        lm[:, outer] = (x0 + 0.2, 0.4, 0)
        lm[:, up] = (x0 + 0.1, 0.37, 0)
        lm[:, lo] = (x0 + 0.1, 0.43, 0)
    lm[1, lmk.LEFT_EYE_UPPER] = (0.7, 0.425, 0)  # left eye nearly closed in frame 1
    e = tr.eye_openness(lm)
    assert e.shape == (2, 2)
    np.testing.assert_allclose(e[0], [0.3, 0.3], atol=1e-5)
    np.testing.assert_allclose(e[1], [0.025, 0.3], atol=1e-5)


def test_similarity_align_recovers_transform():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(30, 3))
    r = Rotation.from_rotvec([0.3, -0.2, 0.1]).as_matrix()
    dst = 1.7 * src @ r.T + np.array([0.5, -1.0, 2.0])
    s, rr, t = tr.similarity_align(src, dst)
    assert abs(s - 1.7) < 1e-9
    np.testing.assert_allclose(rr, r, atol=1e-9)
    np.testing.assert_allclose(t, [0.5, -1.0, 2.0], atol=1e-9)


def test_head_pose_recovers_known_rotation_and_depth():
    ref = tr.reference_face()
    rots = Rotation.from_rotvec([[0, 0, 0], [0.2, 0, 0], [0, -0.3, 0], [0.1, 0.2, -0.15]])
    frames = []
    for k, rot in enumerate(rots):
        scale = 1.0 + 0.2 * k  # larger = nearer the camera
        p = scale * ref @ rot.as_matrix().T + np.array([0.5, -0.5, 0.0])
        frames.append(to_mediapipe(p))
    rotvec, trans = tr.head_pose(np.stack(frames))
    np.testing.assert_allclose(rotvec, rots.as_rotvec(), atol=1e-3)
    depth = -trans[:, 2]
    np.testing.assert_allclose(depth[0] / depth, 1.0 + 0.2 * np.arange(4), rtol=1e-3)
    np.testing.assert_allclose(trans[:, :2], 0.0, atol=1e-3)  # centred in the image


def test_track_video_on_generated_clip(tmp_path, astronaut):
    import skimage.transform

    small = (skimage.transform.resize(astronaut, (256, 256)) * 255).astype(np.uint8)
    frames = [small] * 6 + [np.full_like(small, 90)] * 2 + [small] * 4
    path = tmp_path / "clip.mp4"
    write_video(path, frames, fps=25)
    t = tr.track_video(path, progress=False)
    assert t.landmarks.shape == (12, 478, 3)
    assert t.fps == 25 and t.size == (256, 256)
    assert t.valid[:6].all() and not t.valid[6:8].any() and t.valid[8:].all()
    # the gap is filled from the neighbours, not left as zeros
    np.testing.assert_allclose(t.landmarks[7], t.landmarks[5], atol=0.02)
    assert tr.track_video(path, max_frames=3, progress=False).num_frames == 3


def test_track_video_errors(tmp_path, astronaut):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n")
    with pytest.raises(InputError, match="notes.mp4.*not a readable video"):
        tr.track_video(text)
    with pytest.raises(InputError, match="file not found"):
        tr.track_video(tmp_path / "missing.mp4")

    noface = tmp_path / "noface.mp4"
    rng = np.random.default_rng(0)
    write_video(noface, [rng.integers(0, 255, (128, 128, 3), dtype=np.uint8) for _ in range(4)])
    with pytest.raises(InputError, match="noface.mp4.*no face"):
        tr.track_video(noface, progress=False)

    two = tmp_path / "two.mp4"
    write_video(two, [two_faces(astronaut)] * 4)
    with pytest.raises(InputError, match="two.mp4.*several faces"):
        tr.track_video(two, progress=False)


def test_tiny_face_is_rejected(tmp_path, astronaut):
    import skimage.transform

    # the astronaut shrunk to 64 x 64 on a 256 x 256 canvas: too small, or not found at all
    tiny = (skimage.transform.resize(astronaut, (64, 64)) * 255).astype(np.uint8)
    canvas = np.full((256, 256, 3), 200, np.uint8)
    canvas[96:160, 96:160] = tiny
    path = tmp_path / "tiny.mp4"
    write_video(path, [canvas] * 3)
    with pytest.raises(InputError, match="tiny.mp4.*(too small|no face)"):
        tr.track_video(path, progress=False)


def test_real_video_mouth_moves(evaldata):
    t = tr.track_video(evaldata / "video" / "Obama_clip1.mp4", max_frames=90, progress=False)
    assert t.valid.all() and t.fps == 30
    m = t.mouth_opening()
    assert m.std() > 0.02 and m.min() < 0.05 < m.max()  # the speaker opens and closes the mouth
    e = t.eye_openness()
    assert (np.median(e, axis=0) > 0.15).all()  # eyes open most of the time
    rotvec, trans = t.head_pose()
    assert np.degrees(np.abs(rotvec)).max() < 45
    assert 0.2 < -trans[:, 2].mean() < 2.0  # metres from the camera, roughly
