"""Speech -> Motion with the motion diffusion transformer.

    from anim3d.audio import load_audio
    from anim3d.inference import animate

    motion = animate(load_audio("speech.wav"), emotion="sad", intensity=0.5, seed=1)

- ``settings``: ``MotionSettings`` (the motion controls of a request) and the checks that resolve it against
  a checkpoint;
- ``generator``: ``MotionGenerator`` (a loaded model) and ``load_model``;
- ``windows``: one window's conditions and sampling, the sliding windows over an utterance;
- ``offline``: ``animate`` for a whole recording;
- ``streaming``: ``StreamingAnimator``, audio in chunks -> frames as their audio arrives;
- ``sources``: audio chunks from a file in real time or PCM on stdin;
- ``mouth_blend``: the rule-based mouth blended into the generated one.
"""

from anim3d.inference.generator import MotionGenerator, load_model
from anim3d.inference.offline import animate
from anim3d.inference.settings import ConditionError, MotionSettings
from anim3d.inference.streaming import StreamingAnimator

__all__ = ["ConditionError", "MotionGenerator", "MotionSettings", "StreamingAnimator", "animate", "load_model"]
