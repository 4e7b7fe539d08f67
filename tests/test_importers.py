"""Real-data importers: the ARKit solve on synthetic landmarks, video/Live Link/FLAME imports, errors."""

from __future__ import annotations

import numpy as np
import pytest
from anim3d.flame.head import HeadModel
from scipy.spatial.transform import Rotation

from anim3d import landmarks as lmk
from anim3d import tracking as tr
from anim3d.channels import ARKIT_NAMES, INDEX
from anim3d.data.importers.solve import (
    GAZE_CHANNELS,
    UNSOLVED_CHANNELS,
    ArkitSolver,
    SolverConfig,
    gaze_weights,
)
from anim3d.errors import InputError


def synthetic_head(seed: int = 0) -> HeadModel:
    """A head whose vertices are MediaPipe's reference landmarks (metres) and whose morph
    targets are smooth random local displacement fields (zero for the unsolved channels)."""
    rng = np.random.default_rng(seed)
    ref = tr.reference_face()[:468] * (0.095 / 0.118)  # image-height units -> ~metres
    v = len(ref)
    targets = np.zeros((52, v, 3), np.float32)
    for k, name in enumerate(ARKIT_NAMES):
        if name in UNSOLVED_CHANNELS:
            continue
        centre = ref[rng.integers(v)]
        falloff = np.exp(-((ref - centre) ** 2).sum(-1) / (2 * 0.02**2))  # 2 cm radius
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        targets[k] = 0.006 * falloff[:, None] * direction
    targets[:, lmk.RIGID_LANDMARKS] *= 0.05  # the rigid points barely move
    return HeadModel(
        vertices=ref.astype(np.float32),
        faces=np.array([[0, 1, 2]], np.int32),
        morph_targets=targets,
        joints=np.zeros((5, 3), np.float32),
        skin_weights=np.tile(np.array([1, 0, 0, 0, 0], np.float32), (v, 1)),
        parts={"mediapipe_468": np.arange(v)},
        name="synthetic",
    )


def smooth_weights(rng, t: int, k: int) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    w = gaussian_filter1d(rng.normal(size=(t, k)), 4, axis=0)
    w = np.clip(w / w.std(0) * 0.35, 0, 1)  # about half the time at 0, like real weights
    return w


def to_mediapipe(points, aspect=1.0):
    p = np.asarray(points, dtype=np.float64)
    return np.stack([p[..., 0] / aspect, -p[..., 1], -p[..., 2] / aspect], axis=-1).astype(np.float32)


def test_solver_recovers_weights_and_pose_from_synthetic_landmarks():
    rng = np.random.default_rng(1)
    head = synthetic_head()
    t = 80
    w = smooth_weights(rng, t, 52)
    w[:, [INDEX[n] for n in UNSOLVED_CHANNELS]] = 0
    w[:10] = 0  # a neutral start
    rot = Rotation.from_rotvec(np.stack([0.15 * np.sin(np.arange(t) / 9), 0.2 * np.cos(np.arange(t) / 13), 0.05 * np.sin(np.arange(t) / 7)], 1))
    verts = head.vertices + np.einsum("tk,kvc->tvc", w, head.morph_targets)  # T x 468 x 3 metres
    scale = 1.2  # image-height units per metre: a face ~11 % of the frame height
    pts = scale * np.einsum("tij,tvj->tvi", rot.as_matrix(), verts) + np.array([0.5, -0.5, 0.0])
    # irises at the eye centres so the landmark array is complete
    lm = np.concatenate([pts, np.repeat(pts[:, [33]], 10, axis=1)], axis=1)
    # the plain bounded least squares (no priors) recovers the weights exactly
    exact = SolverConfig(smooth_sigma_frames=0.0, sparsity=0.0, secondary_cost=1.0, distance_weight=0.0)
    solved = ArkitSolver(head, config=exact).fit(to_mediapipe(lm), neutral=np.arange(10))
    assert solved.weights.shape == (t, 52) and solved.weights.dtype == np.float32
    assert solved.weights.min() >= 0 and solved.weights.max() <= 1
    for name in ARKIT_NAMES:
        if name in UNSOLVED_CHANNELS:
            continue
        k = INDEX[name]
        err = np.abs(solved.weights[:, k] - w[:, k]).max()
        assert err < 0.06, (name, err)
    np.testing.assert_allclose(solved.head_rotation, rot.as_rotvec(), atol=2e-3)
    assert solved.residual.max() < 2e-4  # metres
    # with the default priors (sparsity, a high cost on the secondary shapes, distance rows)
    # a face that moves only the primary shapes comes out close
    from anim3d.data.importers.solve import PRIMARY_CHANNELS

    primary = [INDEX[n] for n in PRIMARY_CHANNELS]
    w2 = np.zeros_like(w)
    w2[:, primary] = w[:, primary]
    verts2 = head.vertices + np.einsum("tk,kvc->tvc", w2, head.morph_targets)
    pts2 = scale * np.einsum("tij,tvj->tvi", rot.as_matrix(), verts2) + np.array([0.5, -0.5, 0.0])
    lm2 = np.concatenate([pts2, np.repeat(pts2[:, [33]], 10, axis=1)], axis=1)
    default = ArkitSolver(head).fit(to_mediapipe(lm2), neutral=np.arange(10))
    err = np.abs(default.weights[:, primary] - w2[:, primary])
    assert err.mean() < 0.06, err.mean()  # measured 0.043 (the L1 and the smoothing shrink a little)
    others = [k for k in range(52) if k not in primary and ARKIT_NAMES[k] not in UNSOLVED_CHANNELS]
    assert default.weights[:, others].max() < 0.1  # nothing invented elsewhere


