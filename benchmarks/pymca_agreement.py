"""Agreement of our engine with PyMca5's physics (fisx) on stacks of the paper's design.

Usage: python benchmarks/pymca_agreement.py [--n-stacks 24] --out results.json

Both engines get the same discretised ELIO tube spectrum (our Ebel model), geometry and stacks
(paint with the default 25 % binder). For every K / L-subshell line group above 2.8 keV, each
stack's emitted intensity is divided by that group's intensity in a reference stack (the one where
PyMca's is largest), in each engine; the JSON lists every (stack, group) ratio whose PyMca value is
at least 1 % and the worst relative difference. Goal: within 5 %.
"""

from __future__ import annotations

import argparse
import time
from unittest.mock import patch

import numpy as np

from pigmentmap.datasets import paper_design
from pigmentmap.instruments import load_instrument
from pigmentmap.materials import default_library
from pigmentmap.physics.detector import detection_efficiency
from pigmentmap.simulate import Simulator
from pigmentmap.simulate import simulator as simulator_module
from pigmentmap.simulate.pymca_reference import (
    pymca_available,
    pymca_group_rates,
    pymca_mass_attenuation,
    relative_agreement,
)

from _common import machine, write_json


def group_intensities(sim: Simulator, stacks) -> list[dict[str, float]]:
    """Emitted intensity (before the detector) of every line group above 2.8 keV, per stack."""
    res = sim.simulate(stacks)
    emitted = res.line_counts / detection_efficiency(sim.instrument, res.lines.energies_kev)
    out = []
    for i in range(len(stacks)):
        groups: dict[str, float] = {}
        for j, line in enumerate(res.lines.lines):
            if line.energy_kev >= 2.8:
                groups[line.group] = groups.get(line.group, 0.0) + float(emitted[i, j])
        out.append(groups)
    return out


def compare(ours, ref, stacks) -> tuple[list[dict], dict]:
    """Rows of the relative comparison and their summary; prints the worst case."""
    rows = relative_agreement(ours, ref)
    for r in rows:
        r["stack_text"] = stacks[r["stack"]].describe()
    worst = max(rows, key=lambda r: abs(r["rel_diff"]))
    diffs = np.abs([r["rel_diff"] for r in rows])
    print(
        f"{len(rows)} (stack, group) ratios; worst {worst['rel_diff'] * 100:+.2f} % "
        f"({worst['group']} in {worst['stack_text']}); median {np.median(diffs) * 100:.2f} %"
    )
    summary = {
        "n_ratios": len(rows),
        "worst_abs_rel_diff": float(diffs.max()),
        "median_abs_rel_diff": float(np.median(diffs)),
        "fraction_within_5_percent": float((diffs < 0.05).mean()),
        "worst": worst,
    }
    return rows, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-stacks", type=int, default=24)
    ap.add_argument("--instrument", default="elio")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/pymca_agreement.json")
    ap.add_argument(
        "--skip-database-check",
        action="store_true",
        help="do not rerun our engine with PyMca's attenuation coefficients",
    )
    args = ap.parse_args()
    if not pymca_available():
        raise SystemExit("PyMca5 is not installed: make pymca")
    lib = default_library()
    inst = load_instrument(args.instrument)
    design = paper_design(lib)
    rng = np.random.default_rng(args.seed)
    # Stacks where both paint layers are present, plus the bare ground as a reference.
    both = [
        i for i, s in enumerate(design.stacks) if all(layer.thickness_um > 0 for layer in s.layers)
    ]
    idx = [
        len(design.stacks) - 1,
        *rng.choice(both, size=args.n_stacks - 1, replace=False).tolist(),
    ]
    stacks = [design.stacks[i] for i in idx]

    sim = Simulator(inst, library=lib)
    t0 = time.perf_counter()
    ours = group_intensities(sim, stacks)
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = pymca_group_rates(stacks, instrument=inst, excitation=sim.excitation, min_energy_kev=2.8)
    pymca_s = time.perf_counter() - t0
    rows, summary = compare(ours, ref, stacks)
    database_check = None
    if not args.skip_database_check:
        # Same engine, PyMca's attenuation coefficients: what is left is the physical model.
        print("with PyMca's attenuation coefficients in our engine:")
        with patch.object(simulator_module, "mass_attenuation", pymca_mass_attenuation):
            patched = group_intensities(Simulator(inst, library=lib), stacks)
        _, database_check = compare(patched, ref, stacks)
    write_json(
        args.out,
        {
            "benchmark": "pymca_agreement",
            "machine": machine(),
            "instrument": inst.name,
            "reference": "PyMca5 fisx XRF.getMultilayerFluorescence, secondary=2",
            "min_energy_kev": 2.8,
            "n_stacks": len(stacks),
            **summary,
            "with_pymca_attenuation_coefficients": database_check,
            "ours_seconds": ours_s,
            "pymca_seconds": pymca_s,
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
