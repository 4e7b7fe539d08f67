"""The ``anim3d`` command line.

Each subcommand lives in its own module under ``anim3d/commands/`` and defines
``NAME``, ``HELP``, ``DESCRIPTION``, ``ORDER``, ``add_arguments(parser)`` and ``run(args) -> int``.
Command modules must stay light at import time (no torch) so that ``--help`` is instant;
they import heavy code inside ``run``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import pkgutil
import sys
import warnings

from anim3d import __version__
from anim3d.errors import Anim3dError


def _command_modules():
    import anim3d.commands as pkg

    mods = [importlib.import_module(f"{pkg.__name__}.{m.name}") for m in pkgutil.iter_modules(pkg.__path__)]
    mods = [m for m in mods if hasattr(m, "NAME") and hasattr(m, "run")]
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 100), m.NAME))


def common_parser() -> argparse.ArgumentParser:
    """Options every subcommand shares."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("common options")
    g.add_argument("--device", default="auto", help="torch device: auto (CUDA if available, else CPU), cpu, cuda, cuda:1, mps")
    g.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same result (default 0)")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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


@contextlib.contextmanager
def one_line_warnings(command: str):
    """Within the block, each warning prints as one line on stderr: ``anim3d CMD: warning: ...``."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"anim3d {command}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    from anim3d import progress

    progress.set_enabled(not args.quiet)
    try:
        with one_line_warnings(args.command):
            return int(args._run(args) or 0)
    except Anim3dError as e:
        print(f"anim3d {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"anim3d {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