def test_gaze_from_irises():
    # eye corners at +-1 around the centre (width 2), iris moved towards the subject's left and down
    aligned = np.zeros((3, 478, 3))
    for inner, outer, iris, cx in ((lmk.LEFT_EYE_INNER, lmk.LEFT_EYE_OUTER, lmk.LEFT_IRIS_CENTER, 3.0),
                                   (lmk.RIGHT_EYE_INNER, lmk.RIGHT_EYE_OUTER, lmk.RIGHT_IRIS_CENTER, -3.0)):
        aligned[:, inner] = (cx - np.sign(cx), 0, 0)
        aligned[:, outer] = (cx + np.sign(cx), 0, 0)
        aligned[:, iris] = (cx, 0, 0)
        aligned[1, iris] = (cx + 0.3, 0, 0)  # looks to the subject's left
        aligned[2, iris] = (cx, -0.2, 0)  # looks down
    g = dict(zip(GAZE_CHANNELS, gaze_weights(aligned).T))
    assert g["eyeLookOutLeft"][1] > 0.5 and g["eyeLookInRight"][1] > 0.5
    assert g["eyeLookInLeft"][1] == 0 and g["eyeLookOutRight"][1] == 0
    assert g["eyeLookDownLeft"][2] > 0.5 and g["eyeLookUpLeft"][2] == 0
    assert all(v[0] == 0 for v in g.values())  # the median gaze counts as straight ahead


# ------------------------------------------------------------------ FLAME sequences


def test_flame_to_arkit_inverts_a_linear_map():
    from anim3d.data.importers.flame_seq import flame_to_arkit

    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(50 + 3, 52)) * np.r_[np.ones(50), 0.05 * np.ones(3)][:, None]  # jaw rows in radians
    w = np.clip(rng.uniform(-0.5, 1.2, size=(6, 52)), 0, 1)
    target = w @ matrix.T  # T x 53
    got = flame_to_arkit(target[:, :50], target[:, 50:], matrix)
    np.testing.assert_allclose(got, w, atol=1e-6)
    # more expression coefficients than the map knows: the extra ones are ignored
    got = flame_to_arkit(np.concatenate([target[:, :50], np.zeros((6, 50))], 1), target[:, 50:], matrix)
    np.testing.assert_allclose(got, w, atol=1e-6)


