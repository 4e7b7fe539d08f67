"""Real-speaker evaluation: talking-face videos with audio, tracked with MediaPipe Face Mesh
(``anim3d.tracking``) as ground truth; each method animates the video's audio and is scored
against the real speaker.

Per clip and method: Pearson correlation between the generated and the tracked mouth
opening at lag 0, at the clip's audio-video offset (estimated from the audio and the
tracked mouth only, ``anim3d.eval.avsync``; the same lag for every method in the clip), and
at the method's own best lag within +/- 10 frames (0.33 s); timing (DTW lead or lag in ms,
``anim3d.eval.timing``); lips-shut share and opening per phone class (``anim3d.eval.articulation``,
phones recognised in the audio); head-motion intensity dP (VASA-1) and blink rate next to the
real speaker's.

Tracking results are cached in ``$ANIM3D_CACHE/tracking/`` (default ``~/.cache/anim3d``) keyed by
the video's SHA-256 (and a cache version), and recognised phones beside them
(``anim3d.eval.cache``), so reruns skip the tracker and the recogniser.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anim3d.audio import MEDIA_EXTENSIONS
from anim3d.errors import InputError
from anim3d.eval import metrics as M
from anim3d.eval.articulation import class_openings, shut_share
from anim3d.eval.cache import cache_root, file_hash
from anim3d.eval.mouth import mouth_opening
from anim3d.eval.timing import dtw_timing

CACHE_VERSION = 1
_AUDIO_ONLY = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".aif", ".aiff")
# video containers: the media extensions that carry pictures, and MPEG program streams (GRID's .mpg)
VIDEO_EXTS = tuple(e for e in MEDIA_EXTENSIONS if e not in _AUDIO_ONLY) + (".mpg", ".mpeg", ".m4v")
MAX_LAG = 10  # frames
DP_SMOOTH = 9  # frames (0.3 s): dP is also reported after removing tracker jitter
NAN = float("nan")


def cache_dir() -> Path:
    return cache_root() / "tracking"


@dataclass
class RealTrack:
    """What evaluation needs from a tracked video (all at the video's fps)."""

    mouth: np.ndarray  # T   inner-lip gap / inter-ocular distance
    eyes: np.ndarray  # T x 2  eyelid gap / eye width (left, right)
    head_rotation: np.ndarray  # T x 3 axis-angle radians
    valid: np.ndarray  # T bool
    fps: float


def _load_cached(path: Path) -> RealTrack | None:
    if not path.exists():
        return None
    try:
        with np.load(path) as z:
            return RealTrack(z["mouth"], z["eyes"], z["head_rotation"], z["valid"], float(z["fps"]))
    except (OSError, KeyError, ValueError):
        return None  # a damaged cache entry: track again


def track_cached(
    path: str | os.PathLike, *, use_cache: bool = True, progress: bool = True, max_frames: int | None = None
) -> RealTrack:
    """Track ``path`` (or its first ``max_frames`` frames), or load the cached result.
    A cached whole-video track also serves any shorter request."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(path, "video not found")
    digest = file_hash(path)
    full = cache_dir() / f"{digest}-v{CACHE_VERSION}.npz"
    part = cache_dir() / f"{digest}-v{CACHE_VERSION}-n{max_frames}.npz"
    if use_cache:
        for candidate in (full, part) if max_frames else (full,):
            rt = _load_cached(candidate)
            if rt is not None:
                return _first(rt, max_frames)
    from anim3d.fileio import atomic_output
    from anim3d.tracking import track_video

    tr = track_video(path, progress=progress, max_frames=max_frames)
    rot, _ = tr.head_pose()
    rt = RealTrack(tr.mouth_opening(), tr.eye_openness(), rot, tr.valid, tr.fps)
    if use_cache:
        target = part if max_frames else full
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(target) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, mouth=rt.mouth, eyes=rt.eyes, head_rotation=rt.head_rotation, valid=rt.valid, fps=rt.fps)
    return rt


def _first(rt: RealTrack, n: int | None) -> RealTrack:
    if n is None:
        return rt
    return RealTrack(rt.mouth[:n], rt.eyes[:n], rt.head_rotation[:n], rt.valid[:n], rt.fps)


def find_videos(folder: str | os.PathLike) -> list[Path]:
    """The videos in ``folder`` (every ``VIDEO_EXTS`` container), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "videos folder not found")
    vids = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTS and p.is_file())
    if not vids:
        raise InputError(folder, f"no videos ({', '.join(VIDEO_EXTS)}) in the folder")
    return vids


