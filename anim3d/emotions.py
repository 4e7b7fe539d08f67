"""The emotion labels every part shares: the model's conditions, the teacher's overlays, the controls."""

from __future__ import annotations

from anim3d.errors import Anim3dError

EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "surprised", "fear", "disgusted", "angry", "contempt")


def check_emotion(emotion: str) -> str:
    """``emotion`` (case and spaces ignored) as one of EMOTIONS; Anim3dError for anything else."""
    key = str(emotion).strip().lower()
    if key not in EMOTIONS:
        raise Anim3dError(f"unknown emotion {emotion!r}; choose one of: {', '.join(EMOTIONS)}")
    return key
