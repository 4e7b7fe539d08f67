"""The ``anim3d`` command line.

Each subcommand lives in its own module under ``anim3d/commands/`` and defines
``NAME``, ``HELP``, ``DESCRIPTION``, ``ORDER``, ``add_arguments(parser)`` and ``run(args) -> int``.
Command modules must stay light at import time (no torch) so that ``--help`` is instant;
they import heavy code inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import signal
import sys
import threading

from anim3d import __version__
from anim3d.errors import Anim3dError


def _command_modules():
    import anim3d.commands as pkg

    mods = [importlib.import_module(f"{pkg.__name__}.{m.name}") for m in pkgutil.iter_modules(pkg.__path__)]
    mods = [m for m in mods if hasattr(m, "NAME") and hasattr(m, "run")]
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 100), m.NAME))


# the commands that may run MediaPipe, whose native logs are kept off the terminal
NATIVE_LOGGING_COMMANDS = ("render", "import", "eval", "info")


class UsageError(Exception):
    """A command line argparse refused; ``main`` prints it as one line and returns 2."""

    def __init__(self, prog: str, message: str):
        super().__init__(f"{prog}: error: {message} (see {prog} --help)")


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``anim3d animate: error: ...``), exit 2."""

    def error(self, message: str):
        raise UsageError(self.prog, message)


def common_parser() -> argparse.ArgumentParser:
    """Options every subcommand shares."""
    from anim3d.commands import options

    p = Parser(add_help=False)
    g = p.add_argument_group("common options")
    g.add_argument("--device", default="auto", help="torch device: auto (CUDA if available, else CPU), cpu, cuda, cuda:1, mps")
    g.add_argument("--seed", type=options.seed, default=0,
                   help="random seed, a whole number from 0 to 4294967295; the same seed gives the same result (default 0)")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="anim3d",
        description="Speech to 3D facial animation: ARKit-52 blendshapes + head pose, "
        "exported to glTF, Live Link Face CSV, NPZ and live OSC (VMC) streams.",
    )
    parser.add_argument("--version", action="version", version=f"anim3d {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parent = common_parser()
    for mod in _command_modules():
        p = sub.add_parser(
            mod.NAME,
            help=mod.HELP,
            description=getattr(mod, "DESCRIPTION", mod.HELP),
            parents=[parent],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that it unwinds like Ctrl-C: temporaries are removed,
    a stream sends its neutral frame."""


def _raise_terminated(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as e:
        print(e, file=sys.stderr)
        return 2
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    from anim3d import progress
    from anim3d.errors import show_warnings_as_lines
    from anim3d.optional import filter_native_logs

    if args.command in NATIVE_LOGGING_COMMANDS:
        filter_native_logs()
    progress.set_enabled(not args.quiet)
    import warnings

    shown = show_warnings_as_lines(f"anim3d {args.command}")
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if threading.current_thread() is threading.main_thread() else None
    try:
        return int(args._run(args) or 0)
    except Anim3dError as e:
        print(f"anim3d {args.command}: error: {e}", file=sys.stderr)
        return 2
    except Terminated:
        print(f"anim3d {args.command}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(f"anim3d {args.command}: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except BrokenPipeError:  # the reader of our output went away (anim3d info x | head): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    finally:
        warnings.formatwarning = shown
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