def test_eye_pose_to_gaze_inverts_motion_eye_rotations():
    from anim3d.data.importers.flame_seq import eye_pose_to_gaze
    from anim3d.motion import Motion

    bs = np.zeros((3, 52), np.float32)
    bs[1, INDEX["eyeLookOutLeft"]] = bs[1, INDEX["eyeLookInRight"]] = 0.6
    bs[2, INDEX["eyeLookDownLeft"]] = bs[2, INDEX["eyeLookDownRight"]] = 0.5
    m = Motion(bs, np.zeros((3, 3)), np.zeros((3, 3)), 30)
    eyes = m.eye_rotations().reshape(3, 6)
    got = eye_pose_to_gaze(eyes)
    gaze = [INDEX[n] for n in GAZE_CHANNELS]
    np.testing.assert_allclose(got[:, gaze], bs[:, gaze], atol=1e-5)


def test_read_flame_sequence_errors(tmp_path):
    from anim3d.data.importers.flame_seq import read_flame_sequence

    good = tmp_path / "seq.npz"
    np.savez(good, exp=np.zeros((5, 10)), jaw=np.zeros((5, 3)), fps=25)
    d = read_flame_sequence(good)
    assert d["fps"] == 25.0 and d["expression"].shape == (5, 10) and d["neck_pose"].shape == (5, 3)

    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="junk.npz.*not a readable NPZ"):
        read_flame_sequence(tmp_path / "junk.npz")
    np.savez(tmp_path / "nojaw.npz", expression=np.zeros((5, 10)), fps=30)
    with pytest.raises(InputError, match="nojaw.npz.*'jaw_pose'"):
        read_flame_sequence(tmp_path / "nojaw.npz")
    np.savez(tmp_path / "nofps.npz", expression=np.zeros((5, 10)), jaw_pose=np.zeros((5, 3)))
    with pytest.raises(InputError, match="nofps.npz.*fps"):
        read_flame_sequence(tmp_path / "nofps.npz")
    np.savez(tmp_path / "short.npz", expression=np.zeros((5, 10)), jaw_pose=np.zeros((4, 3)), fps=30)
    with pytest.raises(InputError, match="short.npz.*'jaw_pose' must be 5 x 3"):
        read_flame_sequence(tmp_path / "short.npz")
    np.savez(tmp_path / "nan.npz", expression=np.full((5, 10), np.nan), jaw_pose=np.zeros((5, 3)), fps=30)
    with pytest.raises(InputError, match="nan.npz.*NaN"):
        read_flame_sequence(tmp_path / "nan.npz")


# ------------------------------------------------------------------ Live Link Face


def test_find_take_audio(tmp_path):
    from anim3d.data.importers.livelink import find_take_audio

    csv = tmp_path / "Slate_1_iPhone_raw.csv"
    csv.write_text("Timecode,BlendShapeCount\n")
    with pytest.raises(InputError, match="Slate_1_iPhone_raw.csv.*no audio beside the take"):
        find_take_audio(csv)
    (tmp_path / "Slate_1_iPhone.mov").write_bytes(b"x")
    assert find_take_audio(csv).endswith("Slate_1_iPhone.mov")


# ------------------------------------------------------------------ whole imports -> Utterance


