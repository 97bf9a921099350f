"""The ``instrument`` command: list, show and fit instrument profiles."""

from __future__ import annotations

import argparse
from typing import Any

from pigmentmap.core.errors import PigmentmapError


def _cmd_instrument(args: argparse.Namespace) -> int:
    from pigmentmap.instruments import instrument_names, load_instrument

    if args.action == "list":
        for name in instrument_names():
            print(f"{name:16} {load_instrument(name).description}")
        return 0
    if not args.name:
        raise PigmentmapError("instrument show needs a NAME")
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


def register(sub: Any) -> None:
    """Add this group's subcommands to ``sub``."""
    ins = sub.add_parser(
        "instrument",
        help="list or show instrument profiles",
        epilog="Examples: pigmentmap instrument list | pigmentmap instrument show elio",
    )
    ins.add_argument("action", choices=["list", "show"])
    ins.add_argument("name", nargs="?", help="profile name or path to a .toml profile")
    ins.set_defaults(func=_cmd_instrument)
