"""``instrument fit`` on real spectra and on simulated scans with a known calibration error.

Usage: python benchmarks/instrument_fit.py --out benchmarks/results/instrument_fit.json

Real spectra (../shared/realdata): the Bruker M6 .spx and the GSECARS srm1832.mca with their
own calibrations as the start; PyMca's uncalibrated XRFSpectrum.mca with an approximate start
read off its README (zero peak near channel 100, Co K-alpha near channel 1474: -0.5 + 0.005 ch).
Simulated: a 3 x 3 scan of each shipped profile (Poisson noise, 9 paint stacks) whose file
calibration is 80 eV too high and whose gain is 0.7 % too large. For each: per-peak residuals,
RMS over 3-15 keV, the anode found, the FWHM at Mn K-alpha found, the largest error of the
fitted axis against the truth over 3-15 keV (simulated only), and the time.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from pigmentmap.core import Cube, EnergyAxis
from pigmentmap.instruments import instrument_names, load_instrument
from pigmentmap.instruments.fit import fit_instrument
from pigmentmap.io.open import open_cube
from pigmentmap.materials import default_library, parse_stack
from pigmentmap.simulate import Simulator

from _common import machine, write_json

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "realdata"
STACKS = [
    "VM:20/LW:40/CaCO3:300", "IO=0.5+ZnO=0.5:30/CaCO3:300", "emerald_green:20/CaCO3:300",
    "chrome_yellow:30/CaCO3:300", "cobalt_blue:40/LW:60/CaCO3:300", "SnO2=0.2+LW=0.8:40/CaCO3:300",
    "PB:30/CaCO3:300", "ZnO:50/IO:40/CaCO3:300", "RL:40/CaCO3:300",
]  # fmt: skip


def _summary(fit, seconds: float, truth: EnergyAxis | None = None) -> dict:
    cal = fit.calibration
    out = {
        "seconds": round(seconds, 2),
        "offset_kev": cal.axis.offset_kev,
        "gain_kev": cal.axis.gain_kev,
        "rms_ev_3_15_kev": cal.rms_ev(),
        "n_peaks": len(cal.peaks),
        "anode_found": fit.anode,
        "fwhm_mn_ev_found": round(cal.fwhm_mn_ev, 1),
        "fano_found": round(cal.fano, 4),
        "scattering_deg_found": fit.instrument.geometry.scattering_angle_deg,
        "voltage_kv_found": fit.instrument.tube.voltage_kv,
        "families": list(cal.families[:12]),
        "peaks": [
            {
                "line": p.label,
                "expected_kev": round(p.expected_kev, 4),
                "measured_kev": round(p.measured_kev, 4),
                "residual_ev": round(p.residual_ev, 1),
            }
            for p in sorted(cal.peaks, key=lambda q: q.expected_kev)
        ],
        "unexplained_kev": [round(e, 3) for e in sorted(cal.unexplained_kev)],
    }
    if truth is not None:
        e = truth.energies
        band = (e >= 3.0) & (e <= 15.0)
        out["max_axis_error_ev_3_15_kev"] = float(
            1e3 * np.abs(cal.axis.energies[band] - e[band]).max()
        )
    return out


def real_cases() -> dict:
    cases = {
        "bruker_m6_jetstream_file_example.spx": ("bruker_m6/bruker_m6_jetstream_file_example.spx", None, "m6-jetstream"),
        "srm1832.mca": ("larch/srm1832.mca", None, "elio"),
        "XRFSpectrum.mca (start -0.5 + 0.005 ch)": ("pymca/XRFSpectrum.mca", (-0.5, 0.005), "elio"),
    }  # fmt: skip
    out = {}
    for name, (rel, calibration, start) in cases.items():
        path = REAL / rel
        if not path.exists():
            out[name] = {"skipped": f"{path} not present"}
            continue
        cube = open_cube(path, calibration=calibration)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_instrument(cube, start=load_instrument(start), source=rel, count_scale=False)
        out[name] = {"start": str(calibration or "file"), **_summary(fit, time.perf_counter() - t0)}
        print(f"{name}: RMS {out[name]['rms_ev_3_15_kev']:.1f} eV, anode {fit.anode}, "
              f"FWHM {out[name]['fwhm_mn_ev_found']} eV")  # fmt: skip
    return out


def simulated_cases(seed: int) -> dict:
    lib = default_library()
    rng = np.random.default_rng(seed)
    out = {}
    for name in instrument_names():
        inst = load_instrument(name)
        sim = Simulator(inst)
        counts = sim.simulate([parse_stack(s, library=lib) for s in STACKS], rng=rng).counts
        truth = inst.axis
        wrong = EnergyAxis(truth.offset_kev + 0.08, truth.gain_kev * 1.007, truth.n_channels)
        cube = Cube(counts.reshape(3, 3, -1), wrong, {"live_time_s": inst.live_time_s})
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_instrument(
                cube, start=load_instrument("elio"), source=name, count_scale=False
            )
        out[name] = {
            "true_anode": inst.tube.anode,
            "true_fwhm_mn_ev": inst.detector.fwhm_mn_ka_ev,
            "true_voltage_kv": inst.tube.voltage_kv,
            "true_scattering_deg": inst.geometry.scattering_angle_deg,
            "live_time_s": inst.live_time_s,
            "counts_in_scan": float(counts.sum()),
            **_summary(fit, time.perf_counter() - t0, truth),
        }
        print(f"{name}: max axis error {out[name]['max_axis_error_ev_3_15_kev']:.1f} eV, "
              f"RMS {out[name]['rms_ev_3_15_kev']:.1f} eV, anode {fit.anode} "
              f"(true {inst.tube.anode}), FWHM {out[name]['fwhm_mn_ev_found']} eV "
              f"(true {inst.detector.fwhm_mn_ka_ev})")  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="benchmarks/results/instrument_fit.json")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    write_json(
        args.out,
        {
            "benchmark": "instrument_fit",
            "machine": machine(),
            "goal": "RMS residual <= 15 eV over 3-15 keV",
            "real": real_cases(),
            "simulated_80ev_offset_0p7_percent_gain": simulated_cases(args.seed),
        },
    )


if __name__ == "__main__":
    main()
