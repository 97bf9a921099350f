"""The ``library`` command: list, show or check pigments."""

from __future__ import annotations

import argparse
from typing import Any

from pigmentmap.cli._common import library_from_args
from pigmentmap.core.errors import PigmentmapError


def _cmd_library(args: argparse.Namespace) -> int:
    from pigmentmap.materials import load_library

    if args.action == "check":
        if not args.name:
            raise PigmentmapError("library check needs a FILE")
        lib = load_library(args.name, extend_default=False)
        load_library(args.name, extend_default=True)  # alias clashes with the shipped library
        print(f"ok: {len(lib)} materials in {args.name}, all checked")
        return 0
    lib = library_from_args(args)
    if args.action == "list":
        print(f"{'name':24} {'kind':8} {'density':>8}  {'elements':22} aliases")
        for p in sorted(lib.values(), key=lambda q: (q.kind != "pigment", q.name)):
            els = " ".join(e for e in p.elements if e not in ("H", "C", "N", "O")) or "(light only)"
            aliases = ", ".join(a for a in p.aliases if a != p.formula)[:40]
            print(f"{p.name:24} {p.kind:8} {p.density_g_cm3:8.2f}  {els:22} {aliases}")
        print(f"{len(lib)} materials ({lib.source})")
        return 0
    if not args.name:
        raise PigmentmapError("library show needs a NAME")
    p = lib[args.name]
    print(f"name:         {p.name}")
    print(f"kind:         {p.kind}")
    print(f"formula:      {p.formula or '(composition given as mass fractions)'}")
    comp = ", ".join(f"{el} {p.composition[el] * 100:.2f} %" for el in p.elements)
    print(f"composition:  {comp}  (mass fractions)")
    print(f"density:      {p.density_g_cm3:g} g/cm3")
    r, g, b = p.colour_srgb
    print(f"colour:       sRGB ({r}, {g}, {b})  #{r:02x}{g:02x}{b:02x}")
    print(f"aliases:      {', '.join(p.aliases)}")
    print(f"source:       {p.note}")
    return 0


def register(sub: Any) -> None:
    """Add this group's subcommands to ``sub``."""
    lib = sub.add_parser(
        "library",
        help="list, show or check pigments",
        epilog="Examples: pigmentmap library list | pigmentmap library show VM | "
        "pigmentmap library check my_pigments.toml",
    )
    lib.add_argument("action", choices=["list", "show", "check"])
    lib.add_argument(
        "name", nargs="?", help="pigment name/alias/formula (show) or TOML file (check)"
    )
    lib.add_argument("--library", help="a user library TOML that extends the shipped one")
    lib.set_defaults(func=_cmd_library)
