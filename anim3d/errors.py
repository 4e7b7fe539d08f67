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
    """Format every ``warnings.warn`` of this process as one line, ``<prefix>: warning: <message>`` (shown on
    stderr as usual; a test runner that records warnings still records them). Returns the previous
    ``warnings.formatwarning``."""
    import warnings

    def one_line(message, category, filename, lineno, line=None):
        return f"{prefix}: warning: {message}\n"

    previous, warnings.formatwarning = warnings.formatwarning, one_line
    return previous


class InputWarning(UserWarning):
    """A usable input with a problem the user should know about; the message names the file."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


def warn_input(path: str | os.PathLike | None, problem: str) -> None:
    """Warn about ``path``; the CLI prints it as one ``warning:`` line on stderr."""
    import warnings

    warnings.warn(InputWarning(path, problem), stacklevel=3)
