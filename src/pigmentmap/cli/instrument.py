"""The ``instrument`` command: list, show and fit instrument profiles."""

from __future__ import annotations

import argparse
from typing import Any

from pigmentmap.cli._common import Parser, add_reader_options, open_cube_from_args
from pigmentmap.core.errors import PigmentmapError


def _cmd_list(args: argparse.Namespace) -> int:
    from pigmentmap.instruments import instrument_names, load_instrument

    for name in instrument_names():
        print(f"{name:16} {load_instrument(name).description}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from pigmentmap.instruments import load_instrument

    inst = load_instrument(args.name)
    t, g, d, a = inst.tube, inst.geometry, inst.detector, inst.axis
    print(f"{inst.name}: {inst.description}")
    filters = ", ".join(f"{f.formula} {f.thickness_um:g} um" for f in t.filters) or "none"
    print(
        f"tube:        {t.anode} anode, {t.voltage_kv:g} kV, {t.current_ua:g} uA, Be window {t.window_be_um:g} um, filters: {filters}"
    )
    print(f"             beam solid angle {t.beam_solid_angle_sr:g} sr, air {t.air_path_mm:g} mm")
    print(
        f"geometry:    incidence {g.incidence_deg:g} deg, take-off {g.takeoff_deg:g} deg, scattering {g.scattering_angle_deg:g} deg"
    )
    print(
        f"detector:    Si {d.si_thickness_um:g} um, Be window {d.window_be_um:g} um, {d.area_mm2:g} mm2 at {d.distance_mm:g} mm ({d.solid_angle_sr:.4f} sr)"
    )
    print(
        f"             FWHM {d.fwhm_mn_ka_ev:g} eV at Mn K-alpha, Fano {d.fano:g}, air {d.air_path_mm:g} mm"
    )
    print(f"calibration: E = {a.offset_kev:g} + {a.gain_kev:g} * ch keV, {a.n_channels} channels")
    print(f"live time:   {inst.live_time_s:g} s per point")
    for key, value in inst.sources.items():
        print(f"source:      {key}: {value}")
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    import sys
    import warnings

    import numpy as np

    from pigmentmap.core.atomic import atomic_path, check_new_file, check_output_path
    from pigmentmap.instruments import load_instrument
    from pigmentmap.instruments.fit import fit_instrument
    from pigmentmap.instruments.profile_toml import profile_toml

    out = check_output_path(args.out)
    if out.suffix.lower() != ".toml":
        raise PigmentmapError(f"output '{out}': use a .toml file name")
    continuum_path = out.with_name(out.stem + ".continuum.csv")
    for path in (out, continuum_path):
        check_new_file(path, overwrite=args.overwrite)
    start = load_instrument(args.instrument)
    cube = open_cube_from_args(args)
    print(f"fitting {args.file} ({cube.shape[0]} x {cube.shape[1]} pixels)...", file=sys.stderr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_instrument(
            cube, start=start, source=str(args.file), quadratic=args.quadratic,
            count_scale=not args.no_count_scale,
        )  # fmt: skip
    for w in caught:
        print(f"pigmentmap: warning: {w.message}", file=sys.stderr)
    cal, inst = fit.calibration, fit.instrument
    name = args.name or out.stem
    from dataclasses import replace

    sources = {"continuum_csv": f"{continuum_path.name}: mean pixel continuum, "
               f"counts in {inst.live_time_s:g} s (dataset --background)"}  # fmt: skip
    inst = replace(inst, name=name, sources=sources)
    text = profile_toml(inst, fit.provenance, default_note=f"default (from profile {start.name})")
    with atomic_path(continuum_path) as tmp:
        table = np.column_stack([inst.axis.energies, fit.continuum])
        np.savetxt(tmp, table, delimiter=",", header="energy_kev,counts", comments="", fmt="%.6g")
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(cal.residual_table())
    if cal.unexplained_kev:
        print("not explained by element lines (scatter, sum or escape peaks): "
              + ", ".join(f"{e:.2f}" for e in sorted(cal.unexplained_kev)) + " keV")  # fmt: skip
    a = inst.axis
    print(f"calibration: E = {a.offset_kev:.5f} + {a.gain_kev:.7f} * ch"
          + (f" + {a.quadratic_kev:.3g} * ch^2" if a.quadratic_kev else "")
          + f" keV; RMS residual {cal.rms_ev():.1f} eV over 3-15 keV ({len(cal.peaks)} peaks)")  # fmt: skip
    print(f"resolution:  FWHM {cal.fwhm_mn_ev:.0f} eV at Mn K-alpha (Fano {cal.fano:.3f})")
    print(f"anode:       {fit.anode or 'not found (kept ' + inst.tube.anode + ')'}; "
          f"scattering angle {inst.geometry.scattering_angle_deg:g} deg; "
          f"voltage {inst.tube.voltage_kv:g} kV")  # fmt: skip
    print(f"elements:    {', '.join(cal.families[:12])}")
    print(f"wrote {out} and {continuum_path}")
    return 0


def register(sub: Any) -> None:
    """Add this group's subcommands to ``sub``."""
    ins = sub.add_parser(
        "instrument",
        help="list, show or fit instrument profiles",
        epilog="Examples: pigmentmap instrument list | pigmentmap instrument show elio | "
        "pigmentmap instrument fit scan.h5 --out my-scanner.toml",
    )
    actions = ins.add_subparsers(dest="action", required=True, parser_class=Parser)
    ls = actions.add_parser("list", help="the shipped profiles")
    ls.set_defaults(func=_cmd_list)
    sh = actions.add_parser("show", help="every value of a profile")
    sh.add_argument("name", help="profile name or path to a .toml profile")
    sh.set_defaults(func=_cmd_show)
    fi = actions.add_parser(
        "fit",
        help="estimate a profile from a scan (calibration, resolution, anode, angle, ...)",
        description="Fits the energy calibration (robust peak matching, residual per peak), the "
        "resolution, the tube anode (Rayleigh + Compton peaks), the scattering angle (Compton "
        "shift), the voltage (end of the continuum), live time and a count scale from the scan; "
        "everything else comes from --instrument. Each value in the written TOML says where it "
        "came from. The mean continuum is written beside it (NAME.continuum.csv).",
        epilog="Example: pigmentmap instrument fit scan/ --shape 60x120 --out lab.toml "
        "--instrument lab-ag",
    )
    add_reader_options(fi, recalibrate=False)
    fi.add_argument("--out", required=True, help="the profile to write (.toml)")
    fi.add_argument(
        "--instrument",
        default="elio",
        help="starting profile for what cannot be fitted (default: %(default)s)",
    )
    fi.add_argument("--name", help="profile name (default: the output file's name)")
    fi.add_argument("--quadratic", action="store_true", help="fit a quadratic calibration term")
    fi.add_argument(
        "--no-count-scale", action="store_true", help="keep the starting beam solid angle"
    )
    fi.add_argument("--overwrite", action="store_true", help="replace existing output files")
    fi.set_defaults(func=_cmd_fit)
