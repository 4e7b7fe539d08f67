"""User-facing errors. The CLI prints these as one line, without a traceback."""

from __future__ import annotations

import os


class Anim3dError(Exception):
    """An error caused by the user's input or environment, with a clear message."""


class InputError(Anim3dError):
    """A bad input file; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class AudioError(InputError):
    """Audio that cannot be used (missing, not audio, empty, silent, too long...)."""


class MotionError(InputError):
    """A Motion that is malformed (wrong shapes, NaN, missing channels...)."""


def show_warnings_as_lines(prefix: str):
    """Print every ``warnings.warn`` of this process as one line on stderr: ``<prefix>: warning: <message>``.
    Returns the previous ``warnings.showwarning``."""
    import sys
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{prefix}: warning: {message}", file=file or sys.stderr)

    previous, warnings.showwarning = warnings.showwarning, show
    return previous