def find_videos_in(folders: list[str | os.PathLike]) -> list[Path]:
    """``find_videos`` of each folder, in order; an InputError when two clips share a name
    (clips are told apart by file stem)."""
    videos, seen = [], {}
    for folder in folders:
        for v in find_videos(folder):
            if v.stem in seen:
                raise InputError(v, f"has the same name as {seen[v.stem]}; clips are told apart by name")
            seen[v.stem] = v
            videos.append(v)
    return videos


@dataclass
class ClipResult:
    clip: str
    method: str
    r: float  # Pearson at lag 0
    lag: int  # best lag, frames (> 0: generated is late)
    r_best: float  # Pearson at the best lag
    dp: float  # head-motion intensity, degrees per frame at 30 fps
    dp_smooth: float  # the same after Savitzky-Golay smoothing over DP_SMOOTH frames
    blinks: float  # per minute
    source: str  # mouth-opening source: mesh / blendshapes / tracked
    curve: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    fps: float = 30.0
    av_lag: int = 0  # the clip's estimated audio-video offset, frames (> 0: audio late)
    r_av: float = NAN  # Pearson at av_lag
    seed: int = 0
    timing_ms: float = NAN  # DTW mean signed offset after the AV offset (> 0: generated late)
    timing_abs_ms: float = NAN  # DTW mean absolute offset
    shut: float = NAN  # share of frames with the lips shut (``articulation.SHUT_BELOW``)
    classes: dict = field(default_factory=dict)  # phone class -> (mean relative opening, phones)

    @property
    def xcorr_ms(self) -> float:
        """The best lag relative to the AV offset, ms (> 0: generated late)."""
        return 1000.0 * (self.lag - self.av_lag) / self.fps


@dataclass
class RealClip:
    """One video prepared for scoring: its track, audio and audio-video offset."""

    name: str
    track: RealTrack
    audio: object  # Audio
    frames: int
    offset: object  # avsync.AVOffset
    phones: list | None = None  # recognised phones (audio time), when asked for


def load_clip(video: Path, max_seconds: float | None = None, progress: bool = True, phones: bool = False) -> RealClip:
    """Track (cached) and load ``video`` (its first ``max_seconds``), estimate its AV offset and,
    with ``phones``, recognise its phones (cached)."""
    from anim3d.audio import load_audio
    from anim3d.eval.avsync import estimate_av_offset

    # frames needed for max_seconds at up to 60 fps (the exact cut follows below)
    limit = None if max_seconds is None else int(np.ceil(max_seconds * 60)) + 1
    rt = track_cached(video, progress=progress, max_frames=limit)
    audio = load_audio(video)
    n = rt.mouth.shape[0]
    if max_seconds is not None:
        n = min(n, int(max_seconds * rt.fps))
        audio.samples = audio.samples[: int(n / rt.fps * audio.sample_rate)]
        rt = RealTrack(rt.mouth[:n], rt.eyes[:n], rt.head_rotation[:n], rt.valid[:n], rt.fps)
    offset = estimate_av_offset(audio.samples, audio.sample_rate, rt.mouth, rt.fps, MAX_LAG, rt.valid)
    recognised = None
    if phones:
        from anim3d.eval.cache import cached_phones

        recognised = cached_phones(audio)
    return RealClip(Path(video).stem, rt, audio, n, offset, recognised)


def real_track_result(name: str, rt: RealTrack, n: int, av_lag: int = 0, phones: list | None = None) -> ClipResult:
    """The real speaker's own row (correlation with itself is 1 by definition); ``phones`` in
    audio time are found in the video ``av_lag`` frames earlier."""
    mouth = rt.mouth[:n].astype(np.float64)
    return ClipResult(
        name,
        "real (tracked)",
        1.0,
        0,
        1.0,
        M.head_motion_intensity(rt.head_rotation[:n], rt.fps),
        M.head_motion_intensity(rt.head_rotation[:n], rt.fps, smooth=DP_SMOOTH),
        M.blink_rate_from_closure(M.closure_from_openness(rt.eyes[:n]), rt.fps),
        "tracked",
        mouth,
        rt.fps,
        av_lag,
        1.0,
        shut=shut_share(mouth, "tracked"),
        classes=class_openings(mouth, phones, rt.fps, shift=av_lag) if phones is not None else {},
    )


