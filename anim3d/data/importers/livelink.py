"""Live Link Face take (CSV + its audio) -> Utterance.

The CSV is read by ``anim3d.exporters.livelink.read_livelink_csv`` (columns by name, timecodes,
dropped frames); the audio is the take's own recording: an explicit path, or the file
beside the CSV with the same stem (Live Link Face saves ``<slate>_<take>_<device>.csv``
next to the ``.mov`` whose sound track is the take's audio).
"""

from __future__ import annotations

import os

import numpy as np

from anim3d.audio import MEDIA_EXTENSIONS
from anim3d.errors import InputError

MOTION_FPS = 30.0


def find_take_audio(csv_path: str | os.PathLike) -> str:
    """The audio or video file beside a take CSV with the same stem (``_raw``/``_cal``
    suffixes of the CSV ignored). Raises InputError naming the CSV when there is none."""
    csv_path = os.fspath(csv_path)
    folder = os.path.dirname(os.path.abspath(csv_path))
    stem = os.path.splitext(os.path.basename(csv_path))[0]
    stems = [stem] + [stem[: -len(s)] for s in ("_raw", "_cal", "_neutral") if stem.endswith(s)]
    for st in stems:
        for ext in MEDIA_EXTENSIONS:
            for cand in (st + ext, st + ext.upper()):
                p = os.path.join(folder, cand)
                if os.path.isfile(p):
                    return p
    raise InputError(csv_path, f"no audio beside the take (looked for {stem}{{{','.join(MEDIA_EXTENSIONS)}}}); give the audio file explicitly")


def import_livelink(csv_path: str | os.PathLike, audio_path: str | os.PathLike | None = None, *, speaker: str | None = None):
    """A Live Link Face take -> ``anim3d.data.shards.Utterance`` (source "livelink", 30 fps).

    Raises InputError naming the CSV when it is not a Live Link Face take or has no audio,
    MotionError for bad values, AudioError naming the audio file when it is unreadable.
    """
    from anim3d.audio import load_audio
    from anim3d.data.importers.video import match_duration, make_utterance
    from anim3d.exporters.livelink import read_livelink_csv

    csv_path = os.fspath(csv_path)
    motion, info = read_livelink_csv(csv_path)
    audio_path = find_take_audio(csv_path) if audio_path is None else os.fspath(audio_path)
    audio = load_audio(audio_path)
    if abs(motion.fps - MOTION_FPS) > 1e-6:
        motion = motion.resample(MOTION_FPS)
    motion.blendshapes = np.clip(motion.blendshapes, 0.0, 1.0)
    motion = match_duration(motion, audio.duration)
    stem = os.path.splitext(os.path.basename(csv_path))[0]
    return make_utterance(
        uid=f"livelink-{stem}",
        audio=audio,
        motion=motion,
        source="livelink",
        speaker=speaker or stem,
        extra={"take_fps": float(info.fps), "timecode_start": info.start, "resampled": bool(info.resampled), "path": csv_path, "audio_path": audio_path},
    )