def speech_like(seconds: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def smooth_motion(t: int, fps: float, seed: int = 0):
    from anim3d.motion import Motion

    rng = np.random.default_rng(seed)
    w = smooth_weights(rng, t, 52).astype(np.float32)
    rot = (0.1 * np.sin(np.arange(t)[:, None] / np.array([9.0, 13.0, 17.0]))).astype(np.float32)
    return Motion(w, rot, np.zeros((t, 3), np.float32), fps)


def test_import_livelink_take(tmp_path):
    from anim3d.exporters.livelink import write_livelink_csv

    from anim3d.audio import save_wav
    from anim3d.data.importers.livelink import import_livelink

    motion = smooth_motion(60, 60.0)  # a 60 fps take, 1 s
    csv = tmp_path / "Slate_3_iPhone.csv"
    write_livelink_csv(motion, csv)
    save_wav(tmp_path / "Slate_3_iPhone.wav", speech_like(1.0), 16000)
    utt = import_livelink(csv)
    assert utt.source == "livelink" and utt.phones == [] and utt.voice == "Slate_3_iPhone"
    assert utt.motion.fps == 30.0 and utt.motion.num_frames == 30
    assert utt.audio.sample_rate == 16000 and abs(utt.audio.duration - 1.0) < 1e-3
    # resampled to 30 fps: frame k of the import is frame 2k of the take
    np.testing.assert_allclose(utt.motion.blendshapes[:29], motion.blendshapes[0:58:2], atol=2e-3)
    np.testing.assert_allclose(utt.motion.head_rotation[:29], motion.head_rotation[0:58:2], atol=2e-3)


def test_import_livelink_errors(tmp_path):
    from anim3d.audio import save_wav
    from anim3d.data.importers.livelink import import_livelink
    from anim3d.errors import AudioError

    other = tmp_path / "sales.csv"
    other.write_text("date,amount\n2024-01-01,3\n")
    save_wav(tmp_path / "sales.wav", speech_like(0.5), 16000)
    with pytest.raises(InputError, match="sales.csv.*not a Live Link Face take"):
        import_livelink(other)

    from anim3d.exporters.livelink import write_livelink_csv

    write_livelink_csv(smooth_motion(30, 30.0), tmp_path / "take.csv")
    (tmp_path / "take.wav").write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(AudioError, match="take.wav"):
        import_livelink(tmp_path / "take.csv")


def test_import_flame_sequence_round_trip(tmp_path):
    from anim3d.flame.arkit_mapping import map_motion_to_flame

    from anim3d.audio import save_wav
    from anim3d.data.importers.flame_seq import import_flame_sequence, load_mapping

    amap = load_mapping("open")  # the open head in FLAME form: no licensed model needed
    motion = smooth_motion(30, 30.0, seed=4)
    look = [INDEX[n] for n in GAZE_CHANNELS]
    motion.blendshapes[:, look] = 0
    params = map_motion_to_flame(motion, amap)
    pose = params.pose.reshape(-1, 5, 3)
    neck = Rotation.from_rotvec(pose[:, 1])
    root = Rotation.from_rotvec(np.tile([0.0, 0.1, 0.0], (30, 1)))  # a turned body
    np.savez(tmp_path / "seq.npz", expression=params.expression, jaw_pose=pose[:, 2], neck_pose=(root.inv() * neck).as_rotvec(),
             global_orient=root.as_rotvec(), eye_pose=pose[:, 3:].reshape(-1, 6), fps=30)
    save_wav(tmp_path / "seq.wav", speech_like(1.0), 16000)
    utt = import_flame_sequence(tmp_path / "seq.npz", amap=amap)
    assert utt.source == "flame" and utt.motion.num_frames == 30
    # the recovered weights drive FLAME the same way (the map need not be one-to-one)
    again = map_motion_to_flame(utt.motion, amap)
    scale = np.abs(params.expression).max()
    assert np.abs(again.expression - params.expression).max() < 0.05 * scale
    np.testing.assert_allclose(again.pose.reshape(-1, 5, 3)[:, 2], pose[:, 2], atol=0.01)  # jaw
    np.testing.assert_allclose(utt.motion.head_rotation, motion.head_rotation, atol=1e-5)  # root then neck


def test_import_flame_needs_its_model(tmp_path):
    from anim3d.audio import save_wav
    from anim3d.data.importers.flame_seq import import_flame_sequence

    np.savez(tmp_path / "seq.npz", expression=np.zeros((5, 10)), jaw_pose=np.zeros((5, 3)), fps=30)
    save_wav(tmp_path / "seq.wav", speech_like(0.5), 16000)
    with pytest.raises(InputError, match="FLAME model"):
        import_flame_sequence(tmp_path / "seq.npz")


def test_import_command_writes_a_readable_shard(tmp_path):
    from anim3d.exporters.livelink import write_livelink_csv

    from anim3d.audio import save_wav
    from anim3d.cli import main
    from anim3d.data.shards import read_shard

    for k in range(2):
        write_livelink_csv(smooth_motion(45, 30.0, seed=k), tmp_path / f"take{k}.csv")
        save_wav(tmp_path / f"take{k}.wav", speech_like(1.5), 16000)
    out = tmp_path / "real"
    assert main(["import", "livelink", str(tmp_path / "take0.csv"), str(tmp_path / "take1.csv"), "--out", str(out), "-q"]) == 0
    shards = sorted(out.glob("*.npz"))
    assert len(shards) == 1
    utts = read_shard(shards[0])
    assert [u.id for u in utts] == ["livelink-take0", "livelink-take1"]
    assert all(u.source == "livelink" and u.motion.num_frames == 45 for u in utts)
    assert (out / "index.json").is_file()
    # a bad input: one clear error, exit code 2, no shard written
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["import", "livelink", str(bad), "--out", str(tmp_path / "none"), "-q"]) == 2
    assert not (tmp_path / "none").exists()