def score_motion(name: str, method: str, motion, rt: RealTrack, av_lag: int = 0, phones: list | None = None,
                 seed: int = 0) -> ClipResult:
    """Score one generated Motion against the tracked speaker (both at the video's fps);
    ``av_lag``: the clip's audio-video offset in frames; ``phones``: recognised phones of the
    audio, for the openings per phone class."""
    if abs(motion.fps - rt.fps) > 1e-6:
        motion = motion.resample(rt.fps)
    n = min(motion.num_frames, rt.mouth.shape[0])
    gen, source = mouth_opening(motion[:n])
    real = rt.mouth[:n]
    r = M.pearson(gen, real)
    lag, r_best = M.best_lag(gen, real, MAX_LAG)
    blink = 0.5 * (motion.channel("eyeBlinkLeft")[:n] + motion.channel("eyeBlinkRight")[:n])
    timing, timing_abs = dtw_timing(gen, real, av_lag, rt.fps, MAX_LAG)
    return ClipResult(
        name,
        method,
        r,
        lag,
        r_best,
        M.head_motion_intensity(motion.head_rotation[:n], motion.fps),
        M.head_motion_intensity(motion.head_rotation[:n], motion.fps, smooth=DP_SMOOTH),
        M.blink_rate_from_closure(blink, motion.fps),
        source,
        gen,
        rt.fps,
        av_lag,
        M.lagged_pearson(gen, real, av_lag),
        seed,
        timing,
        timing_abs,
        shut_share(gen, source),
        class_openings(gen, phones, rt.fps) if phones is not None else {},
    )


def load_clips(videos: list[Path], *, max_seconds: float | None = None, progress: bool = True, phones: bool = False,
               skipped: dict | None = None) -> list[RealClip]:
    """``load_clip`` for each video; a video the tracker refuses (no face, two faces, too small)
    is left out and, when ``skipped`` is a dict, recorded there as file name -> reason. An
    InputError when no video is left."""
    from anim3d.progress import progress as bar

    clips = []
    for video in bar(videos, desc="tracking / loading", unit="clip") if progress else videos:
        try:
            clips.append(load_clip(video, max_seconds, progress, phones))
        except InputError as e:
            if skipped is None:
                raise
            skipped[Path(video).name] = e.problem
    if not clips:
        raise InputError(os.path.dirname(os.fspath(videos[0])) if videos else None, "no video could be tracked")
    return clips


def score_clips(clips: list[RealClip], methods, *, seeds=(0,), progress: bool = True) -> list[ClipResult]:
    """Every method on every clip (stochastic methods once per seed, the others once). One row
    per (clip, method, seed) plus the real speaker's row per clip."""
    from anim3d.progress import progress as bar

    results: list[ClipResult] = []
    for clip in bar(clips, desc="real speakers", unit="clip") if progress else clips:
        results.append(real_track_result(clip.name, clip.track, clip.frames, clip.offset.lag, clip.phones))
        for m in methods:
            for s in seeds if m.stochastic else seeds[:1]:
                motion = m.generate(clip.audio, seed=s, fps=clip.track.fps)
                results.append(score_motion(clip.name, m.name, motion, clip.track, clip.offset.lag, clip.phones, s))
    return results


def per_clip(results: list[ClipResult], method: str, attr: str) -> dict[str, float]:
    """Clip -> ``attr`` of ``method``'s rows, averaged over seeds."""
    out: dict[str, list[float]] = {}
    for r in results:
        if r.method == method:
            out.setdefault(r.clip, []).append(float(getattr(r, attr)))
    finite = {c: [x for x in v if np.isfinite(x)] for c, v in out.items()}
    return {c: float(np.mean(v)) if v else NAN for c, v in finite.items()}
