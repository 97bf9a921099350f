"""The ``demo`` command."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _cmd_demo(args: argparse.Namespace) -> int:
    from pigmentmap.demo import run_demo

    run_demo(Path(args.out))
    return 0


def register(sub: Any) -> None:
    """Add this group's subcommands to ``sub``."""
    demo = sub.add_parser("demo", help="run the pipeline on built-in examples")
    demo.add_argument("--out", default="demo-output", help="output folder (default demo-output)")
    demo.set_defaults(func=_cmd_demo)