@pytest.mark.slow
def test_import_video_from_evaldata(evaldata):
    from anim3d.data.importers.video import import_video

    utt = import_video(evaldata / "video" / "Obama_clip1.mp4", max_frames=90, progress=False)
    assert utt.source == "video" and utt.voice == "Obama_clip1"
    assert utt.motion.fps == 30.0 and utt.motion.num_frames == 90
    assert abs(utt.audio.duration - 3.0) < 0.05
    jaw = utt.motion.channel("jawOpen")
    assert jaw.max() > 0.1 and jaw.std() > 0.02  # the speaker's jaw moves
    assert utt.labels["tracked_fraction"] == 1.0


def write_video_with_audio(path, frames, seconds: float) -> None:
    import av

    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=30)
        v.width, v.height, v.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        a = c.add_stream("aac", rate=16000)
        for f in frames:
            for p in v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        pcm = speech_like(seconds)
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="flt", layout="mono")
        frame.sample_rate = 16000
        for p in a.encode(frame):
            c.mux(p)
        for p in a.encode():
            c.mux(p)


def test_import_video_errors(tmp_path):
    from anim3d.data.importers.textured import write_video
    from anim3d.data.importers.video import import_video
    from anim3d.errors import AudioError

    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (6, 128, 128, 3), dtype=np.uint8)
    silent = tmp_path / "silent.mp4"
    write_video(str(silent), noise)
    with pytest.raises(AudioError, match="silent.mp4"):  # no audio track: caught before tracking
        import_video(silent, progress=False)
    noface = tmp_path / "noface.mp4"
    write_video_with_audio(noface, list(noise), 0.5)
    with pytest.raises(InputError, match="noface.mp4.*no face"):
        import_video(noface, progress=False)


def test_shift_motion_moves_frames_and_keeps_the_length():
    from anim3d.data.importers.video import shift_motion
    from anim3d.motion import Motion

    m = Motion.neutral(10)
    m.blendshapes[:, 17] = np.arange(10) / 10
    later, earlier = shift_motion(m, 3), shift_motion(m, -2)
    assert later.num_frames == earlier.num_frames == 10
    np.testing.assert_allclose(later.channel("jawOpen"), [0, 0, 0, 0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6], atol=1e-7)
    np.testing.assert_allclose(earlier.channel("jawOpen"), [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.9, 0.9], atol=1e-7)
    assert np.array_equal(shift_motion(m, 0).blendshapes, m.blendshapes)


@pytest.mark.slow
def test_import_video_aligns_the_motion_with_the_audio(evaldata):
    """Obama_clip1's audio is late in the file (a confident offset of several frames): aligned, the imported
    mouth is that many frames later than as tracked, and the shift is recorded."""
    from anim3d.data.importers.video import import_video

    path = evaldata / "video" / "Obama_clip1.mp4"
    plain = import_video(path, max_frames=450, progress=False)
    aligned = import_video(path, max_frames=450, progress=False, align_audio=True)
    shift = aligned.labels["av_offset_s"]
    assert 0.05 < shift < 0.34  # 2-10 frames at the clip's 30 fps
    k = int(round(shift * 30))
    np.testing.assert_allclose(aligned.motion.blendshapes[k:], plain.motion.blendshapes[:-k], atol=1e-6)
    assert plain.labels["av_offset_s"] == 0.0
