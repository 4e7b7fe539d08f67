"""The motion teacher: phone timings (+ optional audio) -> Motion with guaranteed lip shapes,
emotion overlays, prosody-driven head motion, blinks and gaze, per virtual speaker.

    from anim3d.teacher import phones_to_motion, EMOTIONS, SpeakerStyle
"""

from anim3d.teacher.core import phones_to_motion
from anim3d.emotions import EMOTIONS, check_emotion
from anim3d.teacher.emotion import emotion_vector
from anim3d.teacher.speaker import SpeakerStyle
from anim3d.teacher.visemes import lip_gap

__all__ = ["EMOTIONS", "SpeakerStyle", "check_emotion", "emotion_vector", "lip_gap", "phones_to_motion"]
