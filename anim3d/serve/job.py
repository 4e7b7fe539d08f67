"""One request's work on the worker thread: the uploaded audio decoded as ``anim3d animate`` decodes a file
(``load_audio``), animated with the request's settings on the shared model, and written in the asked format by
``save_motion`` (the function ``anim3d animate -o`` writes with), so the bytes are the command line's."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

from anim3d.errors import AudioError, InputError
from anim3d.serve.capture import collected
from anim3d.serve.controls import FORMATS
from anim3d.serve.errors import bad_audio, too_large, unusable_control


@dataclass
class Result:
    fmt: str
    body: bytes | dict  # the file's bytes, or the JSON document for format json
    warnings: list[str] = field(default_factory=list)


def animate_upload(gen, path: str, name: str, settings, fps: float, fmt: str, max_seconds: float) -> Result:
    """The uploaded audio at ``path`` (``name``: the client's file name, which messages say instead of ``path``)
    -> the motion in format ``fmt``. Warnings (a truncated file, a script the audio does not say) are returned
    with the result, named as errors are."""
    from anim3d.audio import load_audio
    from anim3d.inference import ConditionError, animate

    def named(message) -> str:
        return str(message).replace(path, name)

    # this request's own warnings, not those of the streams running beside it (capture.py)
    with collected() as caught:
        try:
            audio = load_audio(path, max_seconds=max_seconds)
        except AudioError as e:
            if "limit" in e.problem and "long" in e.problem:  # load_audio's two messages for audio over max_seconds
                raise too_large(f"{name}: the audio is longer than this server's limit of {max_seconds:g} s "
                                "(--max-seconds)") from None
            raise bad_audio(named(e)) from None
        try:
            motion = animate(audio, settings, checkpoint=gen)
        except AudioError as e:
            raise bad_audio(named(e)) from None
        except (ConditionError, InputError) as e:
            raise unusable_control(named(e)) from None
        if abs(fps - motion.fps) > 1e-9:  # as anim3d animate --fps
            motion = motion.resample(fps)
        body = motion_document(motion) if fmt == "json" else motion_bytes(motion, fmt)
    return Result(fmt, body, [named(w) for w in caught])


def motion_document(motion) -> dict:
    """The JSON form: fps, the 52 ARKit channel names and per-frame lists (float32 values as Python floats)."""
    from anim3d.channels import ARKIT_NAMES

    return {"fps": motion.fps, "channels": list(ARKIT_NAMES), "blendshapes": motion.blendshapes.tolist(),
            "head_rotation": motion.head_rotation.tolist(), "head_translation": motion.head_translation.tolist()}


def motion_bytes(motion, fmt: str) -> bytes:
    """The file ``save_motion`` writes for ``fmt`` (a .glb without audio: nothing is written beside it)."""
    from anim3d.exporters.motion_io import save_motion

    with tempfile.TemporaryDirectory(prefix="anim3d-serve-") as folder:
        out = os.path.join(folder, "motion" + FORMATS[fmt][1])
        save_motion(motion, out)
        with open(out, "rb") as f:
            return f.read()
