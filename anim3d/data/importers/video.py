"""Talking-face video -> Utterance: MediaPipe Face Mesh tracks every frame
(``anim3d.tracking``), ARKit weights and head pose are solved per frame against the open
head's morph targets (``solve.ArkitSolver``), the audio track is decoded with
``anim3d.audio.load_audio``, and the Motion is resampled from the video's rate to 30 fps.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from anim3d.motion import Motion

MOTION_FPS = 30.0


@dataclass
class VideoFit:
    """Everything the video import measured: the Motion (30 fps) and what it came from."""

    motion: Motion
    tracking: "object"  # anim3d.tracking.Tracking
    solved: "object"  # solve.Solved, at the video's frame rate


def default_head():
    from anim3d.flame.open_head import load_open_head

    return load_open_head()


def fit_landmarks(tracking, head=None, config=None, basis=None, decoder=None) -> VideoFit:
    """A Tracking -> VideoFit (Motion at 30 fps) through the ARKit solve. basis: the
    solver's 52 x 468 x 3 shape basis (default: the head's morph targets at the landmarks;
    ``textured.tracked_basis`` measures what MediaPipe sees of each shape); decoder:
    a ``decoder.LandmarkDecoder`` calibrated on renders (``decoder.default_decoder`` or
    ``decoder_calibration.calibrate_decoder``), whose channels replace the solve's (default none: the
    solve alone; ``solved.residual`` stays the least-squares fit's)."""
    from anim3d.channels import INDEX
    from anim3d.data.importers.solve import ArkitSolver, neutral_frames

    solver = ArkitSolver(default_head() if head is None else head, config=config, basis=basis)
    solved = solver.fit(tracking.landmarks, aspect=tracking.aspect)
    if decoder is not None:
        ref = neutral_frames(tracking.landmarks, tracking.aspect, solver.config.neutral_fraction)
        decoded = decoder.weights(tracking.landmarks, tracking.aspect, solver, ref)  # T x C
        solved.weights[:, [INDEX[c] for c in decoder.channels]] = decoded.astype(solved.weights.dtype)
    motion = Motion(solved.weights, solved.head_rotation, solved.head_translation, fps=tracking.fps)
    if abs(tracking.fps - MOTION_FPS) > 1e-6:
        motion = motion.resample(MOTION_FPS)
    motion.blendshapes = np.clip(motion.blendshapes, 0.0, 1.0)
    return VideoFit(motion=motion, tracking=tracking, solved=solved)


def video_motion(path: str | os.PathLike, *, head=None, config=None, max_frames: int | None = None, progress: bool = True,
                 basis=None, decoder=None) -> VideoFit:
    """Track a talking-face video and solve its Motion (30 fps). Raises InputError naming
    the file for a file that is not a video, no face, several faces or a tiny face."""
    from anim3d.tracking import track_video

    tracking = track_video(path, max_frames=max_frames, progress=progress)
    return fit_landmarks(tracking, head=head, config=config, basis=basis, decoder=decoder)


def import_video(path: str | os.PathLike, *, head=None, config=None, max_frames: int | None = None, progress: bool = True,
                 speaker: str | None = None, align_audio: bool = False):
    """A talking-face video with its sound -> ``anim3d.data.shards.Utterance`` (source "video").

    The audio is checked first (a video without a usable audio track fails fast with an
    AudioError naming the file); the Motion is cut or padded to the audio's duration. With
    ``align_audio`` the Motion is first shifted by the file's audio-video offset, estimated from the
    audio and the tracked lip gap (``anim3d.eval.avsync``; 0 when the estimate is not confident), so
    that its mouth moves with the sound; ``labels["av_offset_s"]`` records the shift.
    """
    from anim3d.audio import load_audio

    path = os.fspath(path)
    audio = load_audio(path)
    fit = video_motion(path, head=head, config=config, max_frames=max_frames, progress=progress)
    motion, shift = fit.motion, 0.0
    if align_audio:
        from anim3d.eval.avsync import estimate_av_offset

        t = fit.tracking
        offset = estimate_av_offset(audio.samples, audio.sample_rate, t.mouth_opening(), t.fps, valid=t.valid)
        shift = offset.lag / t.fps
        motion = shift_motion(motion, int(round(shift * motion.fps)))
    motion = match_duration(motion, audio.duration if max_frames is None else None)
    stem = os.path.splitext(os.path.basename(path))[0]
    if max_frames is not None:  # a partial track: keep the audio that goes with it
        audio = _cut_audio(audio, motion.duration)
    return make_utterance(
        uid=f"video-{stem}",
        audio=audio,
        motion=motion,
        source="video",
        speaker=speaker or stem,
        extra={"tracked_fraction": float(fit.tracking.valid.mean()), "video_fps": float(fit.tracking.fps), "path": path,
               "av_offset_s": shift},
    )


def shift_motion(motion: Motion, frames: int) -> Motion:
    """The Motion ``frames`` later (> 0: its first frame held before it) or earlier (< 0: its first frames
    dropped and its last one held), at the same length."""
    n = motion.num_frames
    k = int(np.clip(frames, -(n - 1), n - 1))
    idx = np.clip(np.arange(n) - k, 0, n - 1)
    return Motion(motion.blendshapes[idx], motion.head_rotation[idx], motion.head_translation[idx], fps=motion.fps)


def match_duration(motion: Motion, seconds: float | None) -> Motion:
    """Cut or pad (holding the last frame) the Motion to ``seconds``."""
    if seconds is None:
        return motion
    n = max(1, int(round(seconds * motion.fps)))
    if n <= motion.num_frames:
        return motion[:n]
    pad = ((0, n - motion.num_frames), (0, 0))
    return Motion(
        np.pad(motion.blendshapes, pad, mode="edge"),
        np.pad(motion.head_rotation, pad, mode="edge"),
        np.pad(motion.head_translation, pad, mode="edge"),
        fps=motion.fps,
    )


def _cut_audio(audio, seconds: float):
    from anim3d.audio import Audio

    n = int(round(seconds * audio.sample_rate))
    return Audio(samples=audio.samples[:n], sample_rate=audio.sample_rate, path=audio.path)


def make_utterance(*, uid: str, audio, motion: Motion, source: str, speaker: str, extra: dict | None = None, text: str = ""):
    """Build an ``anim3d.data.shards.Utterance`` for a real recording: no phones (none are
    known), no emotion label (unknown; readers default to neutral), ``labels["source"]``
    set, ``voice`` = the person or clip (the by-voice split key)."""
    from anim3d.data.shards import Utterance

    labels = {"source": source}
    labels.update({k: v for k, v in (extra or {}).items() if v is not None})
    return Utterance(id=uid, audio=audio, motion=motion, phones=[], text=text, voice=speaker, speaker=speaker, labels=labels)
