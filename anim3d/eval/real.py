"""Real-speaker evaluation: talking-face videos with audio, tracked with MediaPipe Face Mesh
(``anim3d.tracking``) as ground truth; each method animates the video's audio and is scored
against the real speaker.

Per clip and method: Pearson correlation between the generated and the tracked mouth
opening at lag 0, at the clip's audio-video offset (estimated from the audio and the
tracked mouth only, ``anim3d.eval.avsync``; the same lag for every method in the clip), and
at the method's own best lag within +/- 10 frames (0.33 s); head-motion intensity dP
(VASA-1) and blink rate next to the real speaker's.

Tracking results are cached in ``~/.cache/anim3d/tracking/`` keyed by the video's SHA-256
(and a cache version), so reruns skip the tracker.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anim3d.errors import InputError
from anim3d.eval import metrics as M
from anim3d.eval.mouth import mouth_opening

CACHE_VERSION = 1
VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
MAX_LAG = 10  # frames
DP_SMOOTH = 9  # frames (0.3 s): dP is also reported after removing tracker jitter


def cache_dir() -> Path:
    root = os.environ.get("ANIM3D_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "anim3d")
    return Path(root) / "tracking"


def file_hash(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "videos folder not found")
    vids = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTS)
    if not vids:
        raise InputError(folder, f"no videos ({', '.join(VIDEO_EXTS)}) in the folder")
    return vids


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
    r_av: float = float("nan")  # Pearson at av_lag


@dataclass
class RealClip:
    """One video prepared for scoring: its track, audio and audio-video offset."""

    name: str
    track: RealTrack
    audio: object  # Audio
    frames: int
    offset: object  # avsync.AVOffset


def load_clip(video: Path, max_seconds: float | None = None, progress: bool = True) -> RealClip:
    """Track (cached) and load ``video`` (its first ``max_seconds``) and estimate its AV offset."""
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
    return RealClip(Path(video).stem, rt, audio, n, offset)


def real_track_result(name: str, rt: RealTrack, n: int) -> ClipResult:
    """The real speaker's own row (correlation with itself is 1 by definition)."""
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
        rt.mouth[:n].astype(np.float64),
        rt.fps,
        0,
        1.0,
    )


def score_motion(name: str, method: str, motion, rt: RealTrack, av_lag: int = 0) -> ClipResult:
    """Score one generated Motion against the tracked speaker (both at the video's fps);
    ``av_lag``: the clip's audio-video offset in frames."""
    if abs(motion.fps - rt.fps) > 1e-6:
        motion = motion.resample(rt.fps)
    n = min(motion.num_frames, rt.mouth.shape[0])
    gen, source = mouth_opening(motion[:n])
    real = rt.mouth[:n]
    r = M.pearson(gen, real)
    lag, r_best = M.best_lag(gen, real, MAX_LAG)
    blink = 0.5 * (motion.channel("eyeBlinkLeft")[:n] + motion.channel("eyeBlinkRight")[:n])
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
    )


def evaluate_real(
    videos: list[Path],
    methods,
    *,
    max_seconds: float | None = None,
    seed: int = 0,
    progress: bool = True,
    offsets: dict | None = None,
) -> list[ClipResult]:
    """Track every video, run every method on its audio, score. Returns one row per
    (clip, method) plus the real speaker's row per clip; ``offsets`` (a dict), when given,
    receives clip name -> ``avsync.AVOffset``."""
    from anim3d.progress import progress as bar

    results: list[ClipResult] = []
    for video in bar(videos, desc="real speakers", unit="clip") if progress else videos:
        clip = load_clip(video, max_seconds, progress)
        if offsets is not None:
            offsets[clip.name] = clip.offset
        results.append(real_track_result(clip.name, clip.track, clip.frames))
        for m in methods:
            motion = m.generate(clip.audio, seed=seed, fps=clip.track.fps)
            results.append(score_motion(clip.name, m.name, motion, clip.track, clip.offset.lag))
    return results


def summarize(results: list[ClipResult]) -> list[dict]:
    """One row per method: mean r (lag 0, clip AV offset, best lag), median lag, mean dP and blink rate."""
    out = []
    for method in dict.fromkeys(r.method for r in results):
        rows = [r for r in results if r.method == method]
        out.append(
            {
                "method": method,
                "clips": len(rows),
                "r": float(np.nanmean([r.r for r in rows])),
                "r_best": float(np.nanmean([r.r_best for r in rows])),
                "r_av": float(np.nanmean([r.r_av for r in rows])),
                "lag": float(np.median([r.lag for r in rows])),
                "dp": float(np.nanmean([r.dp for r in rows])),
                "dp_smooth": float(np.nanmean([r.dp_smooth for r in rows])),
                "blinks": float(np.nanmean([r.blinks for r in rows])),
                "source": rows[0].source,
            }
        )
    return out
