"""Agreement of our engine (our physics, our Ebel tube) with PyMca5 (its physics, its own tube).

Usage: python benchmarks/pymca_agreement.py [--n-stacks 24] [--thickness-um 200] --out results.json

PyMca gets its *own* Ebel tube spectrum (``XRayTubeEbel.generateLists``, same anode, voltage,
window, air path and angles), so that a mistake shared by the two tube models cannot hide.

(a) Line groups: for stacks of the paper's design (paint with 25 % binder), the emitted
    intensity of every K / L-subshell line group above 2.8 keV (before the detector), ours
    against fisx's ``XRF.getMultilayerFluorescence`` (PyMca's multilayer physics, secondary
    excitation). Each stack's intensity is divided by that group's in the stack where PyMca's is
    largest, in each engine; ratios of at least 1 % are compared.
(b) Full spectra: a pure layer of each Table-1 material; PyMca's matrix spectrum (McaTheory with
    its tube, attenuators, detector, Gaussian peaks and escape peaks; fisx secondary) against our
    fluorescence rendered through our detector response (Gaussian part; scatter and pile-up left
    out, since PyMca's matrix spectrum has neither). Counts in +-1 FWHM around the main lines
    of each element, normalised to one reference region (the largest in PyMca's spectra),
    ratios down to 0.1 %; and, as line ratios of one sample, normalised within each spectrum.

Diagnostics, cumulative, say where a difference comes from: our engine with PyMca's tube
spectrum; then with fisx's attenuation, photoabsorption and line-production data instead of
xraylib's (database differences); then (b) with PyMca's detector efficiency (total instead of
photoabsorption in the crystal); then (b) without escape peaks in either engine (PyMca adds
escape counts on top of the parent peak; ours takes them from it). Goals: worst within 5 %,
median within 1 %.
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import numpy as np

from pigmentmap.datasets import paper_design
from pigmentmap.datasets.designs import PAPER_LABELS
from pigmentmap.instruments import load_instrument
from pigmentmap.materials import Layer, Stack, default_library
from pigmentmap.physics.detector import detection_efficiency
from pigmentmap.simulate import Simulator
from pigmentmap.simulate.pymca_reference import (
    fisx_database,
    pymca_available,
    pymca_conventions,
    pymca_group_rates,
    pymca_tube_excitation,
    relative_agreement,
)
from pigmentmap.simulate.pymca_spectra import (
    fluorescence_spectra,
    line_rois,
    pymca_matrix_spectra,
    roi_agreement,
    roi_values,
)

from _common import machine, write_json

MIN_ENERGY_KEV = 2.8


def summarise(rows: list[dict], label: str, key: str) -> dict:
    """Worst and median absolute relative difference; prints one line."""
    diffs = np.abs([r["rel_diff"] for r in rows])
    worst = max(rows, key=lambda r: abs(r["rel_diff"]))
    print(
        f"{label}: {len(rows)} ratios; worst {worst['rel_diff'] * 100:+.2f} % ({worst[key]} in "
        f"{worst['stack_text']}); median {np.median(diffs) * 100:.2f} %"
    )
    return {
        "n_ratios": len(rows),
        "worst_abs_rel_diff": float(diffs.max()),
        "median_abs_rel_diff": float(np.median(diffs)),
        "fraction_within_1_percent": float((diffs < 0.01).mean()),
        "fraction_within_5_percent": float((diffs < 0.05).mean()),
        "worst": worst,
    }


def group_intensities(sim: Simulator, stacks) -> list[dict[str, float]]:
    """Emitted intensity (before the detector) of every line group above 2.8 keV, per stack."""
    res = sim.simulate(stacks)
    emitted = res.line_counts / detection_efficiency(sim.instrument, res.lines.energies_kev)
    out = []
    for i in range(len(stacks)):
        groups: dict[str, float] = {}
        for j, line in enumerate(res.lines.lines):
            if line.energy_kev >= MIN_ENERGY_KEV:
                groups[line.group] = groups.get(line.group, 0.0) + float(emitted[i, j])
        out.append(groups)
    return out


def compare_groups(ours, ref, stacks, label: str) -> tuple[list[dict], dict]:
    rows = relative_agreement(ours, ref)
    for r in rows:
        r["stack_text"] = stacks[r["stack"]].describe()
    return rows, summarise(rows, label, "group")


def compare_rois(ours, ref, stacks, label: str) -> dict:
    out = {}
    for per_spectrum in (False, True):
        rows = roi_agreement(ours, ref, per_spectrum=per_spectrum)
        for r in rows:
            r["stack_text"] = stacks[r["spectrum"]].describe()
        kind = "within_each_spectrum" if per_spectrum else "one_reference"
        out[kind] = summarise(rows, f"{label} [{kind}]", "roi")
        out[kind]["rows"] = rows
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-stacks", type=int, default=24)
    ap.add_argument("--thickness-um", type=float, default=200.0, help="pure pigment layers")
    ap.add_argument("--instrument", default="elio")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/pymca_agreement.json")
    ap.add_argument(
        "--before",
        help="the JSON of an earlier run (e.g. before a physics fix): its summaries are kept",
    )
    ap.add_argument("--before-note", default="", help="what differed in the earlier run")
    args = ap.parse_args()
    if not pymca_available():
        raise SystemExit("PyMca5 is not installed: make pymca")
    start = time.perf_counter()
    lib = default_library()
    inst = load_instrument(args.instrument)
    pymca_tube = pymca_tube_excitation(inst.tube)

    # (a) line groups, stacks of the paper's design plus the bare ground
    design = paper_design(lib)
    rng = np.random.default_rng(args.seed)
    both = [
        i for i, s in enumerate(design.stacks) if all(layer.thickness_um > 0 for layer in s.layers)
    ]
    idx = [len(design.stacks) - 1, *rng.choice(both, size=args.n_stacks - 1, replace=False)]
    stacks = [design.stacks[int(i)] for i in idx]
    t0 = time.perf_counter()
    ours = group_intensities(Simulator(inst, library=lib), stacks)
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = pymca_group_rates(
        stacks, instrument=inst, excitation=pymca_tube, min_energy_kev=MIN_ENERGY_KEV
    )
    pymca_s = time.perf_counter() - t0
    rows, lines_summary = compare_groups(ours, ref, stacks, "(a) ours vs PyMca")
    lines_diag = []
    for change, fisx in (("PyMca's tube spectrum in our engine", False), ("+ fisx data", True)):
        with ExitStack() as ctx:
            if fisx:
                ctx.enter_context(fisx_database())
            sim = Simulator(inst, library=lib, excitation=pymca_tube)
            _, summary = compare_groups(group_intensities(sim, stacks), ref, stacks, change)
        lines_diag.append({"change": change, **summary})

    # (b) regions of interest in full spectra of pure pigment layers
    names = ("calcium_carbonate", *PAPER_LABELS)
    pure = [Stack((Layer(((lib[n], 1.0),), args.thickness_um),)) for n in names]
    rois = [line_rois(sorted(s.elements), inst, min_energy_kev=MIN_ENERGY_KEV) for s in pure]
    # Gaussian peaks as PyMca's default (hypermetflag 1); no pile-up (PyMca: sumflag 0)
    gauss = replace(
        inst,
        detector=replace(
            inst.detector, shelf_fraction=0.0, tail_fraction=0.0, pileup_resolving_time_ns=0.0
        ),
    )
    t0 = time.perf_counter()
    spectra = {
        escape: pymca_matrix_spectra(pure, instrument=gauss, escape=escape)
        for escape in (True, False)
    }
    pymca_spectra_s = time.perf_counter() - t0
    ref_rois = {k: roi_values(v, inst.axis, rois) for k, v in spectra.items()}

    def our_rois(*, tube=None, fisx=False, conventions=False, escape=True):
        with ExitStack() as ctx:
            if fisx:
                ctx.enter_context(fisx_database())
            if conventions:
                ctx.enter_context(pymca_conventions())
            res = Simulator(gauss, library=lib, excitation=tube).simulate(pure)
        return roi_values(fluorescence_spectra(res, gauss, escape=escape), inst.axis, rois)

    roi_summary = compare_rois(our_rois(), ref_rois[True], pure, "(b) ours vs PyMca")
    roi_diag = []
    steps = [
        ("PyMca's tube spectrum in our engine", {"tube": pymca_tube}),
        ("+ fisx data", {"tube": pymca_tube, "fisx": True}),
        ("+ PyMca's detector efficiency", {"tube": pymca_tube, "fisx": True, "conventions": True}),
        (
            "+ no escape peaks in either engine",
            {"tube": pymca_tube, "fisx": True, "conventions": True, "escape": False},
        ),
    ]
    for change, kw in steps:
        reference = ref_rois[kw.get("escape", True)]
        summary = compare_rois(our_rois(**kw), reference, pure, change)
        for kind in summary.values():
            kind.pop("rows")
        roi_diag.append({"change": change, **summary})
    seconds = time.perf_counter() - start
    print(f"total {seconds:.0f} s")

    write_json(
        args.out,
        {
            "benchmark": "pymca_agreement",
            "machine": machine(),
            "instrument": inst.name,
            "seconds_total": seconds,
            "reference": (
                "PyMca5 with its own Ebel tube (XRayTubeEbel.generateLists): (a) fisx "
                "XRF.getMultilayerFluorescence, secondary=2; (b) McaTheory matrix spectra "
                "(ConcentrationsTool areas, fisx secondary correction), Gaussian peaks, escape"
            ),
            "min_energy_kev": MIN_ENERGY_KEV,
            "line_groups": {
                "n_stacks": len(stacks),
                **lines_summary,
                "diagnostics": lines_diag,
                "ours_seconds": ours_s,
                "pymca_seconds": pymca_s,
                "rows": rows,
            },
            "regions_of_interest": {
                "pure_layer_um": args.thickness_um,
                "materials": list(names),
                "roi": "+-1 FWHM around K-alpha1, K-beta1, L-alpha1, L-beta1, L-gamma1",
                "min_relative": 1e-3,
                **roi_summary,
                "diagnostics": roi_diag,
                "pymca_seconds": pymca_spectra_s,
            },
            "known_differences": KNOWN_DIFFERENCES,
            "before": _before(args.before, args.before_note) if args.before else None,
        },
    )


def _before(path: str, note: str) -> dict:
    """Headline summaries of an earlier run, without its rows."""
    old = json.loads(Path(path).read_text())

    def strip(d: dict) -> dict:
        return {k: v for k, v in d.items() if k not in ("rows", "worst", "diagnostics")}

    rois = old["regions_of_interest"]
    return {
        "note": note,
        "line_groups": strip(old["line_groups"]),
        "regions_of_interest": {
            kind: strip(rois[kind]) for kind in ("one_reference", "within_each_spectrum")
        },
    }


KNOWN_DIFFERENCES = {
    "tube_k_line_constant": (
        "our Ebel K-line constant is 5.0e13 (Ebel 2003, as XMI-MSIM), PyMca's 6.0e13: PyMca's "
        "Rh K lines are 20 % stronger against the same continuum (the continua agree within "
        "0.1 % away from the Rh L edges); our tube also has Rh L lines, PyMca's K lines only. "
        "Shifts elements excited mostly by the Rh K lines against the others by 2-4 %: see the "
        "diagnostic 'PyMca's tube spectrum in our engine'"
    ),
    "detector_efficiency": (
        "PyMca counts 1 - exp(-mu_total t) in the crystal, ours 1 - exp(-tau t) (a photon "
        "scattered in the crystal gives no full-energy count): PyMca is 4 % higher at 15 keV "
        "and 12 % at 25 keV (Sn K, Pb and Hg L-gamma): see the diagnostic 'PyMca's detector "
        "efficiency'"
    ),
    "escape_peaks": (
        "PyMca adds escape counts on top of the parent peak's area; ours takes them from it "
        "(the diagnostic without escape peaks: medians move by less than 0.1 %)"
    ),
    "databases": (
        "xraylib vs PyMca/fisx data, mostly L1 and L2 subshell ionisation, yields and "
        "Coster-Kronig rates: Pb and Hg L-beta and L-gamma differ by 4-8 %; under thick covers "
        "(Pb L3 below 160 um of chrome oxide green) the line mix of a group matters: see the "
        "diagnostic '+ fisx data'"
    ),
}


if __name__ == "__main__":
    main()
