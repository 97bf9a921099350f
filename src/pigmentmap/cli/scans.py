"""Commands on scans: ``info``, ``map``, ``fit``, ``report``."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

from pigmentmap.cli._common import (
    POSITIVE_INT,
    add_reader_options,
    number,
    open_cube_from_args,
    open_scan,
)
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.ml import DEFAULT_MODEL


def _cmd_info(args: argparse.Namespace) -> int:
    from pigmentmap.io.open import describe

    if getattr(args, "recalibrate", False):
        print(describe(open_scan(args)))
    else:  # a file without a calibration still shows what it holds
        print(describe(open_cube_from_args(args, allow_uncalibrated=True)))
    return 0


def _elements_option(text: str | None) -> tuple[str, ...]:
    from pigmentmap.mapping.elements import DEFAULT_ELEMENTS

    return tuple(e.strip() for e in text.split(",")) if text else DEFAULT_ELEMENTS


def _model_option(args: argparse.Namespace) -> str:
    """The model to map with: ``--model`` (default the shipped one), or with ``--palette`` that
    model narrowed to the palette, made now or reused from the cache
    (:func:`pigmentmap.ml.palette_cache.palette_for`)."""
    model = args.model or DEFAULT_MODEL
    if not args.palette:
        return model
    from pigmentmap.ml.palette_cache import palette_for

    pigments = [p.strip() for p in args.palette.split(",") if p.strip()]
    return str(palette_for(model, pigments, log=lambda line: print(f"note: {line}")))


def _cmd_map(args: argparse.Namespace) -> int:
    from pigmentmap.instruments import load_instrument
    from pigmentmap.mapping.run import check_results_folder, run_map

    check_results_folder(Path(args.out), overwrite=args.overwrite)
    if args.binning < 1:
        raise PigmentmapError("--binning must be >= 1")
    instrument = load_instrument(args.instrument)
    notes: list[str] = []  # the reader's and the recalibration's notices, kept for the report
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cube = open_scan(args, notes=notes)
    for w in caught:
        print(f"pigmentmap: warning: {w.message}", file=sys.stderr)
        notes.append(str(w.message))
    model = _model_option(args)  # after the scan is read: a bad scan costs no palette model
    path = run_map(
        args.file, cube, model=model, out=args.out, instrument=instrument,
        binning=args.binning, elements=_elements_option(args.elements), overwrite=args.overwrite,
        evidence_gate=not args.no_evidence_gate, log=lambda line: print(f"note: {line}"),
        workers=args.workers, scheduler=args.scheduler, pixel_size_mm=args.pixel_size_mm, notes=notes,
    )  # fmt: skip
    print(f"wrote {path / 'maps.h5'} and PNGs; next: pigmentmap report {path}")
    return 0


def _cmd_identify(args: argparse.Namespace) -> int:
    import json

    from pigmentmap.core.atomic import atomic_path, check_new_file
    from pigmentmap.instruments import load_instrument
    from pigmentmap.mapping.identify import format_identification, identify

    if args.out:
        check_new_file(args.out, overwrite=args.overwrite)
    if args.top < 1:
        raise PigmentmapError("--top must be >= 1")
    instrument = load_instrument(args.instrument)
    cube = open_scan(args)
    model = _model_option(args)
    result = identify(
        cube, model=model, instrument=instrument,
        elements=_elements_option(args.elements), evidence_gate=not args.no_evidence_gate,
    )  # fmt: skip
    if result.model_lacks:
        print(f"note: the model has no {', no '.join(result.model_lacks)}")
    if result.n_spectra > 1:
        print(f"the sum of {result.n_spectra} spectra")
    print(format_identification(result, top=args.top))
    claimed = result.claimed()
    print(f"claimed (p >= 0.5): {', '.join(p['name'] for p in claimed) or 'nothing'}")
    if args.out:
        with atomic_path(args.out) as tmp:
            tmp.write_text(json.dumps({"source": str(args.file), "n_spectra": result.n_spectra,
                "model": model, "model_lacks": list(result.model_lacks),
                "pigments": result.pigments, "unaccounted": list(result.unaccounted),
                "limits": None if result.limits is None else result.limits.to_dict(json_safe=True)},
                indent=2) + "\n")  # fmt: skip
        print(f"wrote {args.out}")
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    from pigmentmap.core.atomic import check_new_file
    from pigmentmap.instruments import load_instrument
    from pigmentmap.mapping.elements import SIGNIFICANCE_THRESHOLD, fit_elements, write_element_file

    out = check_new_file(args.out, overwrite=args.overwrite)
    instrument = load_instrument(args.instrument)
    cube = open_scan(args)
    maps = fit_elements(
        cube.counts, cube.axis, instrument, elements=_elements_option(args.elements), progress=True
    )
    write_element_file(out, maps, source=str(args.file))
    found = [
        f"{n} ({(maps.significance[..., k] >= SIGNIFICANCE_THRESHOLD).mean() * 100:.0f} % of pixels)"
        for k, n in enumerate(maps.names)
        if (maps.significance[..., k] >= SIGNIFICANCE_THRESHOLD).any()
    ]
    print(f"wrote {out}: {len(maps.names)} element maps with significance maps")
    print(f"detected at {SIGNIFICANCE_THRESHOLD:g} sigma: {', '.join(found) or 'nothing'}")
    for element, why in maps.flags.items():
        print(f"flagged: {element}: {why}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from pigmentmap.core.atomic import check_new_file
    from pigmentmap.report.html import write_report

    check_new_file(args.out or Path(args.results) / "report.html", overwrite=args.overwrite)
    path = write_report(args.results, out=args.out)
    print(f"wrote {path}")
    return 0


def _model_and_evidence_options(p: Any) -> None:
    """--model, --instrument, --palette, --elements, --no-evidence-gate (map and identify)."""
    p.add_argument(
        "--model",
        help=f"model directory or shipped model (default {DEFAULT_MODEL}: any scan covering "
        "2-20 keV, no training)",
    )
    p.add_argument(
        "--instrument",
        default="elio",
        help="profile for the element fit and evidence (default elio)",
    )
    p.add_argument(
        "--palette",
        help="the pigments the painting can hold, comma-separated: maps with --model narrowed to "
        "them (pigmentmap palette; made once in a few minutes, then reused from "
        "$PIGMENTMAP_CACHE or ~/.cache/pigmentmap)",
    )
    p.add_argument("--elements", help="elements to fit, comma-separated (default: the library's)")
    p.add_argument(
        "--no-evidence-gate",
        action="store_true",
        help="keep the network's probability where a pigment's key element is not detected "
        "(default: capped at 0.25 and flagged)",
    )


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
        epilog="Example: pigmentmap map scan.h5 --out results/ [--model universal] [--binning 2] "
        "[--palette 'lead white,vermilion,azurite'] "
        "[--workers 2]. A killed run continues where it stopped when started again with the "
        "same arguments.",
    )
    add_reader_options(mp)
    mp.add_argument("--out", required=True, help="results folder")
    _model_and_evidence_options(mp)
    mp.add_argument(
        "--binning",
        type=number(int, lo=1, hi=1024),
        default=1,
        help="sum NxN pixels first (noisy fast scans)",
    )
    mp.add_argument("--overwrite", action="store_true", help="replace existing results")
    mp.add_argument(
        "--pixel-size-mm",
        type=number(float, lo=0, hi=1e4, lo_open=True),
        help="the scan's pixel size, for scale bars (default: from the file where it says)",
    )
    mp.add_argument(
        "--workers",
        type=number(int, lo=1, hi=1024),
        help="map on a local Dask cluster of N processes (default: in this process)",
    )
    mp.add_argument(
        "--scheduler",
        help="map on an existing Dask cluster, e.g. tcp://host:8786 (started with 'dask "
        "scheduler' and 'dask worker ADDRESS'; the workers need pigmentmap)",
    )
    mp.set_defaults(func=_cmd_map)

    idf = sub.add_parser(
        "identify",
        help="pigments of one spectrum (point, handheld, or a scan's sum), ranked, with evidence",
        epilog="Example: pigmentmap identify point.msa --instrument lab-ag [--out pigments.json]",
    )
    add_reader_options(idf)
    _model_and_evidence_options(idf)
    idf.add_argument("--top", type=POSITIVE_INT, default=10, help="pigments to list (default 10)")
    idf.add_argument("--out", help="write the ranking as JSON")
    idf.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    idf.set_defaults(func=_cmd_identify)

    fi = sub.add_parser(
        "fit",
        help="elemental maps: SNIP + non-negative linear fit of every pixel",
        epilog="Example: pigmentmap fit scan.h5 --instrument elio --out elements.h5",
    )
    add_reader_options(fi)
    fi.add_argument("--instrument", required=True)
    fi.add_argument("--out", required=True, help="output .h5")
    fi.add_argument("--elements", help="elements to fit, comma-separated")
    fi.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    fi.set_defaults(func=_cmd_fit)

    rp = sub.add_parser(
        "report",
        help="HTML report of a results folder",
        epilog="Example: pigmentmap report results/",
    )
    rp.add_argument("results")
    rp.add_argument("--out", help="HTML file (default results/report.html)")
    rp.add_argument("--overwrite", action="store_true", help="replace an existing report")
    rp.set_defaults(func=_cmd_report)
