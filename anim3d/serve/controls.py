"""A request's form fields -> the ``MotionSettings`` ``anim3d animate`` would build from the same options.

The fields are read with the command line's own definitions: each value goes through the type of its
``anim3d animate`` option (``anim3d.commands.options``: ``unit_interval``, ``gaze_degrees``, ``guidance``...),
unset fields take that option's default, and ``options.motion_settings`` builds the settings, so a request and
the command line given the same values animate the same motion. ``--transcript`` and ``--style`` read files on
the server and are not fields. The checks of ``anim3d.inference.settings`` then run before the request is queued."""

from __future__ import annotations

import argparse
import functools

from anim3d.errors import InputError
from anim3d.serve.errors import unusable_control

# form field -> the dest of its ``anim3d animate`` option
FIELDS = ("emotion", "intensity", "seed", "gaze", "free_gaze", "distance", "guidance", "text", "language", "steps",
          "sampler", "mouth_steps", "teacher_blend", "opening_share", "fps")
# the formats of a response: media type, and the file extension save_motion writes it by (json is built here)
FORMATS = {"json": ("application/json", None), "glb": ("model/gltf-binary", ".glb"),
           "csv": ("text/csv; charset=utf-8", ".csv"), "npz": ("application/octet-stream", ".npz")}


@functools.lru_cache(maxsize=1)
def cli_options() -> dict[str, argparse.Action]:
    """The ``anim3d animate`` parser's options by dest (the common ones included), as the command line builds them."""
    from anim3d.cli import Parser, common_parser
    from anim3d.commands import animate

    p = Parser(prog="anim3d animate", parents=[common_parser()])
    animate.add_arguments(p)
    return {a.dest: a for a in p._actions}


def field_help(name: str) -> str:
    """The help of a field's command line option (for the OpenAPI docs)."""
    action = cli_options()[name]
    flag = max(action.option_strings, key=len)
    return f"as `anim3d animate {flag}`: {action.help}" if action.help else f"as `anim3d animate {flag}`"


def read_fields(values: dict, default_seed: int = 0) -> argparse.Namespace:
    """Form values (str, or None / "" when not given; ``free_gaze`` a bool) -> the namespace ``anim3d animate``
    would parse from the same options. A value the option's type refuses raises a 422 naming the field."""
    options = cli_options()
    ns = argparse.Namespace(**{dest: a.default for dest, a in options.items()})
    ns.seed = default_seed
    for name in FIELDS:
        raw = values.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):  # an empty form field: not given
            continue
        action = options[name]
        if isinstance(raw, bool):
            value = raw
        else:
            try:
                value = action.type(raw) if action.type is not None else raw
            except argparse.ArgumentTypeError as e:
                raise unusable_control(f"{name}: {e}") from None
        if action.choices is not None and value not in action.choices:
            raise unusable_control(f"{name}: {value!r} is not one of {', '.join(map(str, action.choices))}")
        setattr(ns, name, value)
    ns.transcript = ns.style = None  # files on the server: never from a request
    return ns


def motion_settings(ns: argparse.Namespace):
    """The request's MotionSettings, built by the command line's own ``options.motion_settings``."""
    from anim3d.commands.options import motion_settings as from_options

    return from_options(ns)


def check_settings(settings, gen) -> None:
    """The checks ``animate`` makes before any work, run before the request is queued: ConditionError's message
    (or the script's language) as a 422."""
    from anim3d.inference.settings import ConditionError, check_conditions, check_seed, resolve_sampling
    from anim3d.languages import check_language
    from anim3d.script import MAX_TRANSCRIPT_BYTES

    try:
        check_seed(settings.seed)
        check_conditions(settings, gen.cfg.emotions)
        sampling = resolve_sampling(settings, gen.inference)
        gen.check_opening(sampling.opening_share)
        if settings.text is not None:
            check_language(settings.language)
            if len(settings.text.encode("utf-8")) > MAX_TRANSCRIPT_BYTES:
                raise InputError(None, f"the text is larger than {MAX_TRANSCRIPT_BYTES >> 10} KiB: not one line's script")
    except (ConditionError, InputError) as e:
        raise unusable_control(str(e)) from None


def check_format(fmt: str | None) -> str:
    fmt = (fmt or "json").strip().lower()
    if fmt not in FORMATS:
        raise unusable_control(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
    return fmt


# the motion controls a live stream takes in its start message (fps: a stream runs at the model's own rate)
STREAM_FIELDS = tuple(name for name in FIELDS if name != "fps")


def fields_from_json(message: dict) -> dict:
    """A stream's start message (JSON values) -> the form values ``read_fields`` reads: a number as its text,
    ``gaze`` also as ``[yaw, pitch]``, ``guidance`` also as ``{"audio": 2, ...}``, ``free_gaze`` a JSON boolean;
    null is not given. A value of another type is a 422 naming the field."""
    values = {}
    for name in STREAM_FIELDS:
        raw = message.get(name)
        if raw is None:
            continue
        if name == "free_gaze":
            if not isinstance(raw, bool):
                raise unusable_control(f"free_gaze: expected true or false, got {_shown(raw)}")
            values[name] = raw
        elif name == "gaze" and isinstance(raw, list) and len(raw) == 2 and all(_number(x) for x in raw):
            values[name] = f"{raw[0]},{raw[1]}"
        elif name == "guidance" and isinstance(raw, dict) and all(_number(x) for x in raw.values()):
            values[name] = ",".join(f"{k}={v}" for k, v in raw.items())
        elif isinstance(raw, str) or _number(raw):
            values[name] = str(raw)
        else:
            raise unusable_control(f"{name}: expected {_expected(name)}, got {_shown(raw)}")
    return values


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _expected(name: str) -> str:
    return {"gaze": 'a string "YAW,PITCH" or a list [yaw, pitch] (degrees)',
            "guidance": 'a string "audio=2,emotion=1.5" or an object {"audio": 2, "emotion": 1.5}'}.get(
        name, "a string or a number")


def _shown(value) -> str:
    import json

    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
