"""The ``pigmentmap`` command: one module per command group, each a thin layer over the API.

Subcommands import their heavy parts lazily, so ``pigmentmap --help`` stays fast. Errors are one
line on stderr and exit code 2 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from pigmentmap.cli import demo, instrument, library, models, regress, scans, simulation, view
from pigmentmap.cli._common import EXIT_USAGE, Parser
from pigmentmap.core.errors import PigmentmapError

_GROUPS = (library, instrument, simulation, models, scans, view, regress, demo)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``pigmentmap`` command.

    Examples
    --------
    >>> build_parser().parse_args(["instrument", "list"]).action
    'list'
    """
    p = Parser(
        prog="pigmentmap",
        description="Which pigments are where in a painting, from MA-XRF scans.",
        epilog="Example: pigmentmap simulate 'VM:100/LW:120/CaCO3:180' --instrument elio --out s.csv",
    )
    from pigmentmap import __version__

    p.add_argument("--version", action="version", version=f"pigmentmap {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in _GROUPS:
        group.register(sub)
    for command in sub.choices.values():  # --debug also after the subcommand
        command.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
        )
    return p


def _one_line_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    from tqdm import tqdm

    # tqdm.write clears an open progress bar, prints the line and draws the bar again below it
    tqdm.write(f"pigmentmap: warning: {message}", file=sys.stderr)


def _close_progress_bars() -> None:
    """Close every open progress bar, so that an error line starts a line of its own instead of
    following a half-drawn bar on stderr."""
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return
    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()


def _error(text: str) -> None:
    _close_progress_bars()
    sys.stderr.flush()
    print(f"pigmentmap: error: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, or a bad option (its one line is printed)
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    if not args.debug:
        warnings.showwarning = _one_line_warning
    try:
        return int(args.func(args))
    except PigmentmapError as err:
        if args.debug:
            raise
        _error(str(err))
        return EXIT_USAGE
    except OSError as err:
        if args.debug:
            raise
        _error(f"{err.strerror or err}: {err.filename or ''}".rstrip(": "))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _close_progress_bars()
        print("pigmentmap: interrupted", file=sys.stderr)
        return 130
