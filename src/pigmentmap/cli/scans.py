"""Commands on scans: ``info``, ``map``, ``fit``, ``report``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pigmentmap.cli._common import add_reader_options, open_scan
from pigmentmap.core.errors import PigmentmapError


def _cmd_info(args: argparse.Namespace) -> int:
    from pigmentmap.io.open import describe

    print(describe(open_scan(args)))
    return 0


DEFAULT_MODEL = "elio-mixtures"


def _elements_option(text: str | None) -> tuple[str, ...]:
    from pigmentmap.mapping.elements import DEFAULT_ELEMENTS

    return tuple(e.strip() for e in text.split(",")) if text else DEFAULT_ELEMENTS


def _cmd_map(args: argparse.Namespace) -> int:
    from pigmentmap.instruments import load_instrument
    from pigmentmap.mapping.run import check_results_folder, run_map

    check_results_folder(Path(args.out), overwrite=args.overwrite)
    if args.binning < 1:
        raise PigmentmapError("--binning must be >= 1")
    instrument = load_instrument(args.instrument)
    cube = open_scan(args)
    path = run_map(
        args.file, cube, model=args.model or DEFAULT_MODEL, out=args.out, instrument=instrument,
        binning=args.binning, elements=_elements_option(args.elements), overwrite=args.overwrite,
    )  # fmt: skip
    print(f"wrote {path / 'maps.h5'} and PNGs; next: pigmentmap report {path}")
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    import h5py
    import numpy as np

    from pigmentmap.core.atomic import atomic_path, check_output_path
    from pigmentmap.instruments import load_instrument
    from pigmentmap.mapping.elements import fit_elements

    out = check_output_path(args.out)
    instrument = load_instrument(args.instrument)
    cube = open_scan(args)
    maps = fit_elements(
        cube.counts, cube.axis, instrument, elements=_elements_option(args.elements), progress=True
    )
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        f["element_maps"] = maps.values.astype(np.float32)
        f["element_names"] = np.array(maps.names, dtype=h5py.string_dtype())
        f.attrs["units"] = maps.units
        f.attrs["source"] = str(args.file)
    totals = ", ".join(f"{n} {maps.values[..., k].sum():.3g}" for k, n in enumerate(maps.names))
    print(f"wrote {out}: {len(maps.names)} element maps ({totals})")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from pigmentmap.report.html import write_report

    path = write_report(args.results, out=args.out)
    print(f"wrote {path}")
    return 0


def register(sub: Any) -> None:
    """Add this group's subcommands to ``sub``."""
    info = sub.add_parser(
        "info",
        help="shape, dtype, calibration, live time and reader of a scan or spectrum file",
        epilog="Example: pigmentmap info scan.bcf | pigmentmap info spectra/ --shape 20x30",
    )
    add_reader_options(info)
    info.set_defaults(func=_cmd_info)

    mp = sub.add_parser(
        "map",
        help="pigment maps and element maps of a scan",
        epilog="Example: pigmentmap map scan.h5 --out results/ [--model elio-mixtures] [--binning 2]",
    )
    add_reader_options(mp)
    mp.add_argument("--out", required=True, help="results folder")
    mp.add_argument(
        "--model", help=f"model directory or shipped model (default {DEFAULT_MODEL}, for elio)"
    )
    mp.add_argument(
        "--instrument", default="elio", help="profile for the element fit (default elio)"
    )
    mp.add_argument(
        "--binning", type=int, default=1, help="sum NxN pixels first (noisy fast scans)"
    )
    mp.add_argument("--elements", help="elements to fit, comma-separated (default: the library's)")
    mp.add_argument("--overwrite", action="store_true", help="replace existing results")
    mp.set_defaults(func=_cmd_map)

    fi = sub.add_parser(
        "fit",
        help="elemental maps: SNIP + non-negative linear fit of every pixel",
        epilog="Example: pigmentmap fit scan.h5 --instrument elio --out elements.h5",
    )
    add_reader_options(fi)
    fi.add_argument("--instrument", required=True)
    fi.add_argument("--out", required=True, help="output .h5")
    fi.add_argument("--elements", help="elements to fit, comma-separated")
    fi.set_defaults(func=_cmd_fit)

    rp = sub.add_parser(
        "report",
        help="HTML report of a results folder",
        epilog="Example: pigmentmap report results/",
    )
    rp.add_argument("results")
    rp.add_argument("--out", help="HTML file (default results/report.html)")
    rp.set_defaults(func=_cmd_report)
